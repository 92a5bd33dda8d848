// bench/RESULTS.md from the results object of one run (bench/run.mjs). Only measured numbers.
import { GATES } from './configs.mjs';

const fmtTime = (ms, perStep) => {
  if (perStep) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 0)} µs/step`;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
};
const fmtG = (g) => (g >= 10 ? g.toFixed(1) : g >= 1 ? g.toFixed(2) : g.toFixed(3));
const fmtFlops = (f) => (f >= 1e9 ? `${(f / 1e9).toFixed(2)} GFLOP` : `${(f / 1e6).toFixed(2)} MFLOP`);

export function renderMarkdown(r) {
  const m = r.machine;
  const peak = r.fmaPeak?.gflops;
  const avx2Peak = r.fmaPeaks?.avx2?.gflops;
  const twoPeaks = avx2Peak && peak && avx2Peak !== peak;
  const L = [];
  L.push('# rnnkit benchmark results', '');
  L.push(`Written by \`npm run bench${m.mode === 'quick' ? ' -- --quick' : ''}\` (bench/run.mjs) from one run; every number below was measured in that run. Raw data: \`bench/results.json\`.`, '');
  L.push('## Machine', '');
  L.push(`- CPU: ${m.cpu}${m.cpuFamily ? ` (family ${m.cpuFamily}, model ${m.cpuModel})` : ''}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.simd.join(', ')}`);
  L.push(`- Node ${m.node} (V8 ${m.v8}), ${m.os}`);
  L.push(`- Date: ${m.date}; run took ${m.durationS} s (${m.mode} mode)`);
  L.push(`- Commit: ${m.commit}${m.uncommittedChanges ? ' plus uncommitted changes in the work tree (the native addon, .wasm files and dist/ that were built from it are what ran)' : ''}`);
  if (m.otherLoad) {
    const busy = m.otherLoad.max > 0.25;
    const all = Object.values(r.configs).flatMap((e) => Object.values(e.rows).map((x) => x.otherLoad).filter((v) => typeof v === 'number'));
    const loaded = all.filter((v) => v > 0.25).length;
    L.push(
      `- Other load: while the rows ran, processes other than the benchmark used a median of ${m.otherLoad.median} and at most ${m.otherLoad.max} cores (machine-wide CPU time from /proc/stat minus the row's own process CPU time, per row).` +
        (busy
          ? ` **The machine was busy** (other sessions building Rust): ${loaded} of ${all.length} rows ran with more than 0.25 other cores busy (each such row says so below). On this 2-core machine that slows single-thread rows somewhat and 2-thread rows a lot (they share a core with the other work); read their times as pessimistic (upper bounds).`
          : ''),
    );
  }
  if (m.steal && m.steal.max > 0) {
    L.push(
      `- Hypervisor steal (this machine is a virtual machine): while the rows ran, other guests took a median of ${m.steal.median} and at most ${m.steal.max} cores' worth of time this VM wanted (/proc/stat steal, per row; it is part of "other load"). Work that depends on the caches also varies with what other guests do to the shared L3 and memory, which steal does not show.`,
    );
  }
  L.push(`- Load average (1/5/15 min): ${m.loadavgStart?.join(' / ')} at the start, ${m.loadavgEnd?.join(' / ')} at the end`);
  const peakLine = (p) => {
    const src = p.sources ?? {};
    return (
      `**${p.gflops ?? 'n/a'} GFLOP/s** from ${p.source}` +
      (src.c && src.rust ? ` (cross-check bench/fma_peak.c: ${src.c.gflops} GFLOP/s)` : '') +
      (src.rustError && !src.rust ? ` (Rust probe: ${src.rustError})` : '')
    );
  };
  const peaks = r.fmaPeaks ?? (r.fmaPeak ? { avx2: r.fmaPeak } : {});
  for (const p of Object.values(peaks)) L.push(`- Single-core fp32 FMA peak, ${p.isa ?? 'AVX2 (256-bit)'}: ${peakLine(p)}.`);
  L.push(
    `- "% of peak" below is GFLOP/s ÷ the one-core peak of the instruction set rnnkit's native kernels run here: **${r.fmaPeak?.isa ?? 'AVX2 (256-bit)'}, ${peak ?? 'n/a'} GFLOP/s**.` +
      (avx2Peak && avx2Peak !== peak ? ` The "% of AVX2 peak" column divides by the AVX2 peak (${avx2Peak} GFLOP/s) instead, the ceiling of the avx2-fma kernel level and the one issue 3's targets were written against.` : ''),
  );
  if (r.wasmPeak && !r.wasmPeak.error) {
    L.push(`- This engine's wasm mul+add peak, one thread (bench/lib/wasm_peak.mjs, independent f32x4.mul / f32x4.add chains; wasm has no FMA without relaxed-simd): simd128 **${r.wasmPeak.simd128.toFixed(1)} GFLOP/s**, scalar f32 ${r.wasmPeak.scalar.toFixed(1)} GFLOP/s.`);
  }
  L.push('');

  // rnnkit backends and boundary
  L.push('## rnnkit backends and the JS boundary', '');
  L.push('| backend | kernels | threads | no-op call | 1 MiB write | 1 MiB read | 1 MiB write + read |', '|---|---|---|---|---|---|---|');
  for (const [name, b] of Object.entries(r.boundary ?? {})) {
    if (b.error) L.push(`| ${name} | unavailable: ${b.error.split(' | ')[0]} | | | | | |`);
    else
      L.push(
        `| ${name} | ${b.kernelLevel} | ${b.threads ?? (name === 'native' ? 'no threads API' : 1)} | ${b.noopNs.toFixed(0)} ns | ${b.write1MBUs.toFixed(0)} µs | ${b.read1MBUs.toFixed(0)} µs | ${b.roundTrip1MBUs.toFixed(0)} µs (${b.roundTripGBps.toFixed(1)} GB/s) |`,
      );
  }
  L.push('', 'No-op call: `backend.call(\'rk_noop\', [])`, the path every rnnkit call takes (median of batches of 10,000). 1 MiB: a 262,144-float `Float32Array` written into a backend buffer (`allocF32` + `write`) and read back (`read`, a copy).', '');
  for (const n of r.notes ?? []) L.push(`- ${n}`);
  if (r.notes?.length) L.push('');

  // Summary
  const rowIds = r.rows.map((x) => x.id);
  const label = Object.fromEntries(r.rows.map((x) => [x.id, x.label]));
  const configs = ['train-lstm-s', 'train-lstm-m', 'train-lstm-l', 'train-gru-m', 'infer-lstm-b1', 'infer-lstm-seq'].filter((c) => r.configs[c]);
  const baseId = r.rows.find((x) => x.baseline)?.id;
  L.push('## Summary: median time per unit', '');
  L.push('Training: one step (forward + full BPTT + SGD update, MSE loss). infer-lstm-b1: per single step. infer-lstm-seq: one forward over 256 steps. brain.js is batch 1 (its time is for one sequence, not B sequences). — = not applicable, n/r = not run (see the config section).', '');
  const used = rowIds.filter((id) => configs.some((c) => r.configs[c].rows[id]));
  L.push(`| config | ${used.map((id) => label[id]).join(' | ')} |`, `|---|${used.map(() => '---|').join('')}`);
  for (const c of configs) {
    const e = r.configs[c];
    const cells = used.map((id) => {
      const x = e.rows[id];
      if (!x) return '—';
      if (x.error) return 'unavailable';
      if (x.skipped) return 'n/r';
      return fmtTime(x.medianMs, e.kind === 'step');
    });
    L.push(`| ${c} | ${cells.join(' | ')} |`);
  }
  L.push('');

  // Per config
  for (const c of configs) {
    const e = r.configs[c];
    const cellName = e.cell === 'gru' ? 'GRU' : 'LSTM';
    L.push(`## ${c}`, '');
    L.push(`${cellName}, I = ${e.I}, H = ${e.H}, B = ${e.B}, T = ${e.T}: ${e.what}. FLOPs per unit = ${e.kind === 'train' ? '3 × ' : ''}2·B·${e.kind === 'step' ? '' : 'T·'}G·H·(I+H) with G = ${GATES[e.cell]}: **${fmtFlops(e.flops)}**${e.kind === 'step' ? ' per step' : ''}.`, '');
    const base = baseId ? e.rows[baseId] : null;
    L.push(
      `| row | median | GFLOP/s | % of 1-core peak${twoPeaks ? ' | % of AVX2 peak' : ''} | time ÷ rnnkit native (equal work) | samples |`,
      `|---|---|---|---|${twoPeaks ? '---|' : ''}---|---|`,
    );
    const gap = twoPeaks ? ' |' : '';
    const notes = [];
    for (const id of rowIds) {
      const x = e.rows[id];
      if (!x) continue;
      const lab = label[id] ?? id;
      if (x.error) {
        L.push(`| ${lab} | unavailable | | |${gap} | |`);
        notes.push(`- **${lab}**: unavailable: ${x.error.split(' | ')[0]}`);
        continue;
      }
      if (x.skipped) {
        L.push(`| ${lab} | not run | | |${gap} | |`);
        notes.push(`- **${lab}**: ${x.skipped}`);
        continue;
      }
      const g = x.gflops;
      const ratio = base && !base.error && !base.skipped ? base.gflops / g : null;
      const b1 = x.batch === 1 && e.B !== 1;
      L.push(
        `| ${lab} | ${fmtTime(x.medianMs, e.kind === 'step')}${b1 ? ' (B = 1)' : ''} | ${fmtG(g)} | ${peak ? ((100 * g) / peak).toFixed(1) + '%' : 'n/a'}${twoPeaks ? ` | ${((100 * g) / avx2Peak).toFixed(1)}%` : ''} | ${id === baseId ? '1 (baseline)' : ratio ? ratio.toFixed(2) + '×' : 'n/a'} | ${x.samples} |`,
      );
      const extra = [];
      if (x.update) extra.push(`update (${x.update}) alone: ${fmtTime(x.updateMedianMs)}`);
      if (x.maxAbsDiffVsRnnkit !== undefined) extra.push(`output checked against rnnkit: max |diff| ${x.maxAbsDiffVsRnnkit.toExponential(1)}`);
      if (x.setting) extra.push(`setting: ${x.setting}`);
      if (x.package) extra.push(x.package);
      if (x.kernelLevel) extra.push(`kernels ${x.kernelLevel}`);
      if (/wasm|web/.test(id) && r.wasmPeak?.simd128 && !/scalar/.test(lab)) extra.push(`${((100 * g) / r.wasmPeak.simd128).toFixed(0)}% of the engine's simd128 mul+add peak`);
      if (id === 'rnnkit-wasm' && r.wasmPeak?.scalar) extra.push(`${((100 * g) / r.wasmPeak.scalar).toFixed(0)}% of the engine's scalar wasm mul+add peak`);
      if (x.otherLoad !== undefined && x.otherLoad > 0.25) extra.push(`other load during the row: ${x.otherLoad} cores`);
      if (b1) extra.push('FLOPs and GFLOP/s for B = 1; the ratio compares GFLOP/s, i.e. equal work');
      notes.push(`- **${lab}**: ${x.timed}${extra.length ? `. ${extra.join('; ')}.` : '.'}`);
    }
    L.push('', 'What each row timed:', '', ...notes, '');
  }

  // PyTorch details
  if (r.torch) {
    L.push('## PyTorch anchor', '');
    if (!r.torch.available) L.push(`Not run: ${r.torch.why}.`, '');
    else {
      L.push(`PyTorch ${r.torch.version} (Debian python3-torch), BLAS: \`${r.torch.blas}\`. bench/torch_bench.py, one process per thread setting (all configs in it; "other load" is the CPU other processes used meanwhile); every setting with OMP_WAIT_POLICY=PASSIVE. "best ${m.cores}-core setting" in the tables is the fastest of the multi-core settings per config.`, '');
      const settings = Object.values(r.torch.settings ?? {});
      const cs = configs.filter((c) => settings.some((s) => s.results?.[c]));
      L.push(`| setting | ${cs.join(' | ')} | other load |`, `|---|${cs.map(() => '---|').join('')}---|`);
      for (const s of settings) {
        if (s.error) {
          L.push(`| ${s.label} | ${cs.map(() => 'error').join(' | ')} |`);
          continue;
        }
        L.push(`| ${s.label} | ${cs.map((c) => (s.results[c]?.error ? 'error' : s.results[c] ? fmtTime(s.results[c].medianMs, r.configs[c].kind === 'step') : '—')).join(' | ')} | ${s.otherLoad ?? 'n/a'} cores |`);
      }
      L.push('');
    }
  }

  L.push(...renderCeiling(r));
  L.push(...renderSeqFloor(r));
  L.push(...renderHeadToHead(r));
  L.push(...renderTargets(r), '');

  L.push('## Not measured', '');
  L.push('- `@tensorflow/tfjs-node`: unavailable. Its install script downloads a prebuilt libtensorflow from outside the npm registry, which this machine cannot reach (`npm install @tensorflow/tfjs-node` fails in `scripts/install.js` with ENOTFOUND), so it is not a devDependency.');
  L.push('- onnxruntime rows cover the inference configs only (onnxruntime does not train).');
  L.push('- brain.js has no single-step call that carries the state between calls: no infer-lstm-b1 row.');
  L.push('');
  return L.join('\n');
}

/** How near a training step comes to the time of its matrix products alone (see gemmCeiling in run.mjs). */
function renderCeiling(r) {
  const g = r.gemmCeiling;
  if (!g) return [];
  const peak = r.fmaPeak?.gflops;
  const pct = (c, ms) => (peak ? ` (${((100 * r.configs[c].flops) / (ms * 1e6) / peak).toFixed(1)}%)` : '');
  const torchName = g.torch?.version ? `PyTorch ${g.torch.version}` : 'PyTorch';
  const out = ["## Ceiling: each training step's matrix products alone, 1 thread", ''];
  out.push(
    `The products a training step runs (without dL/dx), each timed alone in a loop on warm operands and summed with its count per step: what the step would take with no pointwise work, copies, packing of activations or sequencing between products. In the same process the step itself takes turns with the products (3 rounds, each keeping its best round), so the ratio holds even when the machine's speed drifts; and the rnnkit and PyTorch processes alternate config by config (${g.rounds ?? 1} round${(g.rounds ?? 1) > 1 ? 's' : ''}, each number the best of its rounds), seconds apart. rnnkit: its ${g.rnnkit?.level ?? ''} kernels through the Rust API (bench/rust \`rnnkit-bench products\`; the step is zeroed gradients, seq_forward, MSE, seq_backward without dL/dx and the SGD update: the work of the PyTorch step; the kernels multiply, then add, so every level gives the same bits, unless fused below). ${torchName}: torch.mm on its BLAS (fused multiply-add) and the training step of the tables above. In brackets: % of the one-core peak, counting the step's formula FLOPs as the tables above do.`,
    '',
  );
  out.push(`| config | rnnkit: products alone | rnnkit: step | rnnkit: products ÷ step | ${torchName}: products alone (torch.mm) | ${torchName}: step | ${torchName}: products ÷ step |`, '|---|---|---|---|---|---|---|');
  const cells = (c, x, err) => {
    if (!x) return [err ? 'error' : 'not measured', '', ''];
    if (x.error) return ['error', '', ''];
    return [`${fmtTime(x.ms)}${pct(c, x.ms)}`, `${fmtTime(x.stepMs)}${pct(c, x.stepMs)}`, `${((100 * x.ms) / x.stepMs).toFixed(0)}%`];
  };
  for (const c of g.configs) {
    out.push(`| ${c} | ${[...cells(c, g.rnnkit?.configs?.[c], g.rnnkit?.error), ...cells(c, g.torch?.configs?.[c], g.torch?.error)].join(' | ')} |`);
  }
  out.push('');
  if (g.rnnkitFused) {
    out.push('The same for rnnkit with the opt-in fused multiply-add products (`RNNKIT_FUSED=1`, as `init({ fused: true })`), measured in the same rounds:', '');
    out.push('| config | rnnkit fused: products alone | rnnkit fused: step | products ÷ step |', '|---|---|---|---|');
    for (const c of g.configs) out.push(`| ${c} | ${cells(c, g.rnnkitFused.configs?.[c]).join(' | ')} |`);
    out.push('');
  }
  const names = (g.rnnkit?.configs?.[g.configs[0]]?.products ?? []).map((p) => p.what);
  if (names.length) {
    out.push('Per product: m×n×k, calls per step: µs per call, rnnkit / torch.mm.', '');
    out.push(`| product | ${g.configs.join(' | ')} |`, `|---|${g.configs.map(() => '---|').join('')}`);
    for (const [i, what] of names.entries()) {
      const row = g.configs.map((c) => {
        const a = g.rnnkit?.configs?.[c]?.products?.[i];
        const b = g.torch?.configs?.[c]?.products?.[i];
        return a ? `${a.m}×${a.n}×${a.k}, ×${a.count}: ${a.us.toFixed(0)} / ${b ? b.us.toFixed(0) : 'n/a'}` : 'n/a';
      });
      out.push(`| ${what} | ${row.join(' | ')} |`);
    }
    out.push('');
  }
  if (g.rnnkit?.error) out.push(`rnnkit products: ${g.rnnkit.error}`, '');
  if (g.torch?.error) out.push(`PyTorch products: ${g.torch.error}`, '');
  return out;
}

/** infer-lstm-seq at 1 thread and at all cores against its floor: its products alone and a plain read of W_hh (see seqFloor in run.mjs). */
function renderSeqFloor(r) {
  const all = r.seqFloors ?? [];
  if (!all.length) return [];
  const fs = all.filter((f) => !f.error);
  const threadsLabel = (t) => `${t} thread${t > 1 ? 's' : ''}`;
  const out = [`## infer-lstm-seq, ${all.map((f) => threadsLabel(f.threads ?? 1)).join(' and ')}: the floor`, ''];
  for (const f of all.filter((x) => x.error)) out.push(`${threadsLabel(f.threads ?? 1)}: not measured: ${f.error}`, '');
  if (!fs.length) return out;
  const f1 = fs[0];
  const mib = f1.weightBytes / 2 ** 20;
  const gbs = (bytes, us) => `${(bytes / us / 1e3).toFixed(1)} GB/s`;
  const floorMs = (f) => f.projectionUs / 1000 + (f.steps * f.stepProductUs) / 1000;
  const g = 4 * f1.hidden; // LSTM gates
  const projFlops = 2 * f1.steps * g * f1.inputSize;
  const multi = fs.find((f) => f.threads > 1);
  out.push(
    `At batch 1 every step multiplies h by all of W_hh (${mib} MiB of f32 here): 2 flops per 4 bytes read, so the step runs at the speed the cores read that memory, not at their FMA peak, and the steps cannot overlap (each needs the h of the one before). Timed in one process per thread count (bench/rust \`rnnkit-bench seqfloor\`, ${f1.level} kernels), taking turns, ${f1.rounds} processes × 3 rounds, best of each: the forward as the tables run it (weights packed ahead, no cache), its two products alone on warm operands, and a plain read of as many bytes as W_hh on one thread (a sum in 4 KiB blocks, alternate passes in reverse, as the product walks its panels). Floor = the projection + ${f1.steps} × the recurrent product: the forward with no pointwise work, copies or sequencing.` +
      (multi
        ? ` At ${multi.threads} threads each thread multiplies by the same share of W_hh's columns every step (${(mib / multi.threads).toFixed(2)} MiB, which stays in that core's cache), with one hand-off between the threads per step; "one thread's share alone" times one share on one thread with no hand-off. At batch 1 the avx2-fma and avx512 kernels run an LSTM step's cell (σ/tanh, state update) inside the recurrent product, each thread on its own units (crates/rnnkit-core/src/kernels/row_step.rs); the other levels run it after the product, on one thread.`
        : ''),
    '',
  );
  const cells = (fn) => fs.map(fn).join(' | ');
  out.push(`| part | ${cells((f) => threadsLabel(f.threads))} |`, `|---|${fs.map(() => '---').join('|')}|`);
  out.push(`| input projection alone (x·W_ihᵀ, ${f1.steps}×${g}×${f1.inputSize}, once) | ${cells((f) => `${fmtTime(f.projectionUs / 1000)} (${fmtG(projFlops / (f.projectionUs * 1e3))} GFLOP/s)`)} |`);
  out.push(`| recurrent product alone (h·W_hhᵀ, 1×${g}×${f1.hidden}), per step | ${cells((f) => `${f.stepProductUs.toFixed(1)} µs (${gbs(f.weightBytes, f.stepProductUs)} of weights)`)} |`);
  if (multi) out.push(`| one thread's share of it alone, per step | ${cells((f) => (f.shareProductUs ? `${f.shareProductUs.toFixed(1)} µs (${gbs(f.weightBytes / f.threads, f.shareProductUs)})` : '—'))} |`);
  out.push(`| plain read of ${mib} MiB on one thread, per pass | ${cells((f) => (f.threads > 1 ? '—' : `${f.readUs.toFixed(1)} µs (${gbs(f.weightBytes, f.readUs)})`))} |`);
  out.push(`| floor: projection + ${f1.steps} × recurrent product | ${cells((f) => fmtTime(floorMs(f)))} |`);
  out.push(`| rnnkit forward, same process | ${cells((f) => `${fmtTime(f.forwardMs)} (floor ÷ forward ${((100 * floorMs(f)) / f.forwardMs).toFixed(0)}%)`)} |`);
  const ortRow = (f) => r.configs?.['infer-lstm-seq']?.rows?.[f.threads > 1 ? 'ort-node-nt' : 'ort-node-1t']?.medianMs;
  if (fs.some(ortRow)) out.push(`| onnxruntime-node, same threads (table above, Node) | ${cells((f) => (ortRow(f) ? `${fmtTime(ortRow(f))} (floor ÷ it ${((100 * floorMs(f)) / ortRow(f)).toFixed(0)}%)` : 'n/a'))} |`);
  out.push('');
  return out;
}

/** The comparison targets measured again with both sides taking turns (see headToHead in run.mjs). */
function renderHeadToHead(r) {
  const h = r.headToHead;
  if (!h?.pairs?.length) return [];
  const label = (id) => r.rows.find((x) => x.id === id)?.label ?? id;
  const out = ['## Head to head: both sides of each comparison taking turns', ''];
  out.push(
    `The two rows of each comparison target, measured again after the tables: config by config, every row of the config once per round (in reverse order every other round), ${h.rounds} round${h.rounds > 1 ? 's' : ''}, each measurement ${h.budgetMs / 1000} s of samples (at least ${h.minSamples}) after a warm-up, in a fresh process as in the tables. The two sides of a ratio run seconds apart, where the table rows can be minutes apart while this virtual machine's speed drifts. Ratio = their median time ÷ ours, one per round; above 1 means rnnkit is faster. PyTorch runs at the setting of its table row (for the best multi-core setting, the one that won that config).`,
    '',
  );
  out.push('| config | rnnkit | vs | rnnkit, per round | theirs, per round | ratio per round | median ratio |', '|---|---|---|---|---|---|---|');
  const perStep = (c) => r.configs[c]?.kind === 'step';
  const times = (c, list) => list.map((v) => (v > 0 ? fmtTime(v, perStep(c)) : 'error')).join(', ');
  for (const p of h.pairs) {
    const theirs = p.theirs === 'torch-best' && p.torchSetting ? `${label(p.theirs)} (${r.torch?.settings?.[p.torchSetting]?.label ?? p.torchSetting})` : label(p.theirs);
    out.push(`| ${p.config} | ${label(p.ours)} | ${theirs} | ${times(p.config, p.oursMs)} | ${times(p.config, p.theirsMs)} | ${p.ratios.map((v) => v.toFixed(2)).join(', ')} | ${p.median == null ? 'n/a' : `${p.median.toFixed(2)}×`} |`);
  }
  out.push('');
  return out;
}

/**
 * The speed targets of the benchmark issue, checked against this run's numbers (rows missing from
 * the run are reported as not measured, never as met).
 */
function renderTargets(r) {
  const row = (c, id) => r.configs[c]?.rows?.[id];
  const ms = (c, id) => (row(c, id)?.medianMs > 0 ? row(c, id).medianMs : null);
  const peak = r.fmaPeak?.gflops;
  const out = ['## Targets (issue 3), checked against this run', ''];
  out.push(`"% of peak" = formula GFLOP/s ÷ the one-core ${r.fmaPeak?.isa ?? ''} FMA peak above (${peak ?? 'n/a'} GFLOP/s). Training rows skip dL/dx for the data input, as PyTorch does; the formula counts it.`, '');
  // Every target checked a second way, where this run has it: "% of peak" on the ceiling
  // section's steps (Rust API), comparisons on the head-to-head rounds. Both measure the two sides
  // seconds apart, so a drift of the machine's speed between table rows cannot decide them. "met"
  // stays the tables' verdict.
  const turns = r.gemmCeiling;
  const turnStep = (who, c) => {
    const x = turns?.[who]?.configs?.[c];
    return x && !x.error && x.stepMs > 0 ? x.stepMs : null;
  };
  const h2h = (c, ours, theirs, want) => {
    const p = r.headToHead?.pairs?.find((x) => x.config === c && x.ours === ours && x.theirs === theirs);
    if (!p || p.median == null) return null;
    return `${p.median.toFixed(2)}× (${p.median >= want ? 'met' : 'not met'}; rounds ${p.ratios.map((v) => v.toFixed(2)).join(', ')})`;
  };
  const withTurns = Boolean(turns || r.headToHead);
  if (withTurns) {
    out.push(
      'Last column: the same target measured with both sides taking turns, seconds apart, so a drift of the machine\'s speed between the table rows cannot decide it. "% of peak": the rnnkit step of the ceiling section (Rust API, the work of the PyTorch step). Comparisons: the median over the head-to-head rounds of (their time ÷ ours), each round\'s ratio listed. The "met" column is the verdict of the tables.',
      '',
    );
  }
  // Without a ceiling section or head-to-head rounds (--quick), no last column.
  out.push(withTurns ? '| target | measured | met | both sides taking turns |' : '| target | measured | met |', withTurns ? '|---|---|---|---|' : '|---|---|---|');
  const line = (what, got, ok, turn) => out.push(`| ${what} | ${got ?? 'not measured'} | ${got == null ? 'n/a' : ok ? 'yes' : '**no**'} |${withTurns ? ` ${turn ?? '—'} |` : ''}`);
  const pct = { 'train-lstm-s': 65, 'train-lstm-m': 75, 'train-lstm-l': 85, 'train-gru-m': 75 };
  const vsTorch1 = { 'train-lstm-s': 1.7, 'train-lstm-m': 1.4, 'train-lstm-l': 1.05, 'train-gru-m': 1.4 };
  for (const [c, want] of Object.entries(pct)) {
    const g = row(c, 'rnnkit-native-1t')?.gflops;
    const p = g && peak ? (100 * g) / peak : null;
    const t = turnStep('rnnkit', c);
    const tp = t && peak ? (100 * r.configs[c].flops) / (t * 1e6) / peak : null;
    line(`${c}: native 1 thread ≥ ${want}% of peak`, p == null ? null : `${p.toFixed(1)}%`, p >= want, tp == null ? null : `${tp.toFixed(1)}% (${tp >= want ? 'met' : 'not met'})`);
  }
  for (const [c, want] of Object.entries(vsTorch1)) {
    const a = ms(c, 'torch-1t');
    const b = ms(c, 'rnnkit-native-1t');
    line(`${c}: native 1 thread ≥ ${want}× PyTorch 1 thread`, a && b ? `${(a / b).toFixed(2)}×` : null, a / b >= want, h2h(c, 'rnnkit-native-1t', 'torch-1t', want));
  }
  for (const c of Object.keys(pct)) {
    const a = ms(c, 'torch-best');
    const b = ms(c, 'rnnkit-native-nt');
    line(`${c}: native all cores ≥ 1.3× PyTorch's best multi-core setting`, a && b ? `${(a / b).toFixed(2)}×` : null, a / b >= 1.3, h2h(c, 'rnnkit-native-nt', 'torch-best', 1.3));
  }
  // The same native targets with the opt-in fused multiply-add products (init({ fused: true })).
  if (Object.keys(pct).some((c) => row(c, 'rnnkit-native-fused-1t'))) {
    for (const [c, want] of Object.entries(pct)) {
      const g = row(c, 'rnnkit-native-fused-1t')?.gflops;
      const p = g && peak ? (100 * g) / peak : null;
      const t = turnStep('rnnkitFused', c);
      const tp = t && peak ? (100 * r.configs[c].flops) / (t * 1e6) / peak : null;
      line(`${c}: native 1 thread, fused (opt-in) ≥ ${want}% of peak`, p == null ? null : `${p.toFixed(1)}%`, p >= want, tp == null ? null : `${tp.toFixed(1)}% (${tp >= want ? 'met' : 'not met'})`);
    }
    for (const [c, want] of Object.entries(vsTorch1)) {
      const a = ms(c, 'torch-1t');
      const b = ms(c, 'rnnkit-native-fused-1t');
      line(`${c}: native 1 thread, fused (opt-in) ≥ ${want}× PyTorch 1 thread`, a && b ? `${(a / b).toFixed(2)}×` : null, a / b >= want, h2h(c, 'rnnkit-native-fused-1t', 'torch-1t', want));
    }
    for (const c of Object.keys(pct)) {
      const a = ms(c, 'torch-best');
      const b = ms(c, 'rnnkit-native-fused-nt');
      line(`${c}: native all cores, fused (opt-in) ≥ 1.3× PyTorch's best multi-core setting`, a && b ? `${(a / b).toFixed(2)}×` : null, a / b >= 1.3, h2h(c, 'rnnkit-native-fused-nt', 'torch-best', 1.3));
    }
  }
  for (const c of Object.keys(pct)) {
    const g = row(c, 'rnnkit-wasm-simd')?.gflops;
    line(`${c}: wasm-simd ≥ 12 GFLOP/s`, g ? `${fmtG(g)} GFLOP/s` : null, g >= 12);
    // Equal work: GFLOP/s ratios (brain.js runs batch 1).
    for (const [id, name, want] of [['tfjs-wasm', 'TF.js wasm', 10], ['brain', 'brain.js', 30]]) {
      const o = row(c, id)?.gflops;
      line(`${c}: wasm-simd ≥ ${want}× ${name} (GFLOP/s)`, g && o ? `${(g / o).toFixed(1)}×` : null, g / o >= want);
    }
  }
  const b1 = ms('infer-lstm-b1', 'rnnkit-native-1t');
  line('infer-lstm-b1: native 1 thread ≤ 230 µs/step', b1 ? `${(b1 * 1000).toFixed(0)} µs` : null, b1 * 1000 <= 230);
  const pairs = [
    ['infer-lstm-b1', 'rnnkit-native-1t', 'ort-node-1t', 'native 1 thread faster than onnxruntime-node 1 thread'],
    ['infer-lstm-b1', 'rnnkit-native-nt', 'ort-node-nt', 'native all cores faster than onnxruntime-node all cores'],
    ['infer-lstm-seq', 'rnnkit-native-1t', 'ort-node-1t', 'native 1 thread faster than onnxruntime-node 1 thread'],
    ['infer-lstm-seq', 'rnnkit-native-nt', 'ort-node-nt', 'native all cores faster than onnxruntime-node all cores'],
    ['infer-lstm-seq', 'rnnkit-wasm-simd', 'ort-web-1t', 'wasm-simd faster than onnxruntime-web 1 thread'],
  ];
  for (const [c, ours, theirs, what] of pairs) {
    const a = ms(c, ours);
    const b = ms(c, theirs);
    const perStep = r.configs[c]?.kind === 'step';
    line(`${c}: ${what}`, a && b ? `${fmtTime(a, perStep)} vs ${fmtTime(b, perStep)}` : null, a < b, h2h(c, ours, theirs, 1));
  }
  return out;
}
