/**
 * The wasm backends ('wasm-simd' = rnnkit-simd.wasm built with simd128, 'wasm' = rnnkit.wasm).
 *
 * Long-lived buffers (weights, gradients, caches) live in wasm memory, owned by a `WasmBuffer`
 * and freed by `free()` or, as a safety net, by a FinalizationRegistry. Typed arrays passed to
 * `call` are copied in (and out, for written arguments) around the call.
 *
 * A trap (a Rust panic aborts in wasm) leaves the instance unusable. `call` then swaps in a
 * fresh instance, copies every live buffer into it (so modules keep their weights), and throws
 * RnnkitError('PANIC') with the panic message read from the trapped instance.
 */

import { RnnkitError, STATUS_CODES } from '../errors.js';
import { ABI, ABI_VERSION, KERNEL_LEVELS, abiNames, type AbiName, type ArgSpec, type KernelLevel } from './abi.js';
import type { AbiArg, Backend, BackendName, DeviceBuffer } from './types.js';
import { checkSub } from './native.js';

type Exports = Record<string, (...args: number[]) => number> & { memory: WebAssembly.Memory };

interface Allocation {
  ptr: number;
  bytes: number;
  live: boolean;
  /** DeviceBuffer.version of the allocation and its views. */
  version: number;
}

class WasmBuffer implements DeviceBuffer {
  readonly length: number;
  constructor(
    private readonly owner: WasmBackend,
    readonly rec: Allocation,
    length: number,
    /** Element offset of a view made by sub(); views never free. */
    private readonly offset = 0,
    private readonly isView = false,
  ) {
    this.length = length;
  }
  view(): Float32Array {
    if (!this.rec.live) throw new RnnkitError('DISPOSED', 'buffer: used after free() (was its module disposed?)');
    return new Float32Array(this.owner.memory().buffer, this.rec.ptr + this.offset * 4, this.length);
  }
  get version(): number {
    return this.rec.version;
  }
  sub(offset: number, length: number): DeviceBuffer {
    checkSub(this.length, offset, length);
    return new WasmBuffer(this.owner, this.rec, length, this.offset + offset, true);
  }
  read(): Float32Array {
    return this.view().slice();
  }
  write(src: Float32Array, offset = 0): void {
    this.view().set(src, offset);
    this.rec.version++;
  }
  zero(): void {
    this.view().fill(0);
    this.rec.version++;
  }
  free(): void {
    if (!this.isView) this.owner.release(this);
  }
}

const ELEMENT_BYTES = { f32: 4, f64: 8, i32: 4, u8: 1 } as const;

class WasmBackend implements Backend {
  readonly name: BackendName;
  private ex: Exports;
  private spare: Exports | null = null;
  private readonly live = new Set<Allocation>();
  private readonly finalizer = new FinalizationRegistry<Allocation>((rec) => this.freeAllocation(rec));

  constructor(
    name: BackendName,
    private readonly module: WebAssembly.Module,
    first: Exports,
  ) {
    this.name = name;
    this.ex = first;
    this.prepareSpare();
  }

  memory(): WebAssembly.Memory {
    return this.ex.memory;
  }

  /** Keeps a second instance ready so that trap recovery never needs synchronous compilation. */
  private prepareSpare(): void {
    WebAssembly.instantiate(this.module, {}).then(
      (inst) => {
        this.spare = inst.exports as unknown as Exports;
      },
      () => {
        this.spare = null;
      },
    );
  }

  private malloc(bytes: number): number {
    const ptr = this.ex.rk_alloc(Math.max(bytes, 1)) >>> 0;
    if (ptr === 0) {
      throw new RnnkitError('OUT_OF_MEMORY', `wasm: could not allocate ${bytes} bytes (the 4 GiB wasm heap is full?)`, {
        backend: this.name,
        bytes,
      });
    }
    return ptr;
  }

  private freeAllocation(rec: Allocation): void {
    if (!rec.live) return;
    rec.live = false;
    this.live.delete(rec);
    this.ex.rk_free(rec.ptr, Math.max(rec.bytes, 1));
  }

  release(buf: WasmBuffer): void {
    this.finalizer.unregister(buf);
    this.freeAllocation(buf.rec);
  }

  kernelLevel(): KernelLevel {
    return KERNEL_LEVELS[this.ex.rk_kernel_level() as keyof typeof KERNEL_LEVELS] ?? 'scalar';
  }

  allocF32(length: number): DeviceBuffer {
    const bytes = length * 4;
    const rec: Allocation = { ptr: this.malloc(bytes), bytes, live: true, version: 0 };
    this.live.add(rec);
    const buf = new WasmBuffer(this, rec, length);
    this.finalizer.register(buf, rec, buf);
    return buf;
  }

  memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }

  private lastError(ex: Exports): string {
    const len = ex.rk_last_error_len();
    if (len <= 0) return '';
    const ptr = ex.rk_alloc(len) >>> 0;
    if (!ptr) return '';
    const n = ex.rk_last_error_copy(ptr, len);
    const text = new TextDecoder().decode(new Uint8Array(ex.memory.buffer, ptr, n).slice());
    ex.rk_free(ptr, len);
    return text;
  }

  call(fn: AbiName, args: readonly AbiArg[]): number {
    const specs = ABI[fn].args as readonly ArgSpec[];
    const flat: number[] = [];
    const temps: { ptr: number; bytes: number; src: Float32Array | Float64Array | Int32Array | Uint8Array; copyOut: boolean }[] = [];
    const ex = this.ex;
    try {
      specs.forEach((spec, i) => {
        const a = args[i];
        if (typeof spec === 'string') {
          flat.push(typeof a === 'number' ? a : 0);
          return;
        }
        if (a === null || a === undefined) {
          flat.push(0, 0);
        } else if (a instanceof WasmBuffer) {
          flat.push(a.view().byteOffset, a.length);
          if (spec.dir !== 'in') a.rec.version++;
        } else if (ArrayBuffer.isView(a)) {
          const src = a as Float32Array | Float64Array | Int32Array | Uint8Array;
          const bytes = src.length * ELEMENT_BYTES[spec.kind];
          const ptr = this.malloc(bytes);
          temps.push({ ptr, bytes, src, copyOut: spec.dir !== 'in' });
          if (spec.dir !== 'out') new Uint8Array(ex.memory.buffer, ptr, bytes).set(new Uint8Array(src.buffer, src.byteOffset, bytes));
          flat.push(ptr, src.length);
        } else {
          throw new RnnkitError('BAD_ARGUMENT', `wasm ${fn}: argument ${spec.name} has an unsupported type`);
        }
      });
      let ret: number;
      try {
        ret = ex[fn](...flat);
      } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) throw this.recoverFromTrap(fn, e);
        throw e;
      }
      if (ret < 0) {
        throw new RnnkitError(STATUS_CODES[-ret] ?? 'PANIC', this.lastError(ex), { backend: this.name, function: fn });
      }
      for (const t of temps) {
        if (t.copyOut) new Uint8Array(t.src.buffer, t.src.byteOffset, t.bytes).set(new Uint8Array(ex.memory.buffer, t.ptr, t.bytes));
      }
      return ret;
    } finally {
      // After a trap the temps belonged to the discarded instance: nothing to free.
      if (this.ex === ex) for (const t of temps) ex.rk_free(t.ptr, Math.max(t.bytes, 1));
    }
  }

  /** Replaces the trapped instance, migrates live buffers, returns the error to throw. */
  private recoverFromTrap(fn: string, trap: WebAssembly.RuntimeError): RnnkitError {
    const old = this.ex;
    let message = '';
    try {
      message = this.lastError(old);
    } catch {
      // The trapped instance may be beyond reading; the trap's own message remains.
    }
    let fresh = this.spare;
    this.spare = null;
    if (!fresh) fresh = new WebAssembly.Instance(this.module, {}).exports as unknown as Exports;
    this.ex = fresh;
    for (const rec of this.live) {
      const ptr = this.malloc(rec.bytes);
      new Uint8Array(fresh.memory.buffer, ptr, rec.bytes).set(new Uint8Array(old.memory.buffer, rec.ptr, rec.bytes));
      rec.ptr = ptr;
    }
    this.prepareSpare();
    return new RnnkitError(
      'PANIC',
      `${message || `wasm trap in ${fn}: ${trap.message}`} (the wasm instance was replaced; module weights were kept)`,
      { backend: this.name, function: fn },
      { cause: trap },
    );
  }
}

export async function createWasmBackend(name: 'wasm' | 'wasm-simd', bytes: BufferSource): Promise<Backend> {
  const module = await WebAssembly.compile(bytes);
  const exported = WebAssembly.Module.exports(module).map((e) => e.name);
  const missing = abiNames('wasm').filter((n) => !exported.includes(n));
  if (missing.length) throw new Error(`${name}: the .wasm is missing exports ${missing.join(', ')} (stale build? run npm run build)`);
  const inst = await WebAssembly.instantiate(module, {});
  const ex = inst.exports as unknown as Exports;
  const version = ex.rk_abi_version();
  if (version !== ABI_VERSION) throw new Error(`${name}: ABI version ${version}, this rnnkit expects ${ABI_VERSION} (rebuild it)`);
  return new WasmBackend(name, module, ex);
}
