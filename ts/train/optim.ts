/**
 * Optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop, Adagrad, with
 * PyTorch's update rules. State buffers live on the model's backend next to the parameters;
 * one native call updates one module's parameters.
 */

import type { DeviceBuffer } from '../backend/types.js';
import { fail } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { Module, ParamGroup } from '../nn/module.js';

interface Slot {
  group: ParamGroup;
  state: Record<string, DeviceBuffer>;
}

export abstract class Optimizer {
  /** Learning rate; schedules change it between steps. */
  lr: number;
  /** Number of step() calls so far. */
  stepCount = 0;
  protected readonly slots: Slot[];

  protected constructor(
    readonly model: Module,
    lr: number,
    private readonly stateNames: string[],
  ) {
    positive('lr', lr, true);
    this.lr = lr;
    this.slots = model.paramGroups().map((group) => ({ group, state: {} }));
    if (!this.slots.length) fail('BAD_ARGUMENT', `${this.constructor.name}: the model has no parameters`);
  }

  protected buf(slot: Slot, name: string, fill = 0): DeviceBuffer {
    let b = slot.state[name];
    if (!b) {
      b = slot.group.module.backend.allocF32(slot.group.params.length);
      if (fill !== 0) b.write(new Float32Array(b.length).fill(fill));
      slot.state[name] = b;
    }
    return b;
  }

  /** Updates every parameter from its accumulated gradient. */
  step(): void {
    this.stepCount++;
    for (const slot of this.slots) this.update(slot, this.stepCount);
  }

  protected abstract update(slot: Slot, step: number): void;

  zeroGrad(): void {
    this.model.zeroGrad();
  }

  /** Optimizer state for checkpoints: 'prefix.stateName' → flat tensors, plus the step count. */
  stateDict(): { step: number; lr: number; tensors: Record<string, Tensor> } {
    const tensors: Record<string, Tensor> = {};
    this.slots.forEach((slot, i) => {
      for (const name of this.stateNames) {
        const b = slot.state[name];
        if (b) tensors[`${slot.group.prefix || `group${i}.`}${name}`] = new Tensor(b.read(), [b.length]);
      }
    });
    return { step: this.stepCount, lr: this.lr, tensors };
  }

  loadStateDict(sd: { step: number; lr: number; tensors: Record<string, { data: Float32Array }> }): void {
    this.slots.forEach((slot, i) => {
      for (const name of this.stateNames) {
        const t = sd.tensors[`${slot.group.prefix || `group${i}.`}${name}`];
        if (!t) continue;
        if (t.data.length !== slot.group.params.length) {
          fail('STATE_DICT_MISMATCH', `optimizer state ${slot.group.prefix}${name}: expected ${slot.group.params.length} values, got ${t.data.length}`);
        }
        this.buf(slot, name).write(t.data);
      }
    });
    this.stepCount = sd.step;
    this.lr = sd.lr;
  }

  /** Frees the state buffers. */
  dispose(): void {
    for (const slot of this.slots) for (const b of Object.values(slot.state)) b.free();
  }
}

function positive(name: string, v: number, allowZero: boolean): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    fail('BAD_ARGUMENT', `optimizer: ${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${v}`, { argument: name, got: v });
  }
}

function unit(name: string, v: number): void {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) fail('BAD_ARGUMENT', `optimizer: ${name} must be in [0, 1), got ${v}`, { argument: name, got: v });
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class Sgd extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  constructor(model: Module, o: SgdOptions) {
    super(model, o?.lr, ['momentum_buffer']);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    positive('momentum', this.momentum, true);
    positive('weightDecay', this.weightDecay, true);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) fail('BAD_ARGUMENT', 'Sgd: nesterov needs momentum > 0 and dampening 0');
  }
  protected update(slot: Slot): void {
    const first = this.momentum !== 0 && !slot.state.momentum_buffer;
    const m = this.momentum !== 0 ? this.buf(slot, 'momentum_buffer') : null;
    slot.group.module.backend.call('rk_sgd_step', [slot.group.params, slot.group.grads, m, this.lr, this.momentum, this.dampening, this.weightDecay, this.nesterov ? 1 : 0, first ? 1 : 0]);
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  protected readonly decoupled: boolean = false;
  constructor(model: Module, o: AdamOptions = {}, defaultWeightDecay = 0) {
    super(model, o.lr ?? 1e-3, ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']);
    this.betas = o.betas ?? [0.9, 0.999];
    unit('betas[0]', this.betas[0]);
    unit('betas[1]', this.betas[1]);
    this.eps = o.eps ?? 1e-8;
    positive('eps', this.eps, true);
    this.weightDecay = o.weightDecay ?? defaultWeightDecay;
    positive('weightDecay', this.weightDecay, true);
    this.amsgrad = o.amsgrad ?? false;
  }
  protected update(slot: Slot, step: number): void {
    const vmax = this.amsgrad ? this.buf(slot, 'max_exp_avg_sq') : null;
    slot.group.module.backend.call('rk_adam_step', [
      slot.group.params,
      slot.group.grads,
      this.buf(slot, 'exp_avg'),
      this.buf(slot, 'exp_avg_sq'),
      vmax,
      this.lr,
      this.betas[0],
      this.betas[1],
      this.eps,
      this.weightDecay,
      this.decoupled ? 1 : 0,
      this.amsgrad ? 1 : 0,
      step,
    ]);
  }
}

/** Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW). */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(model: Module, o: AdamOptions = {}) {
    super(model, o, 0.01);
  }
}

export interface RmsPropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

export class RmsProp extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;
  constructor(model: Module, o: RmsPropOptions = {}) {
    super(model, o.lr ?? 1e-2, ['square_avg', 'momentum_buffer', 'grad_avg']);
    this.alpha = o.alpha ?? 0.99;
    unit('alpha', this.alpha);
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.momentum = o.momentum ?? 0;
    positive('momentum', this.momentum, true);
    this.centered = o.centered ?? false;
  }
  protected update(slot: Slot): void {
    slot.group.module.backend.call('rk_rmsprop_step', [
      slot.group.params,
      slot.group.grads,
      this.buf(slot, 'square_avg'),
      this.momentum > 0 ? this.buf(slot, 'momentum_buffer') : null,
      this.centered ? this.buf(slot, 'grad_avg') : null,
      this.lr,
      this.alpha,
      this.eps,
      this.weightDecay,
      this.momentum,
      this.centered ? 1 : 0,
    ]);
  }
}

export interface AdagradOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
}

export class Adagrad extends Optimizer {
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulatorValue: number;
  readonly eps: number;
  constructor(model: Module, o: AdagradOptions = {}) {
    super(model, o.lr ?? 1e-2, ['sum']);
    this.lrDecay = o.lrDecay ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.initialAccumulatorValue = o.initialAccumulatorValue ?? 0;
    this.eps = o.eps ?? 1e-10;
  }
  protected update(slot: Slot, step: number): void {
    slot.group.module.backend.call('rk_adagrad_step', [
      slot.group.params,
      slot.group.grads,
      this.buf(slot, 'sum', this.initialAccumulatorValue),
      this.lr,
      this.lrDecay,
      this.weightDecay,
      this.eps,
      step,
    ]);
  }
}
