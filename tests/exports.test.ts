/** The .wasm exports and the addon's functions equal the one table in ts/backend/abi.ts. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { abiNames } from '../ts/backend/abi.js';
import { nativeFileName } from '../ts/platform/node.js';

const root = join(import.meta.dirname, '..');
// Symbols the Rust toolchain adds to every wasm module; not part of the rk_* surface.
const LINKER_EXPORTS = ['memory', '__data_end', '__heap_base'];

for (const file of ['rnnkit.wasm', 'rnnkit-simd.wasm']) {
  test(`${file} exports exactly the rk_* table`, () => {
    const mod = new WebAssembly.Module(readFileSync(join(root, 'wasm', file)));
    const names = WebAssembly.Module.exports(mod)
      .map((e) => e.name)
      .filter((n) => !LINKER_EXPORTS.includes(n));
    expect(names.sort()).toEqual(abiNames('wasm').sort());
    expect(WebAssembly.Module.imports(mod)).toEqual([]);
  });
}

test('the native addon exports exactly the rk_* table (minus the wasm-only allocator)', () => {
  const addon = createRequire(import.meta.url)(join(root, 'native', nativeFileName()));
  expect(Object.keys(addon).sort()).toEqual(abiNames('native').sort());
  expect(abiNames('wasm').filter((n) => !abiNames('native').includes(n)).sort()).toEqual(['rk_alloc', 'rk_free']);
});

test('the simd build contains simd128 instructions and the plain one validates without them', () => {
  const plain = readFileSync(join(root, 'wasm', 'rnnkit.wasm'));
  const simd = readFileSync(join(root, 'wasm', 'rnnkit-simd.wasm'));
  expect(WebAssembly.validate(plain)).toBe(true);
  expect(WebAssembly.validate(simd)).toBe(true);
  expect(Buffer.compare(plain, simd)).not.toBe(0);
});
