/** Browser entry: wasm-simd, then wasm (no Node modules in this graph). */
import { setPlatform } from './backend/select.js';
import { browserPlatform } from './platform/browser.js';

setPlatform(browserPlatform);

export * from './index.js';
