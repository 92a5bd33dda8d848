#!/usr/bin/env node
// Builds rnnkit's binaries and the TS output.
//   node scripts/build.mjs            native addon + both wasm builds + TypeScript
//   node scripts/build.mjs native     only the Node-API addon  -> native/rnnkit.<triple>.node
//   node scripts/build.mjs wasm       only rnnkit.wasm and rnnkit-simd.wasm -> wasm/
//   node scripts/build.mjs ts         only dist/
// The wasm32 target comes from rustup (`rustup target add wasm32-unknown-unknown`) or from
// Debian/Ubuntu (`apt-get install rustc cargo libstd-rust-dev-wasm32 lld`); whichever is found.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASM_INSTALL_HINT, findWasmToolchain, nativeBuildEnv, nativeTriple, output } from './toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const what = process.argv[2] ?? 'all';

function run(cmd, args, env = {}) {
  console.log(`$ ${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`build: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

/** Copy to a temporary name, then rename: a reader never sees a half-written binary. */
function install(src, dst) {
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(src, dst + '.tmp');
  renameSync(dst + '.tmp', dst);
  console.log(`build: wrote ${dst.slice(root.length + 1)}`);
}

function buildNative() {
  if (!output('cargo', ['--version'])) {
    console.error('build: cargo not found. Install Rust with rustup (https://rustup.rs), then rerun.');
    process.exit(1);
  }
  run('cargo', ['build', '--release', '-p', 'rnnkit-node'], nativeBuildEnv());
  const lib = { linux: 'librnnkit_node.so', darwin: 'librnnkit_node.dylib', win32: 'rnnkit_node.dll' }[process.platform] ?? 'librnnkit_node.so';
  install(join(root, 'target', 'release', lib), join(root, 'native', `rnnkit.${nativeTriple()}.node`));
}

function buildWasm() {
  const tc = findWasmToolchain();
  if (!tc) {
    console.error(
      'build: no Rust toolchain with the wasm32-unknown-unknown target was found. Install one of:\n' + WASM_INSTALL_HINT,
    );
    process.exit(1);
  }
  const variants = [
    { file: 'rnnkit.wasm', dir: 'wasm-plain', flags: '' },
    { file: 'rnnkit-simd.wasm', dir: 'wasm-simd', flags: '-C target-feature=+simd128' },
  ];
  for (const v of variants) {
    const targetDir = join(root, 'target', v.dir);
    run(tc.cargo, ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'rnnkit-abi'], {
      ...tc.env,
      CARGO_TARGET_DIR: targetDir,
      RUSTFLAGS: v.flags,
    });
    install(join(targetDir, 'wasm32-unknown-unknown', 'release', 'rnnkit_abi.wasm'), join(root, 'wasm', v.file));
  }
}

function buildTs() {
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}

if (what === 'native' || what === 'all') buildNative();
if (what === 'wasm' || what === 'all') buildWasm();
if (what === 'ts' || what === 'all') buildTs();
