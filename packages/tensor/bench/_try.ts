import { gemmF32, gemmJs } from '../src/cpu/gemm.ts';
import { setGemmThreads } from '../src/cpu/gemm-wasm.ts';
const rnd = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
for (const [M, K, N] of [[33, 70, 47], [130, 257, 129], [256, 256, 256], [512, 512, 512], [1024, 1024, 1024], [128, 768, 3072]]) {
  const A = rnd(M * K), B = rnd(K * N);
  const C1 = new Float32Array(M * N), C2 = new Float32Array(M * N);
  gemmJs(A, 0, B, 0, C2, 0, M, K, N, false, false, 1, 0);
  for (const th of (process.env.TH ?? "1").split(",").map(Number)) {
    setGemmThreads(th);
    gemmF32(A, 0, B, 0, C1, 0, M, K, N, false, false, 1, 0);
    await new Promise((r) => setTimeout(r, 100));
    let err = 0; for (let i = 0; i < M * N; i++) err = Math.max(err, Math.abs(C1[i] - C2[i]));
    const ts: number[] = [];
    for (let r = 0; r < 5; r++) { const t0 = performance.now(); gemmF32(A, 0, B, 0, C1, 0, M, K, N, false, false, 1, 0); ts.push(performance.now() - t0); }
    ts.sort((a, b) => a - b);
    console.log(M, K, N, 'threads', th, 'err', err.toExponential(1), ts[2].toFixed(2), 'ms', (2 * M * K * N / ts[2] / 1e6).toFixed(1), 'GFLOP/s');
  }
}
