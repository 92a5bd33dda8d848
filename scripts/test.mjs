#!/usr/bin/env node
// `npm test`: the Rust tests (kernels, finite-difference gradient checks, hand-worked cases),
// kernels-vs-scalar on the wasm SIMD128 and the aarch64 NEON levels, then the vitest suite on every backend that
// loads (native, wasm-simd, wasm).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeBuildEnv } from './toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function run(cmd, args, env = {}) {
  console.log(`$ ${Object.entries(env).map(([k, v]) => `${k}='${v}' `).join('')}${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}
// The native build's flags (scripts/toolchain.mjs): the same code as the addon, and no rebuild of
// target/release back and forth between `npm run build` and the tests.
if (run('cargo', ['test', '--release', '--workspace'], nativeBuildEnv()) !== 0) process.exit(1);
// The same kernels-vs-scalar test on the wasm SIMD128 level, under Node's WASI.
if (run(process.execPath, ['--no-warnings', join(root, 'scripts', 'test-wasm-kernels.mjs')]) !== 0) process.exit(1);
// And on the aarch64 NEON level, cross-built and run under qemu-user (x86_64 hosts).
if (run(process.execPath, ['--no-warnings', join(root, 'scripts', 'test-aarch64-kernels.mjs')]) !== 0) process.exit(1);
// dist/ is what users import; a child-process test runs it, so keep it in step with ts/.
if (run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']) !== 0) process.exit(1);
const dir = mkdtempSync(join(tmpdir(), 'rnnkit-test-'));
const report = join(dir, 'vitest.json');
const status = run(process.execPath, [
  join(root, 'node_modules', 'vitest', 'vitest.mjs'),
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]);
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`\nvitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
} catch {
  console.log('\nvitest: no report written');
}
rmSync(dir, { recursive: true, force: true });
process.exit(status);
