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
  type BackwardOptions,
  type PartialBackwardResult,
  type RecurrentState,
} from './nn/recurrent.js';
export { Module, type ParamSpec, type ParamGroup, type InitName } from './nn/module.js';
export { Rnn, type RnnOptions } from './nn/rnn.js';
export { Lstm, type LstmOptions } from './nn/lstm.js';
export { Gru, type GruOptions } from './nn/gru.js';
export { readSafetensors, writeSafetensors, asTensor, stateDictFromSafetensors, type SafetensorsEntry, type SafetensorsFile, type Dtype } from './io/safetensors.js';
export { Embedding, type EmbeddingOptions } from './nn/embedding.js';
export { Linear } from './nn/linear.js';
export { Dropout } from './nn/dropout.js';
export { Pool, type PoolMode } from './nn/pool.js';
export { Sequential, type SequentialForwardOptions, type ComputeLossOptions, type LossStep } from './nn/sequential.js';
export { Seq2Seq } from './nn/seq2seq.js';
export type { IntTensor } from './nn/layer.js';
export { crossEntropy, bceWithLogits, mseLoss, type LossName, type LossOptions, type LossResult } from './train/loss.js';
export { Optimizer, Sgd, Adam, AdamW, RmsProp, Adagrad, type SgdOptions, type AdamOptions, type RmsPropOptions, type AdagradOptions } from './train/optim.js';
export { clipGradNorm, clipGradValue, gradNorm, type GradNorm } from './train/clip.js';
export { LrSchedule, StepLr, CosineLr, LinearWarmup } from './train/schedule.js';
export { fit, trainStep, evaluate, type FitOptions, type FitHistory, type FitState, type StepEvent, type EpochEvent, type EvalResult, type TrainStepOptions, type TrainStepResult } from './train/fit.js';
export type { Dataset, SequenceDataset, StreamDataset } from './train/data.js';
export { checkpointToBytes, checkpointFromBytes, restoreCheckpoint, modelFromConfig, type Checkpoint, type CheckpointContents } from './io/checkpoint.js';
