// The simd128 mul+add peak of this JS engine: a hand-assembled wasm module whose loop runs 6
// independent f32x4.mul chains and 6 independent f32x4.add chains (wasm has no fused multiply-add
// without relaxed-simd, so a wasm kernel's ceiling is separate mul and add instructions).
// Also the same loop on scalar f32 for the plain wasm build's ceiling.
// Returns GFLOP/s (best of several runs), 1 flop per lane per instruction.

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
const vec = (items) => [...leb(items.length), ...items.flat()];
const f32bytes = (x) => [...new Uint8Array(new Float32Array([x]).buffer)];

const CHAINS = 6; // per kind: 6 mul chains + 6 add chains = 12 accumulators (+2 constants) fit in 16 xmm registers
const UNROLL = 4;

function buildModule(simd) {
  const T = simd ? 0x7b : 0x7d; // v128 | f32
  const konst = (x) => (simd ? [0xfd, 0x0c, ...f32bytes(x), ...f32bytes(x), ...f32bytes(x), ...f32bytes(x)] : [0x43, ...f32bytes(x)]);
  const MUL = simd ? [0xfd, ...leb(230)] : [0x94];
  const ADD = simd ? [0xfd, ...leb(228)] : [0x92];
  // locals: 0 = iters (param), 1..6 mul accs, 7..12 add accs, 13 = m, 14 = c
  const M = 2 * CHAINS + 1, C = M + 1;
  const body = [];
  for (let k = 1; k <= CHAINS; k++) body.push(...konst(1 + k / 16), 0x21, k);
  for (let k = CHAINS + 1; k <= 2 * CHAINS; k++) body.push(...konst(k), 0x21, k);
  body.push(...konst(1), 0x21, M, ...konst(0), 0x21, C); // x*1, x+0: stay finite and normal
  body.push(0x03, 0x40); // loop
  for (let u = 0; u < UNROLL; u++) {
    for (let k = 1; k <= CHAINS; k++) body.push(0x20, k, 0x20, M, ...MUL, 0x21, k);
    for (let k = CHAINS + 1; k <= 2 * CHAINS; k++) body.push(0x20, k, 0x20, C, ...ADD, 0x21, k);
  }
  body.push(0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0); // iters -= 1; br_if iters != 0
  body.push(0x0b); // end loop
  body.push(0x20, 1);
  for (let k = 2; k <= 2 * CHAINS; k++) body.push(0x20, k, ...ADD);
  if (simd) body.push(0xfd, 0x1f, 0); // f32x4.extract_lane 0
  body.push(0x0b);
  const func = [...vec([[2 * CHAINS + 2, T]]), ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 1, 0x7f, 1, 0x7d]])), // (i32) -> f32
    ...section(3, vec([[0]])),
    ...section(7, vec([[...vec([...'peak'].map((c) => [c.charCodeAt(0)])), 0x00, 0]])),
    ...section(10, vec([[...leb(func.length), ...func]])),
  ]);
}

/** { simd128: GFLOP/s, scalar: GFLOP/s } of mul+add on this engine, one thread. */
export async function wasmPeak({ seconds = 0.3 } = {}) {
  const out = {};
  for (const simd of [true, false]) {
    const { instance } = await WebAssembly.instantiate(buildModule(simd));
    const peak = instance.exports.peak;
    const flopsPerIter = UNROLL * 2 * CHAINS * (simd ? 4 : 1);
    peak(1000);
    let iters = 1 << 20, best = 0;
    const deadline = performance.now() + seconds * 1000 * 4;
    for (let r = 0; r < 8 && performance.now() < deadline; r++) {
      const t0 = performance.now();
      peak(iters);
      const dt = (performance.now() - t0) / 1000;
      best = Math.max(best, (iters * flopsPerIter) / dt / 1e9);
      if (dt < seconds / 2) iters *= 2;
    }
    out[simd ? 'simd128' : 'scalar'] = best;
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await wasmPeak());
