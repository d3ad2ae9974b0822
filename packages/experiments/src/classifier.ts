import { AdamW, DataLoader, type Dataset, evaluate, type Module, subset, train } from '@normkit/train';
import type { ExperimentOptions } from './types.js';

/** How `trainClassifier` trains and evaluates one network. */
export interface ClassifierRun {
  /** Names the run in progress reports (`mlp/lng G=4 seed 1`). */
  name: string;
  model: Module;
  train: Dataset;
  test: Dataset;
  /** Seed of the shuffling. */
  seed: number;
  epochs: number;
  batchSize: number;
  /** Constant AdamW learning rate. */
  lr: number;
  /** AdamW weight decay (PyTorch's default 1e-2 when omitted). */
  weightDecay?: number;
}

/** What `trainClassifier` measured. */
export interface ClassifierResult {
  /** Test accuracy after training. */
  accuracy: number;
  /** Mean loss of each epoch. */
  epochLosses: number[];
  /** Training samples per second. */
  samplesPerSec: number;
  seconds: number;
}

/**
 * Trains a classifier with AdamW at a constant learning rate (mean cross-entropy, seeded shuffling),
 * reporting each step through `opts.onProgress` and stopping on `opts.signal`, then evaluates its
 * accuracy on `run.test`.
 *
 * @example
 * ```ts
 * const r = await trainClassifier({ name: 'mlp/ln seed 0', model, train, test, seed: 0, epochs: 1, batchSize: 128, lr: 1e-3 }, opts);
 * r.accuracy; // 0.8…
 * ```
 */
export async function trainClassifier(run: ClassifierRun, opts: ExperimentOptions): Promise<ClassifierResult> {
  const loader = new DataLoader(run.train, { batchSize: run.batchSize, seed: run.seed });
  const optimizer = new AdamW(run.model.parameters(), {
    lr: run.lr,
    ...(run.weightDecay !== undefined && { weightDecay: run.weightDecay }),
  });
  const total = run.epochs * loader.numBatches;
  const r = await train(run.model, loader, {
    optimizer,
    epochs: run.epochs,
    signal: opts.signal,
    onProgress: (p) => {
      if (p.phase === 'step') opts.onProgress?.({ run: run.name, done: p.step, total, loss: p.loss });
    },
  });
  const ev = await evaluate(run.model, new DataLoader(run.test, { batchSize: 500, shuffle: false }));
  return { accuracy: ev.accuracy, epochLosses: r.epochLosses.map((e) => e.loss), samplesPerSec: r.samplesPerSec, seconds: r.seconds };
}

/**
 * The first `n` samples of a dataset (all of it when `n` ≥ its size): a fixed subset, the same for
 * every seed.
 *
 * @example
 * ```ts
 * firstSamples(loadFashionMnist().train, 5000).size; // 5000
 * ```
 */
export function firstSamples(ds: Dataset, n: number): Dataset {
  return n >= ds.size
    ? ds
    : subset(
        ds,
        Int32Array.from({ length: n }, (_, i) => i),
      );
}
