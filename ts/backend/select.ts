/**
 * Choosing and loading a backend.
 *
 *   order (first that loads wins):
 *     1. explicit: init({ backend }) or env RNNKIT_BACKEND = native | wasm-simd | wasm (no fallback)
 *     2. native     (Node only) native/rnnkit.<platform>-<arch>[-gnu|-musl].node, or RNNKIT_NATIVE_PATH
 *     3. wasm-simd  if this engine validates simd128
 *     4. wasm
 *   every failure is kept; if none loads: RnnkitError('NO_BACKEND', ..., { cause: loadErrors })
 *
 * Modules keep the backend they were created on, so `init` may be called again with another
 * backend (the tests run one suite per backend this way).
 *
 *   threads: init({ threads }) or env RNNKIT_THREADS sets the native kernels' thread count
 *   (0 = the available cores, the default); wasm backends run on one thread.
 *   fused: init({ fused }) or env RNNKIT_FUSED=1 opts into fused multiply-add products where the
 *   kernels have them (native avx2-fma); backendInfo().fused says whether they are in effect.
 */

import { RnnkitError } from '../errors.js';
import type { KernelLevel } from './abi.js';
import { createNativeBackend } from './native.js';
import type { Backend, BackendName } from './types.js';
import { createWasmBackend } from './wasm.js';
import { hasWasmSimd } from './detect.js';

export type BackendRequest = 'auto' | BackendName;

/** What an entry point (node.ts / browser.ts) provides. */
export interface Platform {
  name: 'node' | 'browser';
  /** Loads the native addon's exports, or throws saying why not. */
  loadNative?(): Record<string, (...args: unknown[]) => number>;
  /** Reads a .wasm file: 'rnnkit.wasm' or 'rnnkit-simd.wasm', or the path set by setWasmPaths. */
  readWasm(file: string, override?: string): Promise<BufferSource>;
  env(name: string): string | undefined;
}

export interface LoadError {
  backend: BackendName;
  error: unknown;
}

export interface BackendInfo {
  /** The backend new modules use. */
  name: BackendName;
  /** Which kernels run: 'scalar' | 'avx2-fma' | 'avx512' | 'simd128' | 'neon'. */
  kernelLevel: KernelLevel;
  /** Backends tried before this one and why they failed (for 'auto'). */
  loadErrors: LoadError[];
  /** Threads the kernels split products among (native: init's `threads`, default the cores; wasm: 1). */
  threads: number;
  /**
   * Whether the large products use fused multiply-add (init's `fused`; only the native avx2-fma
   * kernels have it). When true, results differ from the other backends in the last bits.
   */
  fused: boolean;
}

export const WASM_FILES = { 'wasm-simd': 'rnnkit-simd.wasm', wasm: 'rnnkit.wasm' } as const;
const BACKENDS: readonly BackendName[] = ['native', 'wasm-simd', 'wasm'];

let platform: Platform | null = null;
let current: Backend | null = null;
let currentErrors: LoadError[] = [];
const loaded = new Map<BackendName, Promise<Backend>>();
let wasmPaths: Partial<Record<'wasm' | 'wasm-simd', string>> = {};

/** Sets the loaders (done once by each entry point). Forgets backends loaded by earlier ones. */
export function setPlatform(p: Platform): void {
  platform = p;
  loaded.clear();
  current = null;
  currentErrors = [];
}

/**
 * Where to fetch the .wasm files from (for bundlers and CDNs): a prefix ending in '/', or a
 * map { wasm, 'wasm-simd' } of full URLs. Call before init().
 */
export function setWasmPaths(prefixOrMap: string | Partial<Record<'wasm' | 'wasm-simd', string>>): void {
  if (loaded.has('wasm') || loaded.has('wasm-simd')) {
    throw new RnnkitError('BAD_ARGUMENT', 'setWasmPaths: call it before init() loads a wasm backend');
  }
  if (typeof prefixOrMap === 'string') {
    wasmPaths = { wasm: prefixOrMap + WASM_FILES.wasm, 'wasm-simd': prefixOrMap + WASM_FILES['wasm-simd'] };
  } else {
    const unknown = Object.keys(prefixOrMap).filter((k) => k !== 'wasm' && k !== 'wasm-simd');
    if (unknown.length) throw new RnnkitError('BAD_ARGUMENT', `setWasmPaths: unknown keys ${unknown.join(', ')} (expected wasm, wasm-simd)`);
    wasmPaths = { ...prefixOrMap };
  }
}

function need(): Platform {
  if (!platform) throw new RnnkitError('NO_BACKEND', 'rnnkit: no platform entry loaded (import "rnnkit", not an internal file)');
  return platform;
}

async function loadOne(name: BackendName): Promise<Backend> {
  const p = need();
  if (name === 'native') {
    if (!p.loadNative) throw new Error('the native backend needs Node.js');
    return createNativeBackend(p.loadNative());
  }
  if (name === 'wasm-simd' && !hasWasmSimd()) throw new Error('this engine does not support wasm SIMD (simd128)');
  return createWasmBackend(name, await p.readWasm(WASM_FILES[name], wasmPaths[name]));
}

/** Loads (once) and returns a backend by name, without changing the default. */
export function loadBackend(name: BackendName): Promise<Backend> {
  let pending = loaded.get(name);
  if (!pending) {
    pending = loadOne(name);
    loaded.set(name, pending);
    pending.catch(() => loaded.delete(name));
  }
  return pending;
}

/** init's `threads`, else env RNNKIT_THREADS; undefined = leave the count as it is. */
function requestedThreads(p: Platform, option: number | undefined): number | undefined {
  const raw = option ?? p.env('RNNKIT_THREADS');
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 256) {
    throw new RnnkitError('BAD_ARGUMENT', `init: threads must be an integer from 0 (all cores) to 256, got ${JSON.stringify(raw)}${option === undefined ? ' (from RNNKIT_THREADS)' : ''}`, {
      argument: 'threads',
      got: raw,
    });
  }
  return n;
}

/** init's `fused`, else env RNNKIT_FUSED (1 / 0); undefined = leave the setting as it is. */
function requestedFused(p: Platform, option: boolean | undefined): boolean | undefined {
  if (option !== undefined) {
    if (typeof option !== 'boolean') throw new RnnkitError('BAD_ARGUMENT', `init: fused must be true or false, got ${JSON.stringify(option)}`, { argument: 'fused', got: option });
    return option;
  }
  const raw = p.env('RNNKIT_FUSED');
  if (raw === undefined || raw === '') return undefined;
  if (raw !== '0' && raw !== '1') throw new RnnkitError('BAD_ARGUMENT', `init: RNNKIT_FUSED must be 0 or 1, got ${JSON.stringify(raw)}`, { argument: 'fused', got: raw });
  return raw === '1';
}

/**
 * Loads a backend and makes it the default for new modules. `backend`: 'auto' (default; or
 * env RNNKIT_BACKEND), 'native', 'wasm-simd' or 'wasm'. `threads`: the native kernels' thread
 * count (or env RNNKIT_THREADS; 0 = all cores, the default; process-wide; wasm ignores it).
 * `fused`: fused multiply-add in the large products where the kernels have it (or env
 * RNNKIT_FUSED=1; default off): faster training on x86_64, results no longer bit-identical to the
 * other backends. Safe to call more than once.
 */
export async function init(options: { backend?: BackendRequest; threads?: number; fused?: boolean } = {}): Promise<BackendInfo> {
  const p = need();
  const threads = requestedThreads(p, options.threads);
  const fused = requestedFused(p, options.fused);
  const fromEnv = p.env('RNNKIT_BACKEND');
  const request = options.backend ?? ((fromEnv || 'auto') as BackendRequest);
  if (request !== 'auto' && !BACKENDS.includes(request)) {
    throw new RnnkitError('BAD_ARGUMENT', `init: unknown backend ${JSON.stringify(request)}${options.backend ? '' : ' (from RNNKIT_BACKEND)'}; expected auto, native, wasm-simd or wasm`, {
      argument: 'backend',
      got: request,
    });
  }
  const candidates: BackendName[] =
    request !== 'auto' ? [request] : BACKENDS.filter((b) => b !== 'native' || p.loadNative !== undefined);
  const errors: LoadError[] = [];
  for (const name of candidates) {
    try {
      current = await loadBackend(name);
      currentErrors = errors;
      if (threads !== undefined && current.name === 'native') current.call('rk_set_threads', [threads]);
      if (fused !== undefined) current.call('rk_set_fused', [fused ? 1 : 0]);
      return backendInfo();
    } catch (error) {
      errors.push({ backend: name, error });
    }
  }
  const why = errors.map((e) => `${e.backend}: ${(e.error as Error)?.message ?? e.error}`).join('; ');
  throw new RnnkitError(
    'NO_BACKEND',
    `No rnnkit backend could be loaded (${request === 'auto' ? 'tried ' + candidates.join(', ') : 'requested ' + request}): ${why}. ` +
      'Build them with `npm run build` (see README).',
    { requested: request },
    { cause: errors },
  );
}

export function backendInfo(): BackendInfo {
  if (!current) throw new RnnkitError('NOT_INITIALIZED', 'backendInfo: call `await init()` first');
  return { name: current.name, kernelLevel: current.kernelLevel(), loadErrors: currentErrors, threads: current.call('rk_threads', []), fused: current.call('rk_fused', []) === 1 };
}

/** The default backend; throws NOT_INITIALIZED before `await init()`. */
export function getBackend(): Backend {
  if (!current) {
    throw new RnnkitError('NOT_INITIALIZED', 'rnnkit: call `await init()` before creating modules');
  }
  return current;
}
