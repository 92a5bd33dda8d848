/**
 * safetensors read / write (the format of Hugging Face's `safetensors`, used by PyTorch users):
 *   [u64 little-endian N][N bytes of UTF-8 JSON header][data]
 * The header maps names to { dtype, shape, data_offsets: [begin, end] } relative to the data
 * section, plus an optional "__metadata__" string map. Every malformed input is rejected with
 * RnnkitError('BAD_FILE') naming the tensor and the file offset.
 */

import { RnnkitError } from '../errors.js';
import { Tensor, numel } from '../tensor.js';

export type Dtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16';
export type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface SafetensorsEntry {
  /** The dtype stored in the file. F16 and BF16 are widened to a Float32Array on read. */
  dtype: Dtype;
  shape: number[];
  data: TypedData;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

const BYTES: Record<Dtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, F16: 2, BF16: 2 };
/** Refuse absurd headers before JSON.parse sees them (the reference reader's limit). */
const MAX_HEADER = 100_000_000;

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new RnnkitError('BAD_FILE', `safetensors: ${message}`, details);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decode(dtype: Dtype, bytes: Uint8Array): TypedData {
  // A fresh, aligned copy (not bytes.slice(): on a Node Buffer that is a view into the file).
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const buf = copy.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return new Float64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'U8':
      return copy;
    case 'F16': {
      const src = new Uint16Array(buf);
      return Float32Array.from(src, f16ToF32);
    }
    case 'BF16': {
      const src = new Uint16Array(buf);
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
  }
}

/** Parses a safetensors file held in memory. Little-endian hosts only (every JS engine in use). */
export function readSafetensors(file: Uint8Array | ArrayBuffer): SafetensorsFile {
  const bytes = file instanceof Uint8Array ? file : new Uint8Array(file);
  if (bytes.length < 8) bad(`file is ${bytes.length} bytes, shorter than the 8-byte header length`, { offset: 0 });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) bad(`header length ${n} (at offset 0) is larger than the ${MAX_HEADER}-byte limit`, { offset: 0 });
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) {
    bad(`header length ${headerLen} (at offset 0) runs past the end of the ${bytes.length}-byte file`, { offset: 0, headerLength: headerLen });
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    bad(`header (bytes 8..${8 + headerLen}) is not valid UTF-8 JSON: ${(e as Error).message}`, { offset: 8 });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('header is not a JSON object', { offset: 8 });
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafetensorsEntry> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object') bad('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw as object)) {
        if (typeof v !== 'string') bad(`__metadata__.${k} must be a string, got ${typeof v}`, { key: k });
        metadata[k] = v;
      }
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== 'object') bad(`tensor '${name}': entry is not an object`, { key: name });
    if (typeof t.dtype !== 'string' || !(t.dtype in BYTES)) {
      bad(`tensor '${name}': unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${Object.keys(BYTES).join(', ')})`, { key: name });
    }
    const dtype = t.dtype as Dtype;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`, { key: name });
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      bad(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`, { key: name });
    }
    const [begin, end] = off as [number, number];
    const shape = t.shape as number[];
    const want = numel(shape) * BYTES[dtype];
    if (end - begin !== want) {
      bad(`tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${JSON.stringify(shape)} needs ${want}`, {
        key: name,
        offset: dataStart + begin,
      });
    }
    if (end > dataLen) {
      bad(`tensor '${name}': data runs to file offset ${dataStart + end}, past the end of the ${bytes.length}-byte file (truncated?)`, {
        key: name,
        offset: dataStart + begin,
      });
    }
    tensors[name] = { dtype, shape, data: decode(dtype, bytes.subarray(dataStart + begin, dataStart + end)) };
  }
  return { tensors, metadata };
}

/** A float tensor of the file as a float32 Tensor (F64 is rounded, F16/BF16 are widened). */
export function asTensor(file: SafetensorsFile, name: string): Tensor {
  const e = file.tensors[name];
  if (!e) throw new RnnkitError('BAD_FILE', `safetensors: no tensor named '${name}'`, { key: name });
  if (e.data instanceof Float32Array) return new Tensor(e.data, e.shape);
  if (e.data instanceof Float64Array) return new Tensor(Float32Array.from(e.data), e.shape);
  throw new RnnkitError('BAD_DTYPE', `safetensors: tensor '${name}' is ${e.dtype}, not a float type`, { key: name, got: e.dtype });
}

/**
 * Every float tensor of a file as float32 Tensors: a PyTorch `state_dict` saved with
 * `safetensors.torch.save_file` (any float dtype) ready for `model.loadStateDict`.
 */
export function stateDictFromSafetensors(file: SafetensorsFile): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(file.tensors)) if (file.tensors[name].dtype.startsWith('F') || file.tensors[name].dtype === 'BF16') out[name] = asTensor(file, name);
  return out;
}

/** Serialises tensors (Float32Array data → F32, or explicit entries) and string metadata. */
export function writeSafetensors(
  tensors: Record<string, { data: TypedData; shape: readonly number[]; dtype?: Dtype }>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const dtypeOf = (d: TypedData): Dtype =>
    d instanceof Float32Array ? 'F32' : d instanceof Float64Array ? 'F64' : d instanceof Int32Array ? 'I32' : d instanceof BigInt64Array ? 'I64' : 'U8';
  const names = Object.keys(tensors);
  // 8-byte types first keeps every tensor aligned to its element size.
  names.sort((a, b) => BYTES[dtypeOf(tensors[b].data)] - BYTES[dtypeOf(tensors[a].data)] || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let at = 0;
  for (const name of names) {
    const t = tensors[name];
    const dtype = dtypeOf(t.data);
    if (t.dtype && t.dtype !== dtype) throw new RnnkitError('BAD_DTYPE', `writeSafetensors: '${name}' says ${t.dtype} but holds ${dtype} data`, { key: name });
    if (numel(t.shape) !== t.data.length) {
      throw new RnnkitError('SHAPE_MISMATCH', `writeSafetensors: '${name}' shape [${t.shape.join(', ')}] needs ${numel(t.shape)} elements, data has ${t.data.length}`, { key: name });
    }
    header[name] = { dtype, shape: [...t.shape], data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  while ((8 + enc.encode(json).length) % 8 !== 0) json += ' ';
  const head = enc.encode(json);
  const out = new Uint8Array(8 + head.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}
