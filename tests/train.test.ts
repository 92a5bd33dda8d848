/**
 * Models and training on every backend: the char-LM fixture end to end through Sequential,
 * optimizers wired to the core, clipping, non-finite detection, models that truly learn
 * (the "hello" char-LM, sequence reversal with LSTM and GRU seq2seq, a classifier), seeded
 * determinism, and resume-from-checkpoint equal to uninterrupted training.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  Adam,
  AdamW,
  Adagrad,
  CosineLr,
  Embedding,
  Gru,
  LinearWarmup,
  Linear,
  Lstm,
  Pool,
  RmsProp,
  RnnkitError,
  Seq2Seq,
  Sequential,
  Sgd,
  StepLr,
  Tensor,
  asTensor,
  checkpointFromBytes,
  checkpointToBytes,
  clipGradNorm,
  init,
  loadCheckpoint,
  manualSeed,
  mseLoss,
  saveCheckpoint,
  type Module,
} from '../ts/node.js';
import { testBackends } from './support/backends.js';
import { expectClose } from './support/close.js';
import { loadFixture } from './support/fixtures.js';
import { f64 } from './support/modules.js';

function charLm(V: number, E: number, H: number, cell: 'lstm' | 'gru' = 'lstm'): Sequential {
  const rnn = cell === 'lstm' ? new Lstm({ inputSize: E, hiddenSize: H }) : new Gru({ inputSize: E, hiddenSize: H });
  return new Sequential({ embedding: new Embedding(V, E), [cell]: rnn, linear: new Linear(H, V) });
}

function flatGrads(m: Module): number[] {
  return Object.values(m.grads()).flatMap((t) => Array.from(t.data));
}

for (const backend of testBackends()) {
  describe(`training on ${backend}`, () => {
    beforeAll(async () => {
      await init({ backend });
    });

    test('charlm_lstm fixture: loss, logits and every gradient through Sequential.computeLoss', () => {
      const f = loadFixture('charlm_lstm');
      const m = f.metadata;
      const model = charLm(Number(m.vocab_size), Number(m.embedding_dim), Number(m.hidden_size));
      const sd = Object.fromEntries(model.paramGroups().flatMap((g) => g.module.paramSpecs.map((s) => [g.prefix + s.name, asTensor(f, g.prefix + s.name)])));
      expect(Object.keys(sd).sort()).toEqual(['embedding.weight', 'linear.bias', 'linear.weight', 'lstm.bias_hh_l0', 'lstm.bias_ih_l0', 'lstm.weight_hh_l0', 'lstm.weight_ih_l0']);
      model.loadStateDict(sd);
      expect(Object.keys(model.stateDict()).sort()).toEqual(Object.keys(sd).sort());
      const shape = f.tensors.tokens.shape;
      const tokens = { data: Int32Array.from(f.tensors.tokens.data as BigInt64Array, Number), shape };
      const targets = { data: Int32Array.from(f.tensors.targets.data as BigInt64Array, Number), shape };
      model.zeroGrad();
      const { loss, logits } = model.computeLoss(tokens, targets, { loss: 'crossEntropy' });
      expect(logits.shape).toEqual([shape[0], shape[1], Number(m.vocab_size)]);
      expectClose('loss', [loss], f64(f, 'loss'));
      expectClose('logits', logits.data, f64(f, 'logits'));
      const grads = model.grads();
      for (const k of Object.keys(sd)) expectClose(`grad.${k}`, grads[k].data, f64(f, `grad.${k}`));
      model.dispose();
    });

    test('SGD and Adam steps apply the core update to every module; zeroGrad resets', () => {
      manualSeed(5);
      const model = charLm(6, 4, 5);
      const tokens = { data: Int32Array.from([1, 2, 3, 4, 5, 0]), shape: [3, 2] };
      const before = model.stateDict();
      model.zeroGrad();
      model.computeLoss(tokens, tokens.data);
      const g = model.grads();
      const sgd = new Sgd(model, { lr: 0.5 });
      sgd.step();
      const after = model.stateDict();
      for (const k of Object.keys(before)) expectClose(k, after[k].data, Array.from(before[k].data, (v, i) => v - 0.5 * g[k].data[i]), { atol: 1e-6, rtol: 1e-6 });
      // First Adam step moves every parameter with a non-zero gradient by ≈ lr (m̂/√v̂ = sign(g)).
      const adam = new Adam(model, { lr: 0.01 });
      adam.step();
      const moved = model.stateDict();
      // (|g| ≫ eps: for tiny gradients eps = 1e-8 shortens the step)
      for (const k of Object.keys(after)) after[k].data.forEach((v, i) => Math.abs(g[k].data[i]) > 1e-4 && expect(Math.abs(moved[k].data[i] - v)).toBeCloseTo(0.01, 4));
      model.zeroGrad();
      expect(flatGrads(model).every((v) => v === 0)).toBe(true);
      for (const O of [AdamW, RmsProp, Adagrad]) {
        const o = new O(model, { lr: 0.01 });
        model.computeLoss(tokens, tokens.data);
        o.step();
        o.dispose();
      }
      expect(Object.values(model.stateDict()).every((t) => t.data.every(Number.isFinite))).toBe(true);
      model.dispose();
    });

    test('computeLoss skips the gradient of the data input (the first layer has no parameters before it) and accumulates the same gradients', () => {
      manualSeed(9);
      const seq = new Sequential({ lstm: new Lstm({ inputSize: 3, hiddenSize: 4, numLayers: 2 }), linear: new Linear(4, 2) });
      const [T, B] = [5, 3];
      const x = new Tensor(Float32Array.from({ length: T * B * 3 }, (_, i) => Math.sin(i * 0.7)), [T, B, 3]);
      const y = new Tensor(Float32Array.from({ length: T * B * 2 }, (_, i) => Math.cos(i * 0.3)), [T, B, 2]);
      seq.zeroGrad();
      seq.computeLoss(x, y, { loss: 'mse', lengths: [5, 3, 4] });
      const viaComputeLoss = flatGrads(seq);
      // The same step by hand, asking for dL/dx: the parameter gradients are identical.
      seq.zeroGrad();
      const { output } = seq.forward(x, { lengths: [5, 3, 4] });
      const dOut = mseLoss(output, y).grad;
      const withInput = seq.backward(dOut);
      expect(withInput.input).not.toBeNull();
      expect(withInput.input!.data.some((v) => v !== 0)).toBe(true);
      expect(flatGrads(seq)).toEqual(viaComputeLoss);
      seq.zeroGrad();
      seq.forward(x, { lengths: [5, 3, 4] });
      expect(seq.backward(dOut, { inputGrad: false }).input).toBeNull();
      expect(flatGrads(seq)).toEqual(viaComputeLoss);
      seq.dispose();
    });

    test('clipGradNorm returns the norm before clipping and scales to maxNorm', () => {
      manualSeed(6);
      const model = charLm(5, 3, 4);
      model.computeLoss({ data: Int32Array.from([0, 1, 2, 3]), shape: [2, 2] }, [1, 2, 3, 4], { reduction: 'sum' });
      const norm = Math.hypot(...flatGrads(model));
      const got = clipGradNorm(model, norm / 4);
      expect(got).toBeCloseTo(norm, 4);
      expect(Math.hypot(...flatGrads(model))).toBeCloseTo(norm / 4, 4);
      expect(clipGradNorm(model, norm * 10)).toBeCloseTo(norm / 4, 4); // below the limit: unchanged
      model.dispose();
    });

    test('a non-finite gradient stops training with the step and the parameter named', () => {
      const model = charLm(5, 3, 4);
      const sd = model.stateDict();
      sd['lstm.weight_hh_l0'].data[7] = NaN;
      model.loadStateDict(sd);
      const opt = new Sgd(model, { lr: 0.1 });
      let err: RnnkitError | undefined;
      try {
        model.fit({ stream: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4] }, { optimizer: opt, batchSize: 1, tbptt: 4 });
      } catch (e) {
        err = e as RnnkitError;
      }
      expect(err).toBeInstanceOf(RnnkitError);
      expect(err!.code).toBe('NON_FINITE');
      expect(err!.message).toMatch(/step 0/);
      expect(err!.message).toMatch(/loss is NaN|lstm\./);
      model.dispose();
    });

    test('the "hello" char-LM reaches near-zero loss and samples "hello" back', () => {
      const vocab = ['h', 'e', 'l', 'o'];
      const ids = (s: string) => [...s].map((c) => vocab.indexOf(c));
      manualSeed(1);
      const model = charLm(4, 8, 16);
      const opt = new Adam(model, { lr: 0.05 });
      const input = { data: Int32Array.from(ids('hell')), shape: [4, 1] };
      const target = Int32Array.from(ids('ello'));
      let loss = Infinity;
      for (let i = 0; i < 150; i++) loss = model.trainStep({ input, targets: target }, { optimizer: opt }).loss;
      expect(loss).toBeLessThan(0.02);
      const out = model.generate(ids('h'), 4, { temperature: 0 });
      expect(out.map((i) => vocab[i]).join('')).toBe('ello');
      model.dispose();
    });

    for (const cell of ['lstm', 'gru'] as const) {
      test(`sequence reversal with a ${cell.toUpperCase()} encoder-decoder (teacher forcing) generalises`, () => {
        manualSeed(11);
        const V = 6; // tokens 0..3 data, 4 = start, 5 unused
        const make = () =>
          new Sequential({
            embedding: new Embedding(V, 8),
            [cell]: cell === 'lstm' ? new Lstm({ inputSize: 8, hiddenSize: 32 }) : new Gru({ inputSize: 8, hiddenSize: 32 }),
            ...({} as object),
          });
        const encoder = make();
        const decoder = new Sequential({
          embedding: new Embedding(V, 8),
          [cell]: cell === 'lstm' ? new Lstm({ inputSize: 8, hiddenSize: 32 }) : new Gru({ inputSize: 8, hiddenSize: 32 }),
          linear: new Linear(32, V),
        });
        const model = new Seq2Seq({ encoder, decoder });
        const opt = new Adam(model, { lr: 0.02 });
        let rng = 12345;
        const rand = () => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) >>> 16) % 4;
        const T = 4;
        const B = 32;
        for (let it = 0; it < 300; it++) {
          const src = new Int32Array(T * B);
          const dec = new Int32Array(T * B);
          const tgt = new Int32Array(T * B);
          for (let b = 0; b < B; b++) {
            const seq = Array.from({ length: T }, rand);
            const rev = [...seq].reverse();
            for (let t = 0; t < T; t++) {
              src[t * B + b] = seq[t];
              tgt[t * B + b] = rev[t];
              dec[t * B + b] = t === 0 ? 4 : rev[t - 1];
            }
          }
          model.zeroGrad();
          model.computeLoss({ data: src, shape: [T, B] }, { data: dec, shape: [T, B] }, tgt);
          clipGradNorm(model, 5);
          opt.step();
        }
        let correct = 0;
        for (let k = 0; k < 50; k++) {
          const seq = Array.from({ length: T }, rand);
          const out = model.generate(seq, 4, T);
          if (out.join() === [...seq].reverse().join()) correct++;
        }
        expect(correct / 50).toBeGreaterThanOrEqual(0.9);
        model.dispose();
      });
    }

    test('many-to-one classifier (Embedding → bidirectional GRU → Pool → Linear) learns, metrics agree', () => {
      manualSeed(3);
      const model = new Sequential({
        embedding: new Embedding(3, 4),
        gru: new Gru({ inputSize: 4, hiddenSize: 8, bidirectional: true }),
        pool: new Pool('last'),
        linear: new Linear(16, 2),
      });
      // Class = whether token 2 appears; lengths vary from 1 to 6.
      let rng = 7;
      const rand = (n: number) => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) >>> 16) % n;
      const inputs: number[][] = [];
      const targets: number[] = [];
      for (let i = 0; i < 200; i++) {
        const seq = Array.from({ length: 1 + rand(6) }, () => rand(3));
        inputs.push(seq);
        targets.push(seq.includes(2) ? 1 : 0);
      }
      const train = { inputs: inputs.slice(0, 160), targets: targets.slice(0, 160) };
      const val = { inputs: inputs.slice(160), targets: targets.slice(160) };
      const history = model.fit(train, { optimizer: new Adam(model, { lr: 0.03 }), epochs: 15, batchSize: 16, seed: 1, validation: val });
      expect(history.epochs.length).toBe(15);
      const r = model.evaluate(val);
      expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
      // Metrics against a direct count.
      const { output } = model.forward(
        (() => {
          const T = Math.max(...val.inputs.map((s) => s.length));
          const B = val.inputs.length;
          const data = new Int32Array(T * B);
          val.inputs.forEach((s, b) => s.forEach((tok, t) => (data[t * B + b] = tok)));
          return { data, shape: [T, B] };
        })(),
        { lengths: val.inputs.map((s) => s.length) },
      );
      const pred = val.targets.map((_, b) => (output.data[b * 2 + 1] > output.data[b * 2] ? 1 : 0));
      const tp = pred.filter((p, i) => p === 1 && val.targets[i] === 1).length;
      const fp = pred.filter((p, i) => p === 1 && val.targets[i] === 0).length;
      const fn = pred.filter((p, i) => p === 0 && val.targets[i] === 1).length;
      expect(r.accuracy).toBeCloseTo(pred.filter((p, i) => p === val.targets[i]).length / pred.length, 10);
      expect(r.perClass![1].precision).toBeCloseTo(tp / (tp + fp), 10);
      expect(r.perClass![1].recall).toBeCloseTo(tp / (tp + fn), 10);
      model.dispose();
    });

    test('same seed ⇒ identical training; resume from a checkpoint ⇒ identical to uninterrupted', () => {
      const stream = Array.from('the quick brown fox jumps over the lazy dog, the quick brown fox', (c) => c.charCodeAt(0) % 16);
      const run = (epochs: number, resumeFrom?: string) => {
        let model: Sequential;
        let opt: Adam;
        let resume;
        if (resumeFrom) {
          const r = loadCheckpoint(resumeFrom);
          model = r.model as Sequential;
          opt = r.optimizer as Adam;
          resume = r.fitState;
        } else {
          manualSeed(42);
          model = charLm(16, 6, 12);
          opt = new Adam(model, { lr: 0.01 });
        }
        const h = model.fit({ stream }, { optimizer: opt, epochs, batchSize: 3, tbptt: { k1: 4, k2: 8 }, seed: 9, resume });
        return { model, opt, h };
      };
      const a = run(3);
      const b = run(3);
      expect(b.h.losses).toEqual(a.h.losses);
      const dir = mkdtempSync(join(tmpdir(), 'rnnkit-ckpt-'));
      const path = join(dir, 'ck.safetensors');
      // Interrupt after epoch 1 and in the middle of epoch 2 (carried state is saved too).
      manualSeed(42);
      const model = charLm(16, 6, 12);
      const opt = new Adam(model, { lr: 0.01 });
      const ctl = new AbortController();
      let saved = 0;
      model.fit(
        { stream },
        {
          optimizer: opt,
          epochs: 3,
          batchSize: 3,
          tbptt: { k1: 4, k2: 8 },
          seed: 9,
          signal: ctl.signal,
          callbacks: {
            onStep: (e) => {
              if (e.epoch === 1 && e.fitState.batch === 2) {
                saveCheckpoint(path, { model, optimizer: opt, fitState: e.fitState, vocab: ['x'] });
                saved++;
                ctl.abort();
              }
            },
          },
        },
      );
      expect(saved).toBe(1);
      expect(readdirSync(dir)).toEqual(['ck.safetensors']); // no temp file left behind
      const c = run(3, path);
      const want = a.model.stateDict();
      const got = c.model.stateDict();
      for (const k of Object.keys(want)) expect(Array.from(got[k].data), k).toEqual(Array.from(want[k].data));
      expect(c.h.losses).toEqual(a.h.losses.slice(a.h.losses.length - c.h.losses.length));
      // Corrupt and truncated checkpoints are rejected with a clear error.
      const bytes = readFileSync(path);
      writeFileSync(path, bytes.subarray(0, bytes.length - 10));
      expect(() => loadCheckpoint(path)).toThrow(/truncated|past the end/);
      const notOurs = checkpointToBytes({ model });
      notOurs[20] = 0x7b; // breaks the JSON header
      expect(() => checkpointFromBytes(notOurs)).toThrow(RnnkitError);
      [a, b, c].forEach((r) => r.model.dispose());
      model.dispose();
    });

    test('learning-rate schedules follow their formulas', () => {
      const model = charLm(3, 2, 2);
      const opt = new Sgd(model, { lr: 0.1 });
      const step = new StepLr(opt, { stepSize: 2, gamma: 0.5 });
      expect([1, 2, 3, 4].map(() => step.step())).toEqual([0.1, 0.05, 0.05, 0.025]);
      const opt2 = new Sgd(model, { lr: 1 });
      const cos = new CosineLr(opt2, { tMax: 4 });
      expect(cos.step()).toBeCloseTo((1 + Math.cos(Math.PI / 4)) / 2, 12);
      const opt3 = new Sgd(model, { lr: 1 });
      const warm = new LinearWarmup(opt3, { warmupSteps: 4, startFactor: 0.2 });
      expect(opt3.lr).toBeCloseTo(0.2, 12);
      expect([1, 2, 3, 4, 5].map(() => warm.step())).toEqual([0.4, 0.6000000000000001, 0.8, 1, 1].map((v) => expect.closeTo(v, 12)));
      model.dispose();
    });

    test('initialisers: orthogonal recurrent weights, xavier bounds, reproducible', () => {
      manualSeed(8);
      const l = new Lstm({ inputSize: 3, hiddenSize: 4 });
      l.initParam('weight_hh_l0', 'orthogonal');
      const w = l.stateDict().weight_hh_l0; // (16, 4): columns orthonormal
      for (let p = 0; p < 4; p++)
        for (let q = 0; q < 4; q++) {
          let d = 0;
          for (let r = 0; r < 16; r++) d += w.data[r * 4 + p] * w.data[r * 4 + q];
          expect(d).toBeCloseTo(p === q ? 1 : 0, 5);
        }
      l.initParam('weight_ih_l0', 'xavierUniform', 1);
      const b = Math.sqrt(6 / (3 + 16));
      expect(l.stateDict().weight_ih_l0.data.every((v) => Math.abs(v) <= b)).toBe(true);
      l.dispose();
    });
  });
}

describe('across backends', () => {
  test('same seed ⇒ same initial weights and the same training losses within tolerance', async () => {
    const runs: { w: Float32Array; losses: number[] }[] = [];
    for (const backend of testBackends()) {
      await init({ backend });
      manualSeed(77);
      const model = charLm(8, 4, 6, 'gru');
      const w = model.stateDict()['gru.weight_hh_l0'].data;
      const h = model.fit({ stream: Array.from({ length: 60 }, (_, i) => (i * 5) % 8) }, { optimizer: new Adam(model, { lr: 0.01 }), epochs: 2, batchSize: 2, tbptt: 5, seed: 3 });
      runs.push({ w, losses: h.losses });
      model.dispose();
    }
    for (const r of runs.slice(1)) {
      expect(Array.from(r.w)).toEqual(Array.from(runs[0].w));
      expectClose('losses', r.losses, runs[0].losses, { atol: 1e-5, rtol: 1e-4 });
    }
  });
});

void Tensor;

describe('training details', () => {
  beforeAll(async () => {
    await init({ backend: testBackends()[0] });
  });

  test('dropout: training masks about p of the values and scales the rest; eval is the identity; backward uses the mask', async () => {
    const { Dropout } = await import('../ts/node.js');
    manualSeed(4);
    const d = new Dropout(0.25);
    const x = new Tensor(new Float32Array(4000).fill(2), [4000]);
    const y = d.forward(x);
    const dropped = y.data.filter((v) => v === 0).length / 4000;
    expect(dropped).toBeGreaterThan(0.22);
    expect(dropped).toBeLessThan(0.28);
    expect(y.data.every((v) => v === 0 || Math.abs(v - 2 / 0.75) < 1e-6)).toBe(true);
    const g = d.backward(new Tensor(new Float32Array(4000).fill(1), [4000]));
    g.data.forEach((v, i) => expect(v).toBe(y.data[i] / 2));
    d.eval();
    expect(d.forward(x).data).toEqual(x.data);
  });

  test('a Sequential state dict round-trips through safetensors with PyTorch names (F64 widened to F32)', async () => {
    const { writeSafetensors, readSafetensors, stateDictFromSafetensors } = await import('../ts/node.js');
    const a = charLm(7, 3, 5, 'gru');
    const sd = a.stateDict();
    const asF64 = Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, { data: Float64Array.from(t.data), shape: t.shape }]));
    const file = readSafetensors(writeSafetensors(asF64, { format: 'pt' }));
    expect(Object.keys(file.tensors).sort()).toEqual(['embedding.weight', 'gru.bias_hh_l0', 'gru.bias_ih_l0', 'gru.weight_hh_l0', 'gru.weight_ih_l0', 'linear.bias', 'linear.weight']);
    const b = charLm(7, 3, 5, 'gru');
    b.loadStateDict(stateDictFromSafetensors(file));
    for (const k of Object.keys(sd)) expect(Array.from(b.stateDict()[k].data)).toEqual(Array.from(sd[k].data));
    a.dispose();
    b.dispose();
  });

  test("stacked layers' dropout option: active in training only, never on the last layer", () => {
    manualSeed(21);
    const x = new Tensor(Float32Array.from({ length: 5 * 2 * 3 }, (_, i) => Math.sin(i)), [5, 2, 3]);
    const plain = new Lstm({ inputSize: 3, hiddenSize: 6, numLayers: 2 });
    const dropped = new Lstm({ inputSize: 3, hiddenSize: 6, numLayers: 2, dropout: 0.5 });
    dropped.loadStateDict(plain.stateDict());
    const ref = plain.forward(x).output.data;
    const a = dropped.forward(x).output.data;
    const b = dropped.forward(x).output.data;
    expect(Array.from(a)).not.toEqual(Array.from(ref));
    expect(Array.from(b)).not.toEqual(Array.from(a)); // a fresh mask per forward
    dropped.backward({ output: new Tensor(new Float32Array(a.length).fill(1), [5, 2, 6]) }); // uses the saved mask
    dropped.eval();
    expect(Array.from(dropped.forward(x).output.data)).toEqual(Array.from(ref));
    const single = new Gru({ inputSize: 3, hiddenSize: 4, dropout: 0.5 });
    const once = single.forward(x).output.data;
    single.eval();
    expect(Array.from(single.forward(x).output.data)).toEqual(Array.from(once)); // nothing to drop with one layer
    [plain, dropped, single].forEach((m) => m.dispose());
  });

  test('LSTM forget-gate bias option', () => {
    const l = new Lstm({ inputSize: 2, hiddenSize: 3, numLayers: 2 });
    l.setForgetGateBias(1);
    const sd = l.stateDict();
    expect(Array.from(sd.bias_ih_l1.data.subarray(3, 6))).toEqual([1, 1, 1]);
    expect(Array.from(sd.bias_hh_l0.data.subarray(3, 6))).toEqual([0, 0, 0]);
    l.dispose();
  });

  test('early stopping ends training when the monitored loss stops improving; events carry lr and throughput', () => {
    manualSeed(2);
    const model = charLm(4, 3, 4);
    const steps: number[] = [];
    const h = model.fit(
      { inputs: [[0, 1, 2], [1, 2, 3]], targets: [[1, 2, 3], [2, 3, 0]] },
      {
        optimizer: new Sgd(model, { lr: 0 }), // lr 0: the loss never improves
        epochs: 20,
        batchSize: 2,
        earlyStopping: { monitor: 'loss', patience: 3 },
        callbacks: { onStep: (e) => (expect(e.lr).toBe(0), expect(e.tokensPerSecond).toBeGreaterThan(0), steps.push(e.step)) },
      },
    );
    expect(h.stopped).toBe('earlyStopping');
    expect(h.epochs.length).toBe(4); // the first epoch sets the best value, three more fail to beat it
    expect(steps).toEqual([1, 2, 3, 4]);
    model.dispose();
  });
});
