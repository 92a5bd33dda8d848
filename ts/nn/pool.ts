/**
 * Pool(mode): a padded sequence output (T, B, F) → (B, F) over each sequence's valid steps, for
 * many-to-one models. 'last': each sequence's last valid state (bidirectional: the forward
 * direction's last step concatenated with the reverse direction's state at t = 0, i.e. both final
 * states); 'mean' / 'max' over the valid steps.
 */

import { fail } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { SeqContext, SequentialLayer, Value } from './layer.js';
import { Module } from './module.js';

const MODES = { last: 0, mean: 1, max: 2 } as const;
export type PoolMode = keyof typeof MODES;

export class Pool extends Module implements SequentialLayer {
  readonly mode: PoolMode;
  private saved: { shape: number[]; lengths: Int32Array; argmax: Int32Array | null; dirs: number; batchFirst: boolean } | null = null;

  constructor(mode: PoolMode = 'last') {
    super();
    if (!(mode in MODES)) fail('BAD_ARGUMENT', `Pool: mode must be 'last', 'mean' or 'max', got ${JSON.stringify(mode)}`, { argument: 'mode', got: mode });
    this.mode = mode;
    this.allocate([]);
  }

  /** x (T, B, F) (or (B, T, F) with batchFirst); lengths (B) default all T; dirs: D of the RNN before. */
  forward(x: Tensor, options: { lengths?: Int32Array | null; dirs?: number; batchFirst?: boolean } = {}): Tensor {
    if (x.shape.length !== 3) fail('SHAPE_MISMATCH', `Pool: expected a (T, B, F) input, got [${x.shape.join(', ')}]`, { got: x.shape });
    const batchFirst = options.batchFirst ?? false;
    const [T, B, F] = batchFirst ? [x.shape[1], x.shape[0], x.shape[2]] : x.shape;
    const lengths = options.lengths ?? new Int32Array(B).fill(T);
    const dirs = options.dirs ?? 1;
    const out = Tensor.zeros([B, F]);
    const argmax = this.mode === 'max' ? new Int32Array(B * F) : null;
    this.backend.call('rk_pool_forward', [out.data, argmax, x.data, lengths, T, B, F, dirs, batchFirst ? 1 : 0, MODES[this.mode]]);
    this.saved = { shape: [...x.shape], lengths, argmax, dirs, batchFirst };
    return out;
  }

  backward(dy: Tensor): Tensor {
    const s = this.saved;
    if (!s) fail('NO_FORWARD', 'Pool.backward: run forward() first');
    const [T, B, F] = s.batchFirst ? [s.shape[1], s.shape[0], s.shape[2]] : s.shape;
    const dx = Tensor.zeros(s.shape);
    this.backend.call('rk_pool_backward', [dx.data, dy.data, s.argmax, s.lengths, T, B, F, s.dirs, s.batchFirst ? 1 : 0, MODES[this.mode]]);
    return dx;
  }

  forwardLayer(x: Value, ctx: SeqContext): Value {
    return this.forward(x as Tensor, { lengths: ctx.lengths, dirs: ctx.dirs, batchFirst: ctx.batchFirst });
  }
  backwardLayer(dy: Tensor): Tensor | null {
    return this.backward(dy);
  }

  config() {
    return { type: 'Pool', options: { mode: this.mode } };
  }
}
