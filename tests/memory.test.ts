/**
 * Memory: weights, gradients and caches in wasm memory are freed by dispose(); creating and
 * disposing 10,000 modules does not grow the wasm heap. The FinalizationRegistry safety net is
 * checked in a child process with --expose-gc (tests/support/gc-child.mjs, which runs dist/).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Lstm, Tensor, init, loadBackend } from '../ts/node.js';
import { testBackends } from './support/backends.js';

for (const backend of testBackends()) {
  describe(`memory on ${backend}`, () => {
    beforeAll(async () => {
      await init({ backend });
    });

    test('10,000 modules created, used and disposed: the heap does not grow', async () => {
      const be = await loadBackend(backend);
      const cycle = () => {
        const m = new Lstm({ inputSize: 8, hiddenSize: 16, numLayers: 2 });
        m.forward(Tensor.zeros([4, 2, 8]));
        m.backward({ output: Tensor.zeros([4, 2, 16]) });
        m.dispose();
      };
      for (let i = 0; i < 200; i++) cycle(); // warm-up: the allocator reaches its working size
      if (backend === 'native') {
        // Native buffers are JS-heap typed arrays: dispose() drops them and V8 reclaims them.
        // Kept alive, 10,000 modules would hold ~1.5 GB (weights + grads + cache).
        const before = process.memoryUsage().arrayBuffers;
        for (let i = 0; i < 10_000; i++) cycle();
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(200 * 1024 * 1024);
        return;
      }
      const before = be.memoryBytes();
      expect(before).toBeGreaterThan(0);
      for (let i = 0; i < 10_000; i++) cycle();
      expect(be.memoryBytes()).toBe(before);
    });
  });
}

test('modules that are never disposed are freed by the FinalizationRegistry', () => {
  const child = join(import.meta.dirname, 'support', 'gc-child.mjs');
  const r = spawnSync(process.execPath, ['--expose-gc', child], { encoding: 'utf8' });
  expect(r.stderr, r.stderr).toBe('');
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  // 2,000 undisposed modules of ~60 KB each would need > 100 MB of wasm heap without reclamation.
  expect(out.grownBytes).toBeLessThan(32 * 1024 * 1024);
  expect(out.leaked).toBe(false);
});
