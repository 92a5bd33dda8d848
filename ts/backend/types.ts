/**
 * What a backend is to the rest of rnnkit: memory for long-lived buffers (weights, gradients,
 * the BPTT cache) and `call`, which runs one rk_* function.
 */

import type { AbiName, KernelLevel } from './abi.js';

export type BackendName = 'native' | 'wasm-simd' | 'wasm';

/** A float32 buffer that lives where the backend computes (JS heap for native, wasm memory). */
export interface DeviceBuffer {
  readonly length: number;
  /**
   * Increases whenever the contents may have changed: write(), zero(), or an rk_* call that
   * writes the buffer. Shared by a buffer and its sub() views (a write to either bumps both).
   * Caches derived from the contents (packed weights) compare it.
   */
  readonly version: number;
  /** A copy of the contents. */
  read(): Float32Array;
  /** Copies `src` into the buffer at element `offset`. */
  write(src: Float32Array, offset?: number): void;
  /** Sets every element to zero. */
  zero(): void;
  /** Releases the memory now; later use throws. Idempotent. A no-op on a view from sub(). */
  free(): void;
  /** A view of `length` elements from element `offset`, valid while this buffer lives. */
  sub(offset: number, length: number): DeviceBuffer;
}

export type AbiArg = number | Float32Array | Float64Array | Int32Array | Uint8Array | DeviceBuffer | null | undefined;

export interface Backend {
  readonly name: BackendName;
  kernelLevel(): KernelLevel;
  /** A zeroed buffer of `length` float32 values. */
  allocF32(length: number): DeviceBuffer;
  /** Runs an rk_* function; returns its (non-negative) result or throws RnnkitError. */
  call(fn: AbiName, args: readonly AbiArg[]): number;
  /** Bytes of memory the backend holds outside the JS heap (wasm memory size; 0 for native). */
  memoryBytes(): number;
}
