/**
 * What Sequential needs from a layer: forward / backward over one value, with a shared context
 * carrying the batch's lengths and the recurrent layers' states.
 */

import type { Tensor } from '../tensor.js';
import type { RecurrentState } from './recurrent.js';

/** Token ids: (T, B) or (B, T) int32 (the fixtures' layout). */
export interface IntTensor {
  data: Int32Array;
  shape: readonly number[];
}

export type Value = Tensor | IntTensor;

export interface SeqContext {
  /** Valid steps per sequence (B), or null when every sequence has T steps. */
  lengths: Int32Array | null;
  /** Initial states by layer name (truncated BPTT, seq2seq decoders). */
  initialStates: Record<string, RecurrentState>;
  /** Final states by layer name, filled by forward. */
  finalStates: Record<string, RecurrentState>;
  /** Upstream gradients of the final states by layer name (seq2seq encoders). */
  finalStateGrads: Record<string, { h?: Tensor; c?: Tensor }>;
  /** Gradients of the initial states by layer name, filled by backward. */
  initialStateGrads: Record<string, { h: Tensor; c?: Tensor }>;
  /** Feature split of the last recurrent output: D (for pooling the last state). */
  dirs: number;
  /** Whether (T, B) or (B, T). */
  batchFirst: boolean;
}

export interface SequentialLayer {
  forwardLayer(x: Value, ctx: SeqContext, name: string): Value;
  /**
   * Returns the input gradient, or null when the input is not differentiable (token ids) or
   * `needInputGrad` is false (nothing before this layer has parameters: a layer may then skip
   * computing it).
   */
  backwardLayer(dy: Tensor, ctx: SeqContext, name: string, needInputGrad: boolean): Tensor | null;
}

export function isIntTensor(v: unknown): v is IntTensor {
  return typeof v === 'object' && v !== null && (v as IntTensor).data instanceof Int32Array;
}
