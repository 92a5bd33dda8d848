/** The PyTorch reference cases in ../shared/fixtures/torch (see the README there). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type SafetensorsFile } from '../../ts/node.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = process.env.RNNKIT_SHARED ?? join(root, '..', 'shared');
export const FIXTURES = join(SHARED, 'fixtures', 'torch');

export function fixtureNames(): string[] {
  if (!existsSync(FIXTURES)) throw new Error(`PyTorch fixtures not found at ${FIXTURES} (set RNNKIT_SHARED)`);
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.replace(/\.safetensors$/, ''))
    .sort();
}

export function loadFixture(name: string): SafetensorsFile {
  return readSafetensors(readFileSync(join(FIXTURES, `${name}.safetensors`)));
}
