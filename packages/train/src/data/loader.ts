import { NormkitError, Rng } from '@normkit/tensor';
import type { Batch, Dataset } from './dataset.js';
import { indexSeed, permutation } from './random.js';

/** Options of `DataLoader`. */
export interface DataLoaderOptions {
  /** Samples per batch (a positive integer). */
  batchSize: number;
  /** Visit the samples in a seeded random order each epoch (default true); false: file order. */
  shuffle?: boolean;
  /** Seed of the shuffling and of the per-batch `seed` (default 0). */
  seed?: number;
  /** Drop the last batch of an epoch when it has fewer than `batchSize` samples (default false). */
  dropLast?: boolean;
}

/**
 * Everything a checkpoint needs to resume a loader: plain JSON. The RNG state is `(seed, epoch)`:
 * epoch e is shuffled by `new Rng(indexSeed(seed, e))`, so no generator internals need saving.
 */
export interface LoaderState {
  readonly seed: number;
  /** The epoch in progress (0-based). */
  readonly epoch: number;
  /** Batches of that epoch already handed out. */
  readonly position: number;
  /** The settings the position refers to; `restore` refuses a state saved with other ones. */
  readonly size: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
}

/** A batch from a loader, with where it sits in the run. */
export interface LoaderBatch extends Batch {
  /** Epoch it belongs to. */
  readonly epoch: number;
  /** Its index within the epoch. */
  readonly index: number;
  /** A seed for this batch's random augmentations: `indexSeed(seed, epoch, index)`. */
  readonly seed: number;
}

/**
 * Batches a `Dataset` epoch by epoch: seeded shuffling (xoshiro128** `Rng`, identical on every
 * machine), optional drop of the last partial batch, and a `state()` / `restore()` pair so a run
 * resumed from a checkpoint sees exactly the batches it would have seen.
 *
 * A batch counts as consumed once it is handed out: `state()` taken while training on batch i of an
 * epoch resumes at batch i + 1.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(train, { batchSize: 128, seed: 1 });
 * for (let e = 0; e < 3; e++) for (const { x, y } of loader) step(x, y); // one epoch per for-of
 * const saved = loader.state(); // ... later: new DataLoader(train, opts).restore(saved)
 * ```
 */
export class DataLoader implements Iterable<LoaderBatch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private seed: number;
  private epochNow = 0;
  private positionNow = 0;
  private cached: { epoch: number; seed: number; order: Int32Array } | undefined;

  constructor(dataset: Dataset, opts: DataLoaderOptions) {
    const { batchSize, shuffle = true, seed = 0, dropLast = false } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new NormkitError('INVALID_ARGUMENT', `DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (dropLast && dataset.size < batchSize)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `DataLoader: dropLast with batchSize ${batchSize} over ${dataset.size} samples leaves no batch; lower batchSize or keep the last batch`,
      );
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = seed >>> 0;
  }

  /** Batches per epoch. @example new DataLoader(ds60000, { batchSize: 128 }).numBatches // 469 */
  get numBatches(): number {
    const n = this.dataset.size / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The epoch in progress (0-based). @example loader.epoch // 0 before the first epoch ends */
  get epoch(): number {
    return this.epochNow;
  }

  /** Batches of the current epoch already handed out. @example loader.position */
  get position(): number {
    return this.positionNow;
  }

  /** The order in which epoch `epoch` visits the dataset. @example loader.order(0).slice(0, 5) */
  order(epoch: number): Int32Array {
    if (this.cached?.epoch !== epoch || this.cached.seed !== this.seed) {
      const n = this.dataset.size;
      const order = this.shuffle ? permutation(n, new Rng(indexSeed(this.seed, epoch))) : Int32Array.from({ length: n }, (_, i) => i);
      this.cached = { epoch, seed: this.seed, order };
    }
    return this.cached.order;
  }

  /** Batch `index` of epoch `epoch`, without moving the loader. @example loader.batchAt(2, 0) */
  batchAt(epoch: number, index: number): LoaderBatch {
    if (!Number.isInteger(index) || index < 0 || index >= this.numBatches)
      throw new NormkitError('INDEX_OUT_OF_RANGE', `DataLoader.batchAt: batch ${index} is not in [0, ${this.numBatches})`);
    const order = this.order(epoch);
    const indices = order.subarray(index * this.batchSize, Math.min(order.length, (index + 1) * this.batchSize));
    return { ...this.dataset.batch(indices), epoch, index, seed: indexSeed(this.seed, epoch, index) };
  }

  /**
   * Yields the remaining batches of the current epoch, then moves to the next epoch (also when a
   * previous loop stopped right after the last batch).
   *
   * @example
   * ```ts
   * for (const { x, y, indices } of loader.batches()) train(x, y);
   * ```
   */
  *batches(): Generator<LoaderBatch> {
    if (this.positionNow >= this.numBatches) this.nextEpoch();
    while (this.positionNow < this.numBatches) {
      const index = this.positionNow++;
      yield this.batchAt(this.epochNow, index);
    }
    this.nextEpoch();
  }

  /** The same as `batches()`: a `for…of` over the loader runs the rest of the current epoch. @example for (const b of loader) step(b.x, b.y); */
  [Symbol.iterator](): Iterator<LoaderBatch> {
    return this.batches();
  }

  /** Where the loader stands, as JSON-ready numbers. @example const s = loader.state() */
  state(): LoaderState {
    const { seed, epochNow: epoch, positionNow: position, batchSize, shuffle, dropLast } = this;
    return { seed, epoch, position, size: this.dataset.size, batchSize, shuffle, dropLast };
  }

  /**
   * Resumes from a saved `state()`: same seed, epoch and position. The dataset size, batch size,
   * shuffle and dropLast must match the saved ones (otherwise the position would mean other samples).
   *
   * @example
   * ```ts
   * const loader = new DataLoader(train, opts).restore(checkpoint.loader);
   * ```
   */
  restore(state: LoaderState): this {
    const mismatched = (['size', 'batchSize', 'shuffle', 'dropLast'] as const).filter(
      (k) => state[k] !== (k === 'size' ? this.dataset.size : this[k]),
    );
    if (mismatched.length > 0)
      throw new NormkitError(
        'LOADER_STATE_MISMATCH',
        `DataLoader.restore: the saved state has ${mismatched.map((k) => `${k} ${state[k]}`).join(', ')} but this loader has ${mismatched
          .map((k) => `${k} ${k === 'size' ? this.dataset.size : this[k]}`)
          .join(', ')}; resume with the same data (limit, validation split) and loader options`,
        { state },
      );
    if (![state.seed, state.epoch, state.position].every((v) => Number.isInteger(v) && v >= 0) || state.position > this.numBatches)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `DataLoader.restore: seed/epoch/position must be non-negative integers with position ≤ ${this.numBatches}`,
        {
          state,
        },
      );
    this.seed = state.seed >>> 0;
    this.epochNow = state.epoch;
    this.positionNow = state.position;
    return this;
  }

  private nextEpoch(): void {
    this.epochNow++;
    this.positionNow = 0;
  }
}
