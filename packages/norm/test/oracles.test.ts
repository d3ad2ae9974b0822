// docs/PAPERS.md §5 oracles that concern an operator (items 1–3, 7, 8, 12–17), as explicit tests.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  centerColumns,
  intlBeta,
  isColumnCentered,
  iterNorm,
  iterNormMatrix,
  iterNormSpectrum,
  layerNorm,
  parallelLayerNorm,
  rmsNorm,
  spectralMatrix,
  spectralTransform,
  traceLossFromCovariance,
} from '../src/index.js';

const f64 = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length], 'float64');
const arr = (t: Tensor) => Array.from(t.data as Float64Array);
const close = (a: number[], b: number[], tol: number) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - (b[i] as number)), `index ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  });
};
/** y = W x + b for W (out×in) row-major, written here. */
const affine = (W: number[][], x: number[], b: number[]) =>
  W.map((row, i) => row.reduce((s, w, j) => s + w * (x[j] as number), 0) + (b[i] as number));
/** 2×2 product helpers written here. */
const mm2 = (A: number[], B: number[]) => [
  A[0]! * B[0]! + A[1]! * B[2]!,
  A[0]! * B[1]! + A[1]! * B[3]!,
  A[2]! * B[0]! + A[3]! * B[2]!,
  A[2]! * B[1]! + A[3]! * B[3]!,
];
const t2 = (A: number[]) => [A[0]!, A[2]!, A[1]!, A[3]!];
const eig2 = (S: number[]) => {
  const tr = S[0]! + S[3]!;
  const det = S[0]! * S[3]! - S[1]! * S[2]!;
  const disc = Math.sqrt(Math.max((tr * tr) / 4 - det, 0));
  return [tr / 2 - disc, tr / 2 + disc];
};

describe('oracle 1: column centering', () => {
  const W = f64([1, 2, 3, 4, 5, 6], [3, 2]);
  it('C W = [[-2,-2],[0,0],[2,2]], C b = [1,0,-1], columns sum to 0', () => {
    expect(arr(centerColumns(W))).toEqual([-2, -2, 0, 0, 2, 2]);
    expect(arr(centerColumns(f64([1, 0, -1]), 'bias'))).toEqual([1, 0, -1]);
    expect(isColumnCentered(centerColumns(W))).toBe(true);
    expect(isColumnCentered(W)).toBe(false);
  });
});

describe('oracle 2: LN(Wx+b) = RMSNorm(CWx+Cb)', () => {
  const W = [
    [1, 2],
    [3, 4],
    [5, 6],
  ];
  const b = [1, 0, -1];
  const CW = [
    [-2, -2],
    [0, 0],
    [2, 2],
  ];
  const Cb = [1, 0, -1];
  const cases: [number[], number, number[]][] = [
    [[1, 1], 0, [-1.224745, 0, 1.224745]],
    [[1, 1], 1e-5, [-1.224744, 0, 1.224744]],
    [[0.3, -2], 1e-5, [1.224744, 0, -1.224744]],
  ];
  for (const [x, eps, want] of cases) {
    it(`x = [${x}], ε = ${eps}`, () => {
      const ln = arr(layerNorm(f64(affine(W, x, b)), { epsilon: eps }));
      const rms = arr(rmsNorm(f64(affine(CW, x, Cb)), { epsilon: eps }));
      close(ln, want, 1e-6);
      close(rms, want, 1e-6);
    });
  }
});

describe('oracle 3: shift invariance; RMSNorm == LN iff mean(h) = 0', () => {
  const h = [0.5, -1.25, 3, 2];
  const g = f64([1.5, -0.5, 2, 1]);
  const be = f64([0.1, 0.2, -0.3, 0.4]);
  it('LN(h + c·1) == LN(h)', () => {
    for (const c of [-7, 0.3, 100])
      close(arr(layerNorm(f64(h.map((v) => v + c)), { scale: g, bias: be })), arr(layerNorm(f64(h), { scale: g, bias: be })), 1e-9);
  });
  it('RMSNorm ≠ LN for a non-zero mean, == after centering (affine equal, β kept)', () => {
    const diff = arr(rmsNorm(f64(h), { scale: g, bias: be })).map((v, i) =>
      Math.abs(v - arr(layerNorm(f64(h), { scale: g, bias: be }))[i]!),
    );
    expect(Math.max(...diff)).toBeGreaterThan(1e-3);
    const mu = h.reduce((a, v) => a + v, 0) / h.length;
    const hc = h.map((v) => v - mu);
    close(arr(rmsNorm(f64(hc), { scale: g, bias: be })), arr(layerNorm(f64(h), { scale: g, bias: be })), 1e-12);
  });
});

describe('oracle 7: LN([3, 1])', () => {
  it('= [1, -1] at ε = 0 and [0.999995, -0.999995] at ε = 1e-5', () => {
    close(arr(layerNorm(f64([3, 1]), { epsilon: 0 })), [1, -1], 1e-12);
    close(arr(layerNorm(f64([3, 1]), { epsilon: 1e-5 })), [0.999995, -0.999995], 1e-6);
  });
});

describe('oracle 8: LN geometry at d = 3', () => {
  it('sum 0 and sum of squares 3 (no affine, ε = 0)', () => {
    for (const h of [
      [1, 2, 4],
      [-3, 0.5, 9],
      [0.001, 0.002, -0.004],
    ]) {
      const y = arr(layerNorm(f64(h), { epsilon: 0 }));
      expect(Math.abs(y.reduce((a, v) => a + v, 0))).toBeLessThan(1e-12);
      expect(Math.abs(y.reduce((a, v) => a + v * v, 0) - 3)).toBeLessThan(1e-9);
    }
  });
});

describe('oracle 12: PLN', () => {
  const x = Tensor.randn([3, 8], 12, { dtype: 'float64' });
  const xs = arr(x);
  it('one group (groupSize == num_features) equals LN', () => {
    close(arr(parallelLayerNorm(x, { groupSize: 8 })), arr(layerNorm(x)), 1e-12);
  });
  it('centering: false equals grouped RMSNorm (PLS)', () => {
    const want: number[] = [];
    for (let g = 0; g < 6; g++) {
      const grp = xs.slice(g * 4, g * 4 + 4);
      const rms = Math.sqrt(grp.reduce((a, v) => a + v * v, 0) / 4 + 1e-5);
      want.push(...grp.map((v) => v / rms));
    }
    close(arr(parallelLayerNorm(x, { groupSize: 4, centering: false })), want, 1e-12);
  });
  it('p = 2 is the standard (biased) variance; p = 1 the mean absolute deviation', () => {
    for (const p of [2, 1]) {
      const want: number[] = [];
      for (let g = 0; g < 12; g++) {
        const grp = xs.slice(g * 2, g * 2 + 2);
        const mu = (grp[0]! + grp[1]!) / 2;
        const s = grp.reduce((a, v) => a + Math.abs(v - mu) ** p, 0) / 2;
        want.push(...grp.map((v) => (v - mu) / (s + 1e-5) ** (1 / p)));
      }
      close(arr(parallelLayerNorm(x, { groupSize: 2, p })), want, 1e-12);
    }
  });
  it('4-D input is grouped along C per spatial position (pln.py dim=4)', () => {
    const x4 = Tensor.randn([2, 6, 2, 3], 5, { dtype: 'float64' });
    const X = arr(x4);
    const y = arr(parallelLayerNorm(x4, { groupSize: 3 }));
    for (let n = 0; n < 2; n++)
      for (let s = 0; s < 6; s++)
        for (let g = 0; g < 2; g++) {
          const idx = [0, 1, 2].map((k) => (n * 6 + g * 3 + k) * 6 + s);
          const v = idx.map((i) => X[i]!);
          const mu = (v[0]! + v[1]! + v[2]!) / 3;
          const sd = Math.sqrt(v.reduce((a, t) => a + (t - mu) ** 2, 0) / 3 + 1e-5);
          close(
            idx.map((i) => y[i]!),
            v.map((t) => (t - mu) / sd),
            1e-12,
          );
        }
  });
});

describe('oracle 13/14: IterNorm matrices, spectra and trace loss for Σ = [[2,1],[1,2]]', () => {
  const S = [2, 1, 1, 2];
  const sigma = f64(S, [2, 2]);
  const table: [number, number[], number[], number][] = [
    [1, [0.625, -0.0625, -0.0625, 0.625], [0.472656, 0.949219], 0.167114],
    [2, [0.722778, -0.145996], [0.754769, 0.998033], 0.0305534],
    [4, [0.788221, -0.210871], [0.998186, 1.0], 1.64608e-6],
  ];
  for (const [T, W, eig, tl] of table) {
    it(`T = ${T}`, () => {
      const Wt = arr(iterNormMatrix(sigma, T));
      close(Wt.slice(0, W.length), W, 1e-6);
      const C = mm2(mm2(Wt, S), t2(Wt));
      close(eig2(C), eig, 1e-6);
      const got = traceLossFromCovariance(f64(C, [2, 2]));
      expect(Math.abs(got - tl) / tl).toBeLessThan(1e-5);
    });
  }
  it('T → ∞ gives Σ^(−1/2) and eigenvalues [1, 1]', () => {
    const Wt = arr(iterNormMatrix(sigma, 30));
    close(Wt, [0.788675, -0.211325, -0.211325, 0.788675], 1e-6);
    close(eig2(mm2(mm2(Wt, S), t2(Wt))), [1, 1], 1e-9);
  });
  it('iterNorm on data whose covariance is Σ reproduces W_1 (ε = 0)', () => {
    // Samples ±√2·√λ_k·q_k: mean 0, covariance Σ_k λ_k q_k q_kᵀ = Σ (λ = 1, 3; q = (1,−1)/√2, (1,1)/√2).
    const r = Math.SQRT1_2;
    const pts: number[] = [];
    for (const [l, q] of [
      [1, [r, -r]],
      [3, [r, r]],
    ] as [number, number[]][])
      for (const sg of [1, -1]) pts.push(...q.map((v) => sg * Math.SQRT2 * Math.sqrt(l) * v));
    const res = iterNorm(f64(pts, [4, 2]), { T: 1, epsilon: 0 });
    close(arr(res.whitening), [0.625, -0.0625, -0.0625, 0.625], 1e-12);
  });
});

describe('oracle 15: IterNorm eigenvalue map h_T', () => {
  const T4: [number, number][] = [
    [1, 1],
    [0.5, 0.999999],
    [0.25, 0.998186],
    [0.1, 0.918598],
    [0.01, 0.225465],
    [0.001, 0.025295],
  ];
  for (const [x, h] of T4) it(`T = 4: h(${x}) = ${h}`, () => expect(Math.abs(iterNormSpectrum(x, 4) - h)).toBeLessThan(1e-6));
  it('T = 5: h(0.01) = 0.433911', () => expect(Math.abs(iterNormSpectrum(0.01, 5) - 0.433911)).toBeLessThan(1e-6));
  it('INTL examples: h_4(1/256) = 0.0952, h_4(1/8192) = 0.00312', () => {
    expect(Math.abs(iterNormSpectrum(1 / 256, 4) - 0.0952)).toBeLessThan(1e-4);
    expect(Math.abs(iterNormSpectrum(1 / 8192, 4) - 0.00312)).toBeLessThan(1e-5);
  });
});

describe('oracle 16: INTL β schedule', () => {
  it('β(bs) = 0.04, 0.05, 0.06, 0.07 for 128..1024; 0.10 for emb 8192', () => {
    close([128, 256, 512, 1024].map(intlBeta), [0.04, 0.05, 0.06, 0.07], 1e-12);
    expect(Math.abs(intlBeta(8192) - 0.1)).toBeLessThan(1e-12);
  });
});

describe('oracle 17: spectral transform, power family', () => {
  // Σ = Q diag(4, 1, 0.25) Qᵀ with a rotation Q written here.
  const c = Math.cos(0.7);
  const s = Math.sin(0.7);
  const Q = [
    [c, -s, 0],
    [s * 0.6, c * 0.6, 0.8],
    [-s * 0.8, -c * 0.8, 0.6],
  ];
  const lam = [4, 1, 0.25];
  const build = (ev: number[]) => {
    const M: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) M.push([0, 1, 2].reduce((a, k) => a + Q[i]![k]! * ev[k]! * Q[j]![k]!, 0));
    return M;
  };
  const cases: [number, number[]][] = [
    [0.25, [2, 1, 0.5]],
    [0.5, [1, 1, 1]],
    [0.75, [0.5, 1, 2]],
  ];
  for (const [p, out] of cases) {
    it(`p = ${p}: output eigenvalues [${out}]`, () => {
      // Matrix form: M Σ Mᵀ = Q diag(λ^(1−2p)) Qᵀ.
      const M = arr(spectralMatrix(f64(build(lam), [3, 3]), p));
      const S = build(lam);
      const C: number[] = [];
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          let v = 0;
          for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) v += M[i * 3 + a]! * S[a * 3 + b]! * M[j * 3 + b]!;
          C.push(v);
        }
      close(C, build(out), 1e-9);
      // Data form: samples ±√3·√λ_k·q_k have covariance Σ; cov(ST(x)) = Q diag(out) Qᵀ.
      const pts: number[] = [];
      for (let k = 0; k < 3; k++) for (const sg of [1, -1]) pts.push(...[0, 1, 2].map((i) => sg * Math.sqrt(3 * lam[k]!) * Q[i]![k]!));
      const y = arr(spectralTransform(f64(pts, [6, 3]), p));
      const cov: number[] = [];
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) cov.push([0, 1, 2, 3, 4, 5].reduce((a, n) => a + y[n * 3 + i]! * y[n * 3 + j]!, 0) / 6);
      close(cov, build(out), 1e-9);
    });
  }
});
