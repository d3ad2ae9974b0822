// The fused 4-bit matrix product (MatMulNBits' layout) against a float64 reference written here: W
// dequantized value by value from the packed nibbles as (q − zero point) · scale rounded to float32,
// products and sums in float64. Tolerance: |error| ≤ 1e-6 · Σₖ |A[m, k] · W[n, k]| (float32 sums, in
// any order, stay well within that for these K). Both WebAssembly kernels (the decode kernel, by
// default for up to 3 rows of A; the panel GEMM), each forced for every M, and the JS path (W
// dequantized, float GEMM) are checked.
import { availableParallelism } from 'node:os';
import {
  dequantizeNBits,
  gemmInfo,
  matmulNBits,
  type NBitsWeight,
  setGemmThreads,
  setNBitsGemvRows,
  setWasmNBits,
  Tensor,
} from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry } from './ref.js';

/** A seeded 4-bit weight: random bytes, scales in [0.01, 0.1), float zero points in [0, 15) or none. */
function weight(N: number, K: number, block: number, zeros: boolean, seed: number): NBitsWeight {
  const rnd = mulberry(seed);
  const blocks = Math.ceil(K / block);
  return {
    N,
    K,
    block,
    data: Uint8Array.from({ length: (N * blocks * block) / 2 }, () => Math.floor(256 * rnd())),
    scales: Float32Array.from({ length: N * blocks }, () => 0.01 + 0.09 * rnd()),
    zeroPoints: zeros ? Float32Array.from({ length: N * blocks }, () => 15 * rnd()) : undefined,
  };
}

/** W[n, k] from the bytes, value by value (low nibble first). */
function wAt(w: NBitsWeight, n: number, k: number): number {
  const blocks = Math.ceil(w.K / w.block);
  const p = n * blocks + Math.floor(k / w.block);
  const i = k % w.block;
  const q = ((w.data[(p * w.block + i) >> 1] as number) >> (i % 2 === 0 ? 0 : 4)) & 15;
  return Math.fround((q - (w.zeroPoints ? (w.zeroPoints[p] as number) : 8)) * (w.scales[p] as number));
}

/** The worst |y − reference| / Σₖ |a·w| over the output. */
function worstError(a: Float32Array, w: NBitsWeight, y: Float32Array): number {
  const M = a.length / w.K;
  let worst = 0;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < w.N; n++) {
      let ref = 0;
      let mag = 0;
      for (let k = 0; k < w.K; k++) {
        const t = (a[m * w.K + k] as number) * wAt(w, n, k);
        ref += t;
        mag += Math.abs(t);
      }
      worst = Math.max(worst, Math.abs((y[m * w.N + n] as number) - ref) / mag);
    }
  return worst;
}

const CASES: [M: number, N: number, K: number, block: number, zeros: boolean][] = [
  [1, 7, 40, 16, false],
  [3, 9, 80, 32, true],
  [4, 5, 256, 128, false],
  [17, 13, 130, 128, true],
  [64, 33, 96, 16, false],
  [6, 70, 2000, 32, true],
  // More rows than one micro-kernel sweep (128), and K long enough that A is taken in chunks of 128 rows.
  [130, 9, 64, 16, true],
  [130, 3, 32768, 32, false],
];

describe('matmulNBits against a float64 reference (|error| ≤ 1e-6 · Σ|a·w|)', () => {
  let gemvRows: number | undefined;
  afterEach(() => {
    setWasmNBits(true);
    if (gemvRows !== undefined) setNBitsGemvRows(gemvRows);
    gemvRows = undefined;
  });
  const PATHS = [
    ['default (decode kernel up to M = 3, else panel GEMM)', undefined],
    ['decode kernel', Number.POSITIVE_INFINITY],
    ['panel GEMM', 0],
    ['JS (dequantize + GEMM)', undefined],
  ] as const;
  for (const [path, rows] of PATHS)
    for (const [M, N, K, block, zeros] of CASES)
      it(`${path}: M=${M}, N=${N}, K=${K}, block ${block}, ${zeros ? 'float' : 'default'} zero points`, () => {
        if (rows !== undefined) gemvRows = setNBitsGemvRows(rows);
        if (path.startsWith('JS')) setWasmNBits(false);
        const w = weight(N, K, block, zeros, M * 1000 + K);
        const rnd = mulberry(K + N);
        const a = Float32Array.from({ length: M * K }, () => 2 * rnd() - 1);
        const y = matmulNBits(new Tensor([M, K], 'float32', a), w);
        expect([...y.shape]).toEqual([M, N]);
        expect(worstError(a, w, y.data as Float32Array)).toBeLessThanOrEqual(1e-6);
      });

  it('keeps the leading dimensions of A: [2, 3, K] → [2, 3, N]', () => {
    const w = weight(5, 32, 16, false, 1);
    const a = Tensor.from(
      Array.from({ length: 2 * 3 * 32 }, (_, i) => (i % 7) - 3),
      [2, 3, 32],
      'float32',
    );
    expect([...matmulNBits(a, w).shape]).toEqual([2, 3, 5]);
  });

  it('dequantizeNBits gives W value by value', () => {
    const w = weight(3, 40, 16, true, 2);
    const W = dequantizeNBits(w);
    for (let n = 0; n < 3; n++) for (let k = 0; k < 40; k++) expect(W[n * 40 + k]).toBe(wAt(w, n, k));
  });

  it('refuses a weight whose arrays do not fit N, K and block, and an A whose last dimension is not K', () => {
    const w = weight(4, 40, 16, false, 3);
    const a = new Tensor([2, 40], 'float32');
    const refuses = (f: () => unknown, code: string, message: RegExp) =>
      expect(f).toThrow(expect.objectContaining({ name: 'NormkitError', code, message: expect.stringMatching(message) }));
    refuses(() => matmulNBits(a, { ...w, data: w.data.subarray(1) }), 'INVALID_ARGUMENT', /data holds 95 bytes; .*= 96 expected/);
    refuses(() => matmulNBits(a, { ...w, block: 24 }), 'INVALID_ARGUMENT', /block must be a power of 2/);
    refuses(
      () => matmulNBits(a, { ...w, zeroPoints: new Float32Array(3) }),
      'INVALID_ARGUMENT',
      /zeroPoints hold 3 values; .*= 12 expected/,
    );
    refuses(() => matmulNBits(new Tensor([2, 41], 'float32'), w), 'SHAPE_MISMATCH', /\[\.\.\., K=40\], got float32 \[2, 41\]/);
  });
});

describe("matmulNBits on the GEMM threads, with W kept in the kernels' memory, and W copied in slices", () => {
  const product = (a: Float32Array, w: NBitsWeight) => matmulNBits(new Tensor([a.length / w.K, w.K], 'float32', a), w).data as Float32Array;
  for (const [path, M, gemvRows] of [
    ['decode kernel', 2, 3],
    ['panel GEMM', 8, 0],
  ] as const)
    it(`${path}: 2 threads split W's rows (N = 1030, K = 2048); the same values as one thread, within 1e-6·Σ|a·w| of float64`, async () => {
      const prevRows = setNBitsGemvRows(gemvRows);
      const prevThreads = setGemmThreads(1);
      try {
        const w = weight(1030, 2048, 32, true, 7);
        const rnd = mulberry(8);
        const a = Float32Array.from({ length: M * w.K }, () => 2 * rnd() - 1);
        const one = product(a, w);
        expect(gemmInfo().lastThreads).toBe(1);
        setGemmThreads(2);
        product(a, w); // starts the helper
        for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 20));
        const two = product(a, w);
        expect(gemmInfo().lastThreads).toBe(Math.min(2, availableParallelism()));
        // Each column of C has one owner and is summed in one order, whichever thread computes it.
        expect(Array.from(two)).toEqual(Array.from(one));
        expect(worstError(a, w, two)).toBeLessThanOrEqual(1e-6);
      } finally {
        setNBitsGemvRows(prevRows);
        setGemmThreads(prevThreads);
      }
    });

  it("a constant W is copied into the kernels' memory once and gives the values of a W copied in on every call", () => {
    const w = weight(40, 512, 32, false, 9);
    const a = Float32Array.from({ length: 2 * w.K }, (_, i) => Math.sin(i));
    const copied = product(a, w);
    const before = gemmInfo().packedBytes;
    const kept = { ...w, constant: true };
    expect(worstError(a, w, copied)).toBeLessThanOrEqual(1e-6);
    expect(Array.from(product(a, kept))).toEqual(Array.from(copied));
    const after = gemmInfo().packedBytes;
    expect(after - before).toBeGreaterThanOrEqual((40 * 512) / 2 + 2 * 40 * 16 * 4); // bytes, scales, zero points
    expect(Array.from(product(a, kept))).toEqual(Array.from(copied));
    expect(gemmInfo().packedBytes).toBe(after); // reused, not copied again
  });

  it('a W over 32 MiB that is not constant is copied in slices of rows (N = 12000, K = 4096): the values of the kept W', () => {
    const w = weight(12000, 4096, 32, true, 10);
    const rnd = mulberry(11);
    const a = Float32Array.from({ length: w.K }, () => 2 * rnd() - 1);
    const sliced = product(a, w);
    expect(Array.from(product(a, { ...w, constant: true }))).toEqual(Array.from(sliced));
    expect(worstError(a, w, sliced)).toBeLessThanOrEqual(1e-6);
  });
});
