// brain.js rows: brain.recurrent.LSTMTimeStep / GRUTimeStep (batch 1 by design).
// Training: one trainPattern() call = forward over one sequence of T steps (T+1 vectors of I
// values; each step predicts the next vector), backprop through the T steps, and brain.js's own
// weight update (RMSProp-style with clipping; brain.js has no plain SGD). Its output layer
// (H -> I linear) is extra work not in the FLOP count. FLOPs are counted for B = 1.
// Inference (infer-lstm-seq): net.run() over the T input vectors (one sequence, B = 1).
import { createRequire } from 'node:module';
import { LEARNING_RATE, makeData, pkgVersion } from './configs.mjs';
import { budgetOf, measure } from './timing.mjs';

const require = createRequire(import.meta.url);

export async function run(spec, cfg) {
  const brain = require('brain.js');
  const { T, I, H } = cfg;
  const Net = cfg.cell === 'gru' ? brain.recurrent.GRUTimeStep : brain.recurrent.LSTMTimeStep;
  const net = new Net({ inputSize: I, hiddenLayers: [H], outputSize: I, learningRate: LEARNING_RATE });
  const { x } = makeData({ ...cfg, T: T + 1 }, 1);
  const seq = [];
  for (let t = 0; t <= T; t++) seq.push(Array.from(x.subarray(t * I, (t + 1) * I)));
  const budget = budgetOf(spec);
  const base = { package: `brain.js@${await pkgVersion('brain.js')}`, threads: 1, batch: 1 };
  if (cfg.kind === 'train') {
    // train() once to initialise the model and pick the array-input path, then time trainPattern.
    net.train([seq], { iterations: 1, errorThresh: 0 });
    let err = NaN;
    const t = await measure(() => {
      err = net.trainPattern(seq, true);
    }, budget);
    return {
      ...base,
      ...t,
      trainError: err,
      timed: `net.trainPattern(one sequence of ${T + 1} vectors of ${I}) = ${T} LSTM/GRU steps forward + BPTT + brain.js's RMSProp-style update, batch 1 (FLOPs counted for B = 1; its H->I output layer not counted)`,
    };
  }
  if (cfg.kind === 'seq') {
    net.train([seq.slice(0, 3)], { iterations: 1, errorThresh: 0 });
    const input = seq.slice(0, T);
    const t = await measure(() => net.run(input), budget);
    return { ...base, ...t, timed: `net.run(${T} vectors of ${I}): one forward over the sequence, batch 1 (its H->I output layer not counted)` };
  }
  throw new Error('brain.js has no single-step call that carries the recurrent state between calls');
}
