/** Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh (default) or relu. */

import { CELL_CODES } from '../backend/abi.js';
import { fail } from '../errors.js';
import { Recurrent, type RecurrentOptions } from './recurrent.js';

export interface RnnOptions extends RecurrentOptions {
  /** 'tanh' (default) or 'relu'. */
  nonlinearity?: 'tanh' | 'relu';
}

export class Rnn extends Recurrent {
  readonly nonlinearity: 'tanh' | 'relu';
  constructor(options: RnnOptions) {
    const nl = options?.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu') {
      fail('BAD_ARGUMENT', `Rnn: nonlinearity must be 'tanh' or 'relu', got ${JSON.stringify(nl)}`, { argument: 'nonlinearity', got: nl });
    }
    super('Rnn', options, nl === 'relu' ? CELL_CODES.rnn_relu : CELL_CODES.rnn_tanh, 0, ['nonlinearity']);
    this.nonlinearity = nl;
  }

  protected extraConfig(): Record<string, unknown> {
    return { nonlinearity: this.nonlinearity };
  }
}
