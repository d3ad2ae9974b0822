/**
 * Single-precision GEMM on flat arrays: C = α·op(A)·op(B) + β·C, with A at `aOff` ([M, K], or [K, M]
 * when transA), B at `bOff` ([K, N], or [N, K] when transB), C at `cOff` ([M, N]).
 * Blocked i-k-j loop with float32 rows; the WebAssembly kernel (when loaded) replaces the inner part.
 */
export function gemmF32(
  A: Float32Array, aOff: number, B: Float32Array, bOff: number, C: Float32Array, cOff: number,
  M: number, K: number, N: number, transA: boolean, transB: boolean, alpha: number, beta: number,
): void {
  if (beta === 0) C.fill(0, cOff, cOff + M * N);
  else if (beta !== 1) for (let i = 0; i < M * N; i++) C[cOff + i]! *= beta;
  if (M === 0 || N === 0 || K === 0) return;
  // Bring B to [K, N] row-major so the inner loop is a contiguous axpy.
  let Bk = B;
  let bk = bOff;
  if (transB) {
    Bk = new Float32Array(K * N);
    bk = 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) Bk[k * N + n] = B[bOff + n * K + k]!;
  }
  const KB = 256;
  for (let k0 = 0; k0 < K; k0 += KB) {
    const k1 = Math.min(K, k0 + KB);
    for (let i = 0; i < M; i++) {
      const crow = cOff + i * N;
      for (let k = k0; k < k1; k++) {
        const av = alpha * (transA ? A[aOff + k * M + i]! : A[aOff + i * K + k]!);
        const brow = bk + k * N;
        for (let j = 0; j < N; j++) C[crow + j]! += av * Bk[brow + j]!;
      }
    }
  }
}
