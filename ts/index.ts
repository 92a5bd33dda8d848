/**
 * rnnkit: RNN, LSTM and GRU for JavaScript, forward and BPTT in a Rust core that runs as a
 * Node-API addon or as WebAssembly. This file is the platform-independent surface; the package
 * entry points (node.ts, browser.ts) add the platform's loaders and re-export it.
 */

export { init, backendInfo, setWasmPaths, loadBackend, type BackendInfo, type BackendRequest, type LoadError } from './backend/select.js';
export type { Backend, BackendName, DeviceBuffer } from './backend/types.js';
export type { KernelLevel } from './backend/abi.js';
export { RnnkitError, type ErrorCode } from './errors.js';
export { Tensor, tensor, numel, type TensorLike } from './tensor.js';
export { manualSeed } from './random.js';
export {
  Recurrent,
  type RecurrentOptions,
  type ForwardOptions,
  type ForwardResult,
  type BackwardGrads,
  type BackwardResult,
  type RecurrentState,
  type ParamSpec,
} from './nn/recurrent.js';
export { Rnn, type RnnOptions } from './nn/rnn.js';
export { Lstm, type LstmOptions } from './nn/lstm.js';
export { Gru, type GruOptions } from './nn/gru.js';
export { readSafetensors, writeSafetensors, asTensor, type SafetensorsEntry, type SafetensorsFile, type Dtype } from './io/safetensors.js';
