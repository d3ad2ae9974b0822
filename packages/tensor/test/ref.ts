// Independent, deliberately naive reference implementations used by the tests. Nothing here calls
// the package's kernels: every value is computed with plain loops over multi-indices.
import { expect } from 'vitest';

/** Tiny deterministic generator for test inputs (mulberry32), separate from the package's Rng. */
export function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] as number;
    idx[d] = i % n;
    i = Math.floor(i / n);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < shape.length; d++) off = off * (shape[d] as number) + (idx[d] as number);
  return off;
}

/** NumPy broadcast of any number of shapes (reference version, throws on mismatch). */
export function refBroadcast(...shapes: (readonly number[])[]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const dims = shapes.map((s) => s[s.length - r + i] ?? 1);
    const big = dims.filter((d) => d !== 1);
    if (new Set(big).size > 1) throw new Error('mismatch');
    out.push(big[0] ?? 1);
  }
  return out;
}

/** Reads a broadcast operand at an output multi-index. */
export function bget(data: ArrayLike<number>, shape: readonly number[], outIdx: readonly number[]): number {
  const off = outIdx.length - shape.length;
  const idx = shape.map((d, i) => (d === 1 ? 0 : (outIdx[i + off] as number)));
  return data[ravel(idx, shape)] as number;
}

export function randArray(n: number, rnd: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rnd();
  return a;
}

/** A random shape of rank [minRank, maxRank] with dims in [1, maxDim]. */
export function randShape(rnd: () => number, minRank: number, maxRank: number, maxDim: number): number[] {
  const r = minRank + Math.floor(rnd() * (maxRank - minRank + 1));
  return Array.from({ length: r }, () => 1 + Math.floor(rnd() * maxDim));
}

/** Triple-loop matmul, float64 accumulation: [M,K]·[K,N]. */
export function refMatmul(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number, aOff = 0, bOff = 0): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (a[aOff + i * K + k] as number) * (b[bOff + k * N + j] as number);
      c[i * N + j] = s;
    }
  return c;
}

/** Asserts every |actual - expected| <= atol + rtol·|expected| (NaN matches NaN), reporting the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0)
    expect({ index: worst, actual: actual[worst], expected: expected[worst] }).toEqual({
      index: worst,
      actual: expected[worst],
      expected: expected[worst],
    });
}
