/** Browsers (and other non-Node engines): wasm only, fetched next to this file. */

import type { Platform } from '../backend/select.js';

export const browserPlatform: Platform = {
  name: 'browser',
  async readWasm(file, override) {
    const url = override ?? new URL(`../../wasm/${file}`, import.meta.url).href;
    const res = await fetch(url);
    if (!res.ok) {
      throw new Error(`fetching ${url} failed with HTTP ${res.status}; serve the wasm/ folder next to dist/ or call setWasmPaths()`);
    }
    return res.arrayBuffer();
  },
  env() {
    return undefined;
  },
};
