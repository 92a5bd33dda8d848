/**
 * Sequence-to-sequence: an encoder whose final recurrent state starts the decoder. Training uses
 * teacher forcing (the decoder reads the target sequence shifted right); BPTT flows from the
 * decoder's initial-state gradient back into the encoder.
 */

import { fail } from '../errors.js';
import { nextSeed } from '../random.js';
import { Tensor, type TensorLike } from '../tensor.js';
import type { LossName } from '../train/loss.js';
import type { IntTensor } from './layer.js';
import { Module, rejectKeyMismatch, type ParamGroup } from './module.js';
import { Recurrent, type RecurrentState } from './recurrent.js';
import { Sequential } from './sequential.js';

export class Seq2Seq extends Module {
  readonly encoder: Sequential;
  readonly decoder: Sequential;
  /** The encoder layer whose final state starts the decoder layer `decoderLayer`. */
  readonly encoderLayer: string;
  readonly decoderLayer: string;

  constructor(o: { encoder: Sequential; decoder: Sequential; encoderLayer?: string; decoderLayer?: string }) {
    super();
    if (!(o?.encoder instanceof Sequential) || !(o?.decoder instanceof Sequential)) fail('BAD_ARGUMENT', 'Seq2Seq: encoder and decoder must be Sequential models');
    const lastRec = (m: Sequential) => [...m.layers].reverse().find(([, l]) => l instanceof Recurrent)?.[0];
    const firstRec = (m: Sequential) => m.layers.find(([, l]) => l instanceof Recurrent)?.[0];
    this.encoderLayer = o.encoderLayer ?? lastRec(o.encoder) ?? fail('BAD_ARGUMENT', 'Seq2Seq: the encoder has no recurrent layer');
    this.decoderLayer = o.decoderLayer ?? firstRec(o.decoder) ?? fail('BAD_ARGUMENT', 'Seq2Seq: the decoder has no recurrent layer');
    const e = o.encoder.layer(this.encoderLayer) as Recurrent;
    const d = o.decoder.layer(this.decoderLayer) as Recurrent;
    const shape = (r: Recurrent) => `${r.constructor.name} numLayers·D=${r.numLayers * r.directions} H_out=${r.hOut}`;
    if (e.constructor !== d.constructor || e.numLayers * e.directions !== d.numLayers * d.directions || e.hOut !== d.hOut || e.hiddenSize !== d.hiddenSize) {
      fail('BAD_ARGUMENT', `Seq2Seq: the encoder's final state (${shape(e)}) does not fit the decoder's initial state (${shape(d)})`);
    }
    this.encoder = o.encoder;
    this.decoder = o.decoder;
    this.allocate([]);
  }

  /**
   * Teacher-forced loss: src (T_s, B) → encoder; decoderInput (T_t, B) and targets (T_t, B) →
   * decoder. Accumulates gradients of both.
   */
  computeLoss(
    src: TensorLike | IntTensor,
    decoderInput: TensorLike | IntTensor,
    targets: unknown,
    o: { srcLengths?: readonly number[]; tgtLengths?: readonly number[]; loss?: LossName; ignoreIndex?: number } = {},
  ): { loss: number; logits: Tensor } {
    const enc = this.encoder.forward(src, { lengths: o.srcLengths });
    const dec = this.decoder.computeLoss(decoderInput, targets, {
      loss: o.loss,
      ignoreIndex: o.ignoreIndex,
      lengths: o.tgtLengths,
      state: { [this.decoderLayer]: enc.state[this.encoderLayer] },
    });
    const g = dec.stateGrads[this.decoderLayer];
    this.encoder.backward(Tensor.zeros(enc.output.shape), { stateGrads: { [this.encoderLayer]: g }, inputGrad: false });
    return { loss: dec.loss, logits: dec.logits };
  }

  /** Greedy (temperature 0) or sampled decoding of one source sequence. */
  generate(src: readonly number[], startToken: number, maxLength: number, o: { endToken?: number; temperature?: number } = {}): number[] {
    const enc = this.encoder.forward({ data: Int32Array.from(src), shape: [src.length, 1] });
    let state: Record<string, RecurrentState> = { [this.decoderLayer]: enc.state[this.encoderLayer] };
    let tok = startToken;
    const out: number[] = [];
    const pick = new Int32Array(1);
    for (let i = 0; i < maxLength; i++) {
      const r = this.decoder.step([tok], state);
      state = r.state;
      const [lo, hi] = nextSeed();
      this.backend.call('rk_sample_logits', [pick, r.logits.data, r.logits.shape[1], o.temperature ?? 0, 0, lo, hi]);
      tok = pick[0];
      if (tok === o.endToken) break;
      out.push(tok);
    }
    return out;
  }

  override paramGroups(prefix = ''): ParamGroup[] {
    return [...this.encoder.paramGroups(`${prefix}encoder.`), ...this.decoder.paramGroups(`${prefix}decoder.`)];
  }
  override stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(this.encoder.stateDict())) out[`encoder.${k}`] = v;
    for (const [k, v] of Object.entries(this.decoder.stateDict())) out[`decoder.${k}`] = v;
    return out;
  }
  override grads(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(this.encoder.grads())) out[`encoder.${k}`] = v;
    for (const [k, v] of Object.entries(this.decoder.grads())) out[`decoder.${k}`] = v;
    return out;
  }
  override loadStateDict(sd: Record<string, TensorLike>, options: { strict?: boolean } = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
    const part = (p: string) => Object.fromEntries(Object.entries(sd).filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v]));
    const stray = Object.keys(sd).filter((k) => !k.startsWith('encoder.') && !k.startsWith('decoder.'));
    if (options.strict ?? true) rejectKeyMismatch([], stray);
    const a = this.encoder.loadStateDict(part('encoder.'), options);
    const b = this.decoder.loadStateDict(part('decoder.'), options);
    return {
      missingKeys: [...a.missingKeys.map((k) => `encoder.${k}`), ...b.missingKeys.map((k) => `decoder.${k}`)],
      unexpectedKeys: [...stray, ...a.unexpectedKeys.map((k) => `encoder.${k}`), ...b.unexpectedKeys.map((k) => `decoder.${k}`)],
    };
  }
  override zeroGrad(): void {
    this.encoder.zeroGrad();
    this.decoder.zeroGrad();
  }
  override train(on = true): this {
    this.training = on;
    this.encoder.train(on);
    this.decoder.train(on);
    return this;
  }
  config() {
    return { type: 'Seq2Seq', options: { encoder: this.encoder.config(), decoder: this.decoder.config(), encoderLayer: this.encoderLayer, decoderLayer: this.decoderLayer } };
  }
  override dispose(): void {
    this.encoder.dispose();
    this.decoder.dispose();
    super.dispose();
  }
}
