/**
 * The native backend: the Node-API addon (crates/rnnkit-node). Buffers are plain Float32Arrays
 * on the JS heap, handed to Rust by pointer for the duration of one call: no copies.
 */

import { RnnkitError, STATUS_CODES } from '../errors.js';
import { ABI, ABI_VERSION, KERNEL_LEVELS, abiNames, type AbiName, type ArgSpec, type KernelLevel } from './abi.js';
import type { AbiArg, Backend, DeviceBuffer } from './types.js';

type Addon = Record<string, (...args: unknown[]) => number>;

class NativeBuffer implements DeviceBuffer {
  array: Float32Array | null;
  readonly length: number;
  private ownVersion = 0;
  constructor(
    length: number,
    private readonly parent: NativeBuffer | null = null,
    private readonly offset = 0,
  ) {
    this.array = parent ? null : new Float32Array(length);
    this.length = length;
  }
  get live(): Float32Array {
    if (this.parent) return this.parent.live.subarray(this.offset, this.offset + this.length);
    if (!this.array) throw new RnnkitError('DISPOSED', 'buffer: used after free() (was its module disposed?)');
    return this.array;
  }
  get version(): number {
    return this.parent ? this.parent.version : this.ownVersion;
  }
  /** Records a (possible) change of the contents. */
  touch(): void {
    if (this.parent) this.parent.touch();
    else this.ownVersion++;
  }
  sub(offset: number, length: number): DeviceBuffer {
    checkSub(this.length, offset, length);
    return new NativeBuffer(length, this, offset);
  }
  read(): Float32Array {
    return this.live.slice();
  }
  write(src: Float32Array, offset = 0): void {
    this.live.set(src, offset);
    this.touch();
  }
  zero(): void {
    this.live.fill(0);
    this.touch();
  }
  free(): void {
    this.array = null;
  }
}

export function checkSub(total: number, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > total) {
    throw new RnnkitError('BAD_ARGUMENT', `buffer.sub(${offset}, ${length}): outside a buffer of ${total} elements`);
  }
}

export function createNativeBackend(addon: Addon): Backend {
  const missing = abiNames('native').filter((n) => typeof addon[n] !== 'function');
  if (missing.length) {
    throw new Error(`native addon is missing exports ${missing.join(', ')} (stale build? run npm run build)`);
  }
  const version = addon.rk_abi_version();
  if (version !== ABI_VERSION) throw new Error(`native addon ABI version ${version}, this rnnkit expects ${ABI_VERSION} (rebuild it)`);

  function lastError(): string {
    const bytes = new Uint8Array(addon.rk_last_error_len());
    const n = addon.rk_last_error_copy(bytes);
    return new TextDecoder().decode(bytes.subarray(0, n));
  }

  const backend: Backend = {
    name: 'native',
    kernelLevel(): KernelLevel {
      return KERNEL_LEVELS[addon.rk_kernel_level() as keyof typeof KERNEL_LEVELS] ?? 'scalar';
    },
    allocF32(length: number): DeviceBuffer {
      return new NativeBuffer(length);
    },
    call(fn: AbiName, args: readonly AbiArg[]): number {
      if ((ABI[fn] as { wasmOnly?: boolean }).wasmOnly) return 0;
      const specs = ABI[fn].args as readonly ArgSpec[];
      const native = args.map((a, i) => {
        if (!(a instanceof NativeBuffer)) return a ?? null;
        const spec = specs[i];
        if (typeof spec === 'object' && spec.dir !== 'in') a.touch();
        return a.live;
      });
      let ret: number;
      try {
        ret = addon[fn](...native);
      } catch (e) {
        // Only a wrong kind of JS value throws in the addon; TS validates before calling.
        throw new RnnkitError('BAD_ARGUMENT', `native ${fn}: ${(e as Error).message}`, { backend: 'native' }, { cause: e });
      }
      if (ret < 0) {
        const code = STATUS_CODES[-ret] ?? 'PANIC';
        throw new RnnkitError(code, lastError(), { backend: 'native', function: fn });
      }
      return ret;
    },
    memoryBytes(): number {
      return 0;
    },
  };
  return backend;
}
