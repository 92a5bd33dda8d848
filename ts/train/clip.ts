/** Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_) and finiteness checks. */

import { fail } from '../errors.js';
import type { Module } from '../nn/module.js';

export interface GradNorm {
  /** Global L2 norm of all gradients (Infinity or NaN if any is non-finite). */
  norm: number;
  /** The first non-finite gradient, if any: dotted parameter name and element index. */
  nonFinite: { param: string; index: number } | null;
}

/** Global L2 norm of the model's gradients, and where the first non-finite one is. */
export function gradNorm(model: Module): GradNorm {
  let ss = 0;
  let nonFinite: GradNorm['nonFinite'] = null;
  const out = new Float64Array(3);
  for (const g of model.paramGroups()) {
    g.module.backend.call('rk_grad_stats', [g.grads, out]);
    ss += out[0];
    if (out[1] > 0 && !nonFinite) {
      const idx = out[2];
      const spec = g.module.paramSpecs.find((s) => idx >= s.offset && idx < s.offset + s.size)!;
      nonFinite = { param: `${g.prefix}${spec.name}`, index: idx - spec.offset };
    }
  }
  return { norm: nonFinite ? NaN : Math.sqrt(ss), nonFinite };
}

/**
 * Scales all gradients so that their global L2 norm is at most maxNorm. Returns the total norm
 * before clipping (as PyTorch). A non-finite norm leaves the gradients unchanged.
 */
export function clipGradNorm(model: Module, maxNorm: number): number {
  if (typeof maxNorm !== 'number' || !(maxNorm > 0)) fail('BAD_ARGUMENT', `clipGradNorm: maxNorm must be > 0, got ${maxNorm}`, { argument: 'maxNorm' });
  const { norm } = gradNorm(model);
  const coef = maxNorm / (norm + 1e-6);
  if (Number.isFinite(norm) && coef < 1) {
    for (const g of model.paramGroups()) g.module.backend.call('rk_scale', [g.grads, coef]);
  }
  return norm;
}

/** Clamps every gradient to [-clipValue, clipValue]. */
export function clipGradValue(model: Module, clipValue: number): void {
  if (typeof clipValue !== 'number' || !(clipValue > 0)) fail('BAD_ARGUMENT', `clipGradValue: clipValue must be > 0, got ${clipValue}`, { argument: 'clipValue' });
  for (const g of model.paramGroups()) g.module.backend.call('rk_clamp', [g.grads, -clipValue, clipValue]);
}
