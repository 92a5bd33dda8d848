// TF.js rows: @tensorflow/tfjs 'cpu' backend and @tensorflow/tfjs-backend-wasm (SIMD; Node has no
// wasm threads for it). Two implementations; each config uses the faster one measured here:
//   'manual' (single steps): the input projection of all timesteps as one matMul, then per step one
//     h x W_hh matMul + the gate math; training via optimizer.minimize (autodiff tape) with SGD.
//     Weights are rnnkit's (PyTorch layout, transposed) and the output is checked against rnnkit.
//   'layers' (training and whole sequences): tf.layers.lstm / tf.layers.gru (returnSequences) +
//     model.trainOnBatch with SGD and meanSquaredError, loaded with rnnkit's weights and checked.
//     Faster than 'manual' here: slicing per-step inputs out of one big projection (tf.unstack /
//     tf.slice) is very slow on the wasm backend.
import { LEARNING_RATE, makeData, pkgVersion, randomF32 } from './configs.mjs';
import { initRnnkit, makeModule } from './rnnkit.mjs';
import { budgetOf, measure } from './timing.mjs';

const TOL = 1e-4;

export async function run(spec, cfg) {
  const tf = await import('@tensorflow/tfjs');
  if (spec.backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  // TF.js prints an advert for tfjs-node on first use in Node; keep stdout for the result line.
  const log = console.log;
  console.log = (...a) => (String(a[0]).includes('tfjs-node') || String(a[0]).startsWith('====') ? undefined : console.error(...a));
  if (!(await tf.setBackend(spec.backend))) throw new Error(`tf.setBackend('${spec.backend}') failed`);
  await tf.ready();
  const result = {
    package: `@tensorflow/tfjs@${await pkgVersion('@tensorflow/tfjs')}${spec.backend === 'wasm' ? ` + tfjs-backend-wasm@${await pkgVersion('@tensorflow/tfjs-backend-wasm')}` : ''}`,
    tfBackend: tf.getBackend(),
    impl: spec.impl ?? (cfg.kind === 'step' ? 'manual' : 'layers'),
  };
  if (spec.backend === 'wasm') {
    result.wasmSimd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    result.wasmMultithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const w = await import('@tensorflow/tfjs-backend-wasm');
    result.threads = w.getThreadsCount();
  } else result.threads = 1;
  try {
    Object.assign(result, result.impl === 'layers' ? await runLayers(tf, spec, cfg) : await runManual(tf, spec, cfg));
  } finally {
    console.log = log;
  }
  result.tensorsLeft = tf.memory().numTensors;
  return result;
}

// ---------------- manual ----------------

function makeCell(tf, cfg, sd) {
  const { H } = cfg;
  const isGru = cfg.cell === 'gru';
  const v = (t, name) => tf.variable(t, true, name);
  const p = {
    Wih: v(tf.tensor2d(sd.weight_ih_l0.data, sd.weight_ih_l0.shape).transpose(), 'Wih'), // (I, G*H)
    Whh: v(tf.tensor2d(sd.weight_hh_l0.data, sd.weight_hh_l0.shape).transpose(), 'Whh'), // (H, G*H)
  };
  if (isGru) {
    p.bih = v(tf.tensor1d(sd.bias_ih_l0.data), 'bih');
    p.bhh = v(tf.tensor1d(sd.bias_hh_l0.data), 'bhh');
  } else {
    const b = new Float32Array(sd.bias_ih_l0.data);
    for (let i = 0; i < b.length; i++) b[i] += sd.bias_hh_l0.data[i];
    p.b = v(tf.tensor1d(b), 'b');
  }
  /** x3 (T, B, I) -> { out (T, B, H), h, c } */
  const forward = (x3, h0, c0) => {
    const [T, B, I] = x3.shape;
    const G = isGru ? 3 : 4;
    const xw = tf.add(tf.matMul(tf.reshape(x3, [T * B, I]), p.Wih), isGru ? p.bih : p.b);
    const xs = tf.unstack(tf.reshape(xw, [T, B, G * H]));
    let h = h0,
      c = c0;
    const outs = [];
    for (let t = 0; t < T; t++) {
      if (isGru) {
        const [xr, xz, xn] = tf.split(xs[t], 3, 1);
        const [hr, hz, hn] = tf.split(tf.add(tf.matMul(h, p.Whh), p.bhh), 3, 1);
        const r = tf.sigmoid(tf.add(xr, hr));
        const z = tf.sigmoid(tf.add(xz, hz));
        const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
        h = tf.add(n, tf.mul(z, tf.sub(h, n)));
      } else {
        const [i, f, g, o] = tf.split(tf.add(xs[t], tf.matMul(h, p.Whh)), 4, 1);
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      }
      outs.push(h);
    }
    return { out: tf.stack(outs), h, c };
  };
  return { p, forward, vars: Object.values(p) };
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function runManual(tf, spec, cfg) {
  const { rk } = await initRnnkit('wasm'); // reference weights and outputs (no thread pool in this process)
  const ref = makeModule(rk, cfg);
  const sd = ref.stateDict();
  const cell = makeCell(tf, cfg, sd);
  const { H } = cfg;
  const budget = budgetOf(spec);
  const out = {};

  // Check the first few steps against rnnkit.
  {
    const Tc = Math.min(4, cfg.T);
    const { x } = makeData(cfg);
    const xc = x.subarray(0, Tc * cfg.B * cfg.I);
    const want = ref.forward(new rk.Tensor(xc, [Tc, cfg.B, cfg.I]), { noGrad: true }).output.data;
    const gotT = tf.tidy(() => cell.forward(tf.tensor3d(xc, [Tc, cfg.B, cfg.I]), tf.zeros([cfg.B, H]), tf.zeros([cfg.B, H])).out);
    const got = gotT.dataSync();
    gotT.dispose();
    out.maxAbsDiffVsRnnkit = maxAbsDiff(got, want);
    if (!(out.maxAbsDiffVsRnnkit <= TOL)) throw new Error(`TF.js manual ${cfg.cell} differs from rnnkit by ${out.maxAbsDiffVsRnnkit}`);
  }
  ref.dispose();

  if (cfg.kind === 'train') {
    const { x, y } = makeData(cfg);
    const X = tf.tensor3d(x, [cfg.T, cfg.B, cfg.I]);
    const Y = tf.tensor3d(y, [cfg.T, cfg.B, H]);
    const h0 = tf.zeros([cfg.B, H]);
    const opt = tf.train.sgd(LEARNING_RATE);
    let loss = NaN;
    const t = await measure(() => {
      const cost = opt.minimize(() => tf.losses.meanSquaredError(Y, cell.forward(X, h0, h0).out), true, cell.vars);
      loss = cost.dataSync()[0];
      cost.dispose();
    }, budget);
    Object.assign(out, t, {
      loss,
      timed: 'tf.train.sgd().minimize(() => meanSquaredError(Y, forward(X))) over a hand-written LSTM/GRU (one input-projection matMul for all steps, one h x W_hh matMul per step); cost read with dataSync()',
    });
  } else if (cfg.kind === 'seq') {
    const { x } = makeData(cfg);
    const X = tf.tensor3d(x, [cfg.T, cfg.B, cfg.I]);
    const h0 = tf.zeros([cfg.B, H]);
    // (Never return a typed array from tf.tidy: tidy walks it element by element looking for tensors.)
    const t = await measure(() => {
      const o = tf.tidy(() => cell.forward(X, h0, h0).out);
      o.dataSync();
      o.dispose();
    }, budget);
    Object.assign(out, t, { timed: 'forward(X (T,1,I)) in tf.tidy, then out.dataSync(): hand-written LSTM, one input-projection matMul + one matMul per step' });
  } else {
    const all = randomF32(cfg.T * cfg.I, 12345);
    const xs = [];
    for (let s = 0; s < cfg.T; s++) xs.push(tf.tensor3d(all.subarray(s * cfg.I, (s + 1) * cfg.I), [1, 1, cfg.I]));
    const t = await measure(() => {
      let h = tf.zeros([1, H]),
        c = tf.zeros([1, H]);
      for (let s = 0; s < cfg.T; s++) {
        const next = tf.tidy(() => {
          const r = cell.forward(xs[s], h, c);
          return [r.h, r.c];
        });
        h.dispose();
        c.dispose();
        [h, c] = next;
      }
      h.dataSync();
      h.dispose();
      c.dispose();
    }, budget);
    for (const k of ['medianMs', 'minMs', 'maxMs', 'madMs', 'warmupMs']) t[k] /= cfg.T;
    Object.assign(out, t, {
      timed: `${cfg.T} single steps (each a tf.tidy around x·W_ih + h·W_hh + gates), state tensors fed forward, h read once at the end; time divided by ${cfg.T}`,
    });
  }
  return out;
}

// ---------------- layers ----------------

function batchFirst(data, T, B, F) {
  const out = new Float32Array(data.length);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(data.subarray((t * B + b) * F, (t * B + b + 1) * F), (b * T + t) * F);
  return out;
}

/** tf.layers weights [kernel (I, G*H), recurrentKernel (H, G*H), bias (G*H)] from rnnkit's PyTorch-layout state dict. */
function layersWeights(tf, cfg, sd) {
  const { H } = cfg;
  // LSTM: TF.js gate order i, f, c, o = PyTorch's i, f, g, o. GRU (reset-before in TF.js): z, r, h
  // from PyTorch's r, z, n; TF.js has one bias on the input side, so b_ih + b_hh (exact for reset-before).
  const order = cfg.cell === 'gru' ? [1, 0, 2] : [0, 1, 2, 3];
  const rows = (t) => tf.concat(order.map((k) => tf.slice(t, [k * H, 0], [H, t.shape[1]])), 0);
  const vec = (a) => Float32Array.from(order.flatMap((k) => Array.from(a.subarray(k * H, (k + 1) * H))));
  const bias = vec(sd.bias_ih_l0.data).map((v, i) => v + vec(sd.bias_hh_l0.data)[i]);
  return [
    rows(tf.tensor2d(sd.weight_ih_l0.data, sd.weight_ih_l0.shape)).transpose(),
    rows(tf.tensor2d(sd.weight_hh_l0.data, sd.weight_hh_l0.shape)).transpose(),
    tf.tensor1d(bias),
  ];
}

async function runLayers(tf, spec, cfg) {
  const { T, B, I, H } = cfg;
  // Same weights as rnnkit (GRU: rnnkit's reset-before form, which is the only one TF.js has), and
  // the logistic sigmoid PyTorch uses (TF.js layers default to hardSigmoid).
  const { rk } = await initRnnkit('wasm');
  const ref = makeModule(rk, cfg, 1, cfg.cell === 'gru' ? { resetAfter: false } : {});
  const sd = ref.stateDict();
  const weights = layersWeights(tf, cfg, sd);
  const make = (steps) => {
    const opts = { units: H, returnSequences: true, inputShape: [steps, I], recurrentActivation: 'sigmoid', kernelInitializer: 'zeros', recurrentInitializer: 'zeros' };
    const layer = cfg.cell === 'gru' ? tf.layers.gru(opts) : tf.layers.lstm(opts);
    const model = tf.sequential({ layers: [layer] });
    layer.setWeights(weights);
    return model;
  };
  const { x, y } = makeData(cfg);
  const out = {};
  {
    // Check the first steps against rnnkit (a short copy of the layer with the same weights).
    const Tc = Math.min(4, T);
    const xc = x.subarray(0, Tc * B * I);
    const want = ref.forward(new rk.Tensor(xc, [Tc, B, I]), { noGrad: true }).output.data;
    const m = make(Tc);
    const o = m.predict(tf.tensor3d(batchFirst(xc, Tc, B, I), [B, Tc, I]));
    const got = batchFirst(o.dataSync(), B, Tc, H); // back to time-major
    out.maxAbsDiffVsRnnkit = maxAbsDiff(got, want);
    if (!(out.maxAbsDiffVsRnnkit <= TOL)) throw new Error(`tf.layers.${cfg.cell} differs from rnnkit by ${out.maxAbsDiffVsRnnkit}`);
  }
  ref.dispose();
  const model = make(T);
  model.compile({ optimizer: tf.train.sgd(LEARNING_RATE), loss: 'meanSquaredError' });
  const X = tf.tensor3d(batchFirst(x, T, B, I), [B, T, I]);
  const budget = budgetOf(spec);
  if (cfg.kind === 'train') {
    const Y = tf.tensor3d(batchFirst(y, T, B, H), [B, T, H]);
    let loss = NaN;
    const t = await measure(async () => {
      loss = await model.trainOnBatch(X, Y);
    }, budget);
    return { ...out, ...t, loss, timed: `tf.layers.${cfg.cell}({ units: H, returnSequences: true, recurrentActivation: 'sigmoid' }) + await model.trainOnBatch(X (B,T,I), Y) with SGD and meanSquaredError${cfg.cell === 'gru' ? ' (TF.js GRU is the reset-before form)' : ''}` };
  }
  if (cfg.kind === 'seq') {
    const t = await measure(() => {
      const o = model.predict(X);
      o.dataSync();
      o.dispose();
    }, budget);
    return { ...out, ...t, timed: `tf.layers.${cfg.cell} (recurrentActivation 'sigmoid'): model.predict(X (1,T,I)).dataSync()` };
  }
  throw new Error('layers impl has no single-step API with state fed forward; use impl manual');
}
