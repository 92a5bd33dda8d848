/**
 * The rk_* export list in TS: one row per function of crates/rnnkit-abi/src/lib.rs, in order.
 * Both loaders read it; a test checks that the .wasm exports and the addon's functions equal it.
 *
 * Argument kinds: 'int' / 'num' are scalars; buffers are typed arrays on the JS side and
 * (pointer, length) pairs in the C ABI. `dir` says whether the call reads, writes or both.
 */

export type ScalarKind = 'int' | 'num';
export interface BufferArg {
  kind: 'f32' | 'i32' | 'u8';
  dir: 'in' | 'out' | 'inout';
  name: string;
}
export type ArgSpec = ScalarKind | BufferArg;

export interface AbiRow {
  args: readonly ArgSpec[];
  /** Only the wasm build exports it (the addon uses JS-owned typed arrays instead). */
  wasmOnly?: boolean;
}

const f32 = (name: string, dir: BufferArg['dir'] = 'in'): BufferArg => ({ kind: 'f32', dir, name });
const i32 = (name: string): BufferArg => ({ kind: 'i32', dir: 'in', name });

export const ABI = {
  rk_abi_version: { args: [] },
  rk_noop: { args: [] },
  rk_last_error_len: { args: [] },
  rk_last_error_copy: { args: [{ kind: 'u8', dir: 'out', name: 'out' }] },
  rk_kernel_level: { args: [] },
  rk_set_kernel_level: { args: ['int'] },
  rk_debug_panic: { args: [] },
  rk_alloc: { args: ['int'], wasmOnly: true },
  rk_free: { args: ['int', 'int'], wasmOnly: true },
  rk_fill_uniform: { args: [f32('out', 'out'), 'num', 'num', 'int', 'int'] },
  rk_rnn_param_count: { args: [i32('cfg')] },
  rk_rnn_cache_len: { args: [i32('cfg'), i32('lengths')] },
  rk_rnn_forward: {
    args: [
      i32('cfg'),
      f32('params'),
      f32('input'),
      i32('lengths'),
      f32('h0'),
      f32('c0'),
      f32('output', 'out'),
      f32('h_n', 'out'),
      f32('c_n', 'out'),
      f32('cache', 'out'),
    ],
  },
  rk_rnn_backward: {
    args: [
      i32('cfg'),
      f32('params'),
      i32('lengths'),
      f32('cache'),
      f32('d_output'),
      f32('d_h_n'),
      f32('d_c_n'),
      f32('d_input', 'out'),
      f32('d_h0', 'out'),
      f32('d_c0', 'out'),
      f32('d_params', 'inout'),
    ],
  },
} as const satisfies Record<string, AbiRow>;

export type AbiName = keyof typeof ABI;
export const ABI_VERSION = 1;

/** Names each backend must provide. */
export function abiNames(backend: 'native' | 'wasm'): string[] {
  return Object.entries(ABI as Record<string, AbiRow>)
    .filter(([, row]) => backend === 'wasm' || !row.wasmOnly)
    .map(([name]) => name);
}

/** Kernel level codes of rk_kernel_level. */
export const KERNEL_LEVELS = { 1: 'scalar', 2: 'avx2-fma', 3: 'simd128', 4: 'neon' } as const;
export type KernelLevel = (typeof KERNEL_LEVELS)[keyof typeof KERNEL_LEVELS];

/** Cell codes of the cfg array (rnnkit_core::CellKind::from_code). */
export const CELL_CODES = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3, gru_reset_before: 4 } as const;
