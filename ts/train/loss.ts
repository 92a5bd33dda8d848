/**
 * Losses as functions: each returns the loss value and dL/dinput, computed in one native call
 * (cross-entropy fused with a stable log-softmax). Reduction 'mean' (default) or 'sum'.
 */

import { getBackend } from '../backend/select.js';
import type { Backend } from '../backend/types.js';
import { fail } from '../errors.js';
import { Tensor, checkTensor, numel, type TensorLike } from '../tensor.js';

export type LossName = 'crossEntropy' | 'bceWithLogits' | 'mse';
export interface LossOptions {
  /** Targets equal to this count for nothing (cross-entropy; default -100 as PyTorch). */
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum';
  backend?: Backend;
}
export interface LossResult {
  loss: number;
  /** dL/dinput, shape of the input. */
  grad: Tensor;
}

const REDUCTIONS = { mean: 0, sum: 1 } as const;

function reduction(opts: LossOptions): number {
  const r = opts.reduction ?? 'mean';
  if (!(r in REDUCTIONS)) fail('BAD_ARGUMENT', `loss: reduction must be 'mean' or 'sum', got ${JSON.stringify(r)}`, { argument: 'reduction' });
  return REDUCTIONS[r];
}

export function intTargets(name: string, t: unknown): Int32Array {
  if (t instanceof Int32Array) return t;
  if (Array.isArray(t) && t.every((v) => Number.isInteger(v))) return Int32Array.from(t);
  if (typeof t === 'object' && t !== null && (t as { data?: unknown }).data instanceof Int32Array) return (t as { data: Int32Array }).data;
  if (t instanceof BigInt64Array) return Int32Array.from(t, (v) => Number(v));
  return fail('BAD_DTYPE', `${name}: class targets must be an Int32Array, integer array or { data: Int32Array }, got ${(t as object)?.constructor?.name ?? typeof t}`, { argument: name });
}

/** logits (..., C); targets: class ids, one per row of logits. */
export function crossEntropy(logits: TensorLike, targets: Int32Array | number[] | { data: Int32Array }, opts: LossOptions = {}): LossResult {
  const shape = checkTensor('logits', logits, [...Array(Math.max(logits?.shape?.length ?? 1, 1) - 1).fill(null), null]);
  const classes = shape[shape.length - 1];
  const t = intTargets('targets', targets);
  const rows = numel(shape.slice(0, -1));
  if (t.length !== rows) fail('SHAPE_MISMATCH', `targets: expected ${rows} class ids (one per row of logits [${shape.join(', ')}]), got ${t.length}`, { argument: 'targets', expected: rows, got: t.length });
  const out = new Float64Array(1);
  const grad = Tensor.zeros(shape);
  (opts.backend ?? getBackend()).call('rk_cross_entropy', [out, grad.data, logits.data, t, classes, opts.ignoreIndex ?? -100, reduction(opts)]);
  return { loss: out[0], grad };
}

/** Binary cross-entropy on logits; targets in [0, 1], same shape. */
export function bceWithLogits(logits: TensorLike, targets: TensorLike, opts: LossOptions = {}): LossResult {
  const shape = checkTensor('logits', logits, logits?.shape ?? []);
  checkTensor('targets', targets, shape, '(same as logits)');
  const out = new Float64Array(1);
  const grad = Tensor.zeros(shape);
  (opts.backend ?? getBackend()).call('rk_bce_with_logits', [out, grad.data, logits.data, targets.data, reduction(opts)]);
  return { loss: out[0], grad };
}

/** Mean squared error; target same shape as pred. */
export function mseLoss(pred: TensorLike, target: TensorLike, opts: LossOptions = {}): LossResult {
  const shape = checkTensor('pred', pred, pred?.shape ?? []);
  checkTensor('target', target, shape, '(same as pred)');
  const out = new Float64Array(1);
  const grad = Tensor.zeros(shape);
  (opts.backend ?? getBackend()).call('rk_mse', [out, grad.data, pred.data, target.data, reduction(opts)]);
  return { loss: out[0], grad };
}
