#!/usr/bin/env node
// One command from a fresh clone to a working rnnkit: checks the toolchains (installing
// Debian's wasm32 Rust packages when run as root and they are missing), installs the npm
// dependencies, builds the native addon, both wasm builds and dist/, then runs the quickstart.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASM_INSTALL_HINT, findWasmToolchain, output } from './toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, env = {}) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  console.error(`setup: Node.js ${process.versions.node} is too old; rnnkit's tools need Node.js 20 or newer.`);
  process.exit(1);
}
if (!output('cargo', ['--version'])) {
  console.error('setup: cargo not found. Install Rust with rustup (https://rustup.rs), open a new shell, and rerun.');
  process.exit(1);
}
// Debian packages the build and the tests need, installed when we are root and they are missing:
// the wasm32 Rust target (Rust 1.63 from Debian) and Chromium for the browser test.
const canApt = typeof process.getuid === 'function' && process.getuid() === 0 && existsSync('/usr/bin/apt-get');
const wanted = [];
if (!findWasmToolchain()) wanted.push('rustc', 'cargo', 'libstd-rust-dev-wasm32', 'lld');
if (!existsSync('/usr/bin/chromium') && process.env.RNNKIT_SKIP_BROWSER !== '1') wanted.push('chromium');
if (wanted.length && canApt) {
  console.log(`setup: installing Debian packages: ${wanted.join(' ')}`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', ...wanted], { DEBIAN_FRONTEND: 'noninteractive' });
}
// The aarch64 cross toolchain and qemu-user for the NEON kernel test (scripts/test-aarch64-kernels.mjs):
// best effort, since the product does not need it; without it that test says it was skipped.
const AARCH64 = ['libstd-rust-dev:arm64', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross', 'qemu-user'];
const haveAarch64 = () => existsSync('/usr/lib/rustlib/aarch64-unknown-linux-gnu') && existsSync('/usr/bin/aarch64-linux-gnu-gcc') && existsSync('/usr/bin/qemu-aarch64');
if (canApt && process.arch === 'x64' && !haveAarch64() && process.env.RNNKIT_SKIP_AARCH64 !== '1') {
  console.log(`setup: installing Debian packages for the aarch64 kernel test: ${AARCH64.join(' ')}`);
  const steps = [
    ['dpkg', ['--add-architecture', 'arm64']],
    ['apt-get', ['update', '-qq']],
    ['apt-get', ['install', '-y', '-qq', ...AARCH64]],
  ];
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      console.warn(`setup: '${cmd} ${args.join(' ')}' failed; the aarch64 kernel test will be skipped.`);
      break;
    }
  }
}
if (!findWasmToolchain()) {
  console.error('setup: no Rust toolchain with the wasm32-unknown-unknown target. Install one of:\n' + WASM_INSTALL_HINT);
  process.exit(1);
}
if (!existsSync('/usr/bin/chromium') && process.env.RNNKIT_SKIP_BROWSER !== '1') {
  console.warn('setup: /usr/bin/chromium is missing, so `npm test` will fail its browser test. Install it (sudo apt-get install -y chromium) or set RNNKIT_SKIP_BROWSER=1.');
}
// onnxruntime-node (a benchmark peer) tries a CUDA download unless told not to.
const npmEnv = { ONNXRUNTIME_NODE_INSTALL: 'skip' };
run('npm', existsSync(join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'], npmEnv);
run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
run(process.execPath, [join(root, 'examples', 'quickstart.mjs')]);
console.log('\nsetup: done. Run the tests with `npm test`.');
