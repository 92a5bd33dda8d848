// Shared by build.mjs and setup.mjs: where the Rust toolchains are.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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

export function nativeTriple() {
  let libc = '';
  if (process.platform === 'linux') libc = process.report?.getReport?.().header?.glibcVersionRuntime ? '-gnu' : '-musl';
  return `${process.platform}-${process.arch}${libc}`;
}
