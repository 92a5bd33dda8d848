/**
 * GRU (gates r, z, n as in PyTorch), in both published forms:
 * - resetAfter: true (default; PyTorch, cuDNN, Keras 2): n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 * - resetAfter: false (Cho et al.; TF.js, ONNX's default): n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
 * The same weights give different numbers in the two forms.
 */

import { CELL_CODES } from '../backend/abi.js';
import { fail } from '../errors.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

export interface GruOptions extends RecurrentOptions {
  /** Apply the reset gate after the W_hn product (default true, PyTorch's form). */
  resetAfter?: boolean;
}

export class Gru extends Recurrent {
  readonly resetAfter: boolean;
  constructor(options: GruOptions) {
    const ra = options?.resetAfter ?? true;
    if (typeof ra !== 'boolean') fail('BAD_ARGUMENT', `Gru: resetAfter must be true or false, got ${JSON.stringify(ra)}`, { argument: 'resetAfter' });
    super('Gru', options, ra ? CELL_CODES.gru : CELL_CODES.gru_reset_before, 0, ['resetAfter']);
    this.resetAfter = ra;
  }

  protected extraConfig(): Record<string, unknown> {
    return { resetAfter: this.resetAfter };
  }
}
