import { describe, expect, it } from 'vitest';
import { gemm, gemmInfo, isConstantData, markConstant, matmul, Tensor, wasmGemmAvailable } from '../src/index.js';
import { expectClose, mulberry, randArray, refGemm, refMatmul } from './ref.js';

/** A float32 tensor's values. */
const f32 = (t: Tensor) => t.data as Float32Array;

// A weight marked constant is packed into the GEMM kernel's memory once and reused; every product
// must equal the naive float64 reference (tolerance 1e-4 absolute + relative, float32 sums over K ≤ 600).

describe('markConstant: packed constant weights', () => {
  const rnd = mulberry(7);

  it('marks the tensor data and returns the tensor', () => {
    const w = Tensor.from([1, 2, 3, 4], [2, 2]);
    expect(isConstantData(w.data)).toBe(false);
    expect(markConstant(w)).toBe(w);
    expect(isConstantData(w.data)).toBe(true);
  });

  // K > 256 spans two packed K blocks; N = 37 leaves a ragged last panel.
  for (const [M, K, N] of [
    [1, 64, 64],
    [5, 300, 37],
    [33, 600, 130],
  ] as const) {
    it(`matmul [${M}×${K}]·[${K}×${N}] with a constant weight matches the reference, call after call`, () => {
      const a = Tensor.from(randArray(M * K, rnd), [M, K]);
      const bData = randArray(K * N, rnd);
      const w = markConstant(Tensor.from(bData, [K, N]));
      const ref = refMatmul(f32(a), bData, M, K, N);
      expectClose(f32(matmul(a, w)), ref, 1e-4, 1e-4);
      const packed = gemmInfo().packedBytes;
      // A second product reuses the packed copy (no new bytes) and still sees the right values.
      const a2 = Tensor.from(randArray(M * K, rnd), [M, K]);
      expectClose(f32(matmul(a2, w)), refMatmul(f32(a2), bData, M, K, N), 1e-4, 1e-4);
      expect(gemmInfo().packedBytes).toBe(packed);
    });
  }

  it('a transposed constant (Gemm transB, as Linear layers export) is packed under its own key', () => {
    const [M, K, N] = [40, 96, 120];
    const aData = randArray(M * K, rnd);
    const bData = randArray(N * K, rnd);
    const w = markConstant(Tensor.from(bData, [N, K]));
    const c = Tensor.from(randArray(N, rnd), [N]);
    const got = gemm(Tensor.from(aData, [M, K]), w, c, { transB: true });
    const ref = refGemm(aData, bData, new Float32Array(M * N), M, K, N, false, true, 1, 0);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) ref[i * N + j]! += f32(c)[j]!;
    expectClose(f32(got), ref, 1e-4, 1e-4);
    // The same data read untransposed is a different packed layout, and both stay correct.
    const wSquare = markConstant(Tensor.from(bData.subarray(0, K * K), [K, K]));
    const a2 = Tensor.from(randArray(M * K, rnd), [M, K]);
    expectClose(f32(matmul(a2, wSquare)), refMatmul(f32(a2), bData.subarray(0, K * K), M, K, K), 1e-4, 1e-4);
  });

  it('a batch of products against slices of one constant tensor packs each slice once', () => {
    const [nb, M, K, N] = [3, 32, 128, 64];
    const aData = randArray(nb * M * K, rnd);
    const bData = randArray(nb * K * N, rnd);
    const w = markConstant(Tensor.from(bData, [nb, K, N]));
    const got = f32(matmul(Tensor.from(aData, [nb, M, K]), w));
    for (let i = 0; i < nb; i++)
      expectClose(got.subarray(i * M * N, (i + 1) * M * N), refMatmul(aData, bData, M, K, N, i * M * K, i * K * N), 1e-4, 1e-4);
  });

  it('reports the packed bytes (the WebAssembly kernel is available in Node)', () => {
    expect(wasmGemmAvailable()).toBe(true);
    expect(gemmInfo().packedBytes).toBeGreaterThan(0);
  });
});
