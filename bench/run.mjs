#!/usr/bin/env node
// rnnkit benchmark suite: `npm run bench` (full, ~25 min) or `npm run bench -- --quick` (< 2 min).
//
// Every (library, config) row runs in a fresh child process (bench/worker.mjs) so that thread
// pools (onnxruntime, rnnkit native) and JIT/heap state never leak between rows. Results go to
// bench/results.json and bench/RESULTS.md, both written atomically (temp file + rename), both
// from this one run.
//
// Options: --quick; --configs=a,b (subset); --rows=id,id (subset, see rows()); --no-torch;
//          --render-only (rewrite RESULTS.md from results.json);
//          --out=DIR (default bench/; a subset run writes results-partial.* instead, unless --out).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGS, flops } from './lib/configs.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { nativeBuildEnv } from '../scripts/toolchain.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = flag('quick');
const onlyConfigs = opt('configs')?.split(',');
const onlyRows = opt('rows')?.split(',');
const partial = Boolean(onlyConfigs || onlyRows);
const outDir = opt('out') ?? here;
const outBase = partial && !opt('out') ? 'results-partial' : 'results';
// Made (or refused) now, not after a run of many minutes.
try {
  mkdirSync(outDir, { recursive: true });
} catch (e) {
  console.error(`bench: cannot create the output directory --out=${outDir}: ${e.message}`);
  process.exit(1);
}
const CORES = os.availableParallelism?.() ?? os.cpus().length;

// Time per row: samples for ~budget after one warm-up; at least minSamples if they fit in cap.
// A row whose one unit is projected (from the same library's rate on an earlier training config)
// to take longer than maxUnitMs is skipped and says so. (Full runs: 90 s, so TF.js wasm's
// train-lstm-l step, 66-76 s here, is measured: the wasm-simd ≥ 10× TF.js wasm target needs it;
// warm-up plus one sample stay within the worker's timeout.)
const PLAN = QUICK
  ? { budgetMs: 400, minSamples: 2, capMs: 2500, maxUnitMs: 3000, timeoutMs: 60_000, torchBudget: 0.4 }
  : { budgetMs: 4000, minSamples: 3, capMs: 30_000, maxUnitMs: 90_000, timeoutMs: 420_000, torchBudget: 3 };
const started = Date.now();
const log = (...a) => console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`, ...a);

// ---------------------------------------------------------------- machine

function sh(cmd, a, o = {}) {
  const r = spawnSync(cmd, a, { cwd: root, encoding: 'utf8', ...o });
  return r.status === 0 ? r.stdout.trim() : null;
}

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const field = (k) => cpuinfo.match(new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
  const flags = (field('flags') ?? '').split(/\s+/);
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no']);
  return {
    cpu: field('model name') ?? os.cpus()[0]?.model,
    cpuFamily: field('cpu family'),
    cpuModel: field('model'),
    simd: ['avx2', 'fma', 'avx512f'].filter((f) => flags.includes(f)),
    cores: CORES,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    commit: sh('git', ['rev-parse', '--short', 'HEAD']),
    uncommittedChanges: dirty === null ? null : dirty.length > 0,
    mode: QUICK ? 'quick' : 'full',
  };
}

// /proc/stat: machine-wide busy CPU time, to tell how much of it was not ours during a row.
function cpuTimes() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = line[3] + (line[4] ?? 0);
    const total = line.slice(0, 8).reduce((a, b) => a + b, 0);
    // steal: time the hypervisor ran other guests while this VM wanted the CPU (counted in busy).
    return { busy: (total - idle) / 100, total: total / 100, steal: (line[7] ?? 0) / 100 }; // seconds (USER_HZ = 100)
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- peaks

/**
 * Single-core fp32 FMA peaks: AVX2 (256-bit) always, AVX-512 (512-bit) when the CPU has it. Each
 * from the Rust probe (bench/rust, `rnnkit-bench peak`) with bench/fma_peak.c as the cross-check
 * (or alone when the Rust probe is not there or was built without AVX-512 support).
 */
function fmaPeak(simd) {
  const widths = { avx2: { flags: ['-mavx2', '-mfma'], rust: /FMA peak \(AVX2[^:\n]*:\s*([\d.]+)\s*GFLOP\/s/i } };
  if (simd.includes('avx512f')) widths.avx512 = { flags: ['-mavx512f', '-mfma'], rust: /FMA peak \(AVX-512[^:\n]*:\s*([\d.]+)\s*GFLOP\/s/i };
  const out = {};
  for (const w of Object.keys(widths)) out[w] = { sources: {} };
  // 1. The Rust probe (bench/rust, crate rnnkit-bench), if this tree has it.
  if (existsSync(join(here, 'rust', 'Cargo.toml'))) {
    const bin = join(root, 'target', 'release', 'rnnkit-bench');
    let buildError = null;
    if (!QUICK || !existsSync(bin)) {
      log('building the Rust peak probe (cargo build --release -p rnnkit-bench)');
      // The addon's flags (scripts/toolchain.mjs), so the ceiling runs the same code.
      const b = spawnSync('cargo', ['build', '--release', '-q', '-p', 'rnnkit-bench'], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...nativeBuildEnv() } });
      if (b.status !== 0) buildError = `cargo build failed: ${(b.stderr || b.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`;
    }
    const r = existsSync(bin) ? spawnSync(bin, ['peak'], { encoding: 'utf8', timeout: 120_000 }) : null;
    for (const [w, spec] of Object.entries(widths)) {
      const m = (r?.stdout ?? '').match(spec.rust);
      if (m) out[w].sources.rust = { gflops: +m[1], line: r.stdout.split('\n').find((l) => spec.rust.test(l)).trim() };
      else out[w].sources.rustError = buildError ?? `rnnkit-bench peak printed no ${w} peak: ${(r?.stdout || r?.stderr || 'not built').trim().slice(0, 200)}`;
    }
  }
  // 2. bench/fma_peak.c with the system C compiler (always, as a cross-check).
  const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (cc && process.arch === 'x64') {
    const dir = mkdtempSync(join(os.tmpdir(), 'rnnkit-peak-'));
    try {
      for (const [w, spec] of Object.entries(widths)) {
        const exe = join(dir, `fma_peak_${w}`);
        const b = spawnSync(cc, ['-O2', ...spec.flags, join(here, 'fma_peak.c'), '-o', exe], { encoding: 'utf8' });
        if (b.status === 0) {
          const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 60_000 });
          const m = (r.stdout ?? '').match(/fma_peak_gflops\s+([\d.]+)/);
          if (m) out[w].sources.c = { gflops: +m[1], compiler: `${cc} -O2 ${spec.flags.join(' ')}` };
        } else out[w].sources.cError = b.stderr.trim().split('\n').slice(-2).join(' | ');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [w, p] of Object.entries(out)) {
    const pick = p.sources.rust ? ['rust', 'bench/rust (rnnkit-bench peak)'] : p.sources.c ? ['c', `bench/fma_peak.c (${p.sources.c.compiler})`] : null;
    p.gflops = pick ? p.sources[pick[0]].gflops : null;
    p.source = pick ? pick[1] : 'not measured (no Rust probe and no C compiler)';
    p.isa = w === 'avx512' ? 'AVX-512 (512-bit)' : 'AVX2 (256-bit)';
  }
  return out;
}

// ---------------------------------------------------------------- child processes

function runWorker(spec, timeoutMs = PLAN.timeoutMs) {
  return new Promise((resolve) => {
    const before = cpuTimes();
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(here, 'worker.mjs'), JSON.stringify(spec)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(spec.env ?? {}) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallS = (Date.now() - t0) / 1000;
      const after = cpuTimes();
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
      let res;
      if (line) res = JSON.parse(line.slice('@@RESULT '.length));
      else if (timedOut) res = { error: `timed out after ${timeoutMs / 1000} s` };
      else res = { error: `worker exited with ${code}: ${(stderr || stdout).trim().split('\n').slice(-3).join(' | ')}` };
      res.wallS = +wallS.toFixed(2);
      if (before && after && typeof res.cpuS === 'number') {
        // CPU seconds spent by everything else on the machine while this row ran, per second.
        res.otherLoad = +Math.max(0, (after.busy - before.busy - res.cpuS) / wallS).toFixed(2);
      }
      if (before && after) res.steal = +((after.steal - before.steal) / wallS).toFixed(2);
      resolve(res);
    });
  });
}

function torchAvailable() {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? { ok: true, version: r.stdout.trim() } : { ok: false, why: (r.stderr || r.error?.message || 'python3 not found').trim().split('\n').pop() };
}

function runTorch(setting, configs, budgetS = PLAN.torchBudget) {
  return new Promise((resolve) => {
    const before = cpuTimes();
    const t0 = Date.now();
    const child = spawn('/usr/bin/python3', [join(here, 'torch_bench.py'), '--threads', String(setting.threads), '--budget', String(budgetS), '--min-samples', String(PLAN.minSamples), '--configs', configs.join(',')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...setting.env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), QUICK ? 60_000 : 600_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const after = cpuTimes();
      try {
        const r = JSON.parse(out.trim().split('\n').pop());
        r.wallS = (Date.now() - t0) / 1000;
        if (before && after) {
          r.machineBusyCores = +((after.busy - before.busy) / r.wallS).toFixed(2);
          if (typeof r.cpuS === 'number') r.otherLoad = +Math.max(0, (after.busy - before.busy - r.cpuS) / r.wallS).toFixed(2);
          r.steal = +((after.steal - before.steal) / r.wallS).toFixed(2);
        }
        resolve(r);
      } catch {
        resolve({ error: `python exited with ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}` });
      }
    });
  });
}

/**
 * Each training step's matrix products timed alone at 1 thread (summed with their count per
 * step), taking turns with the step itself in the same process (best of 3 rounds each): by
 * rnnkit's best kernel level (bench/rust `rnnkit-bench products`) and, when PyTorch is there, by
 * torch.mm on its BLAS. What a step would cost with no pointwise work, copies or sequencing: the
 * ceiling for the "% of peak" of the training rows. The rnnkit and PyTorch processes alternate
 * config by config, `rounds` times, each number the best of its rounds: seconds apart, so the
 * machine's drift does not fall between the two steps compared.
 */
function gemmCeiling(configs, withTorch, rounds, withFused) {
  const out = { configs, rounds };
  const bin = join(root, 'target', 'release', 'rnnkit-bench');
  const readLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' };
  // Keeps the faster of two measurements, number by number.
  const best = (old, v) => {
    if (!old || old.error) return v;
    return {
      ms: Math.min(old.ms, v.ms),
      stepMs: Math.min(old.stepMs, v.stepMs),
      products: old.products.map((p, i) => ({ ...p, us: Math.min(p.us, v.products[i]?.us ?? Infinity) })),
    };
  };
  if (!existsSync(bin)) out.rnnkit = { error: 'bench/rust was not built (target/release/rnnkit-bench missing)' };
  else out.rnnkit = { configs: {} };
  // The opt-in fused products (RNNKIT_FUSED=1, as init({ fused: true })), where the level has them.
  if (withFused && !out.rnnkit.error) out.rnnkitFused = { configs: {} };
  if (withTorch) out.torch = { configs: {} };
  const rnnkitProducts = (dest, c, env) => {
    const r = spawnSync(bin, ['products', c], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, RNNKIT_FUSED: '0', ...env } });
    try {
      const [v] = readLines(r.stdout);
      dest.level = v.level;
      dest.configs[c] = best(dest.configs[c], { ms: v.ms, stepMs: v.stepMs, products: v.products });
    } catch {
      dest.configs[c] ??= { error: `rnnkit-bench products ${c} failed: ${(r.stderr || r.error?.message || 'no output').trim().slice(0, 200)}` };
    }
  };
  for (let round = 0; round < rounds; round++) {
    for (const c of configs) {
      if (!out.rnnkit.error) rnnkitProducts(out.rnnkit, c, {});
      if (out.rnnkitFused) rnnkitProducts(out.rnnkitFused, c, { RNNKIT_FUSED: '1' });
      if (withTorch) {
        const r = spawnSync('/usr/bin/python3', [join(here, 'torch_bench.py'), '--threads', '1', '--gemm', '--configs', c], { cwd: root, env, encoding: 'utf8', timeout: 600_000 });
        try {
          const v = JSON.parse(r.stdout.trim().split('\n').pop());
          out.torch.version = v.torch;
          out.torch.configs[c] = best(out.torch.configs[c], v.results[c]);
        } catch {
          out.torch.configs[c] ??= { error: `torch_bench.py --gemm ${c} failed: ${(r.stderr || r.error?.message || 'no output').trim().split('\n').slice(-2).join(' | ')}` };
        }
      }
    }
  }
  for (const c of configs) {
    const a = out.rnnkit?.configs?.[c]?.ms;
    const b = out.torch?.configs?.[c]?.ms;
    const sa = out.rnnkit?.configs?.[c]?.stepMs;
    const sb = out.torch?.configs?.[c]?.stepMs;
    const f = out.rnnkitFused?.configs?.[c];
    log(`${c.padEnd(15)} products alone / step: rnnkit ${a ? fmtMs(a) : 'n/a'} / ${sa ? fmtMs(sa) : 'n/a'}${f ? `, fused ${f.ms ? fmtMs(f.ms) : 'n/a'} / ${f.stepMs ? fmtMs(f.stepMs) : 'n/a'}` : ''}, PyTorch ${b ? fmtMs(b) : 'n/a'} / ${sb ? fmtMs(sb) : 'n/a'}`);
  }
  return out;
}

/**
 * infer-lstm-seq at `threads` against what bounds it (bench/rust `rnnkit-bench seqfloor`): the
 * forward taking turns with its two products alone (the input projection of all steps; the
 * per-step recurrent product, which reads all of W_hh every step), with a plain read of as many
 * bytes as W_hh and, above 1 thread, with one thread's share of the recurrent product alone.
 * `rounds` processes, each number the best of its rounds.
 */
function seqFloor(rounds, threads) {
  const bin = join(root, 'target', 'release', 'rnnkit-bench');
  if (!existsSync(bin)) return { error: 'bench/rust was not built (target/release/rnnkit-bench missing)' };
  let out = null;
  for (let round = 0; round < rounds; round++) {
    const r = spawnSync(bin, ['seqfloor', String(threads)], { encoding: 'utf8', timeout: 120_000 });
    let v;
    try {
      v = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{')));
    } catch {
      if (out) break; // keep the rounds that ran
      return { threads, error: `rnnkit-bench seqfloor ${threads} failed: ${(r.stderr || r.error?.message || 'no output').trim().slice(0, 200)}` };
    }
    const timed = ['forwardMs', 'projectionUs', 'stepProductUs', 'readUs', 'shareProductUs'].filter((k) => k in v);
    out = out ? { ...v, ...Object.fromEntries(timed.map((k) => [k, Math.min(v[k], out[k])])) } : v;
    out.rounds = round + 1;
  }
  const share = out.shareProductUs ? `, one thread's share alone ${out.shareProductUs.toFixed(1)} µs` : '';
  log(`infer-lstm-seq ${threads} thread${threads > 1 ? 's' : ''}: forward ${fmtMs(out.forwardMs)}, projection alone ${fmtMs(out.projectionUs / 1000)}, recurrent product alone ${out.stepProductUs.toFixed(1)} µs/step${share}, plain read of W_hh ${out.readUs.toFixed(1)} µs`);
  return out;
}

/**
 * The comparison targets of issue 3 that this run can check: (config, our row, their row), their
 * row an onnxruntime row or 'torch-1t' / 'torch-best' (PyTorch at the setting the rows used; for
 * the best multi-core setting, the one that won this config). Only pairs whose two rows ran.
 */
function comparisonPairs(result, torchSettings) {
  const ran = (c, id) => {
    const v = result.configs[c]?.rows?.[id];
    return v && !v.error && !v.skipped && v.medianMs > 0;
  };
  const torchSetting = (c, id) => (id === 'torch-1t' ? torchSettings['1t'] : torchSettings[result.configs[c]?.rows?.['torch-best']?.settingId]);
  const pairs = [];
  for (const c of TRAIN) {
    for (const [ours, theirs] of [
      ['rnnkit-native-1t', 'torch-1t'],
      ['rnnkit-native-fused-1t', 'torch-1t'],
      ['rnnkit-native-nt', 'torch-best'],
      ['rnnkit-native-fused-nt', 'torch-best'],
    ]) {
      if (ran(c, ours) && ran(c, theirs) && torchSetting(c, theirs)) pairs.push({ config: c, ours, theirs, torch: torchSetting(c, theirs).id });
    }
  }
  for (const [c, ours, theirs] of [
    ['infer-lstm-b1', 'rnnkit-native-1t', 'ort-node-1t'],
    ['infer-lstm-b1', 'rnnkit-native-nt', 'ort-node-nt'],
    ['infer-lstm-seq', 'rnnkit-native-1t', 'ort-node-1t'],
    ['infer-lstm-seq', 'rnnkit-native-nt', 'ort-node-nt'],
    ['infer-lstm-seq', 'rnnkit-wasm-simd', 'ort-web-1t'],
  ]) {
    if (ran(c, ours) && ran(c, theirs)) pairs.push({ config: c, ours, theirs });
  }
  return pairs;
}

/**
 * Head to head: the two rows of each comparison measured again, config by config, every side of
 * the config once per round (in reverse order every other round), with shorter sampling: the two
 * sides of a ratio run seconds apart, so the machine's drift (this VM's speed swings by 30-50 %
 * within an hour) does not fall between them as it can between table rows minutes apart. Each
 * round gives one ratio (their median ÷ ours); the verdict is the median of the rounds' ratios.
 */
async function headToHead(pairs, rowDefs, torchSettings, rounds) {
  const budgetMs = 1500; // full runs only (--quick has no head-to-head rounds)
  const out = { rounds, budgetMs, minSamples: PLAN.minSamples, configs: {}, pairs: [] };
  const sideKey = (p, side) => (side === 'theirs' && p.torch ? `${p.theirs}@${p.torch}` : p[side]);
  for (const c of [...new Set(pairs.map((p) => p.config))]) {
    const mine = pairs.filter((p) => p.config === c);
    const sides = [...new Set(mine.flatMap((p) => [sideKey(p, 'ours'), sideKey(p, 'theirs')]))];
    const times = (out.configs[c] = Object.fromEntries(sides.map((s) => [s, []])));
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 ? [...sides].reverse() : sides) {
        let ms = null;
        let error;
        if (side.startsWith('torch-')) {
          const r = await runTorch(torchSettings[side.split('@')[1]], [c], budgetMs / 1000);
          ms = r.results?.[c]?.medianMs ?? null;
          error = r.error ?? r.results?.[c]?.error;
        } else {
          const row = rowDefs.find((d) => d.id === side);
          const r = await runWorker({ ...row.spec, config: c, budgetMs, minSamples: PLAN.minSamples, capMs: PLAN.capMs });
          ms = r.medianMs ?? null;
          error = r.error;
        }
        times[side][round] = ms;
        log(`${c.padEnd(15)} head to head, round ${round + 1}: ${side.padEnd(30)} ${ms ? fmtMs(ms) : `ERROR ${String(error).slice(0, 120)}`}`);
      }
    }
    for (const p of mine) {
      const [a, b] = [times[sideKey(p, 'ours')], times[sideKey(p, 'theirs')]];
      const ratios = a.map((v, i) => (v > 0 && b[i] > 0 ? b[i] / v : null)).filter((v) => v !== null);
      const sorted = [...ratios].sort((x, y) => x - y);
      const median = sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2) : null;
      out.pairs.push({ config: c, ours: p.ours, theirs: p.theirs, torchSetting: p.torch, oursMs: a, theirsMs: b, ratios, median });
    }
  }
  return out;
}

function blasLibrary() {
  try {
    return sh('readlink', ['-f', '/usr/lib/x86_64-linux-gnu/libblas.so.3']);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- rows

const TRAIN = CONFIGS.filter((c) => c.kind === 'train').map((c) => c.name);
const INFER = CONFIGS.filter((c) => c.kind !== 'train').map((c) => c.name);

/** The rows; `configs` lists where each applies. Native thread rows are settled after probing. */
function rows(threadsApi, nativeLevel) {
  const all = [...TRAIN, ...INFER];
  const r = [];
  if (threadsApi) {
    r.push({ id: 'rnnkit-native-1t', label: 'rnnkit native, 1 thread', spec: { lib: 'rnnkit', backend: 'native', threads: 1 }, configs: all, baseline: true });
    if (CORES > 1) r.push({ id: 'rnnkit-native-nt', label: `rnnkit native, ${CORES} threads`, spec: { lib: 'rnnkit', backend: 'native', threads: CORES }, configs: all, threads: CORES });
    // The opt-in fused multiply-add products (training configs: batch-1 products never use them).
    if (nativeLevel === 'avx2-fma') {
      r.push({ id: 'rnnkit-native-fused-1t', label: 'rnnkit native, fused, 1 thread', spec: { lib: 'rnnkit', backend: 'native', threads: 1, fused: true }, configs: TRAIN });
      if (CORES > 1) r.push({ id: 'rnnkit-native-fused-nt', label: `rnnkit native, fused, ${CORES} threads`, spec: { lib: 'rnnkit', backend: 'native', threads: CORES, fused: true }, configs: TRAIN, threads: CORES });
    }
    // What CPUs without AVX-512 get: the avx2-fma kernel level (level code 2), one thread.
    if (nativeLevel === 'avx512') r.push({ id: 'rnnkit-native-avx2-1t', label: 'rnnkit native, avx2-fma kernels, 1 thread', spec: { lib: 'rnnkit', backend: 'native', threads: 1, level: 2 }, configs: all });
  } else {
    r.push({ id: 'rnnkit-native-1t', label: 'rnnkit native', spec: { lib: 'rnnkit', backend: 'native' }, configs: all, baseline: true });
  }
  r.push(
    { id: 'rnnkit-wasm-simd', label: 'rnnkit wasm-simd', spec: { lib: 'rnnkit', backend: 'wasm-simd' }, configs: all },
    { id: 'rnnkit-wasm', label: 'rnnkit wasm (scalar build)', spec: { lib: 'rnnkit', backend: 'wasm' }, configs: all },
    { id: 'ort-node-1t', label: 'onnxruntime-node, 1 thread', spec: { lib: 'ort', variant: 'node', threads: 1 }, configs: INFER },
  );
  if (CORES > 1) r.push({ id: 'ort-node-nt', label: `onnxruntime-node, ${CORES} threads`, spec: { lib: 'ort', variant: 'node', threads: CORES }, configs: INFER, threads: CORES });
  r.push({ id: 'ort-web-1t', label: 'onnxruntime-web (wasm), 1 thread', spec: { lib: 'ort', variant: 'web', threads: 1 }, configs: INFER });
  if (CORES > 1) r.push({ id: 'ort-web-nt', label: `onnxruntime-web (wasm), ${CORES} threads`, spec: { lib: 'ort', variant: 'web', threads: CORES }, configs: INFER, threads: CORES });
  r.push(
    { id: 'tfjs-wasm', label: 'TF.js wasm', spec: { lib: 'tfjs', backend: 'wasm' }, configs: all },
    { id: 'tfjs-cpu', label: 'TF.js cpu', spec: { lib: 'tfjs', backend: 'cpu' }, configs: all },
    { id: 'brain', label: 'brain.js (batch 1)', spec: { lib: 'brain' }, configs: [...TRAIN, 'infer-lstm-seq'], batch: 1 },
  );
  return r;
}

// Order of execution: training configs small to large (so a slow library's rate on a smaller
// config can rule out a hopeless large one), then inference.
const RUN_ORDER = ['train-lstm-s', 'train-lstm-m', 'train-gru-m', 'train-lstm-l', 'infer-lstm-seq', 'infer-lstm-b1'];

// ---------------------------------------------------------------- main

async function main() {
  if (flag('render-only')) {
    // Re-render the Markdown from an existing results.json (same run, no new measurements).
    const r = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8'));
    writeAtomic(join(outDir, 'RESULTS.md'), renderMarkdown(r));
    return;
  }
  const result = { machine: machine(), plan: PLAN, notes: [] };
  log(`rnnkit bench (${result.machine.mode}) on ${result.machine.cpu}, ${CORES} cores, Node ${process.version}`);
  result.machine.loadavgStart = os.loadavg().map((v) => +v.toFixed(2));

  // Peaks: native FMA (Rust probe or C), this engine's wasm simd128 / scalar mul+add.
  result.fmaPeaks = fmaPeak(result.machine.simd);
  for (const p of Object.values(result.fmaPeaks)) log(`FMA peak ${p.isa}: ${p.gflops} GFLOP/s (${p.source})`);
  const wp = await runWorker({ lib: 'wasmpeak' }, 60_000);
  result.wasmPeak = wp;
  log(`wasm mul+add peak: simd128 ${wp.simd128?.toFixed(1)} GFLOP/s, scalar ${wp.scalar?.toFixed(1)} GFLOP/s`);

  // rnnkit backends: availability, kernel levels, threads API, and the boundary costs.
  result.boundary = {};
  let threadsApi = false;
  for (const backend of ['native', 'wasm-simd', 'wasm']) {
    const r = await runWorker({ lib: 'boundary', backend, budgetMs: QUICK ? 400 : 2000 });
    result.boundary[backend] = r;
    if (backend === 'native' && typeof r.threads === 'number') threadsApi = true;
    log(`boundary ${backend}: ${r.error ? 'unavailable: ' + r.error : `no-op call ${r.noopNs.toFixed(0)} ns, 1 MiB write+read ${r.roundTrip1MBUs.toFixed(0)} us (kernels ${r.kernelLevel})`}`);
  }
  // "% of peak" is against the peak of the instruction set rnnkit's native kernels run.
  const nativeLevel = result.boundary.native?.kernelLevel;
  result.fmaPeak = nativeLevel === 'avx512' && result.fmaPeaks.avx512?.gflops ? result.fmaPeaks.avx512 : result.fmaPeaks.avx2;
  if (!threadsApi) result.notes.push('This rnnkit build has no threads API (init({ threads }) / backendInfo().threads): native ran once, on one thread.');

  const rowDefs = rows(threadsApi, nativeLevel).filter((r) => !onlyRows || onlyRows.includes(r.id));
  const configs = RUN_ORDER.filter((c) => (!onlyConfigs || onlyConfigs.includes(c)) && !(QUICK && c === 'train-lstm-l'));
  if (QUICK) result.notes.push('--quick: train-lstm-l not run; fewer samples per row; rows whose one unit would take over 3 s (projected from the same row on an earlier config) not run; no products-alone ceiling and no head-to-head rounds (the targets are checked against the tables only).');
  result.rows = rowDefs.map(({ id, label, baseline, threads, batch }) => ({ id, label, baseline: !!baseline, threads: threads ?? 1, batch }));
  result.configs = {};
  const rate = {}; // row id -> { gflops, config } of its latest training config

  for (const name of configs) {
    const cfg = CONFIGS.find((c) => c.name === name);
    const entry = (result.configs[name] = { ...cfg, flops: flops(cfg), rows: {} });
    for (const row of rowDefs) {
      if (!row.configs.includes(name)) continue;
      let res;
      // One timed unit: a training step, a forward over the sequence, or all T single steps.
      const unitFlops = flops(cfg, row.batch ?? cfg.B) * (cfg.kind === 'step' ? cfg.T : 1);
      const projS = rate[row.id] ? unitFlops / (rate[row.id].gflops * 1e9) : 0;
      if (projS * 1000 > PLAN.maxUnitMs) {
        res = {
          skipped: `not run: one ${cfg.kind === 'train' ? 'step' : cfg.kind === 'step' ? `run of ${cfg.T} steps` : 'forward'} would take about ${projS.toFixed(0)} s at the ${rate[row.id].gflops.toFixed(2)} GFLOP/s this row reached on ${rate[row.id].config} (limit ${PLAN.maxUnitMs / 1000} s${QUICK ? ' in --quick' : ''})`,
        };
      } else {
        res = await runWorker({ ...row.spec, config: name, budgetMs: PLAN.budgetMs, minSamples: PLAN.minSamples, capMs: PLAN.capMs });
        if (!res.error && cfg.kind === 'train') rate[row.id] = { gflops: res.gflops, config: name };
      }
      entry.rows[row.id] = res;
      const msg = res.error ? `ERROR ${String(res.error).slice(0, 160)}` : res.skipped ? `skipped (${res.skipped.slice(0, 80)})` : `${fmtMs(res.medianMs)}  ${res.gflops.toFixed(2)} GFLOP/s  (${res.samples} samples${res.otherLoad !== undefined ? `, other load ${res.otherLoad}` : ''})`;
      log(`${name.padEnd(15)} ${row.label.padEnd(34)} ${msg}`);
    }
  }

  // PyTorch anchor (optional).
  const torch = torchAvailable();
  result.torch = { available: torch.ok, ...(torch.ok ? { version: torch.version, blas: blasLibrary() } : { why: torch.why }) };
  // Debian's python3-torch does not pull in OpenBLAS: without it torch.mm runs the reference
  // (netlib) BLAS, 10-20x slower here, which would make PyTorch an anchor nobody uses.
  if (torch.ok && /\/blas\/libblas\.so/.test(result.torch.blas ?? '')) {
    result.torch = { available: false, why: `PyTorch would multiply with the reference BLAS (${result.torch.blas}), not OpenBLAS; install it (apt-get install -y libopenblas0-pthread) for a fair anchor` };
  }
  const torchConfigs = configs.filter((c) => !(QUICK && c === 'train-lstm-l'));
  if (flag('no-torch')) result.torch = { available: false, why: '--no-torch' };
  else if (torch.ok && torchConfigs.length) {
    const settings = [
      { id: '1t', label: '1 thread', threads: 1, env: { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' } },
      { id: 'omp1-blas2', label: '1 OpenMP thread, OPENBLAS_NUM_THREADS=2', threads: 1, env: { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: String(CORES), OMP_WAIT_POLICY: 'PASSIVE' }, cores: CORES },
      { id: 'omp2-blas1', label: `${CORES} OpenMP threads, OPENBLAS_NUM_THREADS=1`, threads: CORES, env: { OMP_NUM_THREADS: String(CORES), OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' }, cores: CORES },
      { id: 'omp2-blas2', label: `${CORES} OpenMP threads, OPENBLAS_NUM_THREADS=2`, threads: CORES, env: { OMP_NUM_THREADS: String(CORES), OPENBLAS_NUM_THREADS: String(CORES), OMP_WAIT_POLICY: 'PASSIVE' }, cores: CORES },
    ].filter((s) => CORES > 1 || s.id === '1t');
    const use = QUICK ? settings.filter((s) => s.id === '1t' || s.id === 'omp1-blas2') : settings;
    result.torch.settings = {};
    for (const s of use) {
      log(`PyTorch ${s.label} ...`);
      const r = await runTorch(s, torchConfigs);
      result.torch.settings[s.id] = { ...s, ...r };
      if (r.error) log(`PyTorch ${s.label}: ERROR ${r.error}`);
      else for (const [c, v] of Object.entries(r.results)) log(`${c.padEnd(15)} PyTorch ${s.label.padEnd(26)} ${v.error ?? fmtMs(v.medianMs)}  (other load ${r.otherLoad})`);
    }
    // Fold into the config tables: the 1-thread row and the best multi-core setting per config.
    for (const c of torchConfigs) {
      const entry = result.configs[c];
      const cfg = CONFIGS.find((x) => x.name === c);
      const one = result.torch.settings['1t']?.results?.[c];
      if (one && !one.error) entry.rows['torch-1t'] = { ...one, flops: flops(cfg), gflops: flops(cfg) / (one.medianMs * 1e6), threads: 1, setting: '1 thread (OMP_WAIT_POLICY=PASSIVE)', otherLoad: result.torch.settings['1t'].otherLoad };
      let best = null;
      for (const s of use.filter((s) => s.cores)) {
        const v = result.torch.settings[s.id]?.results?.[c];
        if (v && !v.error && (!best || v.medianMs < best.medianMs)) best = { ...v, setting: s.label + ', OMP_WAIT_POLICY=PASSIVE', settingId: s.id, threads: CORES, otherLoad: result.torch.settings[s.id].otherLoad };
      }
      if (best) entry.rows['torch-best'] = { ...best, flops: flops(cfg), gflops: flops(cfg) / (best.medianMs * 1e6) };
    }
    result.rows.push(
      { id: 'torch-1t', label: `PyTorch ${torch.version}, 1 thread`, threads: 1 },
      { id: 'torch-best', label: `PyTorch ${torch.version}, best ${CORES}-core setting`, threads: CORES },
    );
  }

  // The ceiling of a training step: its matrix products alone, rnnkit's kernels and PyTorch's BLAS.
  // --quick skips this and the head-to-head rounds (about 70 s here): it checks that every row
  // runs; its verdicts are the tables' own.
  const ceilingConfigs = QUICK || (onlyRows && !onlyRows.includes('rnnkit-native-1t')) ? [] : torchConfigs.filter((c) => TRAIN.includes(c));
  if (ceilingConfigs.length) {
    log('matrix products of each training step alone (rnnkit-bench products, torch_bench.py --gemm) ...');
    result.gemmCeiling = gemmCeiling(ceilingConfigs, torch.ok && !flag('no-torch'), 2, nativeLevel === 'avx2-fma');
  }

  // infer-lstm-seq at 1 thread and all cores against its floor (products alone, a plain read of W_hh).
  if (!QUICK && (!onlyRows || onlyRows.includes('rnnkit-native-1t')) && result.configs['infer-lstm-seq']) {
    log('infer-lstm-seq: its products alone and a plain read of its weights (rnnkit-bench seqfloor) ...');
    result.seqFloors = (CORES > 1 ? [1, CORES] : [1]).map((t) => seqFloor(2, t));
  }

  // The comparison targets again, both sides taking turns.
  const torchSettings = Object.fromEntries((result.torch?.settings ? Object.values(result.torch.settings) : []).map((s) => [s.id, s]));
  const pairs = QUICK ? [] : comparisonPairs(result, torchSettings);
  if (pairs.length) {
    log(`head to head: ${pairs.length} comparisons, both sides taking turns ...`);
    // Five rounds: with three, one slow minute of this VM moved a median across a target.
    result.headToHead = await headToHead(pairs, rowDefs, torchSettings, 5);
  }

  result.machine.loadavgEnd = os.loadavg().map((v) => +v.toFixed(2));
  result.machine.durationS = Math.round((Date.now() - started) / 1000);
  const loads = Object.values(result.configs).flatMap((e) => Object.values(e.rows).map((r) => r.otherLoad).filter((v) => typeof v === 'number'));
  if (loads.length) {
    const sorted = [...loads].sort((a, b) => a - b);
    result.machine.otherLoad = { median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
  }
  const steals = [...Object.values(result.configs).flatMap((e) => Object.values(e.rows).map((r) => r.steal)), ...Object.values(result.torch?.settings ?? {}).map((s) => s.steal)]
    .filter((v) => typeof v === 'number')
    .sort((a, b) => a - b);
  if (steals.length) result.machine.steal = { median: steals[Math.floor(steals.length / 2)], max: steals[steals.length - 1] };

  writeAtomic(join(outDir, `${outBase}.json`), JSON.stringify(result, null, 2) + '\n');
  writeAtomic(join(outDir, outBase === 'results' ? 'RESULTS.md' : 'RESULTS-partial.md'), renderMarkdown(result));
  log(`wrote ${join(outDir, `${outBase}.json`)} and the Markdown report (${result.machine.durationS} s)`);
}

function fmtMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} us`;
}

function writeAtomic(path, text) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
