import { gemmWasm } from './gemm-wasm.js';

/** Below this many multiply-adds the plain JS loop is used (the WebAssembly path copies and packs). */
const WASM_MIN_WORK = 4096;

/**
 * Single-precision GEMM on flat arrays: C = α·op(A)·op(B) + β·C (+ `bias`: N values added to every
 * row), with A at `aOff` ([M, K], or [K, M] when transA), B at `bOff` ([K, N], or [N, K] when transB),
 * C at `cOff` ([M, N], row stride `ldc`: a block of a wider matrix when ldc > N).
 *
 * Float32 products of some size run on the WebAssembly SIMD kernel (packed panels, a register-blocked
 * micro-kernel; split over worker threads in Node for large products, see `setGemmThreads`); small
 * ones, float64 arrays, and engines without WebAssembly SIMD use the blocked JS loop below.
 *
 * @example
 * ```ts
 * const C = new Float32Array(4);
 * gemmF32(new Float32Array([1, 2, 3, 4]), 0, new Float32Array([5, 6, 7, 8]), 0, C, 0, 2, 2, 2, false, false, 1, 0);
 * // C = [19, 22, 43, 50]
 * ```
 */
export function gemmF32(
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
  bias?: Float32Array,
  ldc = N,
): void {
  if (M * N * K >= WASM_MIN_WORK && A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array) {
    // The kernel starts from the bias rows when C is not scaled or kept; otherwise the bias is added after.
    const fused = bias && alpha === 1 && beta === 0 && bias instanceof Float32Array ? bias : undefined;
    if (gemmWasm(A, aOff, B, bOff, C, cOff, M, K, N, transA, transB, alpha, beta, undefined, fused, ldc)) {
      if (bias && !fused) addRows(C, cOff, M, N, bias, ldc);
      return;
    }
  }
  gemmJs(A, aOff, B, bOff, C, cOff, M, K, N, transA, transB, alpha, beta, ldc);
  if (bias) addRows(C, cOff, M, N, bias, ldc);
}

/** Adds the N values of `bias` to each of the M rows (`ldc` apart) of C at `cOff`. */
function addRows(C: Float32Array, cOff: number, M: number, N: number, bias: Float32Array, ldc: number): void {
  for (let i = 0; i < M; i++) {
    const row = cOff + i * ldc;
    for (let j = 0; j < N; j++) C[row + j]! += bias[j]!;
  }
}

/**
 * The portable path of `gemmF32`: blocked i-k-j loop, contiguous axpy inner loop (C's rows `ldc` apart).
 * @example gemmJs(A, 0, B, 0, C, 0, M, K, N, false, false, 1, 0)
 */
export function gemmJs(
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
  ldc = N,
): void {
  if (beta !== 1)
    for (let i = 0; i < M; i++) {
      const row = cOff + i * ldc;
      if (beta === 0) C.fill(0, row, row + N);
      else for (let j = 0; j < N; j++) C[row + j]! *= beta;
    }
  if (M === 0 || N === 0 || K === 0) return;
  // Bring B to [K, N] row-major so the inner loop is a contiguous axpy.
  let Bk = B;
  let bk = bOff;
  if (transB) {
    Bk = new (B.constructor as Float32ArrayConstructor)(K * N); // float64 callers keep float64
    bk = 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) Bk[k * N + n] = B[bOff + n * K + k]!;
  }
  const KB = 256;
  for (let k0 = 0; k0 < K; k0 += KB) {
    const k1 = Math.min(K, k0 + KB);
    for (let i = 0; i < M; i++) {
      const crow = cOff + i * ldc;
      for (let k = k0; k < k1; k++) {
        const av = alpha * (transA ? A[aOff + k * M + i]! : A[aOff + i * K + k]!);
        const brow = bk + k * N;
        for (let j = 0; j < N; j++) C[crow + j]! += av * Bk[brow + j]!;
      }
    }
  }
}
