import { type Backend, CpuBackend, Rng, type Tensor, withBackend } from '@normkit/tensor';
import { expect } from 'vitest';

/** The tolerance the issue asks for: 1e-4 relative to the CPU backend. */
export const RTOL = 1e-4;

/**
 * Asserts `got` matches `want` elementwise: |got − want| ≤ rtol·(|want| + mean|want|). The mean|want|
 * term keeps entries that cancel to near zero (a dot product of random vectors) from demanding
 * an absolute accuracy finer than float32 accumulation gives; it is still 1e-4 of the data's scale.
 */
export function expectClose(got: Tensor, want: Tensor, label: string, rtol = RTOL): void {
  expect(got.shape, `${label}: shape`).toEqual(want.shape);
  expect(got.dtype, `${label}: dtype`).toBe(want.dtype);
  const g = got.data as ArrayLike<number>;
  const w = want.data as ArrayLike<number>;
  let meanAbs = 0;
  for (let i = 0; i < w.length; i++) meanAbs += Math.abs(Number(w[i]));
  meanAbs /= Math.max(w.length, 1);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < w.length; i++) {
    const gi = Number(g[i]);
    const wi = Number(w[i]);
    if (Number.isNaN(wi) && Number.isNaN(gi)) continue;
    if (wi === gi) continue;
    const err = Math.abs(gi - wi) / (Math.abs(wi) + meanAbs || 1);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(
    worst,
    `${label}: worst relative error ${worst} at ${at} (got ${at >= 0 ? g[at] : ''}, want ${at >= 0 ? w[at] : ''})`,
  ).toBeLessThanOrEqual(rtol);
}

const cpu = new CpuBackend();

/**
 * Runs `f` on `backend` and on the CPU backend and compares the results; the backend's result is read
 * with the awaited read, so the same check runs on synchronous modes and on WebGPU.
 */
export async function matchesCpu(backend: Backend, label: string, f: () => Tensor, rtol = RTOL): Promise<Tensor> {
  const got = withBackend(backend, f);
  await got.read();
  const want = withBackend(cpu, f);
  expectClose(got, want, label, rtol);
  return got;
}

/** Seeded random shapes, deliberately not multiples of 4 (the matmul tile) or of any texture width. */
export function randomDims(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor(rng.uniform(0, 1) * (hi - lo + 1)));
}

export { Rng };
