/** Linear(in, out): y = x Wᵀ + b over the last axis; PyTorch's init U(±1/√in) for W and b. */

import { fail } from '../errors.js';
import { Tensor, checkTensor, type TensorLike } from '../tensor.js';
import type { SeqContext, SequentialLayer, Value } from './layer.js';
import { Module } from './module.js';

export class Linear extends Module implements SequentialLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
  private savedX: Tensor | null = null;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) fail('BAD_ARGUMENT', `Linear: ${name} must be a positive integer, got ${v}`, { argument: name, got: v });
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.bias = options.bias ?? true;
    const specs = [{ name: 'weight', shape: [outFeatures, inFeatures] }];
    if (this.bias) specs.push({ name: 'bias', shape: [outFeatures] });
    this.allocate(specs);
    this.resetParameters();
  }

  /** PyTorch: kaiming_uniform(a = √5) for W, i.e. U(±1/√in), and U(±1/√in) for b. */
  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.inFeatures);
    this.initParam('weight', 'uniform', -bound, bound);
    if (this.bias) this.initParam('bias', 'uniform', -bound, bound);
  }

  /** x: (..., in) → (..., out). */
  forward(x: TensorLike): Tensor {
    const shape = checkTensor('Linear input', x, [...Array(Math.max(x?.shape?.length ?? 1, 1) - 1).fill(null), this.inFeatures], '(..., inFeatures)');
    const y = Tensor.zeros([...shape.slice(0, -1), this.outFeatures]);
    this.backend.call('rk_linear_forward', [y.data, x.data, this.param('weight'), this.bias ? this.param('bias') : null, this.inFeatures, this.outFeatures]);
    this.savedX = x instanceof Tensor ? x : new Tensor(x.data, shape);
    return y;
  }

  /** Accumulates dL/dW, dL/db; returns dL/dx. */
  backward(dy: TensorLike): Tensor {
    const x = this.savedX;
    if (!x) fail('NO_FORWARD', 'Linear.backward: run forward() first');
    checkTensor('Linear dy', dy, [...x.shape.slice(0, -1), this.outFeatures], '(same as the output)');
    const dx = Tensor.zeros(x.shape);
    this.backend.call('rk_linear_backward', [
      dx.data,
      this.grad('weight'),
      this.bias ? this.grad('bias') : null,
      dy.data,
      x.data,
      this.param('weight'),
      this.inFeatures,
      this.outFeatures,
    ]);
    return dx;
  }

  forwardLayer(x: Value): Value {
    return this.forward(x as Tensor);
  }
  backwardLayer(dy: Tensor, _ctx: SeqContext): Tensor | null {
    return this.backward(dy);
  }

  config() {
    return { type: 'Linear', options: { inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias } };
  }
}
