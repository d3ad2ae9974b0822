// The fused 4-bit matrix product of com.microsoft MatMulNBits (the q4 weights of transformers.js and
// onnxruntime-genai exports): A · Wᵀ with W kept packed, never materialized in float32 whole.
import { allocate } from '../dtype.js';
import { fmtShape, NormkitError } from '../errors.js';
import { gemm } from '../ops/linear.js';
import { Tensor } from '../tensor.js';
import { nbitsGemmWasm } from './nbits-wasm.js';

/**
 * A 4-bit block-quantized weight W [N, K] in MatMulNBits' layout: row n of W is ⌈K / block⌉ blocks,
 * each `block` values packed two a byte (low nibble first) with one scale and one zero point, and
 * W[n, k] = (q − zero point) · scale (rounded to float32).
 */
export interface NBitsWeight {
  /** Rows of W (output features). */
  N: number;
  /** Columns of W (input features, A's last dimension). */
  K: number;
  /** Values per block: a power of 2, at least 16. */
  block: number;
  /** N · ⌈K / block⌉ · block / 2 bytes: row n, block j at byte (n · blocks + j) · block / 2. */
  data: Uint8Array;
  /** N · ⌈K / block⌉ scales, row-major [N, blocks]. */
  scales: Float32Array;
  /** N · ⌈K / block⌉ zero points as floats, [N, blocks]; absent: 8 for every block. */
  zeroPoints?: Float32Array;
  /**
   * A promise that `data`, `scales` and `zeroPoints` never change (a model's weights): the kernels
   * then keep their own copy after the first product instead of copying W in on every call.
   */
  constant?: boolean;
}

/** Throws a NormkitError naming the field of `w` that does not fit its N, K and block. */
function checkWeight(w: NBitsWeight): number {
  const bad = (what: string) => new NormkitError('INVALID_ARGUMENT', `matmulNBits: ${what}`, { N: w.N, K: w.K, block: w.block });
  if (!(Number.isInteger(w.N) && w.N > 0 && Number.isInteger(w.K) && w.K > 0))
    throw bad(`N and K must be positive integers, got N=${w.N}, K=${w.K}`);
  if (!(w.block >= 16 && (w.block & (w.block - 1)) === 0)) throw bad(`block must be a power of 2 and at least 16, got ${w.block}`);
  const blocks = Math.ceil(w.K / w.block);
  const n = w.N * blocks;
  if (w.data.length !== (n * w.block) / 2)
    throw bad(`data holds ${w.data.length} bytes; N·⌈K/block⌉·block/2 = ${(n * w.block) / 2} expected (pad the last block of each row)`);
  if (w.scales.length !== n) throw bad(`scales hold ${w.scales.length} values; N·⌈K/block⌉ = ${n} expected`);
  if (w.zeroPoints && w.zeroPoints.length !== n) throw bad(`zeroPoints hold ${w.zeroPoints.length} values; N·⌈K/block⌉ = ${n} expected`);
  return blocks;
}

/**
 * W [N, K] of a 4-bit weight in float32: W[n, k] = (q − zero point) · scale. The JS path of
 * `matmulNBits` on engines without WebAssembly SIMD, and a reference.
 * @example dequantizeNBits({ N: 1, K: 16, block: 16, data: new Uint8Array(8).fill(0x98), scales: new Float32Array([0.5]) })[1] // 0.5
 */
export function dequantizeNBits(w: NBitsWeight): Float32Array {
  const blocks = checkWeight(w);
  const { N, K, block, data, scales } = w;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++)
    for (let j = 0; j < blocks; j++) {
      const p = n * blocks + j;
      const [sc, zc] = [scales[p] as number, w.zeroPoints ? (w.zeroPoints[p] as number) : 8];
      const end = Math.min(block, K - j * block);
      const base = (p * block) >> 1;
      const o = n * K + j * block;
      for (let i = 0; i < end; i++) out[o + i] = ((((data[base + (i >> 1)] as number) >> (4 * (i & 1))) & 15) - zc) * sc;
    }
  return out;
}

/**
 * A [..., K] · Wᵀ → [..., N] for a 4-bit block-quantized W (MatMulNBits' layout), in float32 sums.
 * On WebAssembly SIMD W stays packed: a few rows at a time are unpacked in registers (up to 3 rows of
 * A, decoding) or dequantized into a small panel and multiplied into every row of A by the float
 * GEMM's micro-kernel, so the product
 * needs no float32 copy of W. Without SIMD, W is dequantized and the float GEMM runs.
 * @example
 * ```ts
 * const w = { N: 2, K: 16, block: 16, data: new Uint8Array(16).fill(0x99), scales: new Float32Array([1, 2]) };
 * matmulNBits(Tensor.ones([1, 16]), w).data; // Float32Array [16, 32]: every value (9 − 8) · scale
 * ```
 */
export function matmulNBits(a: Tensor, w: NBitsWeight): Tensor {
  checkWeight(w);
  if (a.dtype !== 'float32' || a.rank < 1 || a.shape[a.rank - 1] !== w.K)
    throw new NormkitError('SHAPE_MISMATCH', `matmulNBits: A must be float32 [..., K=${w.K}], got ${a.dtype} ${fmtShape(a.shape)}`);
  const M = a.size / w.K;
  const shape = [...a.shape.slice(0, -1), w.N];
  const out = allocate('float32', M * w.N, false); // the kernels write every element
  if (M === 0 || nbitsGemmWasm(a.data as Float32Array, M, w, out)) return new Tensor(shape, 'float32', out);
  const wf = new Tensor([w.N, w.K], 'float32', dequantizeNBits(w));
  return gemm(a.reshape([M, w.K]), wf, undefined, { transB: true }).reshape(shape);
}
