/**
 * Seeds for rnnkit's one generator (SplitMix64 in Rust). Each module's initialisation draws a
 * fresh 64-bit seed from this stream, so `manualSeed(s)` followed by the same constructions
 * gives bit-identical weights on every backend.
 */

const MASK = (1n << 64n) - 1n;
const DEFAULT_SEED = 0x5eedn;
let state = DEFAULT_SEED;

/** Seeds the stream; modules built after it get the same initial weights on every backend. */
export function manualSeed(seed: number | bigint): void {
  if (typeof seed === 'number' && (!Number.isInteger(seed) || seed < 0)) {
    throw new RangeError(`manualSeed: expected a non-negative integer, got ${seed}`);
  }
  state = BigInt(seed) & MASK;
}

/** Next 64-bit seed as [low 32 bits, high 32 bits]. */
export function nextSeed(): [number, number] {
  state = (state + 0x9e3779b97f4a7c15n) & MASK;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  z = z ^ (z >> 31n);
  return [Number(z & 0xffffffffn), Number(z >> 32n)];
}
