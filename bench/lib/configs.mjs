// The benchmark configurations of issue 3 (names used everywhere) and their FLOP counts.
//
// Training step = forward over the sequence + full BPTT + SGD update, MSE loss on the outputs.
// FLOPs(train) = 3 x 2*B*T*G*H*(I+H)  (forward GEMMs once, backward twice: dX/dH and dW)
// FLOPs(infer) =     2*B*T*G*H*(I+H)
// G = 4 LSTM, 3 GRU, 1 RNN.

export const GATES = { lstm: 4, gru: 3, rnn: 1 };

export const CONFIGS = [
  { name: 'train-lstm-s', kind: 'train', cell: 'lstm', I: 64, H: 128, B: 32, T: 64, what: 'train step' },
  { name: 'train-lstm-m', kind: 'train', cell: 'lstm', I: 256, H: 256, B: 32, T: 64, what: 'train step' },
  { name: 'train-lstm-l', kind: 'train', cell: 'lstm', I: 512, H: 512, B: 64, T: 100, what: 'train step' },
  { name: 'train-gru-m', kind: 'train', cell: 'gru', I: 256, H: 256, B: 32, T: 64, what: 'train step' },
  { name: 'infer-lstm-b1', kind: 'step', cell: 'lstm', I: 512, H: 512, B: 1, T: 512, what: '512 single steps, state fed forward; time per step' },
  { name: 'infer-lstm-seq', kind: 'seq', cell: 'lstm', I: 256, H: 256, B: 1, T: 256, what: 'one forward over the sequence' },
];

export function configByName(name) {
  const c = CONFIGS.find((c) => c.name === name);
  if (!c) throw new Error(`unknown config ${name}; known: ${CONFIGS.map((c) => c.name).join(', ')}`);
  return c;
}

/** FLOPs of the timed unit of `cfg` for batch `B` (default the config's). For 'step' the unit is ONE step. */
export function flops(cfg, B = cfg.B) {
  const perStep = 2 * B * GATES[cfg.cell] * cfg.H * (cfg.I + cfg.H);
  if (cfg.kind === 'train') return 3 * perStep * cfg.T;
  if (cfg.kind === 'seq') return perStep * cfg.T;
  return perStep; // 'step': per single step
}

/** Deterministic pseudo-random floats in [-scale, scale) (xorshift32), so every library sees the same data. */
export function randomF32(n, seed, scale = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** (T, B, I) input and (T, B, H) target for a config, time-major. */
export function makeData(cfg, B = cfg.B) {
  return {
    x: randomF32(cfg.T * B * cfg.I, 12345),
    y: randomF32(cfg.T * B * cfg.H, 777, 0.5),
  };
}

export const LEARNING_RATE = 0.01;

/** The installed version of an npm package (read from node_modules, which `exports` maps may hide). */
export async function pkgVersion(name) {
  const { readFileSync } = await import('node:fs');
  try {
    return JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}
