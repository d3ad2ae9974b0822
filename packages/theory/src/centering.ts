import { NormkitError } from '@normkit/tensor';
import type { Matrix } from './linalg64.js';
import { layerNorm64, rmsNorm64 } from './ln.js';

function checkMatrix(W: Matrix, where: string): { rows: number; cols: number } {
  const rows = W.length;
  const cols = W[0]?.length ?? 0;
  if (rows === 0 || cols === 0 || W.some((r) => r.length !== cols)) {
    throw new NormkitError('INVALID_ARGUMENT', `${where}: W must be a non-empty rectangular out×in matrix (rows of equal length)`);
  }
  return { rows, cols };
}

/**
 * The centering matrix C_d = I − 11ᵀ/d (docs/PAPERS.md §0): C h subtracts the mean of h.
 *
 * @example
 * ```ts
 * centeringMatrix(2); // [[0.5, -0.5], [-0.5, 0.5]]
 * ```
 */
export function centeringMatrix(d: number): Matrix {
  if (!Number.isInteger(d) || d < 1) throw new NormkitError('INVALID_ARGUMENT', `centeringMatrix: d must be a positive integer, got ${d}`);
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0) - 1 / d));
}

/**
 * Column-centers a linear layer (CCWT, docs/PAPERS.md §1.1): W' = C W and b' = C b, so every column of W'
 * and the bias b' have zero mean over the output axis. `[D]`.
 *
 * @example
 * ```ts
 * columnCenter([[1, 2], [3, 4], [5, 6]], [1, 0, -1]);
 * // { W: [[-2, -2], [0, 0], [2, 2]], b: [1, 0, -1] }   (oracle 1)
 * ```
 */
export function columnCenter(W: Matrix, b?: readonly number[]): { W: Matrix; b: number[] } {
  const { rows, cols } = checkMatrix(W, 'columnCenter');
  const bias = b ? [...b] : new Array<number>(rows).fill(0);
  if (bias.length !== rows)
    throw new NormkitError('INVALID_ARGUMENT', `columnCenter: bias has ${bias.length} entries, W has ${rows} output rows`);
  const means = Array.from({ length: cols }, (_, j) => W.reduce((s, r) => s + r[j]!, 0) / rows);
  const bm = bias.reduce((s, v) => s + v, 0) / rows;
  return { W: W.map((r) => r.map((v, j) => v - means[j]!)), b: bias.map((v) => v - bm) };
}

/**
 * The column-centering constraint (CCC, docs/PAPERS.md §1.1): 1ᵀW = 0ᵀ and 1ᵀb = 0 within `tol`
 * (relative to the largest |entry| of the column). `[D]`.
 *
 * @example
 * ```ts
 * isColumnCentered([[-2, -2], [0, 0], [2, 2]], [1, 0, -1]); // true
 * isColumnCentered([[1, 2], [3, 4]]);                      // false
 * ```
 */
export function isColumnCentered(W: Matrix, b?: readonly number[], tol = 1e-9): boolean {
  const { rows, cols } = checkMatrix(W, 'isColumnCentered');
  for (let j = 0; j < cols; j++) {
    let s = 0;
    let m = 0;
    for (let i = 0; i < rows; i++) {
      s += W[i]![j]!;
      m = Math.max(m, Math.abs(W[i]![j]!));
    }
    if (Math.abs(s) > tol * Math.max(1, m) * rows) return false;
  }
  if (b) {
    if (b.length !== rows) throw new NormkitError('INVALID_ARGUMENT', `isColumnCentered: bias has ${b.length} entries, W has ${rows} rows`);
    const s = b.reduce((a, v) => a + v, 0);
    const m = b.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    if (Math.abs(s) > tol * Math.max(1, m) * rows) return false;
  }
  return true;
}

/** W x + b in float64. */
function affine(W: Matrix, b: readonly number[] | undefined, x: readonly number[]): number[] {
  return W.map((r, i) => r.reduce((s, v, j) => s + v * x[j]!, 0) + (b ? b[i]! : 0));
}

/** Options of `foldIdentityResidual`. */
export interface FoldIdentityOptions {
  /** ε inside the square root (default 0). */
  eps?: number;
  /** Per-feature scale applied to both sides (default 1). */
  gamma?: readonly number[];
  /** Per-feature shift applied to both sides (default 0). */
  beta?: readonly number[];
}

/**
 * Checks the folding identity LN(W x + b) = RMSNorm(W' x + b') with (W', b') = columnCenter(W, b)
 * (docs/PAPERS.md §1.1, Proposition `[D]`): returns both sides and the largest absolute difference.
 * The identity is exact for every ε (σ² of a zero-mean vector is its mean square), so the residual
 * is float64 rounding only.
 *
 * @example
 * ```ts
 * foldIdentityResidual([[1, 2], [3, 4], [5, 6]], [1, 0, -1], [1, 1]);
 * // { ln: [-1.224745, 0, 1.224745], rms: [...same], residual: ~1e-16 }   (oracle 2)
 * ```
 */
export function foldIdentityResidual(
  W: Matrix,
  b: readonly number[] | undefined,
  x: readonly number[],
  opts: FoldIdentityOptions = {},
): { ln: number[]; rms: number[]; residual: number } {
  const { rows, cols } = checkMatrix(W, 'foldIdentityResidual');
  if (x.length !== cols)
    throw new NormkitError('INVALID_ARGUMENT', `foldIdentityResidual: x has ${x.length} entries, W has ${cols} columns`);
  const eps = opts.eps ?? 0;
  const g = opts.gamma ?? new Array<number>(rows).fill(1);
  const be = opts.beta ?? new Array<number>(rows).fill(0);
  const c = columnCenter(W, b);
  const ln = layerNorm64(affine(W, b, x), eps).map((v, i) => g[i]! * v + be[i]!);
  const rms = rmsNorm64(affine(c.W, c.b, x), eps).map((v, i) => g[i]! * v + be[i]!);
  const residual = ln.reduce((m, v, i) => Math.max(m, Math.abs(v - rms[i]!)), 0);
  return { ln, rms, residual };
}
