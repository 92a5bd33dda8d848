/** Dropout(p): zeroes elements with probability p in training (scaling the rest by 1/(1−p)). */

import { fail } from '../errors.js';
import { nextSeed } from '../random.js';
import { Tensor, type TensorLike } from '../tensor.js';
import type { SeqContext, SequentialLayer, Value } from './layer.js';
import { Module } from './module.js';

export class Dropout extends Module implements SequentialLayer {
  readonly p: number;
  private mask: Float32Array | null = null;

  constructor(p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) fail('BAD_ARGUMENT', `Dropout: p must be in [0, 1), got ${p}`, { argument: 'p', got: p });
    this.p = p;
    this.allocate([]);
  }

  forward(x: TensorLike): Tensor {
    if (!this.training || this.p === 0) {
      this.mask = null;
      return x instanceof Tensor ? x : new Tensor(x.data, x.shape);
    }
    const out = Tensor.zeros(x.shape);
    const mask = new Float32Array(x.data.length);
    const [lo, hi] = nextSeed();
    this.backend.call('rk_dropout_forward', [out.data, mask, x.data, this.p, lo, hi]);
    this.mask = mask;
    return out;
  }

  backward(dy: Tensor): Tensor {
    if (!this.mask) return dy;
    const dx = Tensor.zeros(dy.shape);
    this.backend.call('rk_dropout_backward', [dx.data, dy.data, this.mask]);
    return dx;
  }

  forwardLayer(x: Value): Value {
    return this.forward(x as Tensor);
  }
  backwardLayer(dy: Tensor, _ctx: SeqContext): Tensor | null {
    return this.backward(dy);
  }

  config() {
    return { type: 'Dropout', options: { p: this.p } };
  }
}
