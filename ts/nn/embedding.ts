/** Embedding(numEmbeddings, dim): token ids → vectors; PyTorch's init N(0, 1), paddingIdx row 0. */

import { fail } from '../errors.js';
import { Tensor, checkTensor, numel, type TensorLike } from '../tensor.js';
import { isIntTensor, type IntTensor, type SeqContext, type SequentialLayer, type Value } from './layer.js';
import { Module } from './module.js';

export interface EmbeddingOptions {
  /** This id's row stays 0 and gets no gradient (e.g. the padding token). */
  paddingIdx?: number;
}

export class Embedding extends Module implements SequentialLayer {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  private savedIds: Int32Array | null = null;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    for (const [name, v] of [['numEmbeddings', numEmbeddings], ['embeddingDim', embeddingDim]] as const) {
      if (!Number.isInteger(v) || v < 1) fail('BAD_ARGUMENT', `Embedding: ${name} must be a positive integer, got ${v}`, { argument: name, got: v });
    }
    const p = options.paddingIdx;
    if (p !== undefined && (!Number.isInteger(p) || p < -numEmbeddings || p >= numEmbeddings)) {
      fail('BAD_ARGUMENT', `Embedding: paddingIdx must be an integer in ${-numEmbeddings}..${numEmbeddings - 1}, got ${p}`, { argument: 'paddingIdx', got: p });
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = p === undefined ? null : p < 0 ? p + numEmbeddings : p;
    this.allocate([{ name: 'weight', shape: [numEmbeddings, embeddingDim] }]);
    this.resetParameters();
  }

  resetParameters(): void {
    this.initParam('weight', 'normal', 0, 1);
    if (this.paddingIdx !== null) this.params.write(new Float32Array(this.embeddingDim), this.paddingIdx * this.embeddingDim);
  }

  /** ids: int32 of any shape → (...shape, embeddingDim). */
  forward(ids: IntTensor): Tensor {
    if (!isIntTensor(ids)) fail('BAD_DTYPE', `Embedding: ids must be { data: Int32Array, shape }, got ${(ids as { data?: object })?.data?.constructor?.name ?? typeof ids}`, { argument: 'ids' });
    if (numel(ids.shape) !== ids.data.length) {
      fail('SHAPE_MISMATCH', `Embedding: ids shape [${ids.shape.join(', ')}] needs ${numel(ids.shape)} elements, data has ${ids.data.length}`, { argument: 'ids' });
    }
    const out = Tensor.zeros([...ids.shape, this.embeddingDim]);
    this.backend.call('rk_embedding_forward', [out.data, this.params, ids.data, this.numEmbeddings, this.embeddingDim]);
    this.savedIds = ids.data.slice();
    return out;
  }

  /** Accumulates dL/dweight from dL/dout (shape of the last forward's output). */
  backward(dOut: TensorLike): void {
    if (!this.savedIds) fail('NO_FORWARD', 'Embedding.backward: run forward() first');
    checkTensor('dOut', dOut, [...Array(Math.max(dOut?.shape?.length ?? 1, 1) - 1).fill(null), this.embeddingDim], '(..., embeddingDim)');
    if (dOut.data.length !== this.savedIds.length * this.embeddingDim) {
      fail('SHAPE_MISMATCH', `Embedding.backward: dOut has ${dOut.data.length} elements, the last forward produced ${this.savedIds.length * this.embeddingDim}`, { argument: 'dOut' });
    }
    this.backend.call('rk_embedding_backward', [this.gradsBuffer, dOut.data, this.savedIds, this.numEmbeddings, this.embeddingDim, this.paddingIdx ?? -1]);
  }

  forwardLayer(x: Value): Value {
    return this.forward(x as IntTensor);
  }
  backwardLayer(dy: Tensor, _ctx: SeqContext): Tensor | null {
    this.backward(dy);
    return null;
  }

  config() {
    return { type: 'Embedding', options: { numEmbeddings: this.numEmbeddings, embeddingDim: this.embeddingDim, paddingIdx: this.paddingIdx ?? undefined } };
  }
}
