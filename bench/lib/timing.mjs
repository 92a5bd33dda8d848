// Timing with tinybench: one warm-up call timed by hand decides how many samples fit the budget,
// then tinybench takes exactly that many (time budget 0, so the count rules).
import { Bench } from 'tinybench';

/**
 * fn: the unit of work (sync or async). budgetMs: time to spend on samples after warm-up;
 * at least minSamples as long as they fit in capMs (default 4 x budget), and always at least one.
 * Returns median etc. in milliseconds.
 */
export async function measure(fn, { budgetMs = 2000, minSamples = 3, maxSamples = 1000, warmups = 1, capMs } = {}) {
  let warmMs = 0;
  for (let i = 0; i < warmups; i++) {
    const t0 = performance.now();
    await fn();
    warmMs = performance.now() - t0;
  }
  const per = Math.max(warmMs, 1e-3);
  const cap = capMs ?? 4 * budgetMs;
  const samples = Math.max(1, Math.min(maxSamples, Math.max(Math.floor(budgetMs / per), Math.min(minSamples, Math.floor(cap / per)))));
  const bench = new Bench({ iterations: samples, time: 0, warmup: false, throws: true, retainSamples: true });
  bench.add('unit', fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw r.error ?? new Error(`tinybench: task ${r.state}`);
  const l = r.latency;
  return { medianMs: l.p50, minMs: l.min, maxMs: l.max, madMs: l.mad, samples: l.samplesCount, warmupMs: warmMs };
}

/** The measure() options a worker spec carries. */
export function budgetOf(spec) {
  return { budgetMs: spec.budgetMs ?? 2000, minSamples: spec.minSamples ?? 3, capMs: spec.capMs };
}
