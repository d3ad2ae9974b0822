import { cholesky, eigh, inv, invSqrtm, NormkitError, newtonSchulz, solveTriangular, sqrtm, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { mulberry } from './ref.js';

/** Random SPD matrix X·Xᵀ/m + δI in float64 (independent generator). */
function spd(n: number, seed: number, delta = 0.1): Float64Array {
  const rnd = mulberry(seed);
  const m = n + 4;
  const X = Float64Array.from({ length: n * m }, () => rnd() * 2 - 1);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += X[i * m + k]! * X[j * m + k]!;
      A[i * n + j] = s / m + (i === j ? delta : 0);
    }
  return A;
}

function mm(A: ArrayLike<number>, B: ArrayLike<number>, n: number, m: number, p: number, transB = false): Float64Array {
  const C = new Float64Array(n * p);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += (A[i * m + k] as number) * (transB ? (B[j * m + k] as number) : (B[k * p + j] as number));
      C[i * p + j] = s;
    }
  return C;
}

const fro = (A: ArrayLike<number>) => Math.sqrt(Array.from(A).reduce((s, v) => s + v * v, 0));
const relErr = (A: ArrayLike<number>, B: ArrayLike<number>) => fro(Array.from(A, (v, i) => v - (B[i] as number))) / fro(B);
const eye = (n: number) => Float64Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) === i % n ? 1 : 0));

describe('eigh', () => {
  it('hand case', () => {
    const { values, vectors } = eigh(
      Tensor.from([
        [2, 1],
        [1, 2],
      ]),
    );
    expect(values.toFlatArray()[0]).toBeCloseTo(1, 6);
    expect(values.toFlatArray()[1]).toBeCloseTo(3, 6);
    const v = vectors.toFlatArray();
    expect(Math.abs(v[0]!)).toBeCloseTo(Math.SQRT1_2, 6);
    expect(v[0]! * v[2]!).toBeCloseTo(-0.5, 6); // eigenvector of 1 is ±(1, -1)/√2
    expect(eigh(Tensor.from([[5]])).values.toArray()).toEqual([5]);
    expect(eigh(Tensor.zeros([0, 0])).values.shape).toEqual([0]);
  });
  for (const [n, dtype, method] of [
    [8, 'float32', 'ql'],
    [9, 'float32', 'jacobi'],
    [40, 'float64', 'ql'],
    [40, 'float64', 'jacobi'],
    [256, 'float64', 'ql'],
  ] as const) {
    it(`reconstructs a random ${n}×${n} SPD matrix (${dtype}, ${method}): A = VΛVᵀ to 1e-4, VᵀV = I to 1e-5, λ ascending`, () => {
      const A = spd(n, n);
      const t = dtype === 'float64' ? new Tensor([n, n], 'float64', A) : new Tensor([n, n], 'float32', Float32Array.from(A));
      const { values, vectors } = eigh(t, { method });
      expect(values.dtype).toBe(dtype);
      const w = values.toFlatArray();
      const V = vectors.toFlatArray();
      for (let i = 1; i < n; i++) expect(w[i]!).toBeGreaterThanOrEqual(w[i - 1]!);
      const VL = V.map((v, i) => v * w[i % n]!);
      expect(relErr(mm(VL, V, n, n, n, true), A)).toBeLessThan(1e-4);
      const VtV = mm(
        Array.from({ length: n * n }, (_, i) => V[(i % n) * n + Math.floor(i / n)]!),
        V,
        n,
        n,
        n,
      );
      const I = eye(n);
      let maxDev = 0;
      for (let i = 0; i < n * n; i++) maxDev = Math.max(maxDev, Math.abs(VtV[i]! - I[i]!));
      expect(maxDev).toBeLessThan(1e-5);
    });
  }
  it('handles repeated and negative eigenvalues (symmetric indefinite), diagonal and zero matrices', () => {
    for (const method of ['ql', 'jacobi'] as const) {
      const w = eigh(
        Tensor.from([
          [0, 0, 1],
          [0, 2, 0],
          [1, 0, 0],
        ]),
        { method },
      ).values.toFlatArray();
      expect(w[0]).toBeCloseTo(-1, 6);
      expect(w[1]).toBeCloseTo(1, 6);
      expect(w[2]).toBeCloseTo(2, 6);
      const r = eigh(
        Tensor.from([
          [3, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
        { method },
      );
      expect(r.values.toFlatArray()).toEqual([1, 1, 3]);
      expect(Math.abs(r.vectors.get(0, 2))).toBe(1);
      expect(eigh(Tensor.zeros([4, 4]), { method }).values.toFlatArray()).toEqual([0, 0, 0, 0]);
    }
  });
  it('rejects non-square and non-float input', () => {
    expect(() => eigh(Tensor.zeros([2, 3]))).toThrow(/eigh: expected a square 2-D matrix, got \[2, 3\]/);
    expect(() => eigh(Tensor.zeros([2, 2], 'int64'))).toThrow(NormkitError);
  });
});

describe('cholesky and triangular solves', () => {
  it('hand case', () => {
    const L = cholesky(
      Tensor.from([
        [4, 2],
        [2, 3],
      ]),
    ).toFlatArray();
    expect(L[0]).toBeCloseTo(2, 6);
    expect(L[1]).toBe(0);
    expect(L[2]).toBeCloseTo(1, 6);
    expect(L[3]).toBeCloseTo(Math.SQRT2, 6);
  });
  it('reconstructs random SPD matrices (n = 5, 64, 256) to 1e-4', () => {
    for (const n of [5, 64, 256]) {
      const A = spd(n, 100 + n);
      const L = cholesky(new Tensor([n, n], 'float64', A)).toFlatArray();
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
      expect(relErr(mm(L, L, n, n, n, true), A)).toBeLessThan(1e-4);
    }
  });
  it('rejects indefinite matrices with a typed error', () => {
    expect(() =>
      cholesky(
        Tensor.from([
          [1, 2],
          [2, 1],
        ]),
      ),
    ).toThrow(/cholesky: matrix \[2, 2\] is not positive definite/);
  });
  it('solveTriangular: lower/upper, transposed, unit diagonal, several right-hand sides', () => {
    const n = 12;
    const m = 3;
    const rnd = mulberry(5);
    const L = Float64Array.from({ length: n * n }, (_, i) =>
      i % n < Math.floor(i / n) ? rnd() - 0.5 : i % n === Math.floor(i / n) ? 1 + rnd() : 0,
    );
    const U = Float64Array.from({ length: n * n }, (_, i) => L[(i % n) * n + Math.floor(i / n)]!);
    const Lt = new Tensor([n, n], 'float64', L);
    const Ut = new Tensor([n, n], 'float64', U);
    const B = Float64Array.from({ length: n * m }, () => rnd() - 0.5);
    const Bt = new Tensor([n, m], 'float64', B);
    const check = (T: Float64Array, X: Tensor, tol = 1e-10) => expect(relErr(mm(T, X.toFlatArray(), n, n, m), B)).toBeLessThan(tol);
    check(L, solveTriangular(Lt, Bt));
    check(U, solveTriangular(Ut, Bt, { lower: false }));
    check(U, solveTriangular(Lt, Bt, { transpose: true }));
    check(L, solveTriangular(Ut, Bt, { lower: false, transpose: true }));
    const Lunit = L.map((v, i) => (i % n === Math.floor(i / n) ? 1 : v));
    check(Lunit, solveTriangular(Lt, Bt, { unitDiagonal: true }));
    // Upper entries of a "lower" matrix are ignored.
    const noisy = new Tensor(
      [n, n],
      'float64',
      L.map((v, i) => (i % n > Math.floor(i / n) ? 99 : v)),
    );
    check(L, solveTriangular(noisy, Bt));
    // 1-D right-hand side, float32.
    const x = solveTriangular(
      Tensor.from([
        [2, 0],
        [1, 1],
      ]),
      Tensor.from([4, 5]),
    );
    expect(x.shape).toEqual([2]);
    expect(x.toArray()).toEqual([2, 3]);
    expect(() => solveTriangular(Lt, Tensor.zeros([3]))).toThrow(/solveTriangular: right-hand side \[3\] must be \[12\]/);
  });
});

describe('inverse and matrix square roots', () => {
  it('inv: A·A⁻¹ = I on a random general matrix, typed error when singular', () => {
    const n = 30;
    const rnd = mulberry(6);
    const A = Float64Array.from({ length: n * n }, () => rnd() - 0.5);
    const Ai = inv(new Tensor([n, n], 'float64', A)).toFlatArray();
    expect(relErr(mm(A, Ai, n, n, n), eye(n))).toBeLessThan(1e-8);
    expect(() =>
      inv(
        Tensor.from([
          [1, 2],
          [2, 4],
        ]),
      ),
    ).toThrow(/inv: matrix \[2, 2\] is singular/);
  });
  it('hand cases', () => {
    expect(
      sqrtm(
        Tensor.from([
          [4, 0],
          [0, 9],
        ]),
      )
        .toFlatArray()
        .map((v) => Math.round(v * 1e6) / 1e6),
    ).toEqual([2, 0, 0, 3]);
    const r = invSqrtm(
      Tensor.from([
        [4, 0],
        [0, 9],
      ]),
      { method: 'newton-schulz' },
    ).toFlatArray();
    expect(r[0]).toBeCloseTo(0.5, 6);
    expect(r[3]).toBeCloseTo(1 / 3, 6);
  });
  for (const n of [10, 96]) {
    it(`invSqrtm / sqrtm by eig and by Newton–Schulz agree with the definition (n = ${n})`, () => {
      const A = spd(n, 200 + n);
      const t = new Tensor([n, n], 'float64', A);
      const I = eye(n);
      for (const method of ['eig', 'newton-schulz'] as const) {
        const S = invSqrtm(t, { method }).toFlatArray();
        // S·A·S = I and S symmetric.
        expect(relErr(mm(mm(S, A, n, n, n), S, n, n, n), I), method).toBeLessThan(1e-4);
        const R = sqrtm(t, { method }).toFlatArray();
        expect(relErr(mm(R, R, n, n, n), A), method).toBeLessThan(1e-4);
      }
      const ns = newtonSchulz(t);
      expect(ns.residual).toBeLessThan(1e-7);
      expect(relErr(mm(ns.sqrt.toFlatArray(), ns.invSqrt.toFlatArray(), n, n, n), I)).toBeLessThan(1e-6);
    });
  }
  it('Newton–Schulz with a fixed iteration count (IterNorm) runs exactly that many, float32 in and out', () => {
    const A = spd(6, 7, 1);
    const r = newtonSchulz(new Tensor([6, 6], 'float32', Float32Array.from(A)), { iterations: 5 });
    expect(r.iterations).toBe(5);
    expect(r.invSqrt.dtype).toBe('float32');
  });
  it('eig-based inverse square root honours eps and rejects a singular matrix without it', () => {
    const Z = Tensor.from([
      [1, 0],
      [0, 0],
    ]);
    expect(() => invSqrtm(Z)).toThrow(/invSqrtm: matrix \[2, 2\]/);
    const r = invSqrtm(Z, { eps: 0.01 }).toFlatArray();
    expect(r[3]).toBeCloseTo(10, 4);
  });
});
