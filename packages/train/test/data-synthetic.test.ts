import { describe, expect, it } from 'vitest';
import { DataLoader, gaussianMixture, randomLabels, TensorDataset, twoSpirals } from '../src/data/index.js';

describe('randomLabels', () => {
  it('draws N(0, I) points (moments ±5σ) and uniform labels independent of them, reproducibly', () => {
    const { x, y } = randomLabels(4000, 5, { classes: 4, seed: 3 });
    expect([x.shape, x.dtype, y.shape, y.dtype]).toEqual([[4000, 5], 'float32', [4000], 'int32']);
    const xs = x.data as Float32Array;
    const n = xs.length;
    const mean = xs.reduce((a, v) => a + v, 0) / n;
    const second = xs.reduce((a, v) => a + v * v, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(second - 1)).toBeLessThan(5 * Math.sqrt(2 / n)); // Var(z²) = 2
    const hist = [0, 0, 0, 0];
    for (const l of y.data as Int32Array) hist[l]!++;
    for (const h of hist) expect(Math.abs(h - 1000)).toBeLessThan(5 * Math.sqrt(4000 * 0.25 * 0.75));
    expect(Buffer.from(randomLabels(4000, 5, { classes: 4, seed: 3 }).x.data.buffer).equals(Buffer.from(xs.buffer))).toBe(true);
    expect(randomLabels(4000, 5, { classes: 4, seed: 4 }).y.data).not.toEqual(y.data);
    expect(randomLabels(3, 2, { dtype: 'float64' }).x.dtype).toBe('float64');
    expect(() => randomLabels(0, 2)).toThrow(/m must be a positive integer/);
  });
});

describe('twoSpirals', () => {
  it('puts point t of a spiral at radius t and angle 2π·turns·t, class 1 the point reflection of class 0 (noise 0, tolerance 1e-6)', () => {
    const m = 200;
    const turns = 1.5;
    const { x, y } = twoSpirals(m, { turns, dtype: 'float64' });
    const xs = x.data as Float64Array;
    const labels = y.data as Int32Array;
    for (let i = 0; i < m / 2; i++) {
      const t = i / (m / 2);
      expect(labels[i]).toBe(0);
      expect(labels[i + m / 2]).toBe(1);
      expect(Math.hypot(xs[2 * i]!, xs[2 * i + 1]!)).toBeCloseTo(t, 6);
      expect(xs[2 * i]).toBeCloseTo(t * Math.cos(2 * Math.PI * turns * t), 6);
      expect(xs[2 * (i + m / 2)]).toBeCloseTo(-xs[2 * i]!, 6);
      expect(xs[2 * (i + m / 2) + 1]).toBeCloseTo(-xs[2 * i + 1]!, 6);
    }
  });

  it('adds seeded noise and gives class 0 the extra point for odd m', () => {
    const a = twoSpirals(101, { noise: 0.05, seed: 1 });
    expect((a.y.data as Int32Array).filter((l) => l === 0).length).toBe(51);
    expect(twoSpirals(101, { noise: 0.05, seed: 1 }).x.data).toEqual(a.x.data);
    expect(twoSpirals(101, { noise: 0.05, seed: 2 }).x.data).not.toEqual(a.x.data);
  });
});

describe('gaussianMixture', () => {
  it('labels each point by its component; per-class means match the centres (±5σ/√count)', () => {
    const [m, n, k, std] = [3000, 3, 3, 0.5];
    const { x, y, centers } = gaussianMixture(m, n, { k, std, separation: 4, seed: 5, dtype: 'float64' });
    expect(centers.shape).toEqual([k, n]);
    const sums = new Float64Array(k * n);
    const counts = new Array(k).fill(0);
    const xs = x.data as Float64Array;
    for (let i = 0; i < m; i++) {
      const c = (y.data as Int32Array)[i]!;
      counts[c]++;
      for (let j = 0; j < n; j++) sums[c * n + j]! += xs[i * n + j]!;
    }
    for (let c = 0; c < k; c++) {
      expect(Math.abs(counts[c] - m / k)).toBeLessThan(5 * Math.sqrt((m * (k - 1)) / (k * k)));
      for (let j = 0; j < n; j++)
        expect(Math.abs(sums[c * n + j]! / counts[c] - centers.get(c, j))).toBeLessThan((5 * std) / Math.sqrt(counts[c]));
    }
  });

  it('feeds a DataLoader through TensorDataset', () => {
    const { x, y } = gaussianMixture(50, 2, { k: 4, seed: 0 });
    const ds = new TensorDataset(x, y, 4);
    const b = new DataLoader(ds, { batchSize: 16, seed: 0 }).batchAt(0, 0);
    expect(b.x.shape).toEqual([16, 2]);
    expect(b.y.toFlatArray()).toEqual(Array.from(b.indices, (i) => (y.data as Int32Array)[i]));
    expect(ds.classes).toBe(4);
  });
});
