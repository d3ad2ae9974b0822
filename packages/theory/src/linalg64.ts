import { NormkitError } from '@normkit/tensor';

/** A dense matrix as rows (out × in for a linear layer y = W x + b). */
export type Matrix = number[][];

/**
 * Small dense float64 linear algebra for the theory calculators (the tensor package stores float32;
 * certificates here need float64). Row-major `number[][]`.
 *
 * @example
 * ```ts
 * matMul64([[1, 2]], [[3], [4]]); // [[11]]
 * ```
 */
export function matMul64(A: Matrix, B: Matrix): Matrix {
  const n = A.length;
  const k = B.length;
  const m = B[0]?.length ?? 0;
  if ((A[0]?.length ?? 0) !== k) throw new NormkitError('INVALID_ARGUMENT', `matMul64: ${n}×${A[0]?.length} times ${k}×${m}`);
  const out: Matrix = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++)
    for (let t = 0; t < k; t++) {
      const a = A[i]![t]!;
      if (a === 0) continue;
      const row = B[t]!;
      const o = out[i]!;
      for (let j = 0; j < m; j++) o[j]! += a * row[j]!;
    }
  return out;
}

/** Identity matrix. @example identity64(2) // [[1,0],[0,1]] */
export function identity64(d: number): Matrix {
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
}

/** Transpose. @example transpose64([[1, 2]]) // [[1], [2]] */
export function transpose64(A: Matrix): Matrix {
  return (A[0] ?? []).map((_, j) => A.map((r) => r[j]!));
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations, float64. Eigenvalues ascending,
 * eigenvectors as the columns of `vectors`.
 *
 * @example
 * ```ts
 * symmetricEigen64([[2, 1], [1, 2]]).values; // [1, 3]
 * ```
 */
export function symmetricEigen64(S: Matrix): { values: number[]; vectors: Matrix } {
  const n = S.length;
  if (S.some((r) => r.length !== n)) throw new NormkitError('INVALID_ARGUMENT', 'symmetricEigen64: matrix must be square');
  const A = S.map((r) => [...r]);
  const V = identity64(n);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i]![j]! * A[i]![j]!;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = A[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q]![q]! - A[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k]![p]!;
          const akq = A[k]![q]!;
          A[k]![p] = c * akp - s * akq;
          A[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p]![k]!;
          const aqk = A[q]![k]!;
          A[p]![k] = c * apk - s * aqk;
          A[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k]![p]!;
          const vkq = V[k]![q]!;
          V[k]![p] = c * vkp - s * vkq;
          V[k]![q] = s * vkp + c * vkq;
        }
      }
  }
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => A[a]![a]! - A[b]![b]!);
  return { values: idx.map((i) => A[i]![i]!), vectors: V.map((r) => idx.map((i) => r[i]!)) };
}
