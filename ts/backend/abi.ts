/**
 * The rk_* export list in TS: one row per function of crates/rnnkit-abi/src/lib.rs, in order.
 * Both loaders read it; a test checks that the .wasm exports and the addon's functions equal it.
 *
 * Argument kinds: 'int' / 'num' are scalars; buffers are typed arrays on the JS side and
 * (pointer, length) pairs in the C ABI. `dir` says whether the call reads, writes or both.
 */

export type ScalarKind = 'int' | 'num';
export interface BufferArg {
  kind: 'f32' | 'f64' | 'i32' | 'u8';
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
const i32 = (name: string, dir: BufferArg['dir'] = 'in'): BufferArg => ({ kind: 'i32', dir, name });
const f64out = (name: string): BufferArg => ({ kind: 'f64', dir: 'out', name });

export const ABI = {
  rk_abi_version: { args: [] },
  rk_noop: { args: [] },
  rk_last_error_len: { args: [] },
  rk_last_error_copy: { args: [{ kind: 'u8', dir: 'out', name: 'out' }] },
  rk_kernel_level: { args: [] },
  rk_set_kernel_level: { args: ['int'] },
  rk_set_fused: { args: ['int'] },
  rk_fused: { args: [] },
  rk_debug_panic: { args: [] },
  rk_alloc: { args: ['int'], wasmOnly: true },
  rk_free: { args: ['int', 'int'], wasmOnly: true },
  rk_fill_uniform: { args: [f32('out', 'out'), 'num', 'num', 'int', 'int'] },
  rk_rnn_param_count: { args: [i32('cfg')] },
  rk_rnn_cache_len: { args: [i32('cfg'), i32('lengths')] },
  rk_rnn_packed_len: { args: [i32('cfg')] },
  rk_rnn_pack: { args: [i32('cfg'), f32('params'), f32('packed', 'out')] },
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
      f32('packed'),
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
  // ---- layers and losses ----
  rk_embedding_forward: { args: [f32('out', 'out'), f32('weight'), i32('ids'), 'int', 'int'] },
  rk_embedding_backward: { args: [f32('d_weight', 'inout'), f32('d_out'), i32('ids'), 'int', 'int', 'int'] },
  rk_linear_forward: { args: [f32('y', 'out'), f32('x'), f32('weight'), f32('bias'), 'int', 'int'] },
  rk_linear_backward: { args: [f32('dx', 'out'), f32('dw', 'inout'), f32('db', 'inout'), f32('dy'), f32('x'), f32('weight'), 'int', 'int'] },
  rk_dropout_forward: { args: [f32('out', 'out'), f32('mask', 'out'), f32('x'), 'num', 'int', 'int'] },
  rk_dropout_backward: { args: [f32('dx', 'out'), f32('dy'), f32('mask')] },
  rk_pool_forward: { args: [f32('out', 'out'), i32('argmax', 'out'), f32('x'), i32('lengths'), 'int', 'int', 'int', 'int', 'int', 'int'] },
  rk_pool_backward: { args: [f32('dx', 'out'), f32('dy'), i32('argmax'), i32('lengths'), 'int', 'int', 'int', 'int', 'int', 'int'] },
  rk_cross_entropy: { args: [f64out('loss'), f32('d_logits', 'out'), f32('logits'), i32('targets'), 'int', 'int', 'int'] },
  rk_bce_with_logits: { args: [f64out('loss'), f32('d_logits', 'out'), f32('logits'), f32('targets'), 'int'] },
  rk_mse: { args: [f64out('loss'), f32('d_pred', 'out'), f32('pred'), f32('target'), 'int'] },
  // ---- optimizers, gradient utilities, initialisers ----
  rk_sgd_step: { args: [f32('params', 'inout'), f32('grads'), f32('momentum_buffer', 'inout'), 'num', 'num', 'num', 'num', 'int', 'int'] },
  rk_adam_step: {
    args: [f32('params', 'inout'), f32('grads'), f32('exp_avg', 'inout'), f32('exp_avg_sq', 'inout'), f32('max_exp_avg_sq', 'inout'), 'num', 'num', 'num', 'num', 'num', 'int', 'int', 'int'],
  },
  rk_rmsprop_step: {
    args: [f32('params', 'inout'), f32('grads'), f32('square_avg', 'inout'), f32('momentum_buffer', 'inout'), f32('grad_avg', 'inout'), 'num', 'num', 'num', 'num', 'num', 'int'],
  },
  rk_adagrad_step: { args: [f32('params', 'inout'), f32('grads'), f32('sum', 'inout'), 'num', 'num', 'num', 'num', 'int'] },
  rk_grad_stats: { args: [f32('x'), f64out('out')] },
  rk_scale: { args: [f32('x', 'inout'), 'num'] },
  rk_clamp: { args: [f32('x', 'inout'), 'num', 'num'] },
  rk_init: { args: [f32('out', 'out'), 'int', 'num', 'num', 'int', 'int', 'int', 'int'] },
  rk_permutation: { args: [i32('out', 'out'), 'int', 'int'] },
  rk_sample_logits: { args: [i32('out', 'out'), f32('logits'), 'int', 'num', 'int', 'int', 'int'] },
  // ---- threads (native; wasm runs on one) ----
  rk_threads: { args: [] },
  rk_set_threads: { args: ['int'] },
} as const satisfies Record<string, AbiRow>;

export type AbiName = keyof typeof ABI;
export const ABI_VERSION = 4;

/** Names each backend must provide. */
export function abiNames(backend: 'native' | 'wasm'): string[] {
  return Object.entries(ABI as Record<string, AbiRow>)
    .filter(([, row]) => backend === 'wasm' || !row.wasmOnly)
    .map(([name]) => name);
}

/** Kernel level codes of rk_kernel_level. */
export const KERNEL_LEVELS = { 1: 'scalar', 2: 'avx2-fma', 3: 'simd128', 4: 'neon', 5: 'avx512' } as const;
export type KernelLevel = (typeof KERNEL_LEVELS)[keyof typeof KERNEL_LEVELS];

/** Cell codes of the cfg array (rnnkit_core::CellKind::from_code). */
export const CELL_CODES = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3, gru_reset_before: 4 } as const;
