import { NormkitError, type Rng } from '@normkit/tensor';

/**
 * A 32-bit seed derived from a base seed and a path of non-negative integers (epoch, batch, ...),
 * by a MurmurHash3-style mix. Different paths give unrelated seeds, so every (epoch, batch) gets its
 * own `Rng` and a run can resume at any batch without replaying the ones before it.
 *
 * @example
 * ```ts
 * const rng = new Rng(indexSeed(42, 3)); // epoch 3 of a loader seeded with 42
 * ```
 */
export function indexSeed(seed: number, ...path: readonly number[]): number {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (const p of path) {
    if (!Number.isInteger(p) || p < 0)
      throw new NormkitError('INVALID_ARGUMENT', `indexSeed: path entries must be non-negative integers, got ${p}`);
    let k = Math.imul(p >>> 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A uniformly random permutation of `0..n-1` (Fisher–Yates, drawing from `rng`). The same seed gives
 * the same permutation on every machine, because `Rng` is xoshiro128** over 32-bit integers.
 *
 * @example
 * ```ts
 * permutation(5, new Rng(0)); // Int32Array of 0..4 in a seeded order
 * ```
 */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
