/** Backend selection: auto order, forced backends, env override, load errors in `cause`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { setPlatform, type Platform } from '../ts/backend/select.js';
import { nodePlatform } from '../ts/platform/node.js';
import { RnnkitError, backendInfo, init, Lstm } from '../ts/node.js';
import { createNativeBackend } from '../ts/backend/native.js';
import { createWasmBackend } from '../ts/backend/wasm.js';

const root = join(import.meta.dirname, '..');

afterEach(() => {
  setPlatform(nodePlatform);
  delete process.env.RNNKIT_BACKEND;
});

test("'auto' in Node picks the native addon and reports the kernel level", async () => {
  const info = await init();
  expect(info.name).toBe('native');
  expect(['avx512', 'avx2-fma', 'neon', 'scalar']).toContain(info.kernelLevel); // the best this CPU runs
  expect(info.threads).toBeGreaterThanOrEqual(1);
  expect(info.loadErrors).toEqual([]);
  expect(backendInfo().name).toBe('native');
});

test('forced backends load and report their names; RNNKIT_BACKEND is honoured', async () => {
  expect((await init({ backend: 'wasm' })).name).toBe('wasm');
  expect((await init({ backend: 'wasm-simd' })).name).toBe('wasm-simd');
  process.env.RNNKIT_BACKEND = 'wasm';
  expect((await init()).name).toBe('wasm');
  process.env.RNNKIT_BACKEND = 'tpu';
  await expect(init()).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/tpu.*RNNKIT_BACKEND/) });
  await expect(init({ backend: 'gpu' as never })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
});

test('modules keep the backend they were created on', async () => {
  await init({ backend: 'native' });
  const a = new Lstm({ inputSize: 2, hiddenSize: 3 });
  await init({ backend: 'wasm' });
  const b = new Lstm({ inputSize: 2, hiddenSize: 3 });
  expect(a.backend.name).toBe('native');
  expect(b.backend.name).toBe('wasm');
  a.dispose();
  b.dispose();
});

test("'auto' falls back native → wasm-simd → wasm and keeps each failure", async () => {
  const wasmOnly: Platform = {
    ...nodePlatform,
    loadNative: () => {
      throw new Error('no addon for this platform');
    },
    readWasm: async (file) => {
      if (file === 'rnnkit-simd.wasm') throw new Error('simd file missing');
      return readFileSync(join(root, 'wasm', file));
    },
  };
  setPlatform(wasmOnly);
  const info = await init();
  expect(info.name).toBe('wasm');
  expect(info.loadErrors.map((e) => e.backend)).toEqual(['native', 'wasm-simd']);
  expect(String(info.loadErrors[0].error)).toMatch('no addon');
});

test('nothing loads → NO_BACKEND with every load error in `cause`; a forced backend does not fall back', async () => {
  setPlatform({
    ...nodePlatform,
    loadNative: () => {
      throw new Error('addon missing');
    },
    readWasm: async () => {
      throw new Error('wasm missing');
    },
  });
  let err: RnnkitError | undefined;
  try {
    await init({ backend: 'auto' });
  } catch (e) {
    err = e as RnnkitError;
  }
  expect(err).toBeInstanceOf(RnnkitError);
  expect(err!.code).toBe('NO_BACKEND');
  expect(err!.message).toMatch(/native: addon missing.*wasm-simd: wasm missing.*wasm: wasm missing/);
  expect((err!.cause as { backend: string }[]).map((c) => c.backend)).toEqual(['native', 'wasm-simd', 'wasm']);
  await expect(init({ backend: 'native' })).rejects.toMatchObject({ code: 'NO_BACKEND', cause: [{ backend: 'native' }] });
});

test('a stale or foreign binary is refused with a clear reason', async () => {
  expect(() => createNativeBackend({ rk_abi_version: () => 1 })).toThrow(/missing exports .*rk_rnn_forward/);
  // A valid wasm module without the rk_* exports.
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  await expect(createWasmBackend('wasm', empty)).rejects.toThrow(/missing exports/);
  await expect(createWasmBackend('wasm', new Uint8Array([1, 2, 3]))).rejects.toThrow();
});
