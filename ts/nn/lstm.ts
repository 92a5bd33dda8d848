/**
 * LSTM (gates i, f, g, o as in PyTorch), with an optional projection of h (projSize, as
 * PyTorch's proj_size): h has projSize features, c keeps hiddenSize.
 */

import { CELL_CODES } from '../backend/abi.js';
import { fail } from '../errors.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

export interface LstmOptions extends RecurrentOptions {
  /** P: if > 0, h = W_hr (o ⊙ tanh c) has P < hiddenSize features (default 0 = none). */
  projSize?: number;
}

export class Lstm extends Recurrent {
  constructor(options: LstmOptions) {
    const proj = options?.projSize ?? 0;
    if (typeof proj !== 'number' || !Number.isInteger(proj) || proj < 0) {
      fail('BAD_ARGUMENT', `Lstm: projSize must be a non-negative integer, got ${JSON.stringify(proj)}`, { argument: 'projSize', got: proj });
    }
    if (proj > 0 && typeof options.hiddenSize === 'number' && proj >= options.hiddenSize) {
      fail('BAD_ARGUMENT', `Lstm: projSize must be smaller than hiddenSize (${options.hiddenSize}), got ${proj}`, {
        argument: 'projSize',
        got: proj,
      });
    }
    super('Lstm', options, CELL_CODES.lstm, proj, ['projSize']);
  }

  /**
   * The forget-gate bias trick (Jozefowicz et al. 2015): sets b_if = value and b_hf = 0 in every
   * layer and direction, so the cell starts out remembering.
   */
  setForgetGateBias(value = 1): void {
    if (!this.bias) fail('UNSUPPORTED', 'Lstm.setForgetGateBias: this LSTM has no biases (bias: false)');
    const H = this.hiddenSize;
    for (const s of this.paramSpecs) {
      if (!s.name.startsWith('bias_')) continue;
      const v = new Float32Array(H).fill(s.name.startsWith('bias_ih') ? value : 0);
      this.params.write(v, s.offset + H); // gate order i, f, g, o: f is rows H..2H
    }
  }

  protected extraConfig(): Record<string, unknown> {
    return { projSize: this.projSize };
  }
}
