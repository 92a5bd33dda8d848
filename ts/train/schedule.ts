/** Learning-rate schedules: each `step()` (once per optimizer step) sets optimizer.lr. */

import { fail } from '../errors.js';
import type { Optimizer } from './optim.js';

export abstract class LrSchedule {
  readonly baseLr: number;
  /** Steps taken so far. */
  t = 0;
  constructor(readonly optimizer: Optimizer) {
    this.baseLr = optimizer.lr;
  }
  /** The learning rate at step t (0-based). */
  abstract lrAt(t: number): number;
  step(): number {
    this.t++;
    this.optimizer.lr = this.lrAt(this.t);
    return this.optimizer.lr;
  }
}

/** lr = base · gamma^floor(t / stepSize) (torch StepLR). */
export class StepLr extends LrSchedule {
  constructor(opt: Optimizer, readonly o: { stepSize: number; gamma?: number }) {
    super(opt);
    if (!Number.isInteger(o?.stepSize) || o.stepSize < 1) fail('BAD_ARGUMENT', `StepLr: stepSize must be a positive integer, got ${o?.stepSize}`);
  }
  lrAt(t: number): number {
    return this.baseLr * (this.o.gamma ?? 0.1) ** Math.floor(t / this.o.stepSize);
  }
}

/** lr = etaMin + (base − etaMin)·(1 + cos(π·t/tMax))/2 (torch CosineAnnealingLR, one cycle). */
export class CosineLr extends LrSchedule {
  constructor(opt: Optimizer, readonly o: { tMax: number; etaMin?: number }) {
    super(opt);
    if (!(o?.tMax > 0)) fail('BAD_ARGUMENT', `CosineLr: tMax must be > 0, got ${o?.tMax}`);
  }
  lrAt(t: number): number {
    const min = this.o.etaMin ?? 0;
    return min + ((this.baseLr - min) * (1 + Math.cos((Math.PI * Math.min(t, this.o.tMax)) / this.o.tMax))) / 2;
  }
}

/** Linear warm-up from base·startFactor to base over warmupSteps, then constant (torch LinearLR). */
export class LinearWarmup extends LrSchedule {
  constructor(opt: Optimizer, readonly o: { warmupSteps: number; startFactor?: number }) {
    super(opt);
    if (!Number.isInteger(o?.warmupSteps) || o.warmupSteps < 1) fail('BAD_ARGUMENT', `LinearWarmup: warmupSteps must be a positive integer, got ${o?.warmupSteps}`);
    opt.lr = this.lrAt(0);
  }
  lrAt(t: number): number {
    const f0 = this.o.startFactor ?? 1 / 3;
    const f = t >= this.o.warmupSteps ? 1 : f0 + ((1 - f0) * t) / this.o.warmupSteps;
    return this.baseLr * f;
  }
}
