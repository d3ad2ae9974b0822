import { NormkitError } from '@normkit/tensor';
import type { Matrix } from './linalg64.js';
import { identity64, matMul64, symmetricEigen64, transpose64 } from './linalg64.js';

/**
 * IterNorm's whitening matrix (docs/PAPERS.md §0, `[V code]` huangleiBuaa/IterNorm-pytorch):
 * Σ ← Σ + εI, Σ_N = Σ / tr Σ, P_0 = I, P_{k+1} = 1.5 P_k − 0.5 P_k³ Σ_N (T times), W = P_T / √tr Σ.
 *
 * @example
 * ```ts
 * iterNormMatrix([[2, 1], [1, 2]], 1); // [[0.625, -0.0625], [-0.0625, 0.625]]   (oracle 13)
 * ```
 */
export function iterNormMatrix(sigma: Matrix, iterations: number, eps = 0): Matrix {
  const d = sigma.length;
  if (d === 0 || sigma.some((r) => r.length !== d))
    throw new NormkitError('INVALID_ARGUMENT', 'iterNormMatrix: Σ must be a square d×d matrix');
  if (!Number.isInteger(iterations) || iterations < 0)
    throw new NormkitError('INVALID_ARGUMENT', `iterNormMatrix: T must be an integer ≥ 0, got ${iterations}`);
  const S = sigma.map((r, i) => r.map((v, j) => v + (i === j ? eps : 0)));
  const tr = S.reduce((s, r, i) => s + r[i]!, 0);
  if (!(tr > 0)) throw new NormkitError('INVALID_ARGUMENT', `iterNormMatrix: tr Σ must be positive, got ${tr}`);
  const SN = S.map((r) => r.map((v) => v / tr));
  let P = identity64(d);
  for (let k = 0; k < iterations; k++) {
    const P3S = matMul64(matMul64(matMul64(P, P), P), SN);
    P = P.map((r, i) => r.map((v, j) => 1.5 * v - 0.5 * P3S[i]![j]!));
  }
  const s = 1 / Math.sqrt(tr);
  return P.map((r) => r.map((v) => v * s));
}

/**
 * Output covariance of IterNorm, W Σ Wᵀ, its eigenvalues (ascending) and the INTL trace loss
 * Σ_j (diag_j − 1)² (docs/PAPERS.md §4.3).
 *
 * @example
 * ```ts
 * iterNormOutput([[2, 1], [1, 2]], 1).eigenvalues; // [0.472656, 0.949219]   (oracle 13)
 * iterNormOutput([[2, 1], [1, 2]], 1).traceLoss;   // 0.167114               (oracle 14)
 * ```
 */
export function iterNormOutput(
  sigma: Matrix,
  iterations: number,
  eps = 0,
): { W: Matrix; covariance: Matrix; eigenvalues: number[]; traceLoss: number } {
  const W = iterNormMatrix(sigma, iterations, eps);
  const covariance = matMul64(matMul64(W, sigma), transpose64(W));
  const eigenvalues = symmetricEigen64(covariance).values;
  const traceLoss = covariance.reduce((s, r, i) => s + (r[i]! - 1) ** 2, 0);
  return { W, covariance, eigenvalues, traceLoss };
}

/**
 * IterNorm's eigenvalue map h_T(x) = x·p_T(x)², p_0 = 1, p_{k+1} = 1.5 p_k − 0.5 p_k³ x, for a
 * normalized eigenvalue x = λ / tr Σ ∈ (0, 1]: the eigenvalue the output covariance has. `[D]`
 * (docs/PAPERS.md §4.3).
 *
 * @example
 * ```ts
 * iterNormEigenvalueMap(0.01, 4); // 0.225465   (oracle 15)
 * iterNormEigenvalueMap(0.01, 5); // 0.433911
 * ```
 */
export function iterNormEigenvalueMap(x: number, iterations: number): number {
  let p = 1;
  for (let k = 0; k < iterations; k++) p = 1.5 * p - 0.5 * p * p * p * x;
  return x * p * p;
}

/** Options of `iterNormIterations`. */
export interface IterNormIterationsOptions {
  /** λ_max / λ_min of Σ (≥ 1). */
  conditionNumber: number;
  /** Dimension d of Σ (default 2). */
  dim?: number;
  /** Whitening error to reach: max over the spectrum of |h_T(x) − 1| (default 1e-3). */
  tolerance?: number;
  /** Give up after this many iterations (default 10000). */
  maxIterations?: number;
}

/**
 * The number of IterNorm iterations T that whitens every Σ of dimension d and condition number κ to
 * within `tolerance` (all output eigenvalues in [1 − tol, 1]). `[derived here]`:
 * the normalized eigenvalues x = λ/tr Σ lie in [x_min, 1] with x_min = 1/(1 + (d−1)κ) (reached when one
 * eigenvalue is λ_min and d−1 are λ_max); h_T is increasing on (0, 1] and h_T(1) = 1 for every T, so the
 * worst eigenvalue is x_min and T is the first with 1 − h_T(x_min) ≤ tol. The returned `error` is that
 * worst-case error; `worstNormalizedEigenvalue` is x_min.
 *
 * @example
 * ```ts
 * iterNormIterations({ conditionNumber: 3, dim: 2, tolerance: 2e-3 }).iterations; // 4  (Σ = [[2,1],[1,2]]: h_4(0.25) = 0.998186)
 * ```
 */
export function iterNormIterations(opts: IterNormIterationsOptions): {
  iterations: number;
  error: number;
  worstNormalizedEigenvalue: number;
} {
  const { conditionNumber: k, dim = 2, tolerance = 1e-3, maxIterations = 10000 } = opts;
  if (!(k >= 1) || !Number.isFinite(k))
    throw new NormkitError('INVALID_ARGUMENT', `iterNormIterations: conditionNumber must be ≥ 1, got ${k}`);
  if (!Number.isInteger(dim) || dim < 1)
    throw new NormkitError('INVALID_ARGUMENT', `iterNormIterations: dim must be a positive integer, got ${dim}`);
  if (!(tolerance > 0 && tolerance < 1))
    throw new NormkitError('INVALID_ARGUMENT', `iterNormIterations: tolerance must be in (0, 1), got ${tolerance}`);
  const xmin = 1 / (1 + (dim - 1) * k);
  for (let t = 0; t <= maxIterations; t++) {
    const err = 1 - iterNormEigenvalueMap(xmin, t);
    if (err <= tolerance) return { iterations: t, error: err, worstNormalizedEigenvalue: xmin };
  }
  throw new NormkitError(
    'NO_CONVERGENCE',
    `iterNormIterations: more than ${maxIterations} iterations needed for κ=${k}, d=${dim}, tol=${tolerance}; raise maxIterations`,
  );
}

/**
 * INTL's trace-loss weight β = 0.01·(log2(n) − 3), n = batch size for axis=0 (channel whitening) or the
 * embedding dimension for axis=1. `[V code]` winci-ai/INTL (docs/PAPERS.md §4.3).
 *
 * @example
 * ```ts
 * intlBeta(256);  // 0.05   (oracle 16)
 * intlBeta(8192); // 0.10   (axis=1, emb 8192)
 * ```
 */
export function intlBeta(n: number): number {
  if (!(n >= 1) || !Number.isFinite(n)) throw new NormkitError('INVALID_ARGUMENT', `intlBeta: batch/embedding size must be ≥ 1, got ${n}`);
  return 0.01 * (Math.log2(n) - 3);
}

/**
 * Output spectrum of a spectral transformation ST_g (docs/PAPERS.md §4.1, `[R-standard]`): with
 * Σ = U Λ Uᵀ and ST_g(Z) = U g(Λ) Uᵀ Z, the output covariance has eigenvalues λ·g(λ)². `g` is a
 * function, or a number p for the power family g(λ) = λ^{−p} (output λ^{1−2p}; p = 0.5 whitens).
 *
 * @example
 * ```ts
 * spectralTransformSpectrum([4, 1, 0.25], 0.25); // [2, 1, 0.5]   (oracle 17)
 * spectralTransformSpectrum([4, 1, 0.25], 0.5);  // [1, 1, 1]
 * ```
 */
export function spectralTransformSpectrum(eigenvalues: readonly number[], g: number | ((lambda: number) => number)): number[] {
  const fn = typeof g === 'number' ? (l: number) => l ** -g : g;
  return eigenvalues.map((l) => {
    if (!(l > 0)) throw new NormkitError('INVALID_ARGUMENT', `spectralTransformSpectrum: eigenvalues must be positive, got ${l}`);
    const v = fn(l);
    return l * v * v;
  });
}

/**
 * Applies a spectral transformation to centered embeddings Z (d × m, columns are samples) and returns
 * the transformed Z and the eigenvalues of its covariance (1/m) Z Zᵀ: the construction behind
 * `spectralTransformSpectrum`, to check it on data.
 *
 * @example
 * ```ts
 * spectralTransform([[2, -2, 0, 0], [0, 0, 1, -1]], 0.5).eigenvalues; // [1, 1]
 * ```
 */
export function spectralTransform(Z: Matrix, g: number | ((lambda: number) => number)): { Z: Matrix; eigenvalues: number[] } {
  const d = Z.length;
  const m = Z[0]?.length ?? 0;
  if (d === 0 || m === 0) throw new NormkitError('INVALID_ARGUMENT', 'spectralTransform: Z must be a non-empty d×m matrix');
  const cov = matMul64(Z, transpose64(Z)).map((r) => r.map((v) => v / m));
  const { values, vectors: U } = symmetricEigen64(cov);
  const gl = spectralTransformSpectrum(values, g).map((out, i) => Math.sqrt(out / values[i]!));
  const UG = U.map((r) => r.map((v, j) => v * gl[j]!));
  const Mt = matMul64(UG, transpose64(U));
  const Zt = matMul64(Mt, Z);
  const covT = matMul64(Zt, transpose64(Zt)).map((r) => r.map((v) => v / m));
  return { Z: Zt, eigenvalues: symmetricEigen64(covT).values };
}
