import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRecording, mul, setGemmThreads, Tensor } from '@normkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { TensorDataset } from '../src/data/dataset.js';
import { DataLoader } from '../src/data/loader.js';
import { crossEntropy } from '../src/losses.js';
import { MLP } from '../src/nn/mlp.js';
import { Module } from '../src/nn/module.js';
import { AdamW, type LARS, SGD, warmupCosine } from '../src/optim/index.js';
import { evaluate, type TrainProgress, train } from '../src/trainer.js';
import { blobs, TinyMlp } from './trainer-fixtures.js';

const config = { inFeatures: 6, hidden: 8, classes: 4 };
const data = blobs(40, 6, 4, 2); // 40 samples, batch 16: 3 batches per epoch (16, 16, 8)
const loaderOf = () => new DataLoader(data, { batchSize: 16, seed: 11 });
const bits = (t: Tensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
const dir = mkdtempSync(join(tmpdir(), 'normkit-train-'));

let prevThreads = 0;
beforeAll(() => {
  prevThreads = setGemmThreads(1);
});
afterAll(() => {
  setGemmThreads(prevThreads);
});

/** A complete seeded setup: model, optimizer, loader, schedule. */
function setup(make: (m: TinyMlp) => AdamW | SGD | LARS = (m) => new AdamW(m.parameters(), { lr: 0.02 })) {
  const model = new TinyMlp(config, 5);
  const optimizer = make(model);
  const schedule = warmupCosine({ baseLr: 0.02, warmupSteps: 3, totalSteps: 12, minLr: 0.001 });
  return { model, optimizer, loader: loaderOf(), schedule };
}

describe('train', () => {
  it('is deterministic: two seeded runs at one thread give the same loss at every step, to the last bit', async () => {
    const runs = [];
    for (let r = 0; r < 2; r++) {
      const { model, optimizer, loader, schedule } = setup();
      runs.push(await train(model, loader, { optimizer, schedule, epochs: 4, clip: 1 }));
    }
    const [a, b] = runs as [Awaited<ReturnType<typeof train>>, Awaited<ReturnType<typeof train>>];
    expect(a.losses.length).toBe(12);
    expect(a.losses.every((l, i) => l === b.losses[i])).toBe(true);
    expect(a.epochLosses.map((e) => e.steps)).toEqual([3, 3, 3, 3]);
    expect(a.stopped).toBe('epochs');
    expect([a.step, a.epoch]).toEqual([12, 4]);
    expect((a.epochLosses[3]?.loss as number) < (a.epochLosses[0]?.loss as number)).toBe(true); // it learns
  });

  for (const [k, how] of [
    [4, 'mid-epoch, via the checkpoint option'],
    [6, 'exactly at an epoch end, via saveCheckpoint'],
  ] as const)
    it(`resumes exactly: 2×${k} steps in one go equal ${k} steps, a checkpoint (${how}), and ${k} more in fresh objects`, async () => {
      const makers = [
        (m: TinyMlp) => new AdamW(m.parameters(), { lr: 0.02 }),
        (m: TinyMlp) => new SGD(m.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true }),
      ];
      for (const make of makers) {
        const straight = setup(make);
        const whole = await train(straight.model, straight.loader, { ...straight, steps: 2 * k, clip: 1 });

        const path = join(dir, `resume-${k}-${straight.optimizer.kind}.nkc`);
        const first = setup(make);
        const half =
          k === 4
            ? await train(first.model, first.loader, { ...first, steps: k, clip: 1, checkpoint: { path } })
            : await train(first.model, first.loader, { ...first, steps: k, clip: 1 });
        if (k !== 4) await saveCheckpoint(path, { ...first, step: half.step, epoch: half.epoch });

        const second = setup(make);
        (second.model.w1.value.data as Float32Array).fill(0); // a fresh model with other values: all must come from the file
        const start = await loadCheckpoint(path, second);
        expect(start.step).toBe(k);
        const rest = await train(second.model, second.loader, { ...second, start, steps: 2 * k, clip: 1 });

        expect([...half.losses, ...rest.losses]).toEqual(whole.losses);
        expect(rest.losses.every((l, i) => l === whole.losses[k + i])).toBe(true);
        expect([rest.step, rest.epoch]).toEqual([whole.step, whole.epoch]);
        for (const [n, t] of Object.entries(straight.model.stateDict()))
          expect(bits(second.model.stateDict()[n] as Tensor), n).toEqual(bits(t));
      }
    });

  it('resumes an nn MLP with BatchNorm (running-statistic buffers) exactly, and refuses another width by config', async () => {
    const mlpConfig = { norm: 'bn', hidden: [12], inFeatures: 6, numClasses: 4, seed: 3 } as const;
    const make = () => {
      const model = new MLP(mlpConfig);
      return { model, optimizer: new AdamW(model.parameters(), { lr: 0.01 }), loader: loaderOf() };
    };
    const straight = make();
    await train(straight.model, straight.loader, { optimizer: straight.optimizer, steps: 8 });
    const first = make();
    const path = join(dir, 'mlp.nkc');
    await train(first.model, first.loader, { optimizer: first.optimizer, steps: 4, checkpoint: { path, config: mlpConfig } });
    const second = make();
    const start = await loadCheckpoint(path, { ...second, config: mlpConfig });
    await train(second.model, second.loader, { optimizer: second.optimizer, start, steps: 8 });
    const names = Object.keys(straight.model.stateDict());
    expect(names.some((n) => /running/i.test(n))).toBe(true);
    for (const n of names) expect(bits(second.model.stateDict()[n] as Tensor), n).toEqual(bits(straight.model.stateDict()[n] as Tensor));
    const wider = new MLP({ ...mlpConfig, hidden: [16] });
    await expect(loadCheckpoint(path, { model: wider, config: { ...mlpConfig, hidden: [16] } })).rejects.toThrow(
      /different architecture: hidden is \[12\] in the checkpoint but \[16\] in this model/,
    );
  });

  it('stops on a NaN loss with an error naming the step and suggesting a lower learning rate; no NaN checkpoint', async () => {
    const { model, optimizer, loader } = setup((m) => new SGD(m.parameters(), { lr: 0.5 }));
    const path = join(dir, 'nan.nkc');
    let calls = 0;
    const lossFn = (out: Tensor, y: Tensor) => (++calls === 5 ? mul(crossEntropy(out, y), Number.NaN) : crossEntropy(out, y));
    const before = bits(model.w1.value);
    await expect(train(model, loader, { optimizer, lossFn, epochs: 3, checkpoint: { path, every: 1 } })).rejects.toThrow(
      expect.objectContaining({
        code: 'NON_FINITE_LOSS',
        message: expect.stringMatching(/the loss is NaN at step 4 \(epoch 1, lr 0.5\).*Lower the learning rate \(try 0.05\)/),
      }),
    );
    expect(bits(model.w1.value)).not.toEqual(before);
    expect(
      Object.values(model.stateDict()).every((t) => Array.from(t.data as Float32Array).every(Number.isFinite) || t.dtype === 'int64'),
    ).toBe(true);
    expect((await readCheckpoint(path)).meta.step).toBe(4); // the last good step, nothing after
    expect(model.parameters().every((p) => p.grad === undefined)).toBe(true);
  });

  it('reports progress: steps with lr, grad norm, samples/s and ETA; epochs with their mean loss; evaluations', async () => {
    const { model, optimizer, loader, schedule } = setup();
    const seen: TrainProgress[] = [];
    const result = await train(model, loader, {
      optimizer,
      schedule,
      epochs: 2,
      clip: 5,
      evalEvery: 4,
      evalLoader: new DataLoader(data, { batchSize: 40, shuffle: false }),
      onProgress: (p) => {
        seen.push(p);
      },
    });
    const steps = seen.filter((p) => p.phase === 'step');
    expect(steps.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.map((p) => p.loss)).toEqual(result.losses);
    expect(steps[0]?.lr).toBe(schedule(0));
    expect(
      steps.every((p) => p.totalSteps === 6 && (p.etaSeconds as number) >= 0 && p.samplesPerSec > 0 && (p.gradNorm as number) > 0),
    ).toBe(true);
    expect(steps[5]?.etaSeconds).toBe(0);
    const epochs = seen.filter((p) => p.phase === 'epoch');
    expect(epochs.map((p) => [p.epoch, p.loss])).toEqual(result.epochLosses.map((e) => [e.epoch, e.loss]));
    expect(result.epochLosses[0]?.loss).toBeCloseTo((result.losses[0]! + result.losses[1]! + result.losses[2]!) / 3, 12);
    expect(result.evals.map((e) => e.step)).toEqual([4, 6]); // every 4 steps and at the end
    expect(seen.filter((p) => p.phase === 'eval').length).toBe(2);
    expect(model.training).toBe(true);
  });

  it('stops between steps when aborted, saving a checkpoint it can resume from', async () => {
    const { model, optimizer, loader } = setup();
    const ctl = new AbortController();
    const path = join(dir, 'abort.nkc');
    const result = await train(model, loader, {
      optimizer,
      epochs: 5,
      signal: ctl.signal,
      checkpoint: { path },
      onProgress: (p) => {
        if (p.step === 2) ctl.abort();
      },
    });
    expect([result.stopped, result.step, result.epoch]).toEqual(['aborted', 2, 0]);
    expect((await readCheckpoint(path)).meta).toMatchObject({ step: 2, epoch: 0, loader: { epoch: 0, position: 2 }, config });
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]); // no temporary files left
  });

  it('refuses bad counts and an evalEvery without a loader', async () => {
    const { model, optimizer, loader } = setup();
    await expect(train(model, loader, { optimizer, steps: -1 })).rejects.toThrow(/steps must be an integer ≥ 0, got -1/);
    await expect(train(model, loader, { optimizer, evalEvery: 2 })).rejects.toThrow(/evalEvery needs an evalLoader/);
    const empty = { numBatches: 0, *[Symbol.iterator]() {} };
    await expect(train(model, empty, { optimizer })).rejects.toThrow(/yielded no batch for epoch 0/);
  });
});

/** A "model" whose output is its input, recording the mode and whether a tape was active. */
class Identity extends Module {
  calls: { training: boolean; recording: boolean }[] = [];
  forward(x: Tensor): Tensor {
    this.calls.push({ training: this.training, recording: isRecording() });
    return x;
  }
}

describe('evaluate', () => {
  it('computes accuracy and the per-sample mean loss in eval mode without a tape (tol 1e-6)', async () => {
    const logits = [
      [2, 1, 0],
      [0, 3, 1],
      [1, 0, 4],
      [0, 2, 1],
      [5, 0, 0],
    ];
    const labels = [0, 1, 1, 1, 2]; // rows 0, 1, 3 are right: 3/5
    const ds = new TensorDataset(Tensor.from(logits), Tensor.from(labels, undefined, 'int32'));
    const model = new Identity();
    const res = await evaluate(model, new DataLoader(ds, { batchSize: 2, shuffle: false }));
    expect(res.accuracy).toBe(3 / 5);
    expect(res.samples).toBe(5);
    // −log softmax(z)_y per row, averaged over the 5 rows
    const ce = logits.map((z, i) => Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - (z[labels[i] as number] as number));
    expect(res.loss).toBeCloseTo(ce.reduce((s, v) => s + v, 0) / 5, 6);
    expect(model.calls).toEqual(Array(3).fill({ training: false, recording: false }));
    expect(model.training).toBe(true);
  });
});
