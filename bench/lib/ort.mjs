// onnxruntime-node and onnxruntime-web rows (inference configs only). The ONNX model is built from
// the same weights rnnkit uses (bench/lib/onnx.mjs) and checked against rnnkit's output before timing.
import { createRequire } from 'node:module';
import { makeData, pkgVersion, randomF32 } from './configs.mjs';
import { lstmModel } from './onnx.mjs';
import { initRnnkit, makeModule } from './rnnkit.mjs';
import { budgetOf, measure } from './timing.mjs';

const require = createRequire(import.meta.url);
const TOL = 1e-4;

function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function run(spec, cfg) {
  if (cfg.cell !== 'lstm' || cfg.kind === 'train') throw new Error('onnxruntime rows cover the LSTM inference configs only');
  // Reference weights and outputs from rnnkit (wasm backend: no thread pool in this process).
  const { rk } = await initRnnkit('wasm');
  const ref = makeModule(rk, cfg);
  const sd = ref.stateDict();

  const pkg = spec.variant === 'web' ? 'onnxruntime-web' : 'onnxruntime-node';
  const ort = await import(require.resolve(pkg));
  const threads = spec.threads ?? 1;
  let sessionOpts;
  if (spec.variant === 'web') {
    ort.env.wasm.numThreads = threads;
    sessionOpts = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  } else {
    sessionOpts = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
  }
  const T = cfg.kind === 'step' ? 1 : cfg.T;
  const bytes = lstmModel(sd, { I: cfg.I, H: cfg.H, T: 'T', B: 'B' });
  const session = await ort.InferenceSession.create(bytes, sessionOpts);
  const zeros = () => new ort.Tensor('float32', new Float32Array(cfg.B * cfg.H), [1, cfg.B, cfg.H]);
  const result = { package: `${pkg}@${await pkgVersion(pkg)}`, threads, modelBytes: bytes.length };

  if (cfg.kind === 'seq') {
    const { x } = makeData(cfg);
    const X = new ort.Tensor('float32', x, [T, cfg.B, cfg.I]);
    const feeds = { X, initial_h: zeros(), initial_c: zeros() };
    const check = await session.run(feeds);
    const want = ref.forward(new rk.Tensor(x, [cfg.T, cfg.B, cfg.I]), { noGrad: true });
    result.maxAbsDiffVsRnnkit = Math.max(maxAbsDiff(check.Y.data, want.output.data), maxAbsDiff(check.Y_c.data, want.cN.data));
    if (!(result.maxAbsDiffVsRnnkit <= TOL)) throw new Error(`onnxruntime output differs from rnnkit's by ${result.maxAbsDiffVsRnnkit} (> ${TOL})`);
    const t = await measure(() => session.run(feeds, ['Y']), budgetOf(spec));
    Object.assign(result, t, { timed: 'await session.run({ X (T,1,I), initial_h, initial_c }) fetching Y: one LSTM node over the whole sequence' });
  } else {
    const all = randomF32(cfg.T * cfg.I, 12345);
    const xs = [];
    for (let s = 0; s < cfg.T; s++) xs.push(new ort.Tensor('float32', all.subarray(s * cfg.I, (s + 1) * cfg.I), [1, 1, cfg.I]));
    const runSteps = async (n) => {
      let h = zeros(),
        c = zeros();
      for (let s = 0; s < n; s++) {
        const r = await session.run({ X: xs[s], initial_h: h, initial_c: c }, ['Y_h', 'Y_c']);
        h = r.Y_h;
        c = r.Y_c;
      }
      return { h, c };
    };
    // Check 16 steps against rnnkit's step().
    const got = await runSteps(16);
    let state;
    for (let s = 0; s < 16; s++) state = ref.step(new rk.Tensor(all.subarray(s * cfg.I, (s + 1) * cfg.I), [1, cfg.I]), state);
    result.maxAbsDiffVsRnnkit = Math.max(maxAbsDiff(got.h.data, state.h.data), maxAbsDiff(got.c.data, state.c.data));
    if (!(result.maxAbsDiffVsRnnkit <= TOL)) throw new Error(`onnxruntime state differs from rnnkit's by ${result.maxAbsDiffVsRnnkit} (> ${TOL})`);
    const t = await measure(() => runSteps(cfg.T), budgetOf(spec));
    for (const k of ['medianMs', 'minMs', 'maxMs', 'madMs', 'warmupMs']) t[k] /= cfg.T;
    Object.assign(result, t, {
      timed: `${cfg.T} x await session.run({ X (1,1,I), initial_h, initial_c }) fetching Y_h, Y_c, fed to the next run; time divided by ${cfg.T}`,
    });
  }
  ref.dispose();
  await session.release?.();
  return result;
}
