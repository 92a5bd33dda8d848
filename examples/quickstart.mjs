// Quickstart: load the fastest backend, run a bidirectional 2-layer LSTM over a padded batch,
// backpropagate through time, and take a few plain gradient-descent steps on a toy target.
import { init, backendInfo, Lstm, Tensor, manualSeed } from 'rnnkit';

const info = await init(); // 'auto': native addon in Node, else wasm-simd, else wasm
console.log(`backend: ${info.name} (kernels: ${info.kernelLevel})`);

manualSeed(42);
const [T, B, I, H] = [12, 4, 3, 8];
const lstm = new Lstm({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true });
const x = new Tensor(Float32Array.from({ length: T * B * I }, (_, i) => Math.sin(i * 0.37)), [T, B, I]);
const lengths = [12, 7, 9, 3]; // any order; outputs past each length are 0

// Toy target: every output feature should equal 0.5. Loss = mean squared error.
for (let step = 0; step <= 30; step++) {
  const { output } = lstm.forward(x, { lengths });
  const n = lengths.reduce((a, b) => a + b, 0) * 2 * H;
  const dOut = new Float32Array(output.data.length);
  let loss = 0;
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++)
      for (let k = 0; k < 2 * H; k++) {
        if (t >= lengths[b]) continue; // padded steps are not part of the loss
        const i = (t * B + b) * 2 * H + k;
        const d = output.data[i] - 0.5;
        loss += (d * d) / n;
        dOut[i] = (2 * d) / n;
      }
  lstm.zeroGrad();
  const grads = lstm.backward({ output: new Tensor(dOut, output.shape) });
  const sd = lstm.stateDict();
  for (const [name, w] of Object.entries(sd)) w.data.forEach((v, i) => (w.data[i] = v - 0.5 * grads.params[name].data[i]));
  lstm.loadStateDict(sd);
  if (step % 10 === 0) console.log(`step ${String(step).padStart(2)}  loss ${loss.toFixed(5)}`);
}
console.log(backendInfo());
lstm.dispose();
