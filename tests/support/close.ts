/**
 * Element-wise comparison with a report in llm.c's check_tensor style: on failure the message
 * gives the max difference and the first mismatches with their indices.
 */
import { expect } from 'vitest';

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** float32 computation vs the fixtures' float64 reference (fixtures README, "Recommended tolerances"). */
export const F32_VS_F64: Tolerance = { atol: 1e-5, rtol: 1e-4 };

export function expectClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = F32_VS_F64): number {
  expect(actual.length, `${name}: length`).toBe(expected.length);
  let maxDiff = 0;
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!(d <= tol.atol + tol.rtol * Math.abs(e))) {
      if (bad.length < 5) bad.push(`[${i}] got ${a} want ${e} (diff ${d.toExponential(2)})`);
      else if (bad.length === 5) bad.push('...');
    }
    if (d > maxDiff || Number.isNaN(d)) maxDiff = Number.isNaN(d) ? Infinity : d;
  }
  expect(bad, `${name}: NOT OK, maxdiff ${maxDiff.toExponential(3)}; first mismatches:\n${bad.join('\n')}`).toEqual([]);
  return maxDiff;
}

/** Max relative difference, with the same floor as the fixtures README (1e-3 × max|expected|). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-3 * scale, 1e-30);
    worst = Math.max(worst, d);
  }
  return worst;
}
