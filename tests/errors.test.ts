/**
 * Bad input → RnnkitError with the right code and a message naming the argument, the expected
 * and the actual value; the process survives forced panics (native) and traps (wasm).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { Gru, Lstm, Rnn, RnnkitError, Tensor, init, loadBackend, type ErrorCode } from '../ts/node.js';
import { testBackends } from './support/backends.js';

function expectError(fn: () => unknown, code: ErrorCode, ...fragments: (string | RegExp)[]): RnnkitError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an RnnkitError').toBeInstanceOf(RnnkitError);
  const err = caught as RnnkitError;
  expect(err.code, err.message).toBe(code);
  for (const f of fragments) expect(err.message).toMatch(f);
  return err;
}

const x = (T: number, B: number, I: number) => Tensor.zeros([T, B, I]);

for (const backend of testBackends()) {
  describe(`errors on ${backend}`, () => {
    beforeAll(async () => {
      await init({ backend });
    });

    test('constructor options: NaN, zero, fractional, wrong type, unknown keys', () => {
      expectError(() => new Lstm({ inputSize: NaN, hiddenSize: 4 }), 'BAD_ARGUMENT', 'inputSize', 'NaN');
      expectError(() => new Gru({ inputSize: 3, hiddenSize: 0 }), 'BAD_ARGUMENT', 'hiddenSize', 'got 0');
      expectError(() => new Rnn({ inputSize: 3, hiddenSize: 4, numLayers: 1.5 }), 'BAD_ARGUMENT', 'numLayers', '1.5');
      expectError(() => new Rnn({ inputSize: '3' as unknown as number, hiddenSize: 4 }), 'BAD_ARGUMENT', 'inputSize', '"3"');
      expectError(() => new Rnn({ inputSize: 3, hiddenSize: 4, bidirectional: 1 as unknown as boolean }), 'BAD_ARGUMENT', 'bidirectional');
      expectError(() => new Lstm({ inputSize: 3, hiddenSize: 4, hiddenSzie: 5 } as never), 'BAD_ARGUMENT', 'hiddenSzie');
      expectError(() => new Rnn({ inputSize: 3, hiddenSize: 4, nonlinearity: 'sigmoid' as never }), 'BAD_ARGUMENT', 'nonlinearity', 'sigmoid');
      expectError(() => new Lstm({ inputSize: 3, hiddenSize: 4, projSize: 4 }), 'BAD_ARGUMENT', 'projSize', 'smaller than hiddenSize');
      expectError(() => new Gru({ inputSize: 3, hiddenSize: 4, projSize: 2 } as never), 'BAD_ARGUMENT', 'projSize');
    });

    test('input: wrong rank, wrong feature size, wrong dtype, data/shape disagreement', () => {
      const m = new Lstm({ inputSize: 3, hiddenSize: 4 });
      const e = expectError(() => m.forward(Tensor.zeros([5, 3])), 'SHAPE_MISMATCH', 'input', '[?, ?, 3]', '[5, 3]');
      expect(e.details).toMatchObject({ argument: 'input', got: [5, 3] });
      expectError(() => m.forward(x(5, 2, 4)), 'SHAPE_MISMATCH', 'input', '[5, 2, 4]');
      expectError(() => m.forward({ data: new Float64Array(30) as unknown as Float32Array, shape: [5, 2, 3] }), 'BAD_DTYPE', 'input.data', 'Float64Array');
      expectError(() => m.forward({ data: [1, 2, 3] as unknown as Float32Array, shape: [1, 1, 3] }), 'BAD_DTYPE', 'Array');
      expectError(() => m.forward({ data: new Float32Array(29), shape: [5, 2, 3] }), 'SHAPE_MISMATCH', '30 elements', '29');
      expectError(() => m.forward(null as never), 'BAD_ARGUMENT', 'input');
      expectError(() => m.forward(x(0, 2, 3)), 'SHAPE_MISMATCH', 'at least 1');
      m.dispose();
    });

    test('states: wrong h0 / c0 shapes, c0 on a GRU, grads of the wrong shape', () => {
      const m = new Lstm({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
      expectError(() => m.forward(x(5, 2, 3), { h0: Tensor.zeros([1, 2, 4]) }), 'SHAPE_MISMATCH', 'h0', '[2, 2, 4]', '[1, 2, 4]');
      expectError(() => m.forward(x(5, 2, 3), { c0: Tensor.zeros([2, 3, 4]) }), 'SHAPE_MISMATCH', 'c0', '[2, 2, 4]');
      m.forward(x(5, 2, 3));
      expectError(() => m.backward({ output: Tensor.zeros([5, 2, 5]) }), 'SHAPE_MISMATCH', 'grads.output', '[5, 2, 4]');
      expectError(() => m.backward({ hN: Tensor.zeros([2, 2]) }), 'SHAPE_MISMATCH', 'grads.hN');
      const g = new Gru({ inputSize: 3, hiddenSize: 4 });
      expectError(() => g.forward(x(2, 1, 3), { c0: Tensor.zeros([1, 1, 4]) }), 'BAD_ARGUMENT', 'c0', 'only an LSTM');
      m.dispose();
      g.dispose();
    });

    test('lengths: zero, too long, fractional, wrong count, wrong type', () => {
      const m = new Gru({ inputSize: 2, hiddenSize: 3 });
      expectError(() => m.forward(x(4, 3, 2), { lengths: [4, 0, 2] }), 'BAD_ARGUMENT', 'lengths[1]', '1..4', 'got 0');
      expectError(() => m.forward(x(4, 3, 2), { lengths: [4, 5, 2] }), 'BAD_ARGUMENT', 'lengths[1]', 'got 5');
      expectError(() => m.forward(x(4, 3, 2), { lengths: [4, 2.5, 2] }), 'BAD_ARGUMENT', 'lengths[1]', '2.5');
      expectError(() => m.forward(x(4, 3, 2), { lengths: [4, NaN, 2] }), 'BAD_ARGUMENT', 'NaN');
      expectError(() => m.forward(x(4, 3, 2), { lengths: [4, 2] }), 'SHAPE_MISMATCH', 'lengths', '3', 'got 2');
      expectError(() => m.forward(x(4, 3, 2), { lengths: new Float32Array([4, 2, 1]) as never }), 'BAD_DTYPE', 'lengths', 'Float32Array');
      m.dispose();
    });

    test('state dict: missing and unexpected keys listed like PyTorch, shapes checked, nothing half-loaded', () => {
      const m = new Lstm({ inputSize: 3, hiddenSize: 4, bidirectional: true });
      const before = m.stateDict();
      const sd = { ...before } as Record<string, Tensor>;
      delete sd.weight_hh_l0_reverse;
      sd['weight_hh_l1'] = Tensor.zeros([16, 4]);
      const e = expectError(() => m.loadStateDict(sd), 'STATE_DICT_MISMATCH', 'missing keys: weight_hh_l0_reverse', 'unexpected keys: weight_hh_l1');
      expect(e.details).toEqual({ missingKeys: ['weight_hh_l0_reverse'], unexpectedKeys: ['weight_hh_l1'] });
      const wrong = { ...before, weight_ih_l0: Tensor.zeros([3, 16]), bias_ih_l0: Tensor.zeros([16]) };
      expectError(() => m.loadStateDict(wrong), 'STATE_DICT_MISMATCH', 'weight_ih_l0', '[16, 3]', '[3, 16]');
      // The bias in that failed load came before nothing was written: weights unchanged.
      expect(m.stateDict().bias_ih_l0.data).toEqual(before.bias_ih_l0.data);
      const dtype = { ...before, bias_ih_l0: { data: new Float64Array(16) as unknown as Float32Array, shape: [16] } };
      expectError(() => m.loadStateDict(dtype), 'BAD_DTYPE', 'bias_ih_l0');
      const res = m.loadStateDict({ bias_ih_l0: Tensor.zeros([16]), extra: Tensor.zeros([1]) }, { strict: false });
      expect(res.unexpectedKeys).toEqual(['extra']);
      expect(res.missingKeys.length).toBe(m.paramSpecs.length - 1);
      expect(Array.from(m.stateDict().bias_ih_l0.data)).toEqual(new Array(16).fill(0));
      m.dispose();
    });

    test('backward before forward, noGrad forward, use after dispose, step on a bidirectional module', () => {
      const m = new Rnn({ inputSize: 2, hiddenSize: 3 });
      expectError(() => m.backward(), 'NO_FORWARD', 'forward');
      m.forward(x(3, 1, 2), { noGrad: true });
      expectError(() => m.backward(), 'NO_FORWARD');
      m.dispose();
      m.dispose(); // idempotent
      expectError(() => m.forward(x(3, 1, 2)), 'DISPOSED', 'dispose');
      const b = new Gru({ inputSize: 2, hiddenSize: 3, bidirectional: true });
      expectError(() => b.step(Tensor.zeros([1, 2])), 'UNSUPPORTED', 'bidirectional');
      b.dispose();
    });

    test('the core validates again behind the TS checks (defence in depth)', async () => {
      const be = await loadBackend(backend);
      const cfg = Int32Array.from([2, 3, 4, 0, 1, 0, 1, 0, 5, 2, 0, 0, 0]);
      const n = be.call('rk_rnn_param_count', [cfg]);
      expect(n).toBe(4 * 4 * (3 + 4) + 2 * 16);
      const params = new Float32Array(n);
      const err = expectError(
        () => be.call('rk_rnn_forward', [cfg, params, new Float32Array(29), null, null, null, new Float32Array(40), new Float32Array(8), null, null]),
        'SHAPE_MISMATCH',
        'input: expected 30 elements',
        'got 29',
      );
      expect(err.details).toMatchObject({ backend });
      expectError(() => be.call('rk_rnn_param_count', [Int32Array.from([9, 3, 4, 0, 1, 0, 1, 0, 5, 2, 0, 0, 0])]), 'BAD_ARGUMENT', 'unknown cell code 9');
      expectError(() => be.call('rk_rnn_param_count', [Int32Array.from([3, 3, 4, 2, 1, 0, 1, 0, 5, 2, 0, 0, 0])]), 'UNSUPPORTED', 'proj_size');
      expectError(() => be.call('rk_rnn_cache_len', [cfg, Int32Array.from([5, 6])]), 'BAD_ARGUMENT', 'lengths[1]');
      // Overflowing sizes are an error, not a crash or a wrap-around.
      expectError(() => be.call('rk_rnn_param_count', [Int32Array.from([2, 2 ** 31 - 1, 2 ** 31 - 1, 0, 2 ** 31 - 1, 1, 1, 0, 1, 1, 0, 0, 0])]), 'BAD_ARGUMENT', 'overflow');
      // A cache written for other lengths is refused.
      const lens = Int32Array.from([5, 3]);
      const cache = new Float32Array(be.call('rk_rnn_cache_len', [cfg, lens]));
      be.call('rk_rnn_forward', [cfg, params, new Float32Array(30), lens, null, null, new Float32Array(40), new Float32Array(8), new Float32Array(8), cache]);
      expectError(
        () => be.call('rk_rnn_backward', [cfg, params, Int32Array.from([3, 5]), cache, null, null, null, null, null, null, new Float32Array(n)]),
        'BAD_ARGUMENT',
        'cache',
      );
    });

    test('overlapping buffers are refused (native passes views of one ArrayBuffer)', async () => {
      const be = await loadBackend(backend);
      if (backend !== 'native') {
        // wasm copies each typed array into its own heap block: overlap cannot reach the core.
        expect(backend.startsWith('wasm')).toBe(true);
        return;
      }
      const cfg = Int32Array.from([0, 2, 2, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0]);
      const buf = new Float32Array(64);
      const params = buf.subarray(0, 12);
      expectError(
        () => be.call('rk_rnn_forward', [cfg, params, buf.subarray(10, 12), null, null, null, buf.subarray(11, 13), new Float32Array(2), null, null]),
        'ALIASING',
        'output',
      );
    });

    test(`a forced ${backend === 'native' ? 'panic' : 'trap'} is survived and the module keeps its weights`, async () => {
      const be = await loadBackend(backend);
      const m = new Gru({ inputSize: 2, hiddenSize: 3 });
      const input = { data: Float32Array.from([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]), shape: [3, 1, 2] };
      const before = m.forward(input).output.data;
      const e = expectError(() => be.call('rk_debug_panic', []), 'PANIC', 'rk_debug_panic was called');
      expect(e.details).toMatchObject({ backend });
      const after = m.forward(input).output.data;
      expect(Array.from(after)).toEqual(Array.from(before));
      m.backward({ output: Tensor.zeros([3, 1, 3]) });
      expect(be.call('rk_noop', [])).toBe(0);
      m.dispose();
    });
  });
}
