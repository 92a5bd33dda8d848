// Child process of memory.test.ts (run with --expose-gc): creates wasm modules without
// disposing them and checks that the FinalizationRegistry gives their memory back.
import { init, loadBackend, Lstm } from '../../dist/node.js';

await init({ backend: 'wasm' });
const be = await loadBackend('wasm');
const tick = () => new Promise((r) => setTimeout(r, 0));
async function collect() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await tick();
  }
}
// ~150 KB of weights + gradients per module.
const make = () => new Lstm({ inputSize: 8, hiddenSize: 64 });
for (let i = 0; i < 50; i++) make();
await collect();
const start = be.memoryBytes();
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 100; i++) make();
  await collect();
}
const grownBytes = be.memoryBytes() - start;
console.log(JSON.stringify({ start, grownBytes, leaked: grownBytes > 2000 * 150_000 * 0.5 }));
