/**
 * The public API's semantics, on every backend: single steps equal the sequence forward,
 * batch-first equals time-major, truncated BPTT by carrying state, packed-sequence semantics
 * against per-sequence runs, the GRU reset-before form by hand, seeded initialisation.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { Gru, Lstm, Rnn, Tensor, init, manualSeed, readSafetensors, writeSafetensors, type Recurrent } from '../ts/node.js';
import { testBackends } from './support/backends.js';
import { expectClose } from './support/close.js';

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const EXACT = { atol: 1e-6, rtol: 1e-5 };

function makers(): [string, () => Recurrent][] {
  return [
    ['rnn tanh 2 layers', () => new Rnn({ inputSize: 3, hiddenSize: 5, numLayers: 2 })],
    ['rnn relu', () => new Rnn({ inputSize: 3, hiddenSize: 5, nonlinearity: 'relu' })],
    ['lstm 2 layers', () => new Lstm({ inputSize: 3, hiddenSize: 5, numLayers: 2 })],
    ['lstm proj', () => new Lstm({ inputSize: 3, hiddenSize: 5, projSize: 2 })],
    ['gru', () => new Gru({ inputSize: 3, hiddenSize: 5, numLayers: 2 })],
    ['gru reset before', () => new Gru({ inputSize: 3, hiddenSize: 5, resetAfter: false })],
    ['gru no bias', () => new Gru({ inputSize: 3, hiddenSize: 5, bias: false })],
  ];
}

for (const backend of testBackends()) {
  describe(`API on ${backend}`, () => {
    beforeAll(async () => {
      await init({ backend });
    });

    for (const [label, make] of makers()) {
      test(`${label}: step() T times equals forward() over T steps`, () => {
        const m = make();
        const [T, B, I] = [6, 2, 3];
        const x = values(T * B * I, 7);
        const h0 = new Tensor(values(m.numLayers * B * m.hOut, 8).map((v) => v * 0.5), [m.numLayers, B, m.hOut]);
        const c0 = m instanceof Lstm ? new Tensor(values(m.numLayers * B * m.hiddenSize, 9), [m.numLayers, B, m.hiddenSize]) : undefined;
        const full = m.forward({ data: x, shape: [T, B, I] }, { h0, c0 });
        let state = { h: h0, c: c0 };
        for (let t = 0; t < T; t++) {
          const s = m.step({ data: x.slice(t * B * I, (t + 1) * B * I), shape: [B, I] }, state);
          expectClose(`step ${t}`, s.output.data, full.output.data.subarray(t * B * m.hOut, (t + 1) * B * m.hOut), EXACT);
          state = s;
        }
        expectClose('hN', state.h.data, full.hN.data, EXACT);
        if (c0) expectClose('cN', state.c!.data, full.cN!.data, EXACT);
        m.dispose();
      });
    }

    test('batchFirst gives the transposed results of time-major, gradients included', () => {
      manualSeed(3);
      const a = new Lstm({ inputSize: 3, hiddenSize: 4, bidirectional: true });
      const b = new Lstm({ inputSize: 3, hiddenSize: 4, bidirectional: true, batchFirst: true });
      b.loadStateDict(a.stateDict());
      const [T, B, I, O] = [5, 3, 3, 8];
      const x = values(T * B * I, 11);
      const xb = new Float32Array(T * B * I);
      for (let t = 0; t < T; t++) for (let n = 0; n < B; n++) xb.set(x.subarray((t * B + n) * I, (t * B + n + 1) * I), (n * T + t) * I);
      const lengths = [2, 5, 4];
      const ra = a.forward({ data: x, shape: [T, B, I] }, { lengths });
      const rb = b.forward({ data: xb, shape: [B, T, I] }, { lengths });
      for (let t = 0; t < T; t++)
        for (let n = 0; n < B; n++)
          expectClose(`out ${t},${n}`, rb.output.data.subarray((n * T + t) * O, (n * T + t + 1) * O), ra.output.data.subarray((t * B + n) * O, (t * B + n + 1) * O), EXACT);
      expectClose('hN', rb.hN.data, ra.hN.data, EXACT);
      const dOut = values(T * B * O, 12);
      const dOutB = new Float32Array(T * B * O);
      for (let t = 0; t < T; t++) for (let n = 0; n < B; n++) dOutB.set(dOut.subarray((t * B + n) * O, (t * B + n + 1) * O), (n * T + t) * O);
      const ga = a.backward({ output: { data: dOut, shape: [T, B, O] } });
      const gb = b.backward({ output: { data: dOutB, shape: [B, T, O] } });
      for (const s of a.paramSpecs) expectClose(s.name, gb.params[s.name].data, ga.params[s.name].data, EXACT);
      a.dispose();
      b.dispose();
    });

    test('packed semantics: each sequence of an unsorted variable-length batch equals running it alone', () => {
      const m = new Gru({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true });
      const [T, B, I, O] = [5, 4, 2, 6];
      const lengths = [3, 5, 1, 4];
      const x = values(T * B * I, 21);
      const h0 = new Tensor(values(4 * B * 3, 22), [4, B, 3]);
      const batch = m.forward({ data: x, shape: [T, B, I] }, { h0, lengths });
      const dOut = values(T * B * O, 23);
      m.zeroGrad();
      const gBatch = m.backward({ output: { data: dOut, shape: [T, B, O] } });
      const summed = new Map<string, Float32Array>(m.paramSpecs.map((s) => [s.name, new Float32Array(s.size)]));
      for (let b = 0; b < B; b++) {
        const L = lengths[b];
        const xs = new Float32Array(L * I);
        const dOs = new Float32Array(L * O);
        for (let t = 0; t < L; t++) {
          xs.set(x.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
          dOs.set(dOut.subarray((t * B + b) * O, (t * B + b + 1) * O), t * O);
        }
        const h0s = new Tensor(new Float32Array(4 * 3), [4, 1, 3]);
        for (let s = 0; s < 4; s++) h0s.data.set(h0.data.subarray((s * B + b) * 3, (s * B + b + 1) * 3), s * 3);
        const one = m.forward({ data: xs, shape: [L, 1, I] }, { h0: h0s });
        for (let t = 0; t < T; t++) {
          const got = batch.output.data.subarray((t * B + b) * O, (t * B + b + 1) * O);
          if (t < L) expectClose(`seq ${b} t ${t}`, got, one.output.data.subarray(t * O, (t + 1) * O), EXACT);
          else expect(Array.from(got)).toEqual(new Array(O).fill(0));
        }
        for (let s = 0; s < 4; s++) expectClose(`seq ${b} hN ${s}`, batch.hN.data.subarray((s * B + b) * 3, (s * B + b + 1) * 3), one.hN.data.subarray(s * 3, s * 3 + 3), EXACT);
        m.zeroGrad();
        const g = m.backward({ output: { data: dOs, shape: [L, 1, O] } });
        for (const s of m.paramSpecs) summed.get(s.name)!.forEach((_, i, arr) => (arr[i] += g.params[s.name].data[i]));
      }
      for (const s of m.paramSpecs) expectClose(`summed ${s.name}`, gBatch.params[s.name].data, summed.get(s.name)!, { atol: 1e-5, rtol: 1e-4 });
      m.dispose();
    });

    test('truncated BPTT: carrying hN/cN into the next chunk continues the sequence exactly', () => {
      const m = new Lstm({ inputSize: 2, hiddenSize: 4, numLayers: 2 });
      const [T, B, I] = [8, 2, 2];
      const x = values(T * B * I, 31);
      const full = m.forward({ data: x, shape: [T, B, I] });
      const half = (T / 2) * B * I;
      const first = m.forward({ data: x.slice(0, half), shape: [T / 2, B, I] });
      m.backward({ output: Tensor.zeros(first.output.shape) });
      const second = m.forward({ data: x.slice(half), shape: [T / 2, B, I] }, { h0: first.hN, c0: first.cN });
      expectClose('second half', second.output.data, full.output.data.subarray((T / 2) * B * 4), EXACT);
      expectClose('hN', second.hN.data, full.hN.data, EXACT);
      // The chunk's backward stops at its h0: it returns dL/dh0 instead of going further back.
      const g = m.backward({ hN: new Tensor(new Float32Array(16).fill(1), [2, 2, 4]) });
      expect(g.h0.shape).toEqual([2, 2, 4]);
      expect(g.h0.data.some((v) => v !== 0)).toBe(true);
      m.dispose();
    });

    for (const [label, make] of makers()) {
      test(`${label}: backward without the input gradient or the gradient copies gives the same state and parameter gradients`, () => {
        const m = make();
        const [T, B, I] = [5, 3, 3];
        const x = { data: values(T * B * I, 41), shape: [T, B, I] };
        const lengths = [5, 2, 4];
        const dOut = values(T * B * m.hOut * m.directions, 42);
        const run = (opts?: { inputGrad?: boolean; paramGrads?: boolean }) => {
          m.zeroGrad();
          const out = m.forward(x, { lengths });
          const g = opts ? m.backward({ output: { data: dOut, shape: out.output.shape } }, opts) : m.backward({ output: { data: dOut, shape: out.output.shape } });
          return { g, params: m.grads() };
        };
        const full = run();
        const lean = run({ inputGrad: false, paramGrads: false });
        expect(lean.g.input).toBeNull();
        expect(lean.g.params).toBeUndefined();
        expect(full.g.input!.data.some((v) => v !== 0)).toBe(true);
        expect(Array.from(lean.g.h0.data)).toEqual(Array.from(full.g.h0.data));
        if (full.g.c0) expect(Array.from(lean.g.c0!.data)).toEqual(Array.from(full.g.c0.data));
        for (const s of m.paramSpecs) expect(Array.from(lean.params[s.name].data), s.name).toEqual(Array.from(full.params[s.name].data));
        // Only the copy is skipped: inputGrad alone still returns the input gradient.
        const inputOnly = run({ paramGrads: false });
        expect(Array.from(inputOnly.g.input!.data)).toEqual(Array.from(full.g.input!.data));
        m.dispose();
      });
    }

    test('GRU reset-before vs reset-after on the hand-worked 1×1 case', () => {
      // w_ih = [0.5, 0, 0.25], w_hh = [-1, 0, 1], b_ih = 0, b_hh = [0, 0, 1], x = 1, h0 = 0.5:
      // r = z = σ(0) = 0.5; before: n = tanh(1.5), after: n = tanh(1); h' = 0.5·n + 0.25.
      const sd = {
        weight_ih_l0: new Tensor(Float32Array.from([0.5, 0, 0.25]), [3, 1]),
        weight_hh_l0: new Tensor(Float32Array.from([-1, 0, 1]), [3, 1]),
        bias_ih_l0: new Tensor(new Float32Array(3), [3]),
        bias_hh_l0: new Tensor(Float32Array.from([0, 0, 1]), [3]),
      };
      const run = (resetAfter: boolean) => {
        const g = new Gru({ inputSize: 1, hiddenSize: 1, resetAfter });
        g.loadStateDict(sd);
        const out = g.forward(new Tensor(Float32Array.from([1]), [1, 1, 1]), { h0: new Tensor(Float32Array.from([0.5]), [1, 1, 1]) }).output.data[0];
        g.dispose();
        return out;
      };
      expect(run(false)).toBeCloseTo(0.5 * Math.tanh(1.5) + 0.25, 6);
      expect(run(true)).toBeCloseTo(0.5 * Math.tanh(1) + 0.25, 6);
    });

    test('noGrad forward gives the same numbers; bias: false has no bias keys', () => {
      const m = new Rnn({ inputSize: 2, hiddenSize: 3, bias: false });
      expect(m.paramSpecs.map((s) => s.name)).toEqual(['weight_ih_l0', 'weight_hh_l0']);
      const x = { data: values(12, 41), shape: [3, 2, 2] };
      expect(Array.from(m.forward(x, { noGrad: true }).output.data)).toEqual(Array.from(m.forward(x).output.data));
      m.dispose();
    });

    test('PyTorch default init: U(-1/sqrt(H), 1/sqrt(H)), reproducible with manualSeed', () => {
      manualSeed(1234);
      const a = new Lstm({ inputSize: 16, hiddenSize: 64 });
      manualSeed(1234);
      const b = new Lstm({ inputSize: 16, hiddenSize: 64 });
      const c = new Lstm({ inputSize: 16, hiddenSize: 64 });
      const wa = a.stateDict().weight_hh_l0.data;
      expect(Array.from(b.stateDict().weight_hh_l0.data)).toEqual(Array.from(wa));
      expect(Array.from(c.stateDict().weight_hh_l0.data)).not.toEqual(Array.from(wa));
      const bound = 1 / 8;
      expect(Math.max(...wa)).toBeLessThanOrEqual(bound);
      expect(Math.min(...wa)).toBeGreaterThanOrEqual(-bound);
      const mean = wa.reduce((s, v) => s + v, 0) / wa.length;
      expect(Math.abs(mean)).toBeLessThan(0.01);
      [a, b, c].forEach((m) => m.dispose());
    });

    test('stateDict → safetensors bytes → loadStateDict round-trips exactly', () => {
      const a = new Gru({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
      const bytes = writeSafetensors(a.stateDict(), { format: 'pt' });
      const file = readSafetensors(bytes);
      expect(file.metadata).toEqual({ format: 'pt' });
      const b = new Gru({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
      b.loadStateDict(Object.fromEntries(Object.entries(file.tensors).map(([k, v]) => [k, { data: v.data as Float32Array, shape: v.shape }])));
      for (const s of a.paramSpecs) expect(Array.from(b.stateDict()[s.name].data)).toEqual(Array.from(a.stateDict()[s.name].data));
      a.dispose();
      b.dispose();
    });
  });
}

describe('seeded init across backends', () => {
  test('the same seed gives bit-identical weights on every backend', async () => {
    const seen: Float32Array[] = [];
    for (const backend of testBackends()) {
      await init({ backend });
      manualSeed(99);
      const m = new Gru({ inputSize: 5, hiddenSize: 7, numLayers: 2 });
      seen.push(m.stateDict().weight_ih_l1.data);
      m.dispose();
    }
    for (const s of seen.slice(1)) expect(Array.from(s)).toEqual(Array.from(seen[0]));
  });
});
