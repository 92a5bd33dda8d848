/**
 * RnnkitError: the one error class of rnnkit. Branch on `code` and `details`, not on the text.
 */

export type ErrorCode =
  | 'BAD_ARGUMENT' // a value is invalid (NaN size, length out of range, unknown option)
  | 'SHAPE_MISMATCH' // a tensor has the wrong shape or element count
  | 'BAD_DTYPE' // data is not the typed array expected (Float32Array, integer array)
  | 'STATE_DICT_MISMATCH' // missing / unexpected keys or wrong shapes in loadStateDict
  | 'UNSUPPORTED' // an option combination rnnkit does not support
  | 'ALIASING' // two buffers of one call share memory
  | 'NO_FORWARD' // backward without a preceding forward
  | 'DISPOSED' // the module was disposed
  | 'NOT_INITIALIZED' // a module was created before `await init()`
  | 'NO_BACKEND' // no backend could be loaded; see `cause`
  | 'OUT_OF_MEMORY' // the wasm heap could not grow
  | 'BAD_FILE' // a file (safetensors) is malformed; details name the key / offset
  | 'NON_FINITE' // training produced a NaN/Inf loss or gradient; details name the step and parameter
  | 'ABORTED' // an AbortSignal stopped the operation
  | 'PANIC'; // a bug inside rnnkit's core; the process and the backend survive

export class RnnkitError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RnnkitError';
    this.code = code;
    this.details = details;
  }
}

/** The core's i32 error codes (rnnkit_core::ErrorCode), negated in rk_* return values. */
export const STATUS_CODES: Record<number, ErrorCode> = {
  1: 'BAD_ARGUMENT',
  2: 'SHAPE_MISMATCH',
  3: 'UNSUPPORTED',
  4: 'PANIC',
  5: 'ALIASING',
};

export function fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new RnnkitError(code, message, details);
}
