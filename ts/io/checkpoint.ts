/**
 * Checkpoints: one safetensors file holding the model's weights ('model.<key>'), the optimizer's
 * state ('optim.<key>'), the recurrent state carried by an interrupted stream epoch
 * ('carried.<layer>.h|c'), and as metadata the model config, optimizer config, fit position,
 * vocabulary and a format version. Model weights use PyTorch's dotted names, so
 * `model.<key>` minus the prefix is a state_dict PyTorch can load.
 */

import { RnnkitError, fail } from '../errors.js';
import { Tensor } from '../tensor.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { Pool, type PoolMode } from '../nn/pool.js';
import type { RecurrentOptions, RecurrentState } from '../nn/recurrent.js';
import { Gru } from '../nn/gru.js';
import { Lstm } from '../nn/lstm.js';
import { Rnn } from '../nn/rnn.js';
import { Seq2Seq } from '../nn/seq2seq.js';
import { Sequential } from '../nn/sequential.js';
import { Adagrad, Adam, AdamW, RmsProp, Sgd, type Optimizer } from '../train/optim.js';
import type { FitState } from '../train/fit.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'rnnkit.checkpoint';
export const CHECKPOINT_VERSION = '1';

export interface CheckpointContents {
  model: Module;
  optimizer?: Optimizer;
  fitState?: FitState;
  /** Token list or any JSON-serialisable vocabulary. */
  vocab?: unknown;
  /** Free-form JSON-serialisable extras. */
  extra?: unknown;
}

export interface Checkpoint {
  modelConfig: ModuleConfig;
  weights: Record<string, Tensor>;
  optimizer?: { type: string; options: Record<string, unknown>; step: number; lr: number; tensors: Record<string, Tensor> };
  fitState?: FitState;
  vocab?: unknown;
  extra?: unknown;
}

export interface ModuleConfig {
  type: string;
  options: Record<string, unknown>;
}

function optimizerConfig(o: Optimizer): { type: string; options: Record<string, unknown> } {
  const pick = (...keys: string[]) => Object.fromEntries(keys.map((k) => [k, (o as unknown as Record<string, unknown>)[k]]));
  if (o instanceof AdamW) return { type: 'AdamW', options: pick('betas', 'eps', 'weightDecay', 'amsgrad') };
  if (o instanceof Adam) return { type: 'Adam', options: pick('betas', 'eps', 'weightDecay', 'amsgrad') };
  if (o instanceof Sgd) return { type: 'Sgd', options: pick('momentum', 'dampening', 'weightDecay', 'nesterov') };
  if (o instanceof RmsProp) return { type: 'RmsProp', options: pick('alpha', 'eps', 'weightDecay', 'momentum', 'centered') };
  if (o instanceof Adagrad) return { type: 'Adagrad', options: pick('lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps') };
  return fail('UNSUPPORTED', `checkpoint: unknown optimizer ${o.constructor.name}`);
}

/** Serialises a checkpoint to safetensors bytes. */
export function checkpointToBytes(c: CheckpointContents): Uint8Array {
  const tensors: Record<string, { data: Float32Array; shape: readonly number[] }> = {};
  for (const [k, v] of Object.entries(c.model.stateDict())) tensors[`model.${k}`] = v;
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: JSON.stringify(c.model.config()),
  };
  if (c.optimizer) {
    const sd = c.optimizer.stateDict();
    for (const [k, v] of Object.entries(sd.tensors)) tensors[`optim.${k}`] = v;
    metadata.optimizer = JSON.stringify({ ...optimizerConfig(c.optimizer), step: sd.step, lr: sd.lr });
  }
  if (c.fitState) {
    const { carried, ...pos } = c.fitState;
    metadata.fit = JSON.stringify(pos);
    for (const { position, state } of carried ?? []) {
      for (const [layer, s] of Object.entries(state)) {
        tensors[`carried.${position}.${layer}.h`] = s.h;
        if (s.c) tensors[`carried.${position}.${layer}.c`] = s.c;
      }
    }
  }
  if (c.vocab !== undefined) metadata.vocab = JSON.stringify(c.vocab);
  if (c.extra !== undefined) metadata.extra = JSON.stringify(c.extra);
  return writeSafetensors(tensors, metadata);
}

function json(meta: Record<string, string>, key: string): unknown {
  if (meta[key] === undefined) return undefined;
  try {
    return JSON.parse(meta[key]);
  } catch (e) {
    throw new RnnkitError('BAD_FILE', `checkpoint: metadata '${key}' is not valid JSON (${(e as Error).message})`, { key });
  }
}

/** Parses checkpoint bytes (rejecting corrupt, truncated or foreign files with BAD_FILE). */
export function checkpointFromBytes(bytes: Uint8Array | ArrayBuffer): Checkpoint {
  const file = readSafetensors(bytes);
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) fail('BAD_FILE', `checkpoint: not an rnnkit checkpoint (metadata format = ${JSON.stringify(meta.format)})`, { key: 'format' });
  if (meta.version !== CHECKPOINT_VERSION) {
    fail('BAD_FILE', `checkpoint: version ${meta.version} is not supported (this rnnkit reads version ${CHECKPOINT_VERSION})`, { key: 'version', got: meta.version });
  }
  const weights: Record<string, Tensor> = {};
  const optim: Record<string, Tensor> = {};
  const carried = new Map<number, Record<string, RecurrentState>>();
  for (const [k, e] of Object.entries(file.tensors)) {
    if (!(e.data instanceof Float32Array)) fail('BAD_FILE', `checkpoint: tensor '${k}' is ${e.dtype}, expected F32`, { key: k });
    const t = new Tensor(e.data, e.shape);
    if (k.startsWith('model.')) weights[k.slice(6)] = t;
    else if (k.startsWith('optim.')) optim[k.slice(6)] = t;
    else if (/^carried\.\d+\.[^.]+\.[hc]$/.test(k)) {
      const [, pos, layer, which] = k.split('.');
      const states = carried.get(Number(pos)) ?? {};
      states[layer] = { ...(states[layer] ?? {}), [which]: t } as RecurrentState;
      carried.set(Number(pos), states);
    } else fail('BAD_FILE', `checkpoint: unexpected tensor '${k}'`, { key: k });
  }
  const modelConfig = json(meta, 'model') as ModuleConfig;
  if (!modelConfig || typeof modelConfig.type !== 'string') fail('BAD_FILE', 'checkpoint: metadata model config is missing', { key: 'model' });
  const out: Checkpoint = { modelConfig, weights };
  const oc = json(meta, 'optimizer') as Checkpoint['optimizer'] | undefined;
  if (oc) out.optimizer = { ...oc, tensors: optim };
  const fs = json(meta, 'fit') as FitState | undefined;
  if (fs) out.fitState = carried.size ? { ...fs, carried: [...carried].sort((a, b) => a[0] - b[0]).map(([position, state]) => ({ position, state })) } : fs;
  if (meta.vocab !== undefined) out.vocab = json(meta, 'vocab');
  if (meta.extra !== undefined) out.extra = json(meta, 'extra');
  return out;
}

const MODULES: Record<string, (o: Record<string, unknown>) => Module> = {
  Sequential: (o) => new Sequential(Object.fromEntries(Object.entries(o.layers as Record<string, ModuleConfig>).map(([k, v]) => [k, modelFromConfig(v)]))),
  Seq2Seq: (o) =>
    new Seq2Seq({
      encoder: modelFromConfig(o.encoder as ModuleConfig) as Sequential,
      decoder: modelFromConfig(o.decoder as ModuleConfig) as Sequential,
      encoderLayer: o.encoderLayer as string,
      decoderLayer: o.decoderLayer as string,
    }),
  Embedding: (o) => new Embedding(o.numEmbeddings as number, o.embeddingDim as number, { paddingIdx: o.paddingIdx as number | undefined }),
  Linear: (o) => new Linear(o.inFeatures as number, o.outFeatures as number, { bias: o.bias as boolean }),
  Dropout: (o) => new Dropout(o.p as number),
  Pool: (o) => new Pool(o.mode as PoolMode),
  Lstm: (o) => new Lstm(o as unknown as RecurrentOptions),
  Gru: (o) => new Gru(o as unknown as RecurrentOptions),
  Rnn: (o) => new Rnn(o as unknown as RecurrentOptions),
};

/** Rebuilds a model (fresh weights) from its config(). */
export function modelFromConfig(cfg: ModuleConfig): Module {
  const make = MODULES[cfg?.type];
  if (!make) fail('BAD_FILE', `checkpoint: unknown module type ${JSON.stringify(cfg?.type)}`, { type: cfg?.type });
  return make(cfg.options ?? {});
}

const OPTIMIZERS: Record<string, (m: Module, o: Record<string, unknown>) => Optimizer> = {
  Sgd: (m, o) => new Sgd(m, o as never),
  Adam: (m, o) => new Adam(m, o as never),
  AdamW: (m, o) => new AdamW(m, o as never),
  RmsProp: (m, o) => new RmsProp(m, o as never),
  Adagrad: (m, o) => new Adagrad(m, o as never),
};

/** The model (with its weights) and optimizer (with its state) a checkpoint describes. */
export function restoreCheckpoint(c: Checkpoint): { model: Module; optimizer?: Optimizer; fitState?: FitState; vocab?: unknown; extra?: unknown } {
  const model = modelFromConfig(c.modelConfig);
  model.loadStateDict(c.weights);
  let optimizer: Optimizer | undefined;
  if (c.optimizer) {
    const make = OPTIMIZERS[c.optimizer.type] ?? fail('BAD_FILE', `checkpoint: unknown optimizer ${c.optimizer.type}`);
    optimizer = make(model, { ...c.optimizer.options, lr: c.optimizer.lr });
    optimizer.loadStateDict(c.optimizer);
  }
  return { model, optimizer, fitState: c.fitState, vocab: c.vocab, extra: c.extra };
}
