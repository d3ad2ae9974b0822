// layerNorm / rmsNorm / layerNormWithStats with `out` (a preallocated output), against a float64
// reference written here; the backward passes accept the same options and ignore `out`.
import { NormkitError, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { layerNorm, layerNormBackward, layerNormWithStats, rmsNorm, rmsNormBackward } from '../src/index.js';

/** y = (x − μ)/sqrt(σ² + ε)·γ + β per row (center) or x/sqrt(mean(x²) + ε)·γ + β, in float64. */
function ref(
  x: ArrayLike<number>,
  rows: number,
  d: number,
  center: boolean,
  g?: ArrayLike<number>,
  b?: ArrayLike<number>,
  eps = 1e-5,
): number[] {
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: d }, (_, j) => x[r * d + j]!);
    const mu = center ? row.reduce((s, v) => s + v, 0) / d : 0;
    const a = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / d + eps);
    for (let j = 0; j < d; j++) y.push((row[j]! - mu) * a * (g ? g[j]! : 1) + (b ? b[j]! : 0));
  }
  return y;
}

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return e;
};

describe('out option of layerNorm / rmsNorm', () => {
  const d = 123;
  const x = Tensor.randn([4, 5, d], 1, { mean: 1e4, std: 2 });
  const scale = Tensor.randn([d], 2, { mean: 1, std: 0.1 });
  const bias = Tensor.randn([d], 3, { std: 0.1 });
  const X = x.data as Float32Array;
  const G = scale.data as Float32Array;
  const B = bias.data as Float32Array;

  it('writes y into out and returns it, in a loop without new outputs (1e-5 relative to the reference)', () => {
    const out = Tensor.zeros([4, 5, d]);
    const storage = out.data;
    for (let i = 0; i < 3; i++) {
      expect(layerNorm(x, { scale, bias, out })).toBe(out);
      expect(out.data).toBe(storage);
    }
    expect(maxErr(out.data as Float32Array, ref(X, 20, d, true, G, B))).toBeLessThan(1e-5);
    expect(rmsNorm(x, { scale, out })).toBe(out);
    expect(maxErr(out.data as Float32Array, ref(X, 20, d, false, G))).toBeLessThan(1e-5);
  });

  it('layerNormWithStats returns out as y with the mean and 1/σ', () => {
    const out = Tensor.zeros([4, 5, d]);
    const { y, mean, invStdDev } = layerNormWithStats(x, { axis: 1, out });
    expect(y).toBe(out);
    expect(mean.shape).toEqual([4, 1, 1]);
    expect(invStdDev.shape).toEqual([4, 1, 1]);
    expect(maxErr(out.data as Float32Array, ref(X, 4, 5 * d, true))).toBeLessThan(1e-5);
  });

  it('normalizes in place when out is x, for float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const xi = Tensor.randn([3, d], 4, { dtype });
      const want = ref(xi.data as Float32Array | Float64Array, 3, d, true, G, B);
      expect(layerNorm(xi, { scale, bias, out: xi })).toBe(xi);
      expect(maxErr(xi.data as Float32Array | Float64Array, want)).toBeLessThan(dtype === 'float32' ? 1e-5 : 1e-12);
    }
  });

  it('throws a NormkitError naming both shapes on a shape or dtype mismatch', () => {
    expect(() => layerNorm(x, { out: Tensor.zeros([4, 5]) })).toThrow(NormkitError);
    expect(() => layerNorm(x, { out: Tensor.zeros([4, 5]) })).toThrow(
      /layerNorm: out is float32 \[4, 5\] but the result is float32 \[4, 5, 123\]/,
    );
    expect(() => rmsNorm(x, { scale, out: Tensor.zeros([4, 5, d], 'float64') })).toThrow(
      /rmsNorm: out is float64 \[4, 5, 123\] but the result is float32 \[4, 5, 123\]/,
    );
  });

  it('backward passes ignore out (same gradients with and without it)', () => {
    const xs = Tensor.randn([2, 6], 5);
    const dy = Tensor.randn([2, 6], 6);
    const s = Tensor.randn([6], 7);
    const out = Tensor.zeros([2, 6]);
    const withOut = layerNormBackward(dy, xs, { scale: s, out });
    const without = layerNormBackward(dy, xs, { scale: s });
    expect(withOut.dx.toFlatArray()).toEqual(without.dx.toFlatArray());
    expect(withOut.dScale?.toFlatArray()).toEqual(without.dScale?.toFlatArray());
    expect(rmsNormBackward(dy, xs, { out }).dx.toFlatArray()).toEqual(rmsNormBackward(dy, xs).dx.toFlatArray());
    expect(Array.from(out.data as Float32Array).every((v) => v === 0)).toBe(true);
  });
});
