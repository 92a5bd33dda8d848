/**
 * Module: what every layer with parameters shares. The parameters of one module live in one
 * flat backend buffer (weights and gradients side by side in layout), named and shaped as
 * PyTorch names them, so optimizers update a whole module per native call.
 */

import { getBackend } from '../backend/select.js';
import type { Backend, DeviceBuffer } from '../backend/types.js';
import { RnnkitError, fail } from '../errors.js';
import { nextSeed } from '../random.js';
import { Tensor, checkTensor, numel, type TensorLike } from '../tensor.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** One module's parameters and gradients, as an optimizer sees them. */
export interface ParamGroup {
  /** Key prefix for checkpoints and error messages, e.g. 'lstm.' */
  prefix: string;
  module: Module;
  params: DeviceBuffer;
  grads: DeviceBuffer;
}

/** Initialiser codes of rk_init. */
export const INIT_CODES = {
  uniform: 0,
  normal: 1,
  xavierUniform: 2,
  xavierNormal: 3,
  kaimingUniform: 4,
  kaimingNormal: 5,
  orthogonal: 6,
  constant: 7,
} as const;
export type InitName = keyof typeof INIT_CODES;

/** Throws STATE_DICT_MISMATCH listing missing and unexpected keys, as PyTorch's strict load. */
export function rejectKeyMismatch(missingKeys: string[], unexpectedKeys: string[]): void {
  if (!missingKeys.length && !unexpectedKeys.length) return;
  const parts = [];
  if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(', ')}`);
  if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
  fail('STATE_DICT_MISMATCH', `loadStateDict: ${parts.join('; ')}`, { missingKeys, unexpectedKeys });
}

export abstract class Module {
  readonly backend: Backend;
  paramSpecs: readonly ParamSpec[] = [];
  numParameters = 0;
  /** Training mode (dropout active); `eval()` switches it off. */
  training = true;
  private paramBuf: DeviceBuffer | null = null;
  private gradBuf: DeviceBuffer | null = null;
  private disposed = false;

  protected constructor() {
    this.backend = getBackend();
  }

  /** Allocates the flat parameter and gradient buffers for these tensors. */
  protected allocate(specs: { name: string; shape: number[] }[]): void {
    let offset = 0;
    this.paramSpecs = specs.map((s) => {
      const size = numel(s.shape);
      const spec = { name: s.name, shape: s.shape, offset, size };
      offset += size;
      return spec;
    });
    this.numParameters = offset;
    if (offset > 0) {
      this.paramBuf = this.backend.allocF32(offset);
      this.gradBuf = this.backend.allocF32(offset);
    }
  }

  /** Throws DISPOSED after dispose(). */
  protected checkLive(): void {
    if (this.disposed) fail('DISPOSED', `${this.constructor.name}: used after dispose()`);
  }

  protected get params(): DeviceBuffer {
    this.checkLive();
    return this.paramBuf!;
  }
  protected get gradsBuffer(): DeviceBuffer {
    this.checkLive();
    return this.gradBuf!;
  }

  protected spec(name: string): ParamSpec {
    const s = this.paramSpecs.find((p) => p.name === name);
    if (!s) throw new RnnkitError('BAD_ARGUMENT', `${this.constructor.name}: no parameter named '${name}'`);
    return s;
  }
  /** The backend view of one parameter (or its gradient). */
  protected param(name: string): DeviceBuffer {
    const s = this.spec(name);
    return this.params.sub(s.offset, s.size);
  }
  protected grad(name: string): DeviceBuffer {
    const s = this.spec(name);
    return this.gradsBuffer.sub(s.offset, s.size);
  }

  /**
   * Fills one parameter with an initialiser (torch.nn.init formulas, seeded generator). For a
   * (rows, cols) weight fan_in = cols and fan_out = rows. Arguments by initialiser:
   * uniform(lo, hi), normal(mean = 0, std = 1), xavierUniform / xavierNormal / orthogonal
   * (gain = 1), kaimingUniform / kaimingNormal (a = 0, mode 'fanIn' | 'fanOut'), constant(value).
   */
  initParam(name: string, init: InitName, a?: number, b?: number | 'fanIn' | 'fanOut'): void {
    const s = this.spec(name);
    if (!(init in INIT_CODES)) fail('BAD_ARGUMENT', `initParam: unknown initialiser ${JSON.stringify(init)} (${Object.keys(INIT_CODES).join(', ')})`);
    const rows = s.shape[0] ?? 1;
    const cols = s.size / Math.max(rows, 1);
    let [pa, pb] = [a ?? 0, typeof b === 'number' ? b : 0];
    if (init === 'xavierUniform' || init === 'xavierNormal' || init === 'orthogonal') pa = a ?? 1;
    if (init === 'normal') pb = typeof b === 'number' ? b : 1;
    if (init === 'kaimingUniform' || init === 'kaimingNormal') pb = b === 'fanOut' ? rows : cols;
    if (init === 'uniform' && (a === undefined || typeof b !== 'number')) fail('BAD_ARGUMENT', 'initParam: uniform needs lo and hi');
    const values = new Float32Array(s.size);
    const [lo, hi] = nextSeed();
    if (s.size > 0) this.backend.call('rk_init', [values, INIT_CODES[init], pa, pb, rows, cols, lo, hi]);
    this.params.write(values, s.offset);
  }

  /** The groups an optimizer updates (a container returns its children's). */
  paramGroups(prefix = ''): ParamGroup[] {
    if (this.numParameters === 0) return [];
    return [{ prefix, module: this, params: this.params, grads: this.gradsBuffer }];
  }

  private split(buf: DeviceBuffer): Record<string, Tensor> {
    const all = buf.read();
    const out: Record<string, Tensor> = {};
    for (const s of this.paramSpecs) out[s.name] = new Tensor(all.slice(s.offset, s.offset + s.size), s.shape);
    return out;
  }

  /** Copies of the parameters, PyTorch names and shapes. */
  stateDict(): Record<string, Tensor> {
    this.checkLive();
    return this.numParameters ? this.split(this.params) : {};
  }

  /** Copies of the accumulated gradients, same keys as stateDict(). */
  grads(): Record<string, Tensor> {
    this.checkLive();
    return this.numParameters ? this.split(this.gradsBuffer) : {};
  }

  zeroGrad(): void {
    this.checkLive();
    this.gradBuf?.zero();
  }

  train(on = true): this {
    this.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /**
   * Loads PyTorch-named tensors (e.g. from a safetensors file of `module.state_dict()`).
   * strict (default): every key must be present and no other; shapes must match. A failed
   * load changes nothing.
   */
  loadStateDict(sd: Record<string, TensorLike>, options: { strict?: boolean } = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
    this.checkLive();
    const strict = options.strict ?? true;
    if (sd === null || typeof sd !== 'object') fail('BAD_ARGUMENT', `loadStateDict: expected an object of tensors, got ${JSON.stringify(sd)}`);
    const expected = new Set(this.paramSpecs.map((s) => s.name));
    const missingKeys = this.paramSpecs.map((s) => s.name).filter((n) => !(n in sd));
    const unexpectedKeys = Object.keys(sd).filter((k) => !expected.has(k));
    if (strict) rejectKeyMismatch(missingKeys, unexpectedKeys);
    for (const s of this.paramSpecs) {
      if (!(s.name in sd)) continue;
      try {
        checkTensor(s.name, sd[s.name], s.shape);
      } catch (e) {
        if (e instanceof RnnkitError && e.code === 'SHAPE_MISMATCH') {
          throw new RnnkitError('STATE_DICT_MISMATCH', `loadStateDict: ${e.message}`, { key: s.name, ...e.details });
        }
        throw e;
      }
    }
    for (const s of this.paramSpecs) if (s.name in sd) this.params.write(sd[s.name].data, s.offset);
    return { missingKeys, unexpectedKeys };
  }

  /** What rebuilds this module (checkpoints): { type, options }. */
  abstract config(): { type: string; options: Record<string, unknown> };

  /** Frees the weights, gradients and any cache held by the backend. Idempotent. */
  dispose(): void {
    this.paramBuf?.free();
    this.gradBuf?.free();
    this.paramBuf = this.gradBuf = null;
    this.disposed = true;
  }
}
