import { Rng, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Conv2d, deriveSeed, Embedding, LayerNorm, Linear, MLP, ViT } from '../src/nn/index.js';

/** Mean and (population) variance of a tensor's values, in float64. */
function stats(t: Tensor): { mean: number; variance: number; maxAbs: number } {
  const d = t.data as Float32Array;
  let s = 0;
  let mx = 0;
  for (const v of d) {
    s += v;
    mx = Math.max(mx, Math.abs(v));
  }
  const mean = s / d.length;
  let s2 = 0;
  for (const v of d) s2 += (v - mean) ** 2;
  return { mean, variance: s2 / d.length, maxAbs: mx };
}

describe('initialisation (PyTorch defaults, seeded)', () => {
  it('Linear(784, 256): weight and bias ~ U(−1/√784, 1/√784): bound reached, mean and variance within 4σ', () => {
    const fc = new Linear(784, 256, { seed: 11 });
    const b = 1 / 28;
    const w = stats(fc.weight.value);
    const n = 784 * 256;
    // U(−b, b): variance b²/3; the sample mean has σ = b/√(3n); the sample variance has σ = b²·√(4/(45n)).
    expect(w.maxAbs).toBeLessThanOrEqual(b);
    expect(w.maxAbs).toBeGreaterThan(b * (1 - 1e-3)); // P(max < b(1 − 1e-3)) = (1 − 1e-3)^n ≈ e^-200
    expect(Math.abs(w.mean)).toBeLessThan(4 * (b / Math.sqrt(3 * n)));
    expect(Math.abs(w.variance - b ** 2 / 3)).toBeLessThan(4 * b ** 2 * Math.sqrt(4 / (45 * n)));
    expect(stats(fc.bias?.value as Tensor).maxAbs).toBeLessThanOrEqual(b);
  });

  it('Conv2d fan_in is in/groups·kh·kw', () => {
    const conv = new Conv2d(8, 16, 3, { groups: 2, seed: 3 });
    expect(conv.weight.value.shape).toEqual([16, 4, 3, 3]);
    const b = 1 / Math.sqrt(4 * 9);
    const w = stats(conv.weight.value);
    expect(w.maxAbs).toBeLessThanOrEqual(b);
    expect(w.maxAbs).toBeGreaterThan(b * 0.98); // 576 draws: P(max < 0.98 b) = 0.98^576 ≈ 1e-5
  });

  it('Embedding ~ N(0, 1) and ViT class token / positions ~ N(0, 0.02²), within 4σ; norm gains 1, biases 0', () => {
    const e = stats(new Embedding(500, 64, { seed: 2 }).weight.value);
    const n = 500 * 64;
    expect(Math.abs(e.mean)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(e.variance - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
    const vit = new ViT({ norm: 'ln', seed: 5, dim: 64 });
    const pos = stats(vit.posEmbed.value);
    const m = 50 * 64;
    expect(Math.abs(pos.mean)).toBeLessThan((4 * 0.02) / Math.sqrt(m));
    expect(Math.abs(pos.variance - 0.02 ** 2)).toBeLessThan(4 * 0.02 ** 2 * Math.sqrt(2 / m));
    const ln = new LayerNorm(6);
    expect(ln.weight?.value.toFlatArray()).toEqual([1, 1, 1, 1, 1, 1]);
    expect(ln.bias?.value.toFlatArray()).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('the same seed gives the same parameters, another seed others; float64 draws equal the float32 ones rounded', () => {
    const a = new MLP({ norm: 'ln', seed: 7, hidden: [32] }).stateDict();
    const b = new MLP({ norm: 'ln', seed: 7, hidden: [32] }).stateDict();
    const c = new MLP({ norm: 'ln', seed: 8, hidden: [32] }).stateDict();
    const d = new MLP({ norm: 'ln', seed: 7, hidden: [32], dtype: 'float64' }).stateDict();
    for (const k of Object.keys(a)) {
      expect(Array.from(a[k]?.data as Float32Array)).toEqual(Array.from(b[k]?.data as Float32Array));
      expect(Array.from(d[k]?.data as Float64Array).map(Math.fround)).toEqual(Array.from(a[k]?.data as Float32Array));
    }
    expect(Array.from(a['1.weight']?.data as Float32Array)).not.toEqual(Array.from(c['1.weight']?.data as Float32Array));
  });

  it('Linear draws weight then bias from one Rng, in row-major order', () => {
    const fc = new Linear(3, 2, { seed: 9, dtype: 'float64' });
    const rng = new Rng(9);
    const b = 1 / Math.sqrt(3);
    const expected = Array.from({ length: 8 }, () => rng.uniform(-b, b));
    expect([...fc.weight.value.toFlatArray(), ...(fc.bias?.value.toFlatArray() ?? [])]).toEqual(expected);
  });

  it('child seeds depend on the network seed and the child name only', () => {
    expect(deriveSeed(1, 'blocks.0')).toBe(deriveSeed(1, 'blocks.0'));
    expect(deriveSeed(1, 'blocks.0')).not.toBe(deriveSeed(1, 'blocks.1'));
    expect(deriveSeed(1, 'blocks.0')).not.toBe(deriveSeed(2, 'blocks.0'));
    // adding a hidden layer leaves the first layer's draws unchanged
    const one = new MLP({ norm: 'none', seed: 3, hidden: [16] }).stateDict();
    const two = new MLP({ norm: 'none', seed: 3, hidden: [16, 16] }).stateDict();
    expect(Array.from(one['1.weight']?.data as Float32Array)).toEqual(Array.from(two['1.weight']?.data as Float32Array));
  });
});
