/**
 * The shared body of Rnn, Lstm and Gru: options, the flat parameter buffer with PyTorch's names,
 * forward / backward over whole sequences (one native call each), single steps, state dicts.
 * No math here: every number is computed by rk_rnn_forward / rk_rnn_backward.
 */

import { CELL_CODES } from '../backend/abi.js';
import type { DeviceBuffer } from '../backend/types.js';
import { RnnkitError, fail } from '../errors.js';
import { nextSeed } from '../random.js';
import { Tensor, checkTensor, type TensorLike } from '../tensor.js';
import { Module } from './module.js';
import type { SeqContext, SequentialLayer, Value } from './layer.js';

export interface RecurrentOptions {
  /** I: features per input step. */
  inputSize: number;
  /** H: features of the hidden state. */
  hiddenSize: number;
  /** L: stacked layers (default 1); layer k > 0 reads layer k-1's output. */
  numLayers?: number;
  /** Run a second, reverse-time direction per layer and concatenate (default false). */
  bidirectional?: boolean;
  /** input/output are (B, T, F) instead of (T, B, F); states are never batch-first (default false). */
  batchFirst?: boolean;
  /** Include b_ih and b_hh (default true). */
  bias?: boolean;
  /** PyTorch's `dropout`: drop each layer's output except the last with this probability, in training mode (default 0). */
  dropout?: number;
}

export interface ForwardOptions {
  /** (D*L, B, H_out) initial hidden state; default zeros. */
  h0?: TensorLike;
  /** (D*L, B, H) initial cell state (LSTM only); default zeros. */
  c0?: TensorLike;
  /** Valid steps per batch entry, any order, each in 1..T; default all T. Packed-sequence semantics. */
  lengths?: readonly number[] | Int32Array;
  /** Skip saving what backward needs (inference). */
  noGrad?: boolean;
  /** Skip inter-layer dropout even in training mode (single steps for generation use this). */
  noDropout?: boolean;
}

export interface ForwardResult {
  /** (T, B, D*H_out), or (B, T, D*H_out) if batchFirst; 0 at padded steps. */
  output: Tensor;
  /** (D*L, B, H_out): each sequence's state after its last valid step. */
  hN: Tensor;
  /** (D*L, B, H), LSTM only. */
  cN?: Tensor;
}

export interface BackwardGrads {
  /** dL/doutput, shape of output; omitted = 0. Padded positions are ignored. */
  output?: TensorLike;
  /** dL/dhN; omitted = 0. */
  hN?: TensorLike;
  /** dL/dcN (LSTM); omitted = 0. */
  cN?: TensorLike;
}

export interface BackwardResult {
  /** dL/dinput, shape of input; 0 at padded steps. */
  input: Tensor;
  h0: Tensor;
  c0?: Tensor;
  /** Accumulated parameter gradients (since the last zeroGrad), PyTorch names. */
  params: Record<string, Tensor>;
}

/** What backward() returns besides accumulating the parameter gradients. */
export interface BackwardOptions {
  /**
   * Compute dL/dinput (default true). false skips one of the three large products of BPTT:
   * the input is data that needs no gradient (PyTorch skips it too unless input.requires_grad).
   */
  inputGrad?: boolean;
  /** Return copies of the accumulated parameter gradients (default true); false saves the copy. */
  paramGrads?: boolean;
}

/** backward() with options: `input` is null without inputGrad, `params` absent without paramGrads. */
export interface PartialBackwardResult {
  input: Tensor | null;
  h0: Tensor;
  c0?: Tensor;
  params?: Record<string, Tensor>;
}

export interface RecurrentState {
  /** (L, B, H_out) */
  h: Tensor;
  /** (L, B, H), LSTM only */
  c?: Tensor;
}

type CellCode = (typeof CELL_CODES)[keyof typeof CELL_CODES];

const COMMON_KEYS = ['inputSize', 'hiddenSize', 'numLayers', 'bidirectional', 'batchFirst', 'bias', 'dropout'];

function positiveInt(owner: string, name: string, v: unknown, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff) {
    fail('BAD_ARGUMENT', `${owner}: ${name} must be a positive integer, got ${typeof v === 'number' ? v : JSON.stringify(v)}`, {
      argument: name,
      got: v,
    });
  }
  return v;
}

function bool(owner: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail('BAD_ARGUMENT', `${owner}: ${name} must be true or false, got ${JSON.stringify(v)}`, { argument: name, got: v });
  return v;
}

/** Copies an integer array into an Int32Array after checking each value. */
function lengthsArray(lengths: readonly number[] | Int32Array, batch: number, seqLen: number): Int32Array {
  if (!Array.isArray(lengths) && !(lengths instanceof Int32Array)) {
    fail('BAD_DTYPE', `lengths: expected number[] or Int32Array, got ${(lengths as object)?.constructor?.name ?? typeof lengths}`, { argument: 'lengths' });
  }
  if (lengths.length !== batch) {
    fail('SHAPE_MISMATCH', `lengths: expected one length per batch entry (${batch}), got ${lengths.length}`, {
      argument: 'lengths',
      expected: batch,
      got: lengths.length,
    });
  }
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const v = lengths[b];
    if (!Number.isInteger(v) || v < 1 || v > seqLen) {
      fail('BAD_ARGUMENT', `lengths[${b}]: must be an integer in 1..${seqLen} (the sequence length), got ${v}`, {
        argument: `lengths[${b}]`,
        expected: `1..${seqLen}`,
        got: v,
      });
    }
    out[b] = v;
  }
  return out;
}

export abstract class Recurrent extends Module implements SequentialLayer {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly batchFirst: boolean;
  readonly bias: boolean;
  /** Inter-layer dropout probability (training mode only). */
  readonly dropout: number;
  /** P = projSize for a projected LSTM, else hiddenSize. */
  readonly hOut: number;
  readonly projSize: number;

  protected readonly cellCode: CellCode;
  private cache: DeviceBuffer | null = null;
  /** Weights packed for repeated inference (rk_rnn_pack) and the parameter version they hold. */
  private packed: DeviceBuffer | null = null;
  private packedVersion = -1;
  /** Parameter version seen by the last forward without gradients. */
  private inferVersion = -1;
  private saved: { cfg: Int32Array; lengths: Int32Array | null; inputShape: number[]; outputShape: number[] } | null = null;

  protected constructor(kind: string, options: RecurrentOptions, cellCode: CellCode, projSize: number, extraKeys: string[]) {
    super();
    if (options === null || typeof options !== 'object') fail('BAD_ARGUMENT', `${kind}: expected an options object, got ${JSON.stringify(options)}`);
    const unknown = Object.keys(options).filter((k) => !COMMON_KEYS.includes(k) && !extraKeys.includes(k));
    if (unknown.length) {
      fail('BAD_ARGUMENT', `${kind}: unknown option(s) ${unknown.join(', ')} (known: ${[...COMMON_KEYS, ...extraKeys].join(', ')})`, { unknown });
    }
    this.inputSize = positiveInt(kind, 'inputSize', options.inputSize);
    this.hiddenSize = positiveInt(kind, 'hiddenSize', options.hiddenSize);
    this.numLayers = positiveInt(kind, 'numLayers', options.numLayers, 1);
    this.bidirectional = bool(kind, 'bidirectional', options.bidirectional, false);
    this.batchFirst = bool(kind, 'batchFirst', options.batchFirst, false);
    this.bias = bool(kind, 'bias', options.bias, true);
    const dropout = options.dropout ?? 0;
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
      fail('BAD_ARGUMENT', `${kind}: dropout must be a number in [0, 1), got ${JSON.stringify(dropout)}`, { argument: 'dropout', got: dropout });
    }
    this.dropout = dropout;
    this.projSize = projSize;
    this.hOut = projSize > 0 ? projSize : this.hiddenSize;
    this.cellCode = cellCode;
    this.allocate(this.buildSpecs());
    const fromCore = this.backend.call('rk_rnn_param_count', [this.cfg(1, 1)]);
    if (fromCore !== this.numParameters) {
      throw new RnnkitError('PANIC', `${kind}: parameter layout disagrees with the core (${this.numParameters} vs ${fromCore})`);
    }
    this.resetParameters();
  }

  get gates(): number {
    return this.cellCode === CELL_CODES.lstm ? 4 : this.cellCode >= CELL_CODES.gru ? 3 : 1;
  }
  get directions(): number {
    return this.bidirectional ? 2 : 1;
  }
  protected get isLstm(): boolean {
    return this.cellCode === CELL_CODES.lstm;
  }

  /** PyTorch's state_dict() order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr. */
  private buildSpecs(): { name: string; shape: number[] }[] {
    const specs: { name: string; shape: number[] }[] = [];
    const gh = this.gates * this.hiddenSize;
    const add = (name: string, shape: number[]) => specs.push({ name, shape });
    for (let k = 0; k < this.numLayers; k++) {
      const inK = k === 0 ? this.inputSize : this.directions * this.hOut;
      for (let d = 0; d < this.directions; d++) {
        const sfx = `_l${k}${d === 1 ? '_reverse' : ''}`;
        add(`weight_ih${sfx}`, [gh, inK]);
        add(`weight_hh${sfx}`, [gh, this.hOut]);
        if (this.bias) {
          add(`bias_ih${sfx}`, [gh]);
          add(`bias_hh${sfx}`, [gh]);
        }
        if (this.projSize > 0) add(`weight_hr${sfx}`, [this.projSize, this.hiddenSize]);
      }
    }
    return specs;
  }

  /** The rk_* configuration array. */
  private cfg(seqLen: number, batch: number, dropoutOn = false): Int32Array {
    // Inter-layer dropout: probability in parts per million and a fresh seed per forward.
    const [lo, hi] = dropoutOn && this.dropout > 0 && this.numLayers > 1 ? nextSeed() : [0, 0];
    const ppm = lo || hi ? Math.round(this.dropout * 1e6) : 0;
    return Int32Array.from([
      this.cellCode,
      this.inputSize,
      this.hiddenSize,
      this.projSize,
      this.numLayers,
      this.bidirectional ? 1 : 0,
      this.bias ? 1 : 0,
      this.batchFirst ? 1 : 0,
      seqLen,
      batch,
      ppm,
      lo | 0,
      hi | 0,
    ]);
  }

  /** PyTorch's default: every parameter ~ U(−1/√H, 1/√H), from the seeded generator. */
  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.hiddenSize);
    const [lo, hi] = nextSeed();
    this.backend.call('rk_fill_uniform', [this.params, -bound, bound, lo, hi]);
  }

  /**
   * Runs the whole sequence through every layer and direction.
   * `input`: (T, B, I), or (B, T, I) with batchFirst.
   */
  forward(input: TensorLike, options: ForwardOptions = {}): ForwardResult {
    const params = this.params;
    const shape = checkTensor('input', input, [null, null, this.inputSize], this.batchFirst ? '(batch, seq_len, inputSize)' : '(seq_len, batch, inputSize)');
    const [seqLen, batch] = this.batchFirst ? [shape[1], shape[0]] : [shape[0], shape[1]];
    if (seqLen < 1 || batch < 1) {
      fail('SHAPE_MISMATCH', `input: sequence length and batch must be at least 1, got shape [${shape.join(', ')}]`, { argument: 'input', got: shape });
    }
    const states = this.numLayers * this.directions;
    if (options.h0 !== undefined) checkTensor('h0', options.h0, [states, batch, this.hOut], '(numLayers*D, batch, H_out)');
    if (options.c0 !== undefined) {
      if (!this.isLstm) fail('BAD_ARGUMENT', `c0: only an LSTM has a cell state; this is a ${this.constructor.name}`, { argument: 'c0' });
      checkTensor('c0', options.c0, [states, batch, this.hiddenSize], '(numLayers*D, batch, hiddenSize)');
    }
    const lengths = options.lengths === undefined ? null : lengthsArray(options.lengths, batch, seqLen);
    const cfg = this.cfg(seqLen, batch, this.training && !options.noDropout);
    const outW = this.directions * this.hOut;
    const outputShape = this.batchFirst ? [batch, seqLen, outW] : [seqLen, batch, outW];
    const output = Tensor.zeros(outputShape);
    const hN = Tensor.zeros([states, batch, this.hOut]);
    const cN = this.isLstm ? Tensor.zeros([states, batch, this.hiddenSize]) : undefined;
    let cache: DeviceBuffer | null = null;
    if (!options.noGrad) {
      const cacheLen = this.backend.call('rk_rnn_cache_len', [cfg, lengths]);
      if (!this.cache || this.cache.length !== cacheLen) {
        this.cache?.free();
        this.cache = null;
        this.cache = this.backend.allocF32(cacheLen);
      }
      cache = this.cache;
    }
    this.saved = null;
    const packed = this.packedWeights(options.noGrad === true);
    this.backend.call('rk_rnn_forward', [
      cfg,
      params,
      input.data,
      lengths,
      options.h0?.data ?? null,
      options.c0?.data ?? null,
      output.data,
      hN.data,
      cN?.data ?? null,
      cache,
      packed,
    ]);
    if (cache) this.saved = { cfg, lengths, inputShape: shape, outputShape };
    return cN ? { output, hN, cN } : { output, hN };
  }

  /**
   * The weights packed for rk_rnn_forward (the same results, faster: no packing per call, and
   * batch-1 steps stream the panels at memory speed), or null. Packed at the second forward
   * without gradients that sees unchanged parameters, so a training loop, which changes them
   * every step, never pays for it; repacked after any write to the parameters
   * (`DeviceBuffer.version`: optimizer steps, loads, resets).
   */
  private packedWeights(noGrad: boolean): DeviceBuffer | null {
    const version = this.params.version;
    if (this.packed && this.packedVersion === version) return this.packed;
    if (!noGrad) return null;
    if (this.inferVersion !== version) {
      this.inferVersion = version;
      return null;
    }
    const cfg = this.cfg(1, 1);
    const len = this.backend.call('rk_rnn_packed_len', [cfg]);
    if (!this.packed || this.packed.length !== len) {
      this.packed?.free();
      this.packed = null;
      this.packed = this.backend.allocF32(len);
    }
    this.backend.call('rk_rnn_pack', [cfg, this.params, this.packed]);
    this.packedVersion = version;
    return this.packed;
  }

  /**
   * Full backpropagation through time for the last forward. Parameter gradients accumulate
   * until zeroGrad(). For truncated BPTT, feed the previous chunk's hN (and cN) as h0 (c0)
   * of the next forward: gradients then stop at the chunk boundary.
   */
  backward(grads?: BackwardGrads): BackwardResult;
  backward(grads: BackwardGrads, options: BackwardOptions): PartialBackwardResult;
  backward(grads: BackwardGrads = {}, options: BackwardOptions = {}): PartialBackwardResult {
    const r = this.backwardNoCopy(grads, options.inputGrad !== false);
    return options.paramGrads === false ? r : { ...r, params: this.grads() };
  }

  /** backward() without copying the accumulated parameter gradients out (training loops). */
  private backwardNoCopy(grads: BackwardGrads, inputGrad: boolean): Omit<PartialBackwardResult, 'params'> {
    const params = this.params;
    const gradBuf = this.gradsBuffer;
    const saved = this.saved;
    if (!saved || !this.cache) {
      fail('NO_FORWARD', `${this.constructor.name}.backward: run forward() (without noGrad) first`);
    }
    const batch = saved.cfg[9];
    const states = this.numLayers * this.directions;
    if (grads.output !== undefined) checkTensor('grads.output', grads.output, saved.outputShape, '(same as output)');
    if (grads.hN !== undefined) checkTensor('grads.hN', grads.hN, [states, batch, this.hOut], '(same as hN)');
    if (grads.cN !== undefined) {
      if (!this.isLstm) fail('BAD_ARGUMENT', `grads.cN: only an LSTM has a cell state; this is a ${this.constructor.name}`, { argument: 'grads.cN' });
      checkTensor('grads.cN', grads.cN, [states, batch, this.hiddenSize], '(same as cN)');
    }
    const dInput = inputGrad ? Tensor.zeros(saved.inputShape) : null;
    const dh0 = Tensor.zeros([states, batch, this.hOut]);
    const dc0 = this.isLstm ? Tensor.zeros([states, batch, this.hiddenSize]) : undefined;
    this.backend.call('rk_rnn_backward', [
      saved.cfg,
      params,
      saved.lengths,
      this.cache,
      grads.output?.data ?? null,
      grads.hN?.data ?? null,
      grads.cN?.data ?? null,
      dInput?.data ?? null,
      dh0.data,
      dc0?.data ?? null,
      gradBuf,
    ]);
    return dc0 ? { input: dInput, h0: dh0, c0: dc0 } : { input: dInput, h0: dh0 };
  }

  /**
   * One time step for every sequence of the batch (generation, streaming): costs one step.
   * `x`: (B, I). `state`: from the previous step, or omitted for zeros.
   * Returns the new state and `output` (B, H_out), the last layer's h.
   */
  step(x: TensorLike, state?: RecurrentState): RecurrentState & { output: Tensor } {
    if (this.bidirectional) {
      fail('UNSUPPORTED', `${this.constructor.name}.step: a bidirectional module needs the whole sequence; use forward()`);
    }
    const shape = checkTensor('x', x, [null, this.inputSize], '(batch, inputSize)');
    const batch = shape[0];
    const seqShape = this.batchFirst ? [batch, 1, this.inputSize] : [1, batch, this.inputSize];
    const { hN, cN } = this.forward({ data: x.data, shape: seqShape }, { h0: state?.h, c0: state?.c, noGrad: true, noDropout: true });
    const p = this.hOut;
    const last = hN.data.subarray((this.numLayers - 1) * batch * p);
    const out: RecurrentState & { output: Tensor } = { h: hN, output: new Tensor(last.slice(), [batch, p]) };
    if (cN) out.c = cN;
    return out;
  }

  /** Zero state for `batch` sequences: { h: (L*D, B, H_out), c: (L*D, B, H) }. */
  zeroState(batch: number): RecurrentState {
    const states = this.numLayers * this.directions;
    const s: RecurrentState = { h: Tensor.zeros([states, batch, this.hOut]) };
    if (this.isLstm) s.c = Tensor.zeros([states, batch, this.hiddenSize]);
    return s;
  }

  /** Frees the weights, gradients and cache held by the backend. Idempotent. */
  override dispose(): void {
    this.cache?.free();
    this.cache = null;
    this.packed?.free();
    this.packed = null;
    this.saved = null;
    super.dispose();
  }

  forwardLayer(x: Value, ctx: SeqContext, name: string): Value {
    const init = ctx.initialStates[name];
    const r = this.forward(x as Tensor, { h0: init?.h, c0: init?.c, lengths: ctx.lengths ?? undefined });
    ctx.finalStates[name] = r.cN ? { h: r.hN, c: r.cN } : { h: r.hN };
    ctx.dirs = this.directions;
    return r.output;
  }

  backwardLayer(dy: Tensor, ctx: SeqContext, name: string, needInputGrad: boolean): Tensor | null {
    const g = ctx.finalStateGrads[name];
    const r = this.backwardNoCopy({ output: dy, hN: g?.h, cN: g?.c }, needInputGrad);
    ctx.initialStateGrads[name] = r.c0 ? { h: r.h0, c: r.c0 } : { h: r.h0 };
    return r.input;
  }

  config(): { type: string; options: Record<string, unknown> } {
    const options: Record<string, unknown> = {
      inputSize: this.inputSize,
      hiddenSize: this.hiddenSize,
      numLayers: this.numLayers,
      bidirectional: this.bidirectional,
      batchFirst: this.batchFirst,
      bias: this.bias,
      dropout: this.dropout,
    };
    return { type: this.constructor.name, options: { ...options, ...this.extraConfig() } };
  }

  protected abstract extraConfig(): Record<string, unknown>;
}
