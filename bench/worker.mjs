// One benchmark row in a fresh process: `node bench/worker.mjs '<json spec>'`.
// spec: { lib, config, budgetMs, minSamples, ...lib options }. Prints one line
// `@@RESULT <json>` (the measurement, or { error }) and exits.
import { configByName, flops } from './lib/configs.mjs';

const LIBS = {
  rnnkit: () => import('./lib/rnnkit.mjs'),
  tfjs: () => import('./lib/tfjs.mjs'),
  brain: () => import('./lib/brain.mjs'),
  ort: () => import('./lib/ort.mjs'),
  boundary: () => import('./lib/boundary.mjs'),
  wasmpeak: async () => {
    const { wasmPeak } = await import('./lib/wasm_peak.mjs');
    return { run: () => wasmPeak() };
  },
};

const spec = JSON.parse(process.argv[2]);
let out;
try {
  const lib = await LIBS[spec.lib]();
  const cfg = spec.config ? configByName(spec.config) : null;
  out = await lib.run(spec, cfg);
  if (cfg && out.medianMs !== undefined) {
    const f = flops(cfg, out.batch ?? cfg.B);
    out.flops = f;
    out.gflops = f / (out.medianMs * 1e6);
  }
} catch (e) {
  out = { error: String(e?.stack ?? e).split('\n').slice(0, 4).join(' | ') };
}
out.rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
const cpu = process.cpuUsage(); // this process, every thread, since start
out.cpuS = +((cpu.user + cpu.system) / 1e6).toFixed(3);
process.stdout.write('@@RESULT ' + JSON.stringify(out) + '\n');
process.exit(0);
