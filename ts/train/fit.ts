/**
 * The training loop: trainStep for custom loops, fit() for the usual ones, evaluate() for
 * loss / perplexity / accuracy / per-class precision, recall and F1.
 *
 * Determinism: each step reseeds the generator from (seed, step) and each epoch shuffles with
 * a permutation seeded by (seed, epoch), so a run resumed from a checkpoint (weights, optimizer
 * state and `FitState`) continues exactly as the uninterrupted run would.
 */

import { RnnkitError, fail } from '../errors.js';
import { manualSeed } from '../random.js';
import { Tensor, type TensorLike } from '../tensor.js';
import type { IntTensor } from '../nn/layer.js';
import type { RecurrentState } from '../nn/recurrent.js';
import type { Sequential } from '../nn/sequential.js';
import { bceWithLogits, crossEntropy, mseLoss, type LossName } from './loss.js';
import { clipGradNorm, clipGradValue, gradNorm } from './clip.js';
import type { Optimizer } from './optim.js';
import type { LrSchedule } from './schedule.js';
import { checkDataset, isStream, laneLength, makeBatch, streamChunk, type Batch, type Dataset, type SequenceDataset, type StreamDataset } from './data.js';

export interface TrainStepOptions {
  optimizer: Optimizer;
  loss?: LossName;
  ignoreIndex?: number;
  clipNorm?: number;
  clipValue?: number;
  /** For error messages: the step being run. */
  step?: number;
}

export interface TrainStepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  state: Record<string, RecurrentState>;
}

/**
 * zeroGrad → forward + loss + BPTT → clip → optimizer step. Throws NON_FINITE (naming the step
 * and the first non-finite parameter) instead of updating with a NaN / Inf.
 */
export function trainStep(
  model: Sequential,
  batch: { input: TensorLike | IntTensor; targets: unknown; lengths?: ArrayLike<number>; state?: Record<string, RecurrentState> },
  o: TrainStepOptions,
): TrainStepResult {
  model.zeroGrad();
  const r = model.computeLoss(batch.input, batch.targets, {
    loss: o.loss,
    ignoreIndex: o.ignoreIndex,
    lengths: batch.lengths as number[] | undefined,
    state: batch.state,
  });
  const at = o.step === undefined ? '' : ` at step ${o.step}`;
  if (!Number.isFinite(r.loss)) {
    throw new RnnkitError('NON_FINITE', `training: the loss is ${r.loss}${at}`, { step: o.step, loss: r.loss });
  }
  const g = gradNorm(model);
  if (g.nonFinite) {
    throw new RnnkitError('NON_FINITE', `training: gradient of ${g.nonFinite.param}[${g.nonFinite.index}] is not finite${at}`, { step: o.step, ...g.nonFinite });
  }
  if (o.clipNorm !== undefined) clipGradNorm(model, o.clipNorm);
  if (o.clipValue !== undefined) clipGradValue(model, o.clipValue);
  o.optimizer.step();
  return { loss: r.loss, gradNorm: g.norm, state: r.state };
}

export interface StepEvent {
  epoch: number;
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  tokensPerSecond: number;
  elapsedMs: number;
  /** Where to resume from after this step (pass to fit's `resume`). */
  fitState: FitState;
}

export interface EpochEvent {
  epoch: number;
  loss: number;
  valLoss?: number;
  valAccuracy?: number;
  elapsedMs: number;
  fitState: FitState;
}

export interface FitState {
  /** Epoch to continue in (0-based). */
  epoch: number;
  /** Batches (sequence data) or chunks (streams) of that epoch already done. */
  batch: number;
  /** Optimizer steps done. */
  step: number;
  /** Stream data: recurrent states at the latest chunk boundaries (stream position → state), as many as a k2-step window needs. */
  carried?: CarriedStates;
}

export type CarriedStates = { position: number; state: Record<string, RecurrentState> }[];

export interface FitOptions {
  optimizer: Optimizer;
  epochs?: number;
  batchSize?: number;
  loss?: LossName;
  ignoreIndex?: number;
  clipNorm?: number;
  clipValue?: number;
  /** Stream data: chunk length k, or { k1, k2 } (advance k1 steps, backprop over the last k2 ≥ k1). Default 32. */
  tbptt?: number | { k1: number; k2?: number };
  shuffle?: boolean;
  seed?: number;
  validation?: Dataset;
  schedule?: LrSchedule;
  callbacks?: { onStep?(e: StepEvent): void; onEpoch?(e: EpochEvent): void };
  earlyStopping?: { monitor?: 'valLoss' | 'loss' | 'valAccuracy'; patience: number; minDelta?: number };
  signal?: AbortSignal;
  resume?: FitState;
}

export interface FitHistory {
  epochs: EpochEvent[];
  losses: number[];
  stopped: 'completed' | 'earlyStopping' | 'aborted';
  state: FitState;
}

function mix(seed: number, a: number, b: number): number {
  // A 32-bit mix of (seed, kind, counter): distinct streams per step and per epoch.
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [a, b]) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  }
  return (h ^ (h >>> 16)) >>> 0;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) fail('BAD_ARGUMENT', `fit: ${name} must be a positive integer, got ${v}`, { argument: name });
  return v;
}

export function fit(model: Sequential, data: Dataset, o: FitOptions): FitHistory {
  if (!o || !o.optimizer) fail('BAD_ARGUMENT', 'fit: options.optimizer is required');
  checkDataset(data);
  const epochs = positiveInt('epochs', o.epochs ?? 1);
  const batchSize = positiveInt('batchSize', o.batchSize ?? 32);
  const seed = o.seed ?? 0;
  const ignoreIndex = o.ignoreIndex ?? -100;
  const start = Date.now();
  const history: FitHistory = { epochs: [], losses: [], stopped: 'completed', state: { epoch: 0, batch: 0, step: 0 } };
  const state: FitState = o.resume ? { ...o.resume } : { epoch: 0, batch: 0, step: 0 };
  let best = Infinity;
  let bad = 0;
  model.train();
  outer: for (; state.epoch < epochs; state.epoch++, state.batch = 0, state.carried = undefined) {
    let sum = 0;
    let count = 0;
    const jobs = epochJobs(model, data, batchSize, o, state.epoch, seed, ignoreIndex);
    for (; state.batch < jobs.count; state.batch++) {
      if (o.signal?.aborted) {
        history.stopped = 'aborted';
        break outer;
      }
      manualSeed(mix(seed, 1, state.step));
      const t0 = Date.now();
      const { batch, carriedIn, finish } = jobs.get(state.batch, state.carried);
      const r = trainStep(model, { input: batch.input, targets: batch.targets, lengths: batch.lengths, state: carriedIn }, { ...o, step: state.step });
      state.carried = finish?.(r.state);
      state.step++;
      o.schedule?.step();
      sum += r.loss;
      count++;
      history.losses.push(r.loss);
      o.callbacks?.onStep?.({
        epoch: state.epoch,
        step: state.step,
        loss: r.loss,
        gradNorm: r.gradNorm,
        lr: o.optimizer.lr,
        tokensPerSecond: batch.tokens / Math.max((Date.now() - t0) / 1000, 1e-6),
        elapsedMs: Date.now() - start,
        fitState: { epoch: state.epoch, batch: state.batch + 1, step: state.step, carried: state.carried },
      });
    }
    const ev: EpochEvent = { epoch: state.epoch, loss: count ? sum / count : NaN, elapsedMs: Date.now() - start, fitState: { epoch: state.epoch + 1, batch: 0, step: state.step } };
    if (o.validation) {
      const v = evaluate(model, o.validation, { batchSize, loss: o.loss, ignoreIndex, tbptt: o.tbptt });
      ev.valLoss = v.loss;
      if (v.accuracy !== undefined) ev.valAccuracy = v.accuracy;
      model.train();
    }
    history.epochs.push(ev);
    o.callbacks?.onEpoch?.(ev);
    if (o.earlyStopping) {
      const monitor = o.earlyStopping.monitor ?? (o.validation ? 'valLoss' : 'loss');
      const raw = monitor === 'valAccuracy' ? ev.valAccuracy : monitor === 'valLoss' ? ev.valLoss : ev.loss;
      if (raw === undefined) fail('BAD_ARGUMENT', `earlyStopping: monitor ${monitor} needs validation data`);
      const value = monitor === 'valAccuracy' ? -raw : raw;
      if (value < best - (o.earlyStopping.minDelta ?? 0)) {
        best = value;
        bad = 0;
      } else if (++bad >= o.earlyStopping.patience) {
        history.stopped = 'earlyStopping';
        state.epoch++;
        state.batch = 0;
        state.carried = undefined;
        break;
      }
    }
  }
  history.state = { epoch: state.epoch, batch: state.batch, step: state.step, carried: state.carried };
  return history;
}

interface EpochJobs {
  count: number;
  get(
    i: number,
    carried: CarriedStates | undefined,
  ): { batch: Batch; carriedIn?: Record<string, RecurrentState>; finish?: (s: Record<string, RecurrentState>) => CarriedStates | undefined };
}

function epochJobs(model: Sequential, data: Dataset, batchSize: number, o: FitOptions, epoch: number, seed: number, ignoreIndex: number): EpochJobs {
  if (!isStream(data)) {
    const n = data.inputs.length;
    let order: Int32Array = Int32Array.from({ length: n }, (_, i) => i);
    if (o.shuffle ?? true) {
      order = new Int32Array(n);
      model.backend.call('rk_permutation', [order, mix(seed, 2, epoch), 0]);
    }
    const count = Math.ceil(n / batchSize);
    return {
      count,
      get: (i) => ({ batch: makeBatch(data as SequenceDataset, order.subarray(i * batchSize, Math.min(n, (i + 1) * batchSize)), model.batchFirst, ignoreIndex) }),
    };
  }
  return streamJobs(model, data, batchSize, o.tbptt, ignoreIndex);
}

function tbpttOf(t: FitOptions['tbptt']): { k1: number; k2: number } {
  const k1 = typeof t === 'number' ? t : t?.k1 ?? 32;
  const k2 = typeof t === 'number' ? t : t?.k2 ?? k1;
  positiveInt('tbptt.k1', k1);
  positiveInt('tbptt.k2', k2);
  if (k2 < k1) fail('BAD_ARGUMENT', `tbptt: k2 (${k2}) must be >= k1 (${k1})`, { argument: 'tbptt' });
  return { k1, k2 };
}

/**
 * Truncated BPTT over B lanes of a stream. Chunk i advances k1 steps: it runs forward from
 * the state carried k2 − k1 steps before the chunk (re-running those steps), backpropagates
 * over all k2 steps, and takes the loss on the chunk's own k1 steps.
 */
function streamJobs(model: Sequential, data: StreamDataset, lanes: number, tbptt: FitOptions['tbptt'], ignoreIndex: number): EpochJobs {
  if (model.batchFirst) fail('UNSUPPORTED', 'fit: stream data needs a time-major (batchFirst: false) model');
  const { k1, k2 } = tbpttOf(tbptt);
  const L = laneLength(data.stream.length, lanes);
  if (L < 1) fail('BAD_ARGUMENT', `fit: a stream of ${data.stream.length} tokens is too short for ${lanes} lanes`);
  const count = Math.ceil(L / k1);
  return {
    count,
    get: (i, carried) => {
      const pos = i * k1;
      // The window must start at a chunk boundary whose state is kept: round up to one.
      const from = Math.ceil(Math.max(0, pos + k1 - k2) / k1) * k1;
      const { input, targets } = streamChunk(data.stream, lanes, from, pos + k1 - from);
      const T = input.shape[0];
      const own = Math.min(k1, L - pos);
      // Loss only on this chunk's own steps; earlier steps of the window are ignored.
      for (let t = 0; t < T - own; t++) targets.fill(ignoreIndex, t * lanes, (t + 1) * lanes);
      const kept = (carried ?? []).filter((c) => c.position >= from);
      const batch: Batch = { input, targets, lengths: new Int32Array(lanes).fill(T), tokens: own * lanes };
      return {
        batch,
        carriedIn: kept.find((c) => c.position === from)?.state,
        finish: (s) => [...kept, { position: pos + own, state: s }],
      };
    },
  };
}

export interface EvalResult {
  /** Mean loss per target position (cross-entropy: nats). */
  loss: number;
  /** exp(loss), for cross-entropy. */
  perplexity?: number;
  /** loss / ln 2: bits per token (bits per character for a char-LM). */
  bitsPerToken?: number;
  accuracy?: number;
  /** Per class: precision, recall, F1, support. */
  perClass?: { precision: number; recall: number; f1: number; support: number }[];
  count: number;
}

/** Loss and metrics over a dataset, in eval mode (no dropout), without touching gradients' use. */
export function evaluate(model: Sequential, data: Dataset, o: { batchSize?: number; loss?: LossName; ignoreIndex?: number; tbptt?: FitOptions['tbptt'] } = {}): EvalResult {
  checkDataset(data);
  const kind = o.loss ?? 'crossEntropy';
  const ignoreIndex = o.ignoreIndex ?? -100;
  const batchSize = o.batchSize ?? 32;
  const wasTraining = model.training;
  model.eval();
  let total = 0;
  let count = 0;
  let correct = 0;
  const conf = new Map<string, number>();
  let classes = 0;
  const score = (logits: Tensor, targets: Int32Array) => {
    const C = logits.shape[logits.shape.length - 1];
    classes = Math.max(classes, C);
    const r = crossEntropy(logits, targets, { ignoreIndex, reduction: 'sum', backend: model.backend });
    total += r.loss;
    for (let n = 0; n < targets.length; n++) {
      const y = targets[n];
      if (y === ignoreIndex) continue;
      count++;
      let arg = 0;
      for (let c = 1; c < C; c++) if (logits.data[n * C + c] > logits.data[n * C + arg]) arg = c;
      if (arg === y) correct++;
      conf.set(`${y},${arg}`, (conf.get(`${y},${arg}`) ?? 0) + 1);
    }
  };
  try {
    if (isStream(data)) {
      const { k1 } = tbpttOf(o.tbptt);
      const L = laneLength(data.stream.length, batchSize);
      let state: Record<string, RecurrentState> | undefined;
      for (let pos = 0; pos < L; pos += k1) {
        const { input, targets } = streamChunk(data.stream, batchSize, pos, k1);
        const r = model.forward(input, { state });
        state = r.state;
        score(r.output, targets);
      }
    } else {
      const n = data.inputs.length;
      for (let i = 0; i < n; i += batchSize) {
        const idx = Int32Array.from({ length: Math.min(batchSize, n - i) }, (_, k) => i + k);
        const b = makeBatch(data, idx, model.batchFirst, ignoreIndex);
        const { output } = model.forward(b.input, { lengths: b.lengths });
        if (kind === 'crossEntropy') {
          score(output, b.targets as Int32Array);
        } else {
          const f = kind === 'mse' ? mseLoss : bceWithLogits;
          total += f(output, b.targets as Tensor, { reduction: 'sum', backend: model.backend }).loss;
          count += (b.targets as Tensor).data.length;
        }
      }
    }
  } finally {
    model.train(wasTraining);
  }
  const loss = total / Math.max(count, 1);
  const res: EvalResult = { loss, count };
  if (kind === 'crossEntropy') {
    res.perplexity = Math.exp(loss);
    res.bitsPerToken = loss / Math.LN2;
    res.accuracy = correct / Math.max(count, 1);
    res.perClass = Array.from({ length: classes }, (_, c) => {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (const [k, v] of conf) {
        const [y, p] = k.split(',').map(Number);
        if (y === c && p === c) tp += v;
        else if (p === c) fp += v;
        else if (y === c) fn += v;
      }
      const precision = tp + fp ? tp / (tp + fp) : 0;
      const recall = tp + fn ? tp / (tp + fn) : 0;
      return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support: tp + fn };
    });
  }
  return res;
}
