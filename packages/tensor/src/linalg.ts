// Dense linear algebra for the whitening operators: every routine copies its input to float64,
// works there, and returns tensors of the input's float dtype (float32 in, float32 out).
import { fmtShape, NormkitError } from './errors.js';
import { Tensor } from './tensor.js';

type F64 = Float64Array<ArrayBuffer>;

function squareF64(op: string, a: Tensor): { n: number; A: F64 } {
  if (a.dtype !== 'float32' && a.dtype !== 'float64') {
    throw new NormkitError('DTYPE_MISMATCH', `${op}: expected a float matrix, got ${a.dtype} ${fmtShape(a.shape)}; cast it first`, {
      op,
      shape: a.shape,
    });
  }
  if (a.rank !== 2 || a.shape[0] !== a.shape[1]) {
    throw new NormkitError('SHAPE_MISMATCH', `${op}: expected a square 2-D matrix, got ${fmtShape(a.shape)}`, { op, shape: a.shape });
  }
  const n = a.shape[0] as number;
  return { n, A: Float64Array.from(a.data as Float32Array) };
}

function out(a: Tensor, shape: number[], data: F64): Tensor {
  return a.dtype === 'float64' ? new Tensor(shape, 'float64', data) : new Tensor(shape, 'float32', Float32Array.from(data));
}

/** C = A·B for row-major n×n float64 matrices: four rows of C at a time share each row of B. */
function mm(A: F64, B: F64, n: number): F64 {
  const C = new Float64Array(n * n);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const c0 = i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    for (let k = 0; k < n; k++) {
      const a0 = A[c0 + k]!;
      const a1 = A[c1 + k]!;
      const a2 = A[c2 + k]!;
      const a3 = A[c3 + k]!;
      const bk = k * n;
      for (let j = 0; j < n; j++) {
        const b = B[bk + j]!;
        C[c0 + j]! += a0 * b;
        C[c1 + j]! += a1 * b;
        C[c2 + j]! += a2 * b;
        C[c3 + j]! += a3 * b;
      }
    }
  }
  for (; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const a = A[ci + k]!;
      const bk = k * n;
      for (let j = 0; j < n; j++) C[ci + j]! += a * B[bk + j]!;
    }
  }
  return C;
}

/** Symmetric eigendecomposition result: `values` ascending, `vectors` columns orthonormal (A = V·diag(λ)·Vᵀ). */
export interface EighResult {
  /** Eigenvalues, ascending, shape [n]. */
  values: Tensor;
  /** Eigenvectors as columns, shape [n, n]: column j belongs to values[j]. */
  vectors: Tensor;
}

/** Cyclic Jacobi on a symmetric float64 matrix (destroyed). Returns eigenvalues and Vᵀ (rows = vectors), unsorted. */
function jacobi(A: F64, n: number, maxSweeps = 100): { w: F64; Vt: F64 } {
  const Vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Vt[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i]! * A[i]!;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q]! * A[p * n + q]!;
    if (off <= 1e-30 * total || off === 0) break;
    // Small rotations are skipped in the first sweeps (threshold Jacobi), then every pair is rotated.
    const thresh = sweep < 3 ? (0.2 * Math.sqrt(off)) / (n * n) : 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (Math.abs(apq) <= thresh || apq === 0) continue;
        const app = A[p * n + p]!;
        const aqq = A[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        const rp = p * n;
        const rq = q * n;
        // Rows p and q of A rotate; symmetry is restored by mirroring into columns p and q.
        for (let k = 0; k < n; k++) {
          const g = A[rp + k]!;
          const h = A[rq + k]!;
          const ng = c * g - s * h;
          const nh = s * g + c * h;
          A[rp + k] = ng;
          A[rq + k] = nh;
          A[k * n + p] = ng;
          A[k * n + q] = nh;
        }
        A[rp + p] = app - t * apq;
        A[rq + q] = aqq + t * apq;
        A[rp + q] = 0;
        A[rq + p] = 0;
        for (let k = 0; k < n; k++) {
          const g = Vt[rp + k]!;
          const h = Vt[rq + k]!;
          Vt[rp + k] = c * g - s * h;
          Vt[rq + k] = s * g + c * h;
        }
      }
    }
  }
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = A[i * n + i]!;
  return { w, Vt };
}

/**
 * Householder reduction of the symmetric matrix in V (row-major, n×n) to tridiagonal form, then
 * implicit QL iterations with Wilkinson-type shifts (the EISPACK tred2/tql2 pair, as in JAMA).
 * On return d holds the eigenvalues (unsorted) and V's columns the eigenvectors. O(n³).
 */
function tridiagonalQL(V: F64, n: number, d: F64): void {
  const e = new Float64Array(n);
  const at = (i: number, j: number) => i * n + j;
  for (let j = 0; j < n; j++) d[j] = V[at(n - 1, j)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[at(i - 1, j)]!;
        V[at(i, j)] = 0;
        V[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[at(j, i)] = f;
        g = e[j]! + V[at(j, j)]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[at(k, j)]! * d[k]!;
          e[k]! += V[at(k, j)]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[at(k, j)]! -= f * e[k]! + g * d[k]!;
        d[j] = V[at(i - 1, j)]!;
        V[at(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[at(n - 1, i)] = V[at(i, i)]!;
    V[at(i, i)] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[at(k, i + 1)]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[at(k, i + 1)]! * V[at(k, j)]!;
        for (let k = 0; k <= i; k++) V[at(k, j)]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[at(k, i + 1)] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[at(n - 1, j)]!;
    V[at(n - 1, j)] = 0;
  }
  if (n > 0) V[at(n - 1, n - 1)] = 1;
  // QL iterations on the tridiagonal (d, e).
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60)
          throw new NormkitError(
            'NO_CONVERGENCE',
            `eigh: QL iteration did not converge for eigenvalue ${l} of a ${n}×${n} matrix (NaN or Inf in the input?)`,
            { op: 'eigh' },
          );
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            const row = k * n;
            h = V[row + i + 1]!;
            V[row + i + 1] = s * V[row + i]! + c * h;
            V[row + i] = c * V[row + i]! - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l]! += f;
    e[l] = 0;
  }
}

/** Eigen-decomposition in float64: ascending eigenvalues, V with eigenvectors as columns. */
function eighF64(A: F64, n: number, method: 'ql' | 'jacobi' = 'ql'): { w: F64; V: F64 } {
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = 0.5 * (A[i * n + j]! + A[j * n + i]!);
  let w: F64;
  let col: (src: number, k: number) => number;
  if (method === 'jacobi') {
    const r = jacobi(S, n);
    w = r.w;
    col = (src, k) => r.Vt[src * n + k]!;
  } else {
    w = new Float64Array(n);
    tridiagonalQL(S, n, w);
    col = (src, k) => S[k * n + src]!;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => w[x]! - w[y]!);
  const ws = new Float64Array(n);
  const V = new Float64Array(n * n);
  order.forEach((src, j) => {
    ws[j] = w[src]!;
    for (let k = 0; k < n; k++) V[k * n + j] = col(src, k);
  });
  return { w: ws, V };
}

/**
 * Symmetric eigendecomposition in float64: A = V·diag(λ)·Vᵀ with λ ascending and V's columns
 * orthonormal. The input is symmetrized as (A + Aᵀ)/2. Default method: Householder
 * tridiagonalization + implicit QL (O(n³), ~10× faster than Jacobi at n = 256); `'jacobi'`: cyclic
 * Jacobi rotations (slower, very accurate small eigenvalues).
 *
 * @example
 * ```ts
 * const { values, vectors } = eigh(Tensor.from([[2, 1], [1, 2]]));
 * values.toArray(); // [1, 3]
 * eigh(cov, { method: 'jacobi' });
 * ```
 */
export function eigh(a: Tensor, opts: { method?: 'ql' | 'jacobi' } = {}): EighResult {
  const { n, A } = squareF64('eigh', a);
  const { w, V } = eighF64(A, n, opts.method ?? 'ql');
  return { values: out(a, [n], w), vectors: out(a, [n, n], V) };
}

function choleskyF64(op: string, A: F64, n: number, shape: readonly number[]): F64 {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= L[j * n + k]! * L[j * n + k]!;
    if (!(d > 0)) {
      throw new NormkitError(
        'NOT_POSITIVE_DEFINITE',
        `${op}: matrix ${fmtShape(shape)} is not positive definite (pivot ${j} is ${d}); add a small multiple of the identity (ε·I) or check the input is a covariance`,
        { op, shape, pivot: j },
      );
    }
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      L[ri + j] = s / ljj;
    }
  }
  return L;
}

/**
 * Cholesky factor of a symmetric positive-definite matrix: lower-triangular L with A = L·Lᵀ
 * (float64 internally; reads the lower triangle). Throws `NOT_POSITIVE_DEFINITE` otherwise.
 *
 * @example
 * ```ts
 * cholesky(Tensor.from([[4, 2], [2, 3]])).toArray(); // [[2, 0], [1, 1.414...]]
 * ```
 */
export function cholesky(a: Tensor): Tensor {
  const { n, A } = squareF64('cholesky', a);
  return out(a, [n, n], choleskyF64('cholesky', A, n, a.shape));
}

/** Options of `solveTriangular`. */
export interface SolveTriangularOptions {
  /** Whether `t` is lower triangular (default true); only that triangle is read. */
  lower?: boolean;
  /** Solve tᵀ·x = b instead of t·x = b (default false). */
  transpose?: boolean;
  /** Treat the diagonal as ones (default false). */
  unitDiagonal?: boolean;
}

/**
 * Solves t·x = b (or tᵀ·x = b) for triangular `t` [n, n] by substitution in float64; `b` is [n] or
 * [n, m] (m right-hand sides) and x has b's shape.
 *
 * @example
 * ```ts
 * const L = cholesky(A);
 * const y = solveTriangular(L, b);                     // L·y = b
 * const x = solveTriangular(L, y, { transpose: true }); // Lᵀ·x = y, so A·x = b
 * ```
 */
export function solveTriangular(t: Tensor, b: Tensor, opts: SolveTriangularOptions = {}): Tensor {
  const { n, A } = squareF64('solveTriangular', t);
  if ((b.rank !== 1 && b.rank !== 2) || b.shape[0] !== n) {
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `solveTriangular: right-hand side ${fmtShape(b.shape)} must be [${n}] or [${n}, m] for the matrix ${fmtShape(t.shape)}`,
      { op: 'solveTriangular', shapes: [t.shape, b.shape] },
    );
  }
  if (b.dtype !== 'float32' && b.dtype !== 'float64')
    throw new NormkitError('DTYPE_MISMATCH', `solveTriangular: right-hand side must be float, got ${b.dtype} ${fmtShape(b.shape)}`);
  const lower = opts.lower ?? true;
  const trans = opts.transpose ?? false;
  const unit = opts.unitDiagonal ?? false;
  const m = b.rank === 1 ? 1 : (b.shape[1] as number);
  const X = Float64Array.from(b.data as Float32Array);
  // Element (i, k) of op(t): t[i, k] or t[k, i]. op(t) is lower when lower XOR transpose.
  const at = trans ? (i: number, k: number) => A[k * n + i]! : (i: number, k: number) => A[i * n + k]!;
  const forward = lower !== trans;
  for (let step = 0; step < n; step++) {
    const i = forward ? step : n - 1 - step;
    const d = unit ? 1 : at(i, i);
    if (d === 0)
      throw new NormkitError('SINGULAR_MATRIX', `solveTriangular: diagonal element ${i} of ${fmtShape(t.shape)} is 0`, {
        op: 'solveTriangular',
      });
    for (let c = 0; c < m; c++) {
      let s = X[i * m + c]!;
      if (forward) for (let k = 0; k < i; k++) s -= at(i, k) * X[k * m + c]!;
      else for (let k = i + 1; k < n; k++) s -= at(i, k) * X[k * m + c]!;
      X[i * m + c] = s / d;
    }
  }
  return b.dtype === 'float64' ? new Tensor(b.shape, 'float64', X) : new Tensor(b.shape, 'float32', Float32Array.from(X));
}

/**
 * Inverse of a square matrix by Gauss–Jordan elimination with partial pivoting (float64).
 * Throws `SINGULAR_MATRIX` when a pivot vanishes.
 *
 * @example
 * ```ts
 * inv(Tensor.from([[2, 0], [0, 4]])).toArray(); // [[0.5, 0], [0, 0.25]]
 * ```
 */
export function inv(a: Tensor): Tensor {
  const { n, A } = squareF64('inv', a);
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(A[i]!));
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r * n + col]!) > Math.abs(A[piv * n + col]!)) piv = r;
    const pv = A[piv * n + col]!;
    if (Math.abs(pv) <= 1e-14 * scale || pv === 0) {
      throw new NormkitError(
        'SINGULAR_MATRIX',
        `inv: matrix ${fmtShape(a.shape)} is singular to working precision (column ${col}); regularize it (add ε·I)`,
        { op: 'inv', shape: a.shape },
      );
    }
    if (piv !== col) {
      for (let k = 0; k < n; k++) {
        [A[col * n + k], A[piv * n + k]] = [A[piv * n + k]!, A[col * n + k]!];
        [I[col * n + k], I[piv * n + k]] = [I[piv * n + k]!, I[col * n + k]!];
      }
    }
    const ip = 1 / pv;
    for (let k = 0; k < n; k++) {
      A[col * n + k]! *= ip;
      I[col * n + k]! *= ip;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = A[r * n + col]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        A[r * n + k]! -= f * A[col * n + k]!;
        I[r * n + k]! -= f * I[col * n + k]!;
      }
    }
  }
  return out(a, [n, n], I);
}

/** Options of the Newton–Schulz iteration. */
export interface NewtonSchulzOptions {
  /** A fixed number of iterations (IterNorm uses 5); when omitted, iterate until converged. */
  iterations?: number;
  /** Stop when ‖I − Z·Y‖_F / √n falls below this (default 1e-7); ignored when `iterations` is set. */
  tol?: number;
  /** Upper bound on iterations when converging by tolerance (default 100). */
  maxIterations?: number;
}

/** Result of `newtonSchulz`: both the square root and the inverse square root of A. */
export interface NewtonSchulzResult {
  /** ≈ A^{1/2}. */
  sqrt: Tensor;
  /** ≈ A^{-1/2}. */
  invSqrt: Tensor;
  /** Iterations run. */
  iterations: number;
  /** Final ‖I − Z·Y‖_F / √n (0 when not computed). */
  residual: number;
}

function newtonSchulzF64(A: F64, n: number, opts: NewtonSchulzOptions): { Y: F64; Z: F64; c: number; it: number; res: number } {
  let c = 0;
  for (let i = 0; i < n; i++) c += A[i * n + i]!;
  if (!(c > 0)) c = 1;
  // Trace normalization: the eigenvalues of A/tr(A) lie in (0, 1], inside the region of convergence.
  let Y = A.map((v) => v / c);
  let Z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Z[i * n + i] = 1;
  const fixed = opts.iterations;
  const maxIt = fixed ?? opts.maxIterations ?? 100;
  const tol = opts.tol ?? 1e-7;
  let it = 0;
  let res = 0;
  for (; it < maxIt; it++) {
    // T = (3I − Z·Y)/2; Y ← Y·T; Z ← T·Z (coupled iteration: Y → (A/c)^{1/2}, Z → (A/c)^{-1/2}).
    const T = mm(Z, Y, n);
    let r = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const e = (i === j ? 1 : 0) - T[i * n + j]!;
        r += e * e;
        T[i * n + j] = 0.5 * ((i === j ? 2 : 0) + e);
      }
    }
    res = Math.sqrt(r / Math.max(n, 1));
    if (fixed === undefined && res < tol) break;
    Y = mm(Y, T, n);
    Z = mm(T, Z, n);
  }
  return { Y, Z, c, it, res };
}

/**
 * Coupled Newton–Schulz iterations for the square root and inverse square root of a symmetric
 * positive-definite matrix, with trace normalization (A/tr(A)), as in IterNorm. Only matrix
 * products, so it is differentiable and GPU friendly; converges for any SPD input.
 *
 * @example
 * ```ts
 * const { invSqrt } = newtonSchulz(cov, { iterations: 5 }); // IterNorm's whitening matrix
 * ```
 */
export function newtonSchulz(a: Tensor, opts: NewtonSchulzOptions = {}): NewtonSchulzResult {
  const { n, A } = squareF64('newtonSchulz', a);
  const { Y, Z, c, it, res } = newtonSchulzF64(A, n, opts);
  const sc = Math.sqrt(c);
  return {
    sqrt: out(
      a,
      [n, n],
      Y.map((v) => v * sc),
    ),
    invSqrt: out(
      a,
      [n, n],
      Z.map((v) => v / sc),
    ),
    iterations: it,
    residual: res,
  };
}

/** Options of `sqrtm` / `invSqrtm`. */
export interface MatrixFunctionOptions extends NewtonSchulzOptions {
  /** 'eig' (default): through `eigh`; 'newton-schulz': coupled iterations. */
  method?: 'eig' | 'newton-schulz';
  /** Added to every eigenvalue before the power ('eig' only; default 0). Eigenvalues ≤ −eps are an error. */
  eps?: number;
}

function spectralPower(op: string, a: Tensor, power: number, eps: number): Tensor {
  const { n, A } = squareF64(op, a);
  const { w, V } = eighF64(A, n);
  const f = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let lam = w[j]! + eps;
    // Round-off can make the smallest eigenvalue of a PSD matrix slightly negative.
    if (lam < 0 && lam > -1e-10 * Math.max(Math.abs(w[n - 1]!), 1)) lam = 0;
    if (lam < 0 || (power < 0 && lam === 0)) {
      throw new NormkitError(
        'NOT_POSITIVE_DEFINITE',
        `${op}: matrix ${fmtShape(a.shape)} has eigenvalue ${w[j]} (+ eps ${eps}), so the power ${power} is undefined; add eps`,
        { op, shape: a.shape },
      );
    }
    f[j] = lam ** power;
  }
  // V·diag(f)·Vᵀ
  const R = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += V[i * n + k]! * f[k]! * V[j * n + k]!;
      R[i * n + j] = s;
      R[j * n + i] = s;
    }
  }
  return out(a, [n, n], R);
}

/**
 * Principal square root A^{1/2} of a symmetric positive semi-definite matrix.
 *
 * @example
 * ```ts
 * sqrtm(Tensor.from([[4, 0], [0, 9]])).toArray(); // [[2, 0], [0, 3]]
 * ```
 */
export function sqrtm(a: Tensor, opts: MatrixFunctionOptions = {}): Tensor {
  if (opts.method === 'newton-schulz') return newtonSchulz(a, opts).sqrt;
  return spectralPower('sqrtm', a, 0.5, opts.eps ?? 0);
}

/**
 * Inverse square root A^{-1/2} of a symmetric positive-definite matrix (the ZCA whitening matrix of
 * a covariance), by eigendecomposition (default, with optional `eps` added to the eigenvalues) or
 * by Newton–Schulz iterations.
 *
 * @example
 * ```ts
 * invSqrtm(cov, { eps: 1e-5 });                   // V·diag((λ+ε)^-½)·Vᵀ
 * invSqrtm(cov, { method: 'newton-schulz' });     // iterative, matrix products only
 * ```
 */
export function invSqrtm(a: Tensor, opts: MatrixFunctionOptions = {}): Tensor {
  if (opts.method === 'newton-schulz') return newtonSchulz(a, opts).invSqrt;
  return spectralPower('invSqrtm', a, -0.5, opts.eps ?? 0);
}
