/** Node.js: the native addon via require, .wasm files via fs. */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Platform } from '../backend/select.js';

function libc(): string {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? '-gnu' : '-musl';
}

export function nativeFileName(): string {
  return `rnnkit.${process.platform}-${process.arch}${libc()}.node`;
}

export const nodePlatform: Platform = {
  name: 'node',
  loadNative() {
    const require = createRequire(import.meta.url);
    const candidates = [
      process.env.RNNKIT_NATIVE_PATH,
      new URL(`../../native/${nativeFileName()}`, import.meta.url).pathname,
    ].filter((c): c is string => !!c);
    const errors: string[] = [];
    for (const file of candidates) {
      try {
        return require(file);
      } catch (e) {
        errors.push(`${file}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    throw new Error(`could not load the native addon (${errors.join('; ')})`);
  },
  async readWasm(file, override) {
    const url = override ?? new URL(`../../wasm/${file}`, import.meta.url);
    return readFile(url);
  },
  env(name) {
    return process.env[name];
  },
};
