/**
 * The backends the suite runs on: all three, or only RNNKIT_BACKEND when it is set. A backend
 * that fails to load fails its tests (it is never silently skipped).
 */
import type { BackendName } from '../../ts/node.js';

const ALL: BackendName[] = ['native', 'wasm-simd', 'wasm'];

export function testBackends(): BackendName[] {
  const only = process.env.RNNKIT_BACKEND;
  if (only && only !== 'auto') {
    if (!ALL.includes(only as BackendName)) throw new Error(`RNNKIT_BACKEND=${only} is not a backend (${ALL.join(', ')})`);
    return [only as BackendName];
  }
  return ALL;
}
