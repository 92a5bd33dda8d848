/**
 * Batching: variable-length sequences → padded (T, B) id tensors (or (T, B, I) features) with
 * lengths; token streams → B parallel lanes cut into chunks for truncated BPTT.
 */

import { fail } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { IntTensor } from '../nn/layer.js';

/** Labelled sequences: token ids (number[]) or features (Float32Array of T·inputSize values). */
export interface SequenceDataset {
  inputs: ReadonlyArray<readonly number[] | Int32Array | Float32Array>;
  /** One class per sequence (many-to-one) or one target per step (tagging / LM); per-step float targets for mse/bce. */
  targets: ReadonlyArray<number | readonly number[] | Int32Array | Float32Array>;
  /** Features per step when inputs are Float32Arrays. */
  inputSize?: number;
}

/** One token stream for a language model: predict token i+1 from tokens ..i. */
export interface StreamDataset {
  stream: readonly number[] | Int32Array;
}

export type Dataset = SequenceDataset | StreamDataset;

export interface Batch {
  input: IntTensor | Tensor;
  /** Int32Array (class ids, padded steps = ignoreIndex) or a float Tensor. */
  targets: Int32Array | Tensor;
  lengths: Int32Array;
  /** Number of target positions that count (for tokens/s). */
  tokens: number;
}

export function isStream(d: Dataset): d is StreamDataset {
  return (d as StreamDataset).stream !== undefined;
}

export function checkDataset(d: Dataset): void {
  if (isStream(d)) {
    if (d.stream.length < 2) fail('BAD_ARGUMENT', `stream: needs at least 2 tokens, got ${d.stream.length}`, { argument: 'stream' });
    return;
  }
  if (!d || !Array.isArray(d.inputs) || !Array.isArray(d.targets)) fail('BAD_ARGUMENT', 'dataset: expected { inputs: [...], targets: [...] } or { stream }');
  if (d.inputs.length !== d.targets.length) {
    fail('SHAPE_MISMATCH', `dataset: ${d.inputs.length} inputs but ${d.targets.length} targets`, { inputs: d.inputs.length, targets: d.targets.length });
  }
  if (!d.inputs.length) fail('BAD_ARGUMENT', 'dataset: no examples');
}

/** Pads examples `idx` of a sequence dataset into one batch. */
export function makeBatch(d: SequenceDataset, idx: ArrayLike<number>, batchFirst: boolean, ignoreIndex: number): Batch {
  const B = idx.length;
  const feat = d.inputs[idx[0]] instanceof Float32Array;
  const I = feat ? (d.inputSize ?? fail('BAD_ARGUMENT', 'dataset: inputSize is required with Float32Array inputs')) : 1;
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const x = d.inputs[idx[b]];
    const len = feat ? x.length / I : x.length;
    if (!Number.isInteger(len) || len < 1) fail('BAD_ARGUMENT', `dataset: input ${idx[b]} has ${x.length} values, not a positive multiple of inputSize ${I}`, { example: idx[b] });
    lengths[b] = len;
  }
  const T = Math.max(...lengths);
  const at = (t: number, b: number) => (batchFirst ? b * T + t : t * B + b);
  let input: IntTensor | Tensor;
  if (feat) {
    const data = new Float32Array(T * B * I);
    for (let b = 0; b < B; b++) {
      const x = d.inputs[idx[b]] as Float32Array;
      for (let t = 0; t < lengths[b]; t++) data.set(x.subarray(t * I, (t + 1) * I), at(t, b) * I);
    }
    input = new Tensor(data, batchFirst ? [B, T, I] : [T, B, I]);
  } else {
    const data = new Int32Array(T * B);
    for (let b = 0; b < B; b++) {
      const x = d.inputs[idx[b]] as number[];
      for (let t = 0; t < lengths[b]; t++) data[at(t, b)] = x[t];
    }
    input = { data, shape: batchFirst ? [B, T] : [T, B] };
  }
  const first = d.targets[idx[0]];
  let targets: Int32Array | Tensor;
  let tokens = 0;
  if (typeof first === 'number') {
    targets = Int32Array.from(idx as ArrayLike<number>, (i) => d.targets[i] as number);
    tokens = B;
  } else if (first instanceof Float32Array) {
    // Per-step float targets (mse / bce): (T, B, F) with zeros at padding.
    const F = first.length / lengths[0];
    const data = new Float32Array(T * B * F);
    for (let b = 0; b < B; b++) {
      const y = d.targets[idx[b]] as Float32Array;
      if (y.length !== lengths[b] * F) fail('SHAPE_MISMATCH', `dataset: targets of example ${idx[b]} have ${y.length} values, expected ${lengths[b] * F}`, { example: idx[b] });
      for (let t = 0; t < lengths[b]; t++) data.set(y.subarray(t * F, (t + 1) * F), at(t, b) * F);
    }
    targets = new Tensor(data, batchFirst ? [B, T, F] : [T, B, F]);
    tokens = lengths.reduce((a, v) => a + v, 0);
  } else {
    const data = new Int32Array(T * B).fill(ignoreIndex);
    for (let b = 0; b < B; b++) {
      const y = d.targets[idx[b]] as number[];
      if (y.length !== lengths[b]) fail('SHAPE_MISMATCH', `dataset: example ${idx[b]} has ${lengths[b]} steps but ${y.length} targets`, { example: idx[b] });
      for (let t = 0; t < lengths[b]; t++) data[at(t, b)] = y[t];
    }
    targets = data;
    tokens = lengths.reduce((a, v) => a + v, 0);
  }
  return { input, targets, lengths, tokens };
}

/**
 * A stream as `lanes` parallel sub-streams (as char-rnn does): lane b holds tokens
 * [b·L, (b+1)·L] with L = floor((n − 1) / lanes). Returns the (T, B) id chunk for steps
 * [start, start + len) and the next-token targets.
 */
export function streamChunk(stream: ArrayLike<number>, lanes: number, start: number, len: number): { input: IntTensor; targets: Int32Array } {
  const L = Math.floor((stream.length - 1) / lanes);
  const T = Math.min(len, L - start);
  const input = new Int32Array(T * lanes);
  const targets = new Int32Array(T * lanes);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < lanes; b++) {
      input[t * lanes + b] = stream[b * L + start + t];
      targets[t * lanes + b] = stream[b * L + start + t + 1];
    }
  }
  return { input: { data: input, shape: [T, lanes] }, targets };
}

export function laneLength(streamLength: number, lanes: number): number {
  return Math.floor((streamLength - 1) / lanes);
}
