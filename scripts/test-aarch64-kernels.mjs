#!/usr/bin/env node
// Runs crates/rnnkit-core/tests/kernels_vs_scalar.rs and tests/prepack.rs on the aarch64 NEON
// kernel level: builds them for aarch64-unknown-linux-gnu and runs them under qemu-user. Part of
// `npm test` on x86_64 machines. Skips, saying why, when the cross toolchain is missing (Debian:
// `dpkg --add-architecture arm64 && apt-get update && apt-get install libstd-rust-dev:arm64
// gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user`; `npm run setup` does this as root).
//
// Under qemu-user 7.2 a spawned thread never gets to run (libtest's own test thread hangs too),
// so the tests run on the main thread with RNNKIT_THREADS=1, and the two thread-count tests are
// left out here; they run natively on x86_64, and the pool is the same portable code.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCoreTests, output } from './toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 'aarch64-unknown-linux-gnu';
const SYSROOT = '/usr/aarch64-linux-gnu';
const TESTS = ['kernels_vs_scalar', 'prepack'];
const NOT_UNDER_QEMU = ['thread_count_does_not_change_results', 'batch_one_steps_split_among_threads_give_the_same_bits'];

/** { cargo, env } for a toolchain with a Rust std for aarch64 Linux, or null. */
function findAarch64Toolchain() {
  const installed = (output('rustup', ['target', 'list', '--installed']) ?? '').split('\n');
  if (installed.includes(TARGET)) return { cargo: 'cargo', env: {} };
  if (existsSync('/usr/bin/rustc') && existsSync('/usr/bin/cargo')) {
    const sysroot = output('/usr/bin/rustc', ['--print', 'sysroot'])?.trim();
    if (sysroot && existsSync(join(sysroot, 'lib', 'rustlib', TARGET))) return { cargo: '/usr/bin/cargo', env: { RUSTC: '/usr/bin/rustc' } };
  }
  return null;
}

const skip = (why) => {
  console.log(`kernels_vs_scalar on neon: skipped (${why})`);
  process.exit(0);
};
if (process.arch !== 'x64') skip(`runs on x86_64 hosts; this is ${process.arch}`);
const tc = findAarch64Toolchain();
if (!tc) skip(`no Rust std for ${TARGET}; Debian: libstd-rust-dev:arm64`);
if (!output('aarch64-linux-gnu-gcc', ['--version'])) skip('no aarch64-linux-gnu-gcc linker; Debian: gcc-aarch64-linux-gnu');
if (!output('qemu-aarch64', ['--version'])) skip('no qemu-aarch64; Debian: qemu-user');

const exes = buildCoreTests(tc.cargo, TARGET, TESTS, { ...tc.env, CARGO_TARGET_DIR: join(root, 'target', 'aarch64-test'), CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER: 'aarch64-linux-gnu-gcc' });
if (!exes) process.exit(1);
let failed = 0;
for (const name of TESTS) {
  const exe = exes[name];
  if (!exe) {
    console.error(`${name} on neon: cargo built no test binary`);
    process.exit(1);
  }
  console.log(`${name} on neon (aarch64 under qemu-user; not run here: ${NOT_UNDER_QEMU.join(', ')}):`);
  const r = spawnSync('qemu-aarch64', ['-L', SYSROOT, exe, '--test-threads', '1', ...NOT_UNDER_QEMU.flatMap((t) => ['--skip', t])], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, RNNKIT_THREADS: '1' },
    timeout: 600_000,
  });
  if (r.status !== 0) {
    console.error(`${name} on neon: ${r.error ? r.error.message : `exit ${r.status ?? r.signal}`}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
