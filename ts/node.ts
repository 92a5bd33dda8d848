/** Node.js entry: native addon first, then wasm-simd, then wasm. */
import { setPlatform } from './backend/select.js';
import { nodePlatform } from './platform/node.js';

setPlatform(nodePlatform);

export * from './index.js';
export { saveCheckpoint, loadCheckpoint, writeFileAtomic } from './io/checkpoint-node.js';
