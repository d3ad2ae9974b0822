// float32 erf on the WebAssembly kernel and on the JS path against an independent float64 reference:
// the Maclaurin series 2/√π Σ (−1)ⁿ x^(2n+1)/(n!(2n+1)) for |x| ≤ 4 (float64 cancellation error < 1e-10
// there) and ±1 beyond (erfc(4) < 1.6e-8). Both kernels compute erf = 1 − erfc(|x|) in float32, so the
// error is absolute: ≤ 3e-7, a few float32 ulps of 1.
import { erf, Tensor } from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmFused } from '../src/cpu/fused-wasm.js';

function erfSeries(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x; // (−1)ⁿ x^(2n+1)/n!
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-30; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

// 40 001 points on [−7, 7] (not a multiple of 4 or of the kernel's chunk: a ragged last vector).
const N = 40001;
const xs = Float32Array.from({ length: N }, (_, i) => -7 + (14 * i) / (N - 1));

describe('float32 erf', () => {
  afterEach(() => {
    setWasmFused(true);
  });

  for (const wasm of [true, false])
    it(`matches the float64 series to 3e-7 (${wasm ? 'WebAssembly' : 'JS'})`, () => {
      setWasmFused(wasm);
      const got = erf(new Tensor([N], 'float32', xs)).data as Float32Array;
      let worst = 0;
      for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(got[i]! - erfSeries(xs[i]!)));
      expect(worst).toBeLessThanOrEqual(3e-7);
    });

  it('keeps the special values: ±∞ → ±1, NaN → NaN, odd symmetry', () => {
    const got = erf(Tensor.from([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 0.5, -0.5])).data;
    expect(got[0]).toBe(1);
    expect(got[1]).toBe(-1);
    expect(got[2]).toBeNaN();
    expect(got[3]).toBe(-got[4]!);
  });

  it('computes float64 on the float64 JS path', () => {
    const got = (erf(new Tensor([1], 'float64', Float64Array.from([0.5]))).data as Float64Array)[0]!;
    expect(Math.abs(got - erfSeries(0.5))).toBeLessThan(2e-7);
  });
});
