// rnnkit rows: native (1 thread / all cores when the build has threads), wasm-simd, wasm.
import { LEARNING_RATE, makeData, randomF32 } from './configs.mjs';
import { budgetOf, measure } from './timing.mjs';

const dist = new URL('../../dist/node.js', import.meta.url);

export async function loadRnnkit() {
  return import(dist.href);
}

/** Loads `backend` as the default; returns { rk, info, threads } where threads is null if the build has no threads API. */
export async function initRnnkit(backend, threads) {
  const rk = await loadRnnkit();
  const opts = { backend };
  if (threads) opts.threads = threads; // ignored by builds without the threads API
  const info = await rk.init(opts);
  const t = typeof info.threads === 'number' ? info.threads : null;
  if (threads && t !== null && t !== threads) throw new Error(`asked for ${threads} threads, backendInfo().threads = ${t}`);
  return { rk, info, threads: t };
}

export function makeModule(rk, cfg, seed = 1, extra = {}) {
  rk.manualSeed(seed);
  const opts = { inputSize: cfg.I, hiddenSize: cfg.H, ...extra };
  return cfg.cell === 'gru' ? new rk.Gru(opts) : new rk.Lstm(opts);
}

/** SGD on the module's parameters through stateDict/loadStateDict (no optimizer in rnnkit yet). */
export function sgdUpdate(module, grads, lr = LEARNING_RATE) {
  const sd = module.stateDict();
  for (const [name, w] of Object.entries(sd)) {
    const g = grads[name].data;
    const d = w.data;
    for (let i = 0; i < d.length; i++) d[i] -= lr * g[i];
  }
  module.loadStateDict(sd);
}

export async function run(spec, cfg) {
  let { rk, info, threads } = await initRnnkit(spec.backend, spec.threads);
  if (spec.level) {
    // A lower kernel level than the best (e.g. avx2-fma on an AVX-512 CPU), for CPUs without it.
    (await rk.loadBackend(spec.backend)).call('rk_set_kernel_level', [spec.level]);
    info = rk.backendInfo();
  }
  if (spec.fused) {
    // The opt-in fused multiply-add products (init({ fused: true })).
    info = await rk.init({ backend: spec.backend, fused: true });
    if (!info.fused) throw new Error(`init({ fused: true }): not in effect on ${info.name} (${info.kernelLevel})`);
  }
  const m = makeModule(rk, cfg);
  const budget = budgetOf(spec);
  const result = {
    backend: info.name,
    kernelLevel: info.kernelLevel + (info.fused ? ', fused multiply-add (init({ fused: true }))' : ''),
    threads: threads ?? (info.name === 'native' ? 'no threads API in this build' : 1),
  };

  if (cfg.kind === 'train') {
    const { x, y } = makeData(cfg);
    const input = new rk.Tensor(x, [cfg.T, cfg.B, cfg.I]);
    const target = new rk.Tensor(y, [cfg.T, cfg.B, cfg.H]);
    const dOut = new Float32Array(cfg.T * cfg.B * cfg.H);
    const dOutT = new rk.Tensor(dOut, [cfg.T, cfg.B, cfg.H]);
    const n = dOut.length;
    // MSE: rnnkit's mseLoss when this build has it, else a JS loop.
    const jsMse = (o) => {
      let loss = 0;
      for (let i = 0; i < n; i++) {
        const d = o.data[i] - y[i];
        loss += d * d;
        dOut[i] = (2 * d) / n;
      }
      return { loss: loss / n, grad: dOutT };
    };
    const mse = typeof rk.mseLoss === 'function' ? (o) => rk.mseLoss(o, target) : jsMse;
    // SGD: rnnkit's optimizer (one in-place call on the backend) when this build has it, else
    // stateDict() -> axpy in JS -> loadStateDict() (weights copied out and back in).
    let opt = null;
    let optError = null;
    if (typeof rk.Sgd === 'function') {
      try {
        opt = new rk.Sgd(m, { lr: LEARNING_RATE });
      } catch (e) {
        optError = String(e?.message ?? e);
      }
    }
    let loss = 0;
    let lastGrads = null;
    const step = () => {
      const { output } = m.forward(input);
      const l = mse(output);
      loss = l.loss;
      m.zeroGrad();
      // The input is data: no dL/dx (PyTorch's step skips it too: x does not require grad).
      // With rnnkit's optimizer the gradients stay on the backend: no copy out.
      const g = m.backward({ output: l.grad }, { inputGrad: false, paramGrads: !opt });
      if (opt) opt.step();
      else {
        lastGrads = g.params;
        sgdUpdate(m, g.params);
      }
    };
    const t = await measure(step, budget);
    if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
    // The update alone, timed separately.
    const u = opt
      ? await measure(() => opt.step(), { budgetMs: Math.min(spec.budgetMs / 4, 1000), minSamples: 3 })
      : await measure(() => sgdUpdate(m, lastGrads, 0), { budgetMs: Math.min(spec.budgetMs / 4, 1000), minSamples: 3 });
    Object.assign(result, t, {
      updateMedianMs: u.medianMs,
      update: opt ? 'Sgd.step()' : 'stateDict/loadStateDict',
      ...(optError ? { sgdError: optError } : {}),
      loss,
      timed:
        `forward(x (T,B,I)) + MSE (${mse === jsMse ? 'loss and dL/doutput in a JS loop' : 'rnnkit mseLoss'}) + zeroGrad + backward (full BPTT, without dL/dx: x is data, as in the PyTorch step${opt ? '; gradients stay on the backend' : ''}) + SGD ` +
        (opt ? 'with rnnkit Sgd.step() (in place on the backend)' : 'via stateDict() / axpy in JS / loadStateDict() (weights copied out and back in: rnnkit has no optimizer in this build)'),
    });
  } else if (cfg.kind === 'seq') {
    const { x } = makeData(cfg);
    const input = new rk.Tensor(x, [cfg.T, cfg.B, cfg.I]);
    let out;
    const t = await measure(() => {
      out = m.forward(input, { noGrad: true });
    }, budget);
    Object.assign(result, t, { checksum: out.output.data[out.output.data.length - 1], timed: 'forward(input (T,1,I), { noGrad: true }): one call over the whole sequence' });
  } else {
    // 'step': T single steps with the state fed forward; the unit reported is one step.
    const xs = [];
    const all = randomF32(cfg.T * cfg.I, 12345);
    for (let t = 0; t < cfg.T; t++) xs.push(new rk.Tensor(all.subarray(t * cfg.I, (t + 1) * cfg.I), [1, cfg.I]));
    let state;
    const t = await measure(() => {
      state = undefined;
      for (let s = 0; s < cfg.T; s++) state = m.step(xs[s], state);
    }, budget);
    for (const k of ['medianMs', 'minMs', 'maxMs', 'madMs', 'warmupMs']) t[k] /= cfg.T;
    Object.assign(result, t, {
      checksum: state.h.data[0],
      timed: `${cfg.T} calls of step(x (1,I), state) with the returned state fed to the next call; time divided by ${cfg.T}`,
    });
  }
  m.dispose();
  return result;
}
