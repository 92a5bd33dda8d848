/** safetensors reading and writing: round trips, every dtype, and malformed files rejected with the key and offset. */
import { expect, test } from 'vitest';
import { RnnkitError, readSafetensors, writeSafetensors } from '../ts/node.js';
import { loadFixture } from './support/fixtures.js';

function badFile(bytes: Uint8Array, ...fragments: string[]): RnnkitError {
  let err: unknown;
  try {
    readSafetensors(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(RnnkitError);
  expect((err as RnnkitError).code).toBe('BAD_FILE');
  for (const f of fragments) expect((err as RnnkitError).message).toContain(f);
  return err as RnnkitError;
}

function withHeader(header: object, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('round trip of every written dtype, 8-byte types first and aligned', () => {
  const bytes = writeSafetensors(
    {
      a: { data: Float32Array.from([1.5, -2]), shape: [2] },
      b: { data: BigInt64Array.from([3n, -4n]), shape: [2, 1] },
      c: { data: Float64Array.from([Math.PI]), shape: [] },
      d: { data: Int32Array.from([7]), shape: [1] },
    },
    { k: 'v' },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  expect((8 + n) % 8).toBe(0);
  const f = readSafetensors(bytes);
  expect(f.metadata).toEqual({ k: 'v' });
  expect(Array.from(f.tensors.a.data as Float32Array)).toEqual([1.5, -2]);
  expect(Array.from(f.tensors.b.data as BigInt64Array)).toEqual([3n, -4n]);
  expect(f.tensors.b.shape).toEqual([2, 1]);
  expect((f.tensors.c.data as Float64Array)[0]).toBe(Math.PI);
  expect(f.tensors.d.dtype).toBe('I32');
});

test('F16 and BF16 are widened to float32', () => {
  // F16 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24; BF16 0x3f80 = 1, 0x4049 = 3.140625
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001]).buffer);
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0x4049]).buffer);
  const data = new Uint8Array(10);
  data.set(f16, 0);
  data.set(bf16, 6);
  const f = readSafetensors(
    withHeader({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] }, b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] } }, data),
  );
  expect(Array.from(f.tensors.h.data as Float32Array)).toEqual([1, -2, 2 ** -24]);
  expect(Array.from(f.tensors.b.data as Float32Array)).toEqual([1, 3.140625]);
});

test('malformed files: every error names what and where', () => {
  badFile(new Uint8Array(5), '5 bytes');
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1000n, true);
  badFile(huge, 'header length 1000', 'runs past the end');
  const notJson = new Uint8Array(12);
  new DataView(notJson.buffer).setBigUint64(0, 4n, true);
  notJson.set([0x7b, 0x7b, 0x7b, 0x7b], 8);
  badFile(notJson, 'not valid UTF-8 JSON');
  badFile(withHeader({ x: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), "'x'", 'unsupported dtype "Q4"');
  badFile(withHeader({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), "'x'", 'hold 4 bytes', 'needs 8');
  badFile(withHeader({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), "'x'", 'shape');
  const e = badFile(withHeader({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), "'x'", 'truncated');
  expect(e.details.key).toBe('x');
  // A truncated real file.
  const full = writeSafetensors({ w: { data: new Float32Array(100), shape: [10, 10] } });
  badFile(full.subarray(0, full.length - 1), "'w'", 'past the end');
});

test('reads the PyTorch fixtures (F32 inputs, F64 references, I64 lengths)', () => {
  const f = loadFixture('gru_bidir2_varlen');
  expect(f.metadata.cell).toBe('gru');
  expect(f.tensors.weight_ih_l0.dtype).toBe('F32');
  expect(f.tensors.weight_ih_l0.shape).toEqual([18, 4]);
  expect(f.tensors.output.dtype).toBe('F64');
  expect(Array.from(f.tensors.lengths.data as BigInt64Array, Number)).toEqual([5, 3, 1, 5]);
});
