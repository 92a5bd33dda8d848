/** Builds the rnnkit module a fixture describes and feeds it the fixture's tensors. */
import { Gru, Lstm, Rnn, Tensor, asTensor, type Recurrent, type SafetensorsFile, type TensorLike } from '../../ts/node.js';

export function moduleFor(file: SafetensorsFile, prefix = ''): Recurrent {
  const m = file.metadata;
  const common = {
    inputSize: Number(m.input_size),
    hiddenSize: Number(m.hidden_size),
    numLayers: Number(m.num_layers),
    bidirectional: m.bidirectional === 'true',
    batchFirst: m.batch_first === 'true',
  };
  let mod: Recurrent;
  switch (m.cell) {
    case 'rnn_tanh':
    case 'rnn_relu':
      mod = new Rnn({ ...common, nonlinearity: m.cell === 'rnn_relu' ? 'relu' : 'tanh' });
      break;
    case 'lstm':
      mod = new Lstm({ ...common, projSize: Number(m.proj_size ?? 0) });
      break;
    case 'gru':
      mod = new Gru(common);
      break;
    default:
      throw new Error(`unknown cell ${m.cell}`);
  }
  const sd: Record<string, TensorLike> = {};
  for (const s of mod.paramSpecs) sd[s.name] = asTensor(file, prefix + s.name);
  mod.loadStateDict(sd);
  return mod;
}

export function lengthsOf(file: SafetensorsFile): number[] | undefined {
  const l = file.tensors.lengths;
  return l ? Array.from(l.data as BigInt64Array, Number) : undefined;
}

export function f64(file: SafetensorsFile, name: string): Float64Array {
  const t = file.tensors[name];
  if (!t) throw new Error(`fixture has no tensor ${name}`);
  return t.data as Float64Array;
}

export function opt(file: SafetensorsFile, name: string): Tensor | undefined {
  return file.tensors[name] ? asTensor(file, name) : undefined;
}
