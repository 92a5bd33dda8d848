/**
 * Packed weights for repeated inference (rk_rnn_pack, kept by Recurrent between calls), on every
 * backend: forwards without gradients pack at the second call with unchanged parameters and
 * then give the same bits as before; single steps equal the sequence forward bit for bit; any
 * write to the parameters (optimizer step, loadStateDict, resetParameters) is seen by the next
 * forward — compared with a fresh module holding the same weights. Across backends: batch-1 LSTM
 * and GRU steps, which the native x86 levels run with the cell fused into the recurrent product,
 * give the wasm builds' bits.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { Gru, Lstm, Rnn, Sgd, Tensor, backendInfo, init, manualSeed, type Recurrent } from '../ts/node.js';
import { testBackends } from './support/backends.js';

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Sizes large enough that the products take the packed kernels (not the small-product path). */
function makers(): [string, () => Recurrent][] {
  return [
    ['lstm 2 layers', () => new Lstm({ inputSize: 40, hiddenSize: 64, numLayers: 2 })],
    ['lstm proj', () => new Lstm({ inputSize: 40, hiddenSize: 64, projSize: 24 })],
    ['gru', () => new Gru({ inputSize: 40, hiddenSize: 64 })],
    ['gru reset before', () => new Gru({ inputSize: 40, hiddenSize: 64, resetAfter: false })],
    ['rnn', () => new Rnn({ inputSize: 40, hiddenSize: 96 })],
  ];
}

const isPacked = (m: Recurrent) => (m as unknown as { packed: unknown }).packed !== null;

function sameBits(what: string, got: Float32Array, want: Float32Array): void {
  expect(got.length, what).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const bad = a.findIndex((v, i) => v !== b[i]);
  expect(bad, `${what}: first differing element ${bad} (${got[bad]} vs ${want[bad]})`).toBe(-1);
}

/** A fresh module with m's weights: its forward packs nothing (first call). */
function freshForward(make: () => Recurrent, m: Recurrent, x: Tensor): Float32Array {
  const f = make();
  f.loadStateDict(m.stateDict());
  const out = f.forward(x, { noGrad: true }).output.data;
  f.dispose();
  return out;
}

for (const backend of testBackends()) {
  describe(`packed weights on ${backend}`, () => {
    beforeAll(async () => {
      await init({ backend });
    });

    for (const [label, make] of makers()) {
      test(`${label}: packed forwards and single steps give the unpacked bits`, () => {
        const m = make();
        const [T, B, I] = [5, 1, 40];
        const x = new Tensor(values(T * B * I, 3), [T, B, I]);
        const first = m.forward(x, { noGrad: true });
        expect(isPacked(m)).toBe(false);
        const second = m.forward(x, { noGrad: true });
        expect(isPacked(m)).toBe(true);
        sameBits('output, packed', second.output.data, first.output.data);
        sameBits('hN, packed', second.hN.data, first.hN.data);
        // Batch 3 and a forward with gradients (training mode) use the packed weights too.
        const x3 = new Tensor(values(T * 3 * I, 4), [T, 3, I]);
        sameBits('batch 3', m.forward(x3, { noGrad: true }).output.data, freshForward(make, m, x3));
        let state: { h: Tensor; c?: Tensor } | undefined;
        for (let t = 0; t < T; t++) {
          const s = m.step({ data: x.data.slice(t * I, (t + 1) * I), shape: [1, I] }, state);
          sameBits(`step ${t}`, s.output.data, first.output.data.subarray(t * m.hOut, (t + 1) * m.hOut));
          state = s;
        }
        sameBits('hN after steps', state!.h.data, first.hN.data);
        m.dispose();
      });

      test(`${label}: writes to the parameters are seen by the next packed forward`, () => {
        const m = make();
        const [T, B, I] = [4, 2, 40];
        const x = new Tensor(values(T * B * I, 5), [T, B, I]);
        const warm = () => {
          m.forward(x, { noGrad: true });
          m.forward(x, { noGrad: true });
          expect(isPacked(m)).toBe(true);
        };
        const before = (warm(), m.forward(x, { noGrad: true }).output.data);

        // An optimizer step.
        const opt = new Sgd(m, { lr: 0.5 });
        const y = m.forward(x);
        m.zeroGrad();
        m.backward({ output: new Tensor(values(y.output.data.length, 6), y.output.shape) });
        opt.step();
        const afterStep = m.forward(x, { noGrad: true }).output.data;
        sameBits('after an optimizer step', afterStep, freshForward(make, m, x));
        expect(Array.from(afterStep)).not.toEqual(Array.from(before));

        // loadStateDict with other weights.
        warm();
        const other = make();
        m.loadStateDict(other.stateDict());
        sameBits('after loadStateDict', m.forward(x, { noGrad: true }).output.data, other.forward(x, { noGrad: true }).output.data);
        other.dispose();

        // resetParameters.
        warm();
        m.resetParameters();
        sameBits('after resetParameters', m.forward(x, { noGrad: true }).output.data, freshForward(make, m, x));
        m.dispose();
      });
    }
  });
}

describe('batch-1 LSTM and GRU steps across backends', () => {
  // Hidden sizes that fill whole 16-unit panels: the native avx2-fma / avx512 levels run these
  // steps fused (kernels/row_step.rs; GRU in its reset-after form); the wasm builds run the
  // product, then the cell. Every level sums and activates in scalar.rs's order, so the results
  // must be the same bits.
  test.skipIf(testBackends().length < 2)('forward, packed forward, single steps, packed-sequence tails and gradients give the same bits on every backend', async () => {
    type Run = { backend: string; level: string; arrays: [string, Float32Array][] };
    const runs: Run[] = [];
    for (const backend of testBackends()) {
      await init({ backend });
      const arrays: [string, Float32Array][] = [];
      for (const kind of ['lstm', 'gru'] as const) {
        for (const hiddenSize of [32, 48]) {
          const make = (numLayers: number, bidirectional: boolean): Recurrent =>
            kind === 'lstm' ? new Lstm({ inputSize: 20, hiddenSize, numLayers, bidirectional }) : new Gru({ inputSize: 20, hiddenSize, numLayers, bidirectional });
          const tag = `${kind} H=${hiddenSize}`;
          manualSeed(11);
          const m = make(2, true);
          const [T, I, S] = [6, 20, 4];
          const x = new Tensor(values(T * I, 31), [T, 1, I]);
          const h0 = new Tensor(values(S * hiddenSize, 32), [S, 1, hiddenSize]);
          const c0 = kind === 'lstm' ? new Tensor(values(S * hiddenSize, 33), [S, 1, hiddenSize]) : undefined;
          const plain = m.forward(x, { h0, c0, noGrad: true });
          const packed = m.forward(x, { h0, c0, noGrad: true });
          arrays.push([`${tag} output`, plain.output.data], [`${tag} hN`, plain.hN.data], [`${tag} packed output`, packed.output.data]);
          if (plain.cN) arrays.push([`${tag} cN`, plain.cN.data]);
          // Batch 3 with lengths 6, 2, 1: the later steps have one sequence left.
          const x3 = new Tensor(values(T * 3 * I, 34), [T, 3, I]);
          const y = m.forward(x3, { lengths: [6, 2, 1] });
          m.zeroGrad();
          const g = m.backward({ output: new Tensor(values(y.output.data.length, 35), y.output.shape) });
          arrays.push([`${tag} tails output`, y.output.data], [`${tag} d input`, g.input!.data]);
          for (const name of ['weight_hh_l0', 'weight_ih_l1_reverse', 'bias_hh_l1']) arrays.push([`${tag} d ${name}`, g.params[name].data]);
          // One-step calls on the packed weights.
          const one = make(1, false);
          one.loadStateDict(Object.fromEntries(Object.entries(m.stateDict()).filter(([k]) => k.endsWith('_l0'))));
          one.forward(x, { noGrad: true });
          one.forward(x, { noGrad: true });
          let state: { h: Tensor; c?: Tensor } | undefined;
          for (let t = 0; t < T; t++) state = one.step({ data: x.data.slice(t * I, (t + 1) * I), shape: [1, I] }, state);
          arrays.push([`${tag} steps h`, state!.h.data]);
          if (state!.c) arrays.push([`${tag} steps c`, state!.c.data]);
          m.dispose();
          one.dispose();
        }
      }
      runs.push({ backend, level: backendInfo().kernelLevel, arrays });
    }
    for (const r of runs.slice(1)) {
      expect(r.arrays.length).toBe(runs[0].arrays.length);
      for (let q = 0; q < r.arrays.length; q++) {
        const [what, got] = r.arrays[q];
        sameBits(`${r.backend} (${r.level}) vs ${runs[0].backend} (${runs[0].level}): ${what}`, got, runs[0].arrays[q][1]);
      }
    }
  });
});
