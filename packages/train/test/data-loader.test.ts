import { NormkitError, Rng, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  DataLoader,
  ImageDataset,
  indexSeed,
  type LoaderBatch,
  type LoaderState,
  permutation,
  splitValidation,
  TensorDataset,
} from '../src/data/index.js';

/** N samples whose single feature is their index, labels index mod 3: rows are easy to trace. */
function traced(n: number, dtype: 'float32' | 'float64' = 'float32'): TensorDataset {
  const x = Tensor.arange(0, n, 1, dtype).reshape([n, 1]);
  return new TensorDataset(x, Tensor.from(Int32Array.from({ length: n }, (_, i) => i % 3)));
}

const indicesOf = (bs: Iterable<LoaderBatch>) => Array.from(bs, (b) => Array.from(b.indices));

describe('permutation and indexSeed', () => {
  it('permutation is a permutation, and each element lands anywhere with equal frequency (±5σ)', () => {
    const counts = new Array(5).fill(0);
    const rng = new Rng(11);
    for (let t = 0; t < 5000; t++) {
      const p = permutation(5, rng);
      expect([...p].sort()).toEqual([0, 1, 2, 3, 4]);
      counts[p.indexOf(0)]++;
    }
    const sigma = Math.sqrt(5000 * 0.2 * 0.8);
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(5 * sigma);
  });

  it('indexSeed gives distinct seeds over a grid of (seed, epoch, batch) paths', () => {
    const seen = new Set<number>();
    for (let s = 0; s < 4; s++) for (let e = 0; e < 50; e++) for (let b = 0; b < 50; b++) seen.add(indexSeed(s, e, b));
    for (let s = 0; s < 4; s++) for (let e = 0; e < 50; e++) seen.add(indexSeed(s, e));
    expect(seen.size).toBe(4 * 50 * 50 + 4 * 50);
  });
});

describe('DataLoader', () => {
  it('counts batches with and without dropLast and keeps the partial batch by default', () => {
    const ds = traced(10);
    const keep = new DataLoader(ds, { batchSize: 3, shuffle: false });
    expect(keep.numBatches).toBe(4);
    expect(indicesOf(keep)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    const drop = new DataLoader(ds, { batchSize: 3, shuffle: false, dropLast: true });
    expect(drop.numBatches).toBe(3);
    expect(indicesOf(drop).flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('shuffles each epoch into a new permutation, the same for the same seed', () => {
    const ds = traced(100);
    const a = new DataLoader(ds, { batchSize: 16, seed: 5 });
    const b = new DataLoader(ds, { batchSize: 16, seed: 5 });
    const e0 = indicesOf(a).flat();
    const e1 = indicesOf(a).flat();
    expect([...e0].sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
    expect(indicesOf(b).flat()).toEqual(e0);
    expect(indicesOf(new DataLoader(ds, { batchSize: 16, seed: 6 })).flat()).not.toEqual(e0);
    expect(a.epoch).toBe(2);
  });

  it('hands out the rows of the dataset at the batch indices, with int32 labels', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const b = new DataLoader(traced(20, dtype), { batchSize: 8, seed: 1 }).batchAt(3, 1);
      expect(b.x.dtype).toBe(dtype);
      expect(b.x.toFlatArray()).toEqual(Array.from(b.indices));
      expect(b.y.dtype).toBe('int32');
      expect(b.y.toFlatArray()).toEqual(Array.from(b.indices, (i) => i % 3));
    }
  });

  it('resumes from a JSON state mid-epoch and at an epoch boundary with the same batches and seeds', () => {
    const ds = traced(50);
    const opts = { batchSize: 7, seed: 9 };
    const endless = (l: DataLoader) =>
      (function* () {
        for (;;) yield* l.batches();
      })();
    const take = (g: Iterator<LoaderBatch>, n: number) => Array.from({ length: n }, () => g.next().value as LoaderBatch);
    const key = (b: LoaderBatch) => [b.epoch, b.index, b.seed, ...b.indices, ...b.x.toFlatArray()];
    for (const stopAfter of [3, 8, 7 + 8]) {
      const a = new DataLoader(ds, opts);
      const run = endless(a);
      take(run, stopAfter);
      const saved = JSON.parse(JSON.stringify(a.state())) as LoaderState;
      const resumed = endless(new DataLoader(ds, opts).restore(saved));
      expect(take(resumed, 10).map(key)).toEqual(take(run, 10).map(key));
    }
  });

  it('moves to the next epoch when a loop stopped right after the last batch', () => {
    const l = new DataLoader(traced(6), { batchSize: 3, seed: 2 });
    for (const b of l) if (b.index === 1) break;
    expect(l.state()).toMatchObject({ epoch: 0, position: 2 });
    expect(indicesOf(l.batches())[0]).toEqual(Array.from(new DataLoader(traced(6), { batchSize: 3, seed: 2 }).batchAt(1, 0).indices));
    expect(l.epoch).toBe(2);
  });

  it('refuses a state saved with other data or options', () => {
    const state = new DataLoader(traced(50), { batchSize: 7 }).state();
    expect(() => new DataLoader(traced(40), { batchSize: 8 }).restore(state)).toThrow(
      expect.objectContaining({
        code: 'LOADER_STATE_MISMATCH',
        message: expect.stringContaining('size 50, batchSize 7 but this loader has size 40, batchSize 8'),
      }),
    );
    expect(() => new DataLoader(traced(5), { batchSize: 0 })).toThrow(NormkitError);
  });
});

describe('splitValidation', () => {
  it('holds out a seeded set disjoint from training, independent of limit; limit keeps file order', () => {
    const ds = traced(1000);
    const a = splitValidation(ds, { validation: 0.1, seed: 3 });
    expect([a.train.size, a.validation.size]).toEqual([900, 100]);
    const all = [...a.train.sourceIndices, ...a.validation.sourceIndices].sort((p, q) => p - q);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const limited = splitValidation(ds, { validation: 100, seed: 3, limit: 50 });
    expect(Array.from(limited.validation.sourceIndices)).toEqual(Array.from(a.validation.sourceIndices));
    expect(Array.from(limited.train.sourceIndices)).toEqual(Array.from(a.train.sourceIndices.subarray(0, 50)));
    expect(Array.from(splitValidation(ds, { validation: 100, seed: 4 }).validation.sourceIndices)).not.toEqual(
      Array.from(a.validation.sourceIndices),
    );
    const b = limited.train.batch([0, 1]);
    expect(b.x.toFlatArray()).toEqual(Array.from(limited.train.sourceIndices.subarray(0, 2)));
    expect(Array.from(b.indices)).toEqual([0, 1]);
    expect(() => splitValidation(ds, { validation: 1000 })).toThrow(/validation must be/);
  });
});

describe('ImageDataset', () => {
  it('maps bytes to (v / 255 - mean) / std in float32', () => {
    const ds = new ImageDataset(new Uint8Array([0, 51, 255, 102]), new Uint8Array([1]), [1, 2, 2], 2, { mean: 0.5, std: 0.25 });
    expect(ds.batch([0]).x.toFlatArray()).toEqual([0, 51, 255, 102].map((v) => Math.fround((v / 255 - 0.5) / 0.25)));
    expect(() => new ImageDataset(new Uint8Array(3), new Uint8Array(1), [1, 2, 2], 2)).toThrow(/1 labels need 4 pixels/);
    expect(() => ds.batch([1])).toThrow(/index 1 is not an integer in \[0, 1\)/);
  });
});
