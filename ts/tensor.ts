/**
 * The tensor of rnnkit's API: row-major float32 data and a PyTorch-style shape.
 */

import { fail } from './errors.js';

export interface TensorLike {
  data: Float32Array;
  shape: readonly number[];
}

export class Tensor implements TensorLike {
  readonly data: Float32Array;
  readonly shape: number[];
  constructor(data: Float32Array, shape: readonly number[]) {
    this.data = data;
    this.shape = [...shape];
    const n = numel(shape);
    if (data.length !== n) {
      fail('SHAPE_MISMATCH', `Tensor: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`, {
        expected: n,
        got: data.length,
      });
    }
  }
  static zeros(shape: readonly number[]): Tensor {
    return new Tensor(new Float32Array(numel(shape)), shape);
  }
  get size(): number {
    return this.data.length;
  }
}

/** Makes a Tensor from a Float32Array or plain numbers. */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  return new Tensor(data instanceof Float32Array ? data : Float32Array.from(data), shape);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'Array';
  return typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v;
}

/**
 * Checks that `t` is a float32 tensor of the expected shape (`null` entries match any size).
 * Returns the shape. Errors name the argument, the expected and the actual value.
 */
export function checkTensor(name: string, t: unknown, expected: readonly (number | null)[], what = ''): number[] {
  if (t === null || typeof t !== 'object' || !('data' in t) || !('shape' in t)) {
    fail('BAD_ARGUMENT', `${name}: expected a tensor { data: Float32Array, shape: number[] }, got ${describe(t)}`, {
      argument: name,
    });
  }
  const { data, shape } = t as { data: unknown; shape: unknown };
  if (!(data instanceof Float32Array)) {
    fail('BAD_DTYPE', `${name}.data: expected a Float32Array, got ${describe(data)}`, {
      argument: name,
      expected: 'Float32Array',
      got: describe(data),
    });
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail('BAD_ARGUMENT', `${name}.shape: expected an array of non-negative integers, got ${JSON.stringify(shape)}`, {
      argument: name,
    });
  }
  const fmt = (s: readonly (number | null)[]) => `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]`;
  const ok = shape.length === expected.length && expected.every((d, i) => d === null || d === shape[i]);
  if (!ok) {
    fail('SHAPE_MISMATCH', `${name}: expected shape ${fmt(expected)}${what ? ` ${what}` : ''}, got ${fmt(shape)}`, {
      argument: name,
      expected: [...expected],
      got: [...shape],
    });
  }
  if (data.length !== numel(shape)) {
    fail('SHAPE_MISMATCH', `${name}: shape ${fmt(shape)} needs ${numel(shape)} elements, data has ${data.length}`, {
      argument: name,
      expected: numel(shape),
      got: data.length,
    });
  }
  return shape as number[];
}
