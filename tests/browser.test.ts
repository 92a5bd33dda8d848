/**
 * The browser entry in headless Chromium (Debian's /usr/bin/chromium via playwright-core): the
 * package's dist/browser.js loads the wasm-simd build over HTTP and reproduces a PyTorch fixture.
 * Set RNNKIT_SKIP_BROWSER=1 to skip it where Chromium cannot be installed (reported as skipped).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { expectClose } from './support/close.js';
import { FIXTURES } from './support/fixtures.js';

const root = join(import.meta.dirname, '..');
const CHROMIUM = process.env.RNNKIT_CHROMIUM ?? '/usr/bin/chromium';
const skip = process.env.RNNKIT_SKIP_BROWSER === '1';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm', '.safetensors': 'application/octet-stream' };

let server: Server;
let base = '';

beforeAll(async () => {
  if (skip) return;
  server = createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const file = url.startsWith('/fixtures/') ? join(FIXTURES, url.slice('/fixtures/'.length)) : join(root, normalize(url));
    if (!file.startsWith(root) && !file.startsWith(FIXTURES)) return void res.writeHead(403).end();
    if (!existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

test.skipIf(skip)('dist/browser.js in headless Chromium: wasm-simd loads and matches PyTorch', async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium (or RNNKIT_SKIP_BROWSER=1)`).toBe(true);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/tests/browser/page.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, null, { timeout: 30_000 });
    const r = await page.evaluate((name) => (window as unknown as { runCase(n: string): Promise<Record<string, unknown>> }).runCase(name), 'gru_bidir2_varlen');
    expect(errors).toEqual([]);
    expect(r.info).toMatchObject({ name: 'wasm-simd' });
    const exp = r.expected as Record<string, number[]>;
    expectClose('output', r.output as number[], exp.output);
    expectClose('h_n', r.hN as number[], exp.hN);
    expectClose('grad.input', r.gradInput as number[], exp.gradInput);
    expectClose('grad.weight_hh_l0', r.gradW as number[], exp.gradW);
  } finally {
    await browser.close();
  }
});
