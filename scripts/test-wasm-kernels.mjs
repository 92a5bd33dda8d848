#!/usr/bin/env node
// Runs crates/rnnkit-core/tests/kernels_vs_scalar.rs and tests/prepack.rs on the wasm SIMD128
// kernel level: builds them
// for wasm32-wasi with -C target-feature=+simd128 and runs it under Node's WASI (V8 executes
// the simd128 code). Part of `npm test`. Skips, saying why, when no Rust std for wasm32-wasi is
// installed (`rustup target add wasm32-wasip1`, or Debian's libstd-rust-dev-wasm32).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';
import { buildCoreTests, output } from './toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** { cargo, env, target } for a toolchain with a wasm32 WASI std, or null. */
function findWasiToolchain() {
  const installed = (output('rustup', ['target', 'list', '--installed']) ?? '').split('\n');
  for (const target of ['wasm32-wasip1', 'wasm32-wasi']) {
    if (installed.includes(target)) return { cargo: 'cargo', env: {}, target };
  }
  if (existsSync('/usr/bin/rustc') && existsSync('/usr/bin/cargo')) {
    const sysroot = output('/usr/bin/rustc', ['--print', 'sysroot'])?.trim();
    for (const target of ['wasm32-wasip1', 'wasm32-wasi']) {
      if (sysroot && existsSync(join(sysroot, 'lib', 'rustlib', target))) return { cargo: '/usr/bin/cargo', env: { RUSTC: '/usr/bin/rustc' }, target };
    }
  }
  return null;
}

const tc = findWasiToolchain();
if (!tc) {
  console.log('kernels_vs_scalar on simd128: skipped (no Rust std for wasm32-wasi; `rustup target add wasm32-wasip1`)');
  process.exit(0);
}
const TESTS = ['kernels_vs_scalar', 'prepack'];
console.log("(RUSTFLAGS='-C target-feature=+simd128')");
const exes = buildCoreTests(tc.cargo, tc.target, TESTS, { ...tc.env, CARGO_TARGET_DIR: join(root, 'target', 'wasi-simd-test'), RUSTFLAGS: '-C target-feature=+simd128' });
if (!exes) process.exit(1);
let failed = 0;
for (const name of TESTS) {
  const wasm = exes[name];
  if (!wasm) {
    console.error(`${name} on simd128: cargo built no test module`);
    process.exit(1);
  }
  console.log(`${name} on simd128 (wasm32-wasi under Node):`);
  const wasi = new WASI({ version: 'preview1', args: [name], env: {}, returnOnExit: true });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(wasm)), wasi.getImportObject());
  if (wasi.start(instance) !== 0) failed++;
}
process.exit(failed ? 1 : 0);
