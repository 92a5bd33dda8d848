/**
 * Sequential: named layers run in order, PyTorch-style dotted keys ('lstm.weight_ih_l0').
 * Covers the usual shapes:
 * - language model / one-to-many: Embedding → Lstm → Linear, a prediction at every step;
 * - tagging / many-to-many: the same with per-step targets, padded steps ignored by the loss;
 * - classification / many-to-one: … → Lstm → Pool('last' | 'mean' | 'max') → Linear.
 * The recurrent layers' states are carried through `state` (truncated BPTT, generation).
 */

import { fail, RnnkitError } from '../errors.js';
import { nextSeed } from '../random.js';
import { Tensor, checkTensor, type TensorLike } from '../tensor.js';
import { bceWithLogits, crossEntropy, intTargets, mseLoss, type LossName } from '../train/loss.js';
import { evaluate, fit, trainStep, type EvalResult, type FitHistory, type FitOptions, type TrainStepOptions, type TrainStepResult } from '../train/fit.js';
import type { Dataset } from '../train/data.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { isIntTensor, type IntTensor, type SeqContext, type SequentialLayer, type Value } from './layer.js';
import { Linear } from './linear.js';
import { Module, rejectKeyMismatch, type ParamGroup } from './module.js';
import { Recurrent, type RecurrentState } from './recurrent.js';

type Layer = Module & SequentialLayer;

export interface SequentialForwardOptions {
  /** Valid steps per sequence (B), any order; default all T. */
  lengths?: readonly number[] | Int32Array;
  /** Initial states of recurrent layers by name (carry `state` from the previous chunk). */
  state?: Record<string, RecurrentState>;
}

export interface ComputeLossOptions extends SequentialForwardOptions {
  loss?: LossName;
  /** Cross-entropy targets equal to this are ignored (default -100). */
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum';
  /** Gradients of the final states (seq2seq encoders); default none. */
  stateGrads?: Record<string, { h?: Tensor; c?: Tensor }>;
}

export interface LossStep {
  loss: number;
  logits: Tensor;
  /** Final states of the recurrent layers by name: pass as `state` to continue the sequence. */
  state: Record<string, RecurrentState>;
  /** dL/d(initial states) by recurrent layer name. */
  stateGrads: Record<string, { h: Tensor; c?: Tensor }>;
}

export class Sequential extends Module {
  readonly layers: ReadonlyArray<readonly [string, Layer]>;
  readonly batchFirst: boolean;
  private ctx: SeqContext | null = null;

  constructor(layers: Record<string, Module>) {
    super();
    if (layers === null || typeof layers !== 'object') fail('BAD_ARGUMENT', 'Sequential: expected an object of named layers');
    const entries = Object.entries(layers);
    if (!entries.length) fail('BAD_ARGUMENT', 'Sequential: needs at least one layer');
    for (const [name, l] of entries) {
      if (!(l instanceof Module) || typeof (l as Partial<SequentialLayer>).forwardLayer !== 'function') {
        fail('BAD_ARGUMENT', `Sequential: layer '${name}' is not an rnnkit layer (Embedding, Linear, Dropout, Pool, Rnn, Lstm, Gru)`, { layer: name });
      }
      if (name.includes('.')) fail('BAD_ARGUMENT', `Sequential: layer name '${name}' may not contain '.'`, { layer: name });
    }
    const recurrent = entries.filter(([, l]) => l instanceof Recurrent) as [string, Recurrent][];
    const bf = new Set(recurrent.map(([, l]) => l.batchFirst));
    if (bf.size > 1) fail('BAD_ARGUMENT', 'Sequential: all recurrent layers must agree on batchFirst');
    this.batchFirst = recurrent[0]?.[1].batchFirst ?? false;
    this.layers = entries as [string, Layer][];
    this.allocate([]);
  }

  /** Runs every layer. input: token ids { data: Int32Array, shape: [T, B] } or a (T, B, I) tensor. */
  forward(input: TensorLike | IntTensor, options: SequentialForwardOptions = {}): { output: Tensor; state: Record<string, RecurrentState> } {
    this.checkLive();
    const lengths = options.lengths === undefined ? null : Int32Array.from(options.lengths as ArrayLike<number>);
    if (lengths && lengths.some((v) => !Number.isInteger(v))) fail('BAD_ARGUMENT', 'lengths: must be integers', { argument: 'lengths' });
    const ctx: SeqContext = {
      lengths,
      initialStates: options.state ?? {},
      finalStates: {},
      finalStateGrads: {},
      initialStateGrads: {},
      dirs: 1,
      batchFirst: this.batchFirst,
    };
    let x: Value = isIntTensor(input) ? input : input instanceof Tensor ? input : new Tensor((input as TensorLike).data, (input as TensorLike).shape);
    for (const [name, layer] of this.layers) x = layer.forwardLayer(x, ctx, name);
    if (isIntTensor(x)) fail('BAD_ARGUMENT', 'Sequential: the model produced token ids; end it with a layer that outputs floats');
    this.ctx = ctx;
    return { output: x as Tensor, state: ctx.finalStates };
  }

  /**
   * Backpropagates dL/doutput through every layer (accumulating parameter gradients).
   * `inputGrad: false` (computeLoss uses it): the model input's gradient is not wanted, so the
   * layers before the first one with parameters skip computing theirs; `input` is then null.
   */
  backward(dOutput: Tensor, options: { stateGrads?: Record<string, { h?: Tensor; c?: Tensor }>; inputGrad?: boolean } = {}): { input: Tensor | null; stateGrads: Record<string, { h: Tensor; c?: Tensor }> } {
    const ctx = this.ctx;
    if (!ctx) fail('NO_FORWARD', 'Sequential.backward: run forward() first');
    ctx.finalStateGrads = options.stateGrads ?? {};
    ctx.initialStateGrads = {};
    // Layer i needs its input's gradient when a layer before it has parameters (or the caller
    // wants the model input's gradient).
    const wantInput = options.inputGrad !== false;
    const firstWithParams = this.layers.findIndex(([, l]) => l instanceof Module && l.paramGroups().length > 0);
    let d: Tensor | null = dOutput;
    for (let i = this.layers.length - 1; i >= 0 && d; i--) {
      const [name, layer] = this.layers[i];
      d = layer.backwardLayer(d, ctx, name, wantInput || (firstWithParams >= 0 && i > firstWithParams));
    }
    return { input: d, stateGrads: ctx.initialStateGrads };
  }

  /**
   * Forward, loss and backward in one go (gradients accumulate until zeroGrad()).
   * targets: for cross-entropy, class ids with one per row of the logits — (T, B) for a
   * per-step model (padded steps past `lengths` are ignored automatically), (B) after a Pool.
   */
  computeLoss(input: TensorLike | IntTensor, targets: unknown, options: ComputeLossOptions = {}): LossStep {
    const { output: logits, state } = this.forward(input, options);
    const kind = options.loss ?? 'crossEntropy';
    let result;
    if (kind === 'crossEntropy') {
      let t = intTargets('targets', targets);
      if (this.ctx!.lengths && logits.shape.length === 3 && t.length === logits.shape[0] * logits.shape[1]) t = this.maskPadded(t, logits.shape, options.ignoreIndex ?? -100);
      result = crossEntropy(logits, t, { ignoreIndex: options.ignoreIndex, reduction: options.reduction, backend: this.backend });
    } else if (kind === 'bceWithLogits' || kind === 'mse') {
      const t = targets as TensorLike;
      result = kind === 'mse' ? mseLoss(logits, t, { reduction: options.reduction, backend: this.backend }) : bceWithLogits(logits, t, { reduction: options.reduction, backend: this.backend });
    } else {
      return fail('BAD_ARGUMENT', `computeLoss: unknown loss ${JSON.stringify(kind)} (crossEntropy, bceWithLogits, mse)`, { argument: 'loss' });
    }
    const { stateGrads } = this.backward(result.grad, { stateGrads: options.stateGrads, inputGrad: false });
    return { loss: result.loss, logits, state, stateGrads };
  }

  /** Copy of targets with steps past each sequence's length set to ignoreIndex. */
  private maskPadded(t: Int32Array, shape: number[], ignore: number): Int32Array {
    const lengths = this.ctx!.lengths!;
    const [T, B] = this.batchFirst ? [shape[1], shape[0]] : [shape[0], shape[1]];
    const out = t.slice();
    for (let b = 0; b < B; b++) for (let s = lengths[b]; s < T; s++) out[this.batchFirst ? b * T + s : s * B + b] = ignore;
    return out;
  }

  /**
   * One time step for generation: tokens (B) ids (or a (B, I) tensor) → logits (B, out), with
   * the recurrent layers' states carried in `state`. Dropout is skipped; Pool is not allowed.
   */
  step(tokens: Int32Array | number[] | TensorLike, state: Record<string, RecurrentState> = {}): { logits: Tensor; state: Record<string, RecurrentState> } {
    this.checkLive();
    let x: Tensor | IntTensor = tokens instanceof Int32Array || Array.isArray(tokens) ? { data: Int32Array.from(tokens as ArrayLike<number>), shape: [(tokens as ArrayLike<number>).length] } : (tokens as Tensor);
    const next: Record<string, RecurrentState> = {};
    for (const [name, layer] of this.layers) {
      if (layer instanceof Embedding) x = layer.forward(x as IntTensor);
      else if (layer instanceof Recurrent) {
        const r = layer.step(x as Tensor, state[name]);
        next[name] = r.c ? { h: r.h, c: r.c } : { h: r.h };
        x = r.output;
      } else if (layer instanceof Linear) x = layer.forward(x as Tensor);
      else if (layer instanceof Dropout) continue;
      else fail('UNSUPPORTED', `Sequential.step: layer '${name}' (${layer.constructor.name}) has no single-step form`, { layer: name });
    }
    return { logits: x as Tensor, state: next };
  }

  /**
   * Samples `length` tokens after `prompt` (batch 1), one step at a time. temperature 0 = greedy;
   * topK 0 = all tokens. Sampling uses the seeded generator (manualSeed).
   */
  generate(prompt: readonly number[], length: number, options: { temperature?: number; topK?: number } = {}): number[] {
    if (!prompt.length) fail('BAD_ARGUMENT', 'generate: the prompt needs at least one token', { argument: 'prompt' });
    const temperature = options.temperature ?? 1;
    const topK = options.topK ?? 0;
    let state: Record<string, RecurrentState> = {};
    let logits: Tensor | null = null;
    for (const tok of prompt) ({ logits, state } = this.step([tok], state));
    const out: number[] = [];
    const pick = new Int32Array(1);
    for (let i = 0; i < length; i++) {
      const [lo, hi] = nextSeed();
      this.backend.call('rk_sample_logits', [pick, logits!.data, logits!.shape[1], temperature, topK, lo, hi]);
      out.push(pick[0]);
      ({ logits, state } = this.step([pick[0]], state));
    }
    return out;
  }

  /** Trains on a dataset (see train/fit.ts); returns the history. */
  fit(data: Dataset, options: FitOptions): FitHistory {
    return fit(this, data, options);
  }

  /** One optimizer step on one batch (custom loops). */
  trainStep(batch: Parameters<typeof trainStep>[1], options: TrainStepOptions): TrainStepResult {
    return trainStep(this, batch, options);
  }

  /** Loss, perplexity, accuracy and per-class metrics over a dataset. */
  evaluate(data: Dataset, options: Parameters<typeof evaluate>[2] = {}): EvalResult {
    return evaluate(this, data, options);
  }

  layer(name: string): Module {
    const l = this.layers.find(([n]) => n === name);
    if (!l) throw new RnnkitError('BAD_ARGUMENT', `Sequential: no layer named '${name}' (have ${this.layers.map(([n]) => n).join(', ')})`);
    return l[1];
  }

  override paramGroups(prefix = ''): ParamGroup[] {
    return this.layers.flatMap(([name, l]) => l.paramGroups(`${prefix}${name}.`));
  }

  override stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, l] of this.layers) for (const [k, v] of Object.entries(l.stateDict())) out[`${name}.${k}`] = v;
    return out;
  }

  override grads(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, l] of this.layers) for (const [k, v] of Object.entries(l.grads())) out[`${name}.${k}`] = v;
    return out;
  }

  override loadStateDict(sd: Record<string, TensorLike>, options: { strict?: boolean } = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
    this.checkLive();
    if (sd === null || typeof sd !== 'object') fail('BAD_ARGUMENT', 'loadStateDict: expected an object of tensors');
    const expected = new Set(this.layers.flatMap(([name, l]) => l.paramSpecs.map((s) => `${name}.${s.name}`)));
    const missingKeys = [...expected].filter((k) => !(k in sd));
    const unexpectedKeys = Object.keys(sd).filter((k) => !expected.has(k));
    if (options.strict ?? true) rejectKeyMismatch(missingKeys, unexpectedKeys);
    // Check every shape first, then write: a failed load changes nothing.
    const parts = this.layers.map(([name, l]) => {
      const part: Record<string, TensorLike> = {};
      for (const s of l.paramSpecs) {
        const key = `${name}.${s.name}`;
        if (!(key in sd)) continue;
        try {
          checkTensor(key, sd[key], s.shape);
        } catch (e) {
          if (e instanceof RnnkitError && e.code === 'SHAPE_MISMATCH') throw new RnnkitError('STATE_DICT_MISMATCH', `loadStateDict: ${e.message}`, { key, ...e.details });
          throw e;
        }
        part[s.name] = sd[key];
      }
      return [l, part] as const;
    });
    for (const [l, part] of parts) l.loadStateDict(part, { strict: false });
    return { missingKeys, unexpectedKeys };
  }

  override zeroGrad(): void {
    for (const [, l] of this.layers) l.zeroGrad();
  }

  override train(on = true): this {
    this.training = on;
    for (const [, l] of this.layers) l.train(on);
    return this;
  }

  config() {
    return { type: 'Sequential', options: { layers: Object.fromEntries(this.layers.map(([n, l]) => [n, l.config()])) } };
  }

  override dispose(): void {
    for (const [, l] of this.layers) l.dispose();
    this.ctx = null;
    super.dispose();
  }
}

