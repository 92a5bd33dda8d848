// Crossing the JS boundary, per rnnkit backend: the cost of a no-op call (rk_noop through
// Backend.call, i.e. what every rnnkit call pays on top of its work) and of moving 1 MB
// (a 262,144-float Float32Array) into a backend buffer and back out (allocF32 + write + read).
import { initRnnkit } from './rnnkit.mjs';
import { measure } from './timing.mjs';

export async function run(spec) {
  const { rk, info, threads } = await initRnnkit(spec.backend, spec.threads);
  const be = await rk.loadBackend(spec.backend);
  const budget = { budgetMs: spec.budgetMs / 4, minSamples: 5 };
  const CALLS = 10000;
  const noop = await measure(() => {
    for (let i = 0; i < CALLS; i++) be.call('rk_noop', []);
  }, budget);
  const N = 262144; // 1 MiB of float32
  const src = new Float32Array(N).map((_, i) => i);
  const buf = be.allocF32(N);
  let back;
  // Hundreds of warm-up copies first: V8's first large allocations are several times slower.
  const budget1MB = { ...budget, warmups: 400, maxSamples: 2000 };
  const write = await measure(() => buf.write(src), budget1MB);
  const read = await measure(() => {
    back = buf.read();
  }, budget1MB);
  const round = await measure(() => {
    buf.write(src);
    back = buf.read();
  }, budget1MB);
  if (back[N - 1] !== N - 1) throw new Error('round trip lost data');
  buf.free();
  return {
    backend: be.name,
    kernelLevel: info.kernelLevel,
    threads, // null when this build has no threads API
    noopNs: (noop.medianMs / CALLS) * 1e6,
    write1MBUs: write.medianMs * 1e3,
    read1MBUs: read.medianMs * 1e3,
    roundTrip1MBUs: round.medianMs * 1e3,
    roundTripGBps: (2 * 4 * N) / (round.medianMs * 1e6),
    timed: `rk_noop via backend.call(), median of batches of ${CALLS} calls; 1 MiB: DeviceBuffer.write(Float32Array) then .read() (a copy out)`,
  };
}
