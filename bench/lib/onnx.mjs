// A minimal protobuf encoder for an ONNX ModelProto with one LSTM node, so onnxruntime runs the
// very weights rnnkit runs (no Python, no onnx package). Field numbers are onnx.proto's.
//
// Graph: inputs X (T, B, I), initial_h (1, B, H), initial_c (1, B, H); initializers W, R, B;
// outputs Y (T, 1, B, H), Y_h (1, B, H), Y_c (1, B, H). Opset 14.

// ---- protobuf wire format ----
function varint(n) {
  // n: non-negative integer below 2^53
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
const key = (field, wire) => varint((field << 3) | wire);
const concat = (parts) => {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const fInt = (field, n) => Uint8Array.from([...key(field, 0), ...varint(n)]);
const fBytes = (field, bytes) => concat([Uint8Array.from([...key(field, 2), ...varint(bytes.length)]), bytes]);
const fStr = (field, s) => fBytes(field, new TextEncoder().encode(s));
const fMsg = (field, parts) => fBytes(field, concat(parts));

// ---- ONNX messages ----
const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2; // AttributeProto.AttributeType.INT

function tensorProto(name, dims, data) {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)); // little-endian hosts
  return [...dims.map((d) => fInt(1, d)), fInt(2, FLOAT), fStr(8, name), fBytes(9, raw)];
}
function valueInfo(name, dims) {
  const shape = dims.map((d) => fMsg(1, [typeof d === 'number' ? fInt(1, d) : fStr(2, d)])); // Dimension
  const tensorType = [fInt(1, FLOAT), fMsg(2, shape)]; // TypeProto.Tensor
  return [fStr(1, name), fMsg(2, [fMsg(1, tensorType)])]; // ValueInfoProto{name, TypeProto{tensor_type}}
}
function intAttr(name, v) {
  return [fStr(1, name), fInt(20, ATTR_INT), fInt(3, v)];
}

/** PyTorch gate blocks i,f,g,o -> ONNX i,o,f,c. */
function permuteGates(src, H, cols) {
  const out = new Float32Array(src.length);
  const order = [0, 3, 1, 2]; // ONNX block k takes PyTorch block order[k]
  for (let k = 0; k < 4; k++) out.set(src.subarray(order[k] * H * cols, (order[k] + 1) * H * cols), k * H * cols);
  return out;
}

/**
 * ONNX LSTM model bytes from a PyTorch-style state dict (weight_ih_l0 (4H, I), weight_hh_l0 (4H, H),
 * bias_ih_l0, bias_hh_l0). T and B may be numbers or symbolic names.
 */
export function lstmModel(sd, { I, H, T = 'T', B = 'B', opset = 14 }) {
  const W = permuteGates(sd.weight_ih_l0.data, H, I);
  const R = permuteGates(sd.weight_hh_l0.data, H, H);
  const Bias = new Float32Array(8 * H);
  Bias.set(permuteGates(sd.bias_ih_l0.data, H, 1), 0);
  Bias.set(permuteGates(sd.bias_hh_l0.data, H, 1), 4 * H);
  const node = [
    ...['X', 'W', 'R', 'B', '', 'initial_h', 'initial_c'].map((s) => fStr(1, s)),
    ...['Y', 'Y_h', 'Y_c'].map((s) => fStr(2, s)),
    fStr(3, 'lstm'),
    fStr(4, 'LSTM'),
    fMsg(5, intAttr('hidden_size', H)),
  ];
  const graph = [
    fMsg(1, node),
    fStr(2, 'rnnkit_bench_lstm'),
    fMsg(5, tensorProto('W', [1, 4 * H, I], W)),
    fMsg(5, tensorProto('R', [1, 4 * H, H], R)),
    fMsg(5, tensorProto('B', [1, 8 * H], Bias)),
    fMsg(11, valueInfo('X', [T, B, I])),
    fMsg(11, valueInfo('initial_h', [1, B, H])),
    fMsg(11, valueInfo('initial_c', [1, B, H])),
    fMsg(12, valueInfo('Y', [T, 1, B, H])),
    fMsg(12, valueInfo('Y_h', [1, B, H])),
    fMsg(12, valueInfo('Y_c', [1, B, H])),
  ];
  return concat([
    fInt(1, 7), // ir_version 7 (opset 14 era)
    fStr(2, 'rnnkit-bench'),
    fMsg(7, graph),
    fMsg(8, [fStr(1, ''), fInt(2, opset)]), // opset_import { domain: '', version }
  ]);
}
