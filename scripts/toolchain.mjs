// Shared by the build, set-up and test scripts: where the Rust toolchains are.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function output(cmd, args, env = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
  } catch {
    return null;
  }
}

export const WASM_INSTALL_HINT =
  '  rustup target add wasm32-unknown-unknown\n' + '  sudo apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld     (Debian/Ubuntu)';

/** A cargo + rustc pair that can build for wasm32-unknown-unknown, or null. */
export function findWasmToolchain() {
  const installed = output('rustup', ['target', 'list', '--installed']);
  if (installed && installed.split('\n').includes('wasm32-unknown-unknown')) return { cargo: 'cargo', env: {} };
  const debRustc = '/usr/bin/rustc';
  if (existsSync(debRustc) && existsSync('/usr/bin/cargo')) {
    const sysroot = output(debRustc, ['--print', 'sysroot'])?.trim();
    if (sysroot && existsSync(join(sysroot, 'lib', 'rustlib', 'wasm32-unknown-unknown'))) {
      return { cargo: '/usr/bin/cargo', env: { RUSTC: debRustc } };
    }
  }
  return null;
}

/**
 * Extra environment for native (host) cargo builds: RUSTFLAGS with `-C llvm-args=-align-loops=64`
 * added when this rustc's LLVM has the option (rustup's 1.95 here does, Debian's 1.63 does not;
 * without it the build is the same, only unaligned). Why: the GEMM micro-kernel's k loop (~180
 * bytes) runs at the front end's limit, and where it happens to start inside a 64-byte fetch
 * window moved with unrelated code changes: the same GEMM code ran ~7 % slower in one build than
 * in another (rnnkit-bench `shape nt 2048 1024 256`, the two binaries side by side on the two
 * cores, median of 10 rounds).
 */
export function nativeBuildEnv() {
  const base = process.env.RUSTFLAGS ?? '';
  if (base.includes('align-loops') || !rustcHasLoopAlign()) return {};
  return { RUSTFLAGS: `${base} -C llvm-args=-align-loops=64`.trim() };
}

let loopAlign = null;
/** Whether `rustc` (or $RUSTC) accepts -align-loops: it compiles an empty crate with it (in the
 * project directory, so a toolchain override there applies as it does to cargo). */
function rustcHasLoopAlign() {
  if (loopAlign === null) {
    const dir = mkdtempSync(join(tmpdir(), 'rnnkit-rustc-probe-'));
    try {
      const args = ['-C', 'llvm-args=-align-loops=64', '--crate-type', 'lib', '--crate-name', 'probe', '--emit', 'obj', '-o', join(dir, 'probe.o'), '-'];
      loopAlign = spawnSync(process.env.RUSTC ?? 'rustc', args, { cwd: root, input: '', stdio: ['pipe', 'ignore', 'ignore'] }).status === 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return loopAlign;
}

export function nativeTriple() {
  let libc = '';
  if (process.platform === 'linux') libc = process.report?.getReport?.().header?.glibcVersionRuntime ? '-gnu' : '-musl';
  return `${process.platform}-${process.arch}${libc}`;
}

/**
 * Builds rnnkit-core's integration tests `tests` for `target` without running them; returns
 * { test name: executable path }, or null if cargo failed (its errors are on stderr).
 */
export function buildCoreTests(cargo, target, tests, env) {
  const args = ['test', '--release', '--target', target, '-p', 'rnnkit-core', ...tests.flatMap((t) => ['--test', t]), '--no-run', '--message-format=json'];
  console.log(`$ ${cargo} ${args.join(' ')}`);
  const built = spawnSync(cargo, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  if (built.status !== 0) return null;
  const exes = {};
  for (const line of built.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line);
    if (m.reason === 'compiler-artifact' && m.executable && m.target?.name) exes[m.target.name] = m.executable;
  }
  return exes;
}
