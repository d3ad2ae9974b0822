// Whitening theory against docs/PAPERS.md §5 oracles 13–17 (values from spec/oracles/*.py) and against its own construction.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  intlBeta,
  iterNormEigenvalueMap,
  iterNormIterations,
  iterNormMatrix,
  iterNormOutput,
  spectralTransform,
  spectralTransformSpectrum,
  symmetricEigen64,
} from '../src/index.js';

const S = [
  [2, 1],
  [1, 2],
];

describe('IterNorm (oracles 13, 14)', () => {
  it('W_T and the eigenvalues of W Σ Wᵀ', () => {
    const w1 = iterNormMatrix(S, 1).flat();
    [0.625, -0.0625, -0.0625, 0.625].forEach((v, i) => {
      expect(w1[i]).toBeCloseTo(v, 12);
    });
    expect(iterNormMatrix(S, 2)[0]![0]).toBeCloseTo(0.722778, 6);
    expect(iterNormMatrix(S, 2)[0]![1]).toBeCloseTo(-0.145996, 6);
    expect(iterNormMatrix(S, 4)[0]![0]).toBeCloseTo(0.788221, 6);
    expect(iterNormMatrix(S, 4)[0]![1]).toBeCloseTo(-0.210871, 6);
    const inf = iterNormMatrix(S, 60).flat();
    [0.788675, -0.211325, -0.211325, 0.788675].forEach((v, i) => {
      expect(inf[i]).toBeCloseTo(v, 6);
    });
    const e = [iterNormOutput(S, 1), iterNormOutput(S, 2), iterNormOutput(S, 4)].map((o) => o.eigenvalues);
    [0.472656, 0.949219].forEach((v, i) => {
      expect(e[0]![i]).toBeCloseTo(v, 6);
    });
    [0.754769, 0.998033].forEach((v, i) => {
      expect(e[1]![i]).toBeCloseTo(v, 6);
    });
    [0.998186, 1.0].forEach((v, i) => {
      expect(e[2]![i]).toBeCloseTo(v, 6);
    });
  });

  it('trace loss (oracle 14)', () => {
    expect(iterNormOutput(S, 1).traceLoss).toBeCloseTo(0.167114, 6);
    expect(iterNormOutput(S, 2).traceLoss).toBeCloseTo(0.0305534, 7);
    expect(iterNormOutput(S, 4).traceLoss).toBeCloseTo(1.64608e-6, 10);
  });
});

describe('eigenvalue map h_T (oracle 15)', () => {
  it('hand values', () => {
    const h4: [number, number][] = [
      [1, 1],
      [0.5, 0.999999],
      [0.25, 0.998186],
      [0.1, 0.918598],
      [0.01, 0.225465],
      [0.001, 0.025295],
    ];
    for (const [x, v] of h4) expect(iterNormEigenvalueMap(x, 4)).toBeCloseTo(v, 6);
    expect(iterNormEigenvalueMap(0.01, 5)).toBeCloseTo(0.433911, 6);
    expect(iterNormEigenvalueMap(1 / 256, 4)).toBeCloseTo(0.0952, 4);
    expect(iterNormEigenvalueMap(1 / 8192, 4)).toBeCloseTo(0.00312, 5);
  });

  it('matches the spectrum of the IterNorm construction for random SPD Σ (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 9, maxLength: 9 }),
        fc.integer({ min: 0, max: 8 }),
        (a, T) => {
          const A = [a.slice(0, 3), a.slice(3, 6), a.slice(6, 9)];
          const sig = A.map((r, i) => A.map((q, j) => r.reduce((s, v, k) => s + v * q[k]!, 0) + (i === j ? 0.1 : 0)));
          const tr = sig[0]![0]! + sig[1]![1]! + sig[2]![2]!;
          const lam = symmetricEigen64(sig).values;
          const expected = lam.map((l) => iterNormEigenvalueMap(l / tr, T)).sort((x, y) => x - y);
          const got = iterNormOutput(sig, T).eigenvalues;
          expected.forEach((v, i) => {
            expect(Math.abs(v - got[i]!)).toBeLessThan(1e-9);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('iterNormIterations: the returned T reaches the tolerance on the worst Σ and T − 1 does not', () => {
    for (const [k, d, tol] of [
      [3, 2, 1e-3],
      [100, 2, 1e-2],
      [10, 8, 1e-4],
      [1000, 64, 1e-3],
    ] as const) {
      const r = iterNormIterations({ conditionNumber: k, dim: d, tolerance: tol });
      // Worst Σ: diag(1, κ, …, κ) — build it and run the construction.
      const sig = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? (i === 0 ? 1 : k) : 0)));
      const eig = iterNormOutput(sig, r.iterations).eigenvalues;
      expect(1 - Math.min(...eig)).toBeLessThanOrEqual(tol + 1e-12);
      if (r.iterations > 0) expect(1 - Math.min(...iterNormOutput(sig, r.iterations - 1).eigenvalues)).toBeGreaterThan(tol);
    }
    expect(iterNormIterations({ conditionNumber: 3, dim: 2, tolerance: 2e-3 }).iterations).toBe(4);
    expect(() => iterNormIterations({ conditionNumber: 0.5 })).toThrow(/conditionNumber/);
  });
});

describe('INTL β and spectral transformation (oracles 16, 17)', () => {
  it('β(batch)', () => {
    expect(intlBeta(128)).toBeCloseTo(0.04, 12);
    expect(intlBeta(256)).toBeCloseTo(0.05, 12);
    expect(intlBeta(512)).toBeCloseTo(0.06, 12);
    expect(intlBeta(1024)).toBeCloseTo(0.07, 12);
    expect(intlBeta(8192)).toBeCloseTo(0.1, 12);
  });

  it('power ST output spectrum', () => {
    const l = [4, 1, 0.25];
    const near = (a: number[], e: number[]) =>
      a.forEach((v, i) => {
        expect(v).toBeCloseTo(e[i]!, 12);
      });
    near(spectralTransformSpectrum(l, 0.25), [2, 1, 0.5]);
    near(spectralTransformSpectrum(l, 0.5), [1, 1, 1]);
    near(spectralTransformSpectrum(l, 0.75), [0.5, 1, 2]);
    near(spectralTransformSpectrum(l, 0), l);
  });

  it('applying ST to data gives the predicted spectrum', () => {
    // Z with covariance eigenvalues 4, 1, 0.25 along rotated axes.
    const m = 6;
    const base = [
      [2, -2, 0, 0, 0, 0],
      [0, 0, 1, -1, 0, 0],
      [0, 0, 0, 0, 0.5, -0.5],
    ].map((r) => r.map((v) => v * Math.sqrt(m / 2)));
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const R = [
      [c, -s, 0],
      [s, c, 0],
      [0, 0, 1],
    ];
    const Z = R.map((r) => base[0]!.map((_, j) => r.reduce((acc, v, k) => acc + v * base[k]![j]!, 0)));
    const out = spectralTransform(Z, 0.25).eigenvalues;
    [0.5, 1, 2].forEach((v, i) => {
      expect(out[i]).toBeCloseTo(v, 9);
    });
  });
});
