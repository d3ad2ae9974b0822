import type { LayerNormResult } from '../backend.js';
import { allocate } from '../dtype.js';
import { broadcastStrides, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { layerNormWasm, rmsNormWasm } from './norm-wasm.js';

type Arr = Float32Array | Float64Array;

/** Expands a scale/bias that broadcasts to the normalized block into a flat array of `d` values. */
function paramRow(p: Tensor | undefined, normShape: readonly number[]): Arr | undefined {
  if (!p) return undefined;
  const d = sizeOf(normShape);
  const src = p.data as Arr;
  if (src.length === d) return src;
  const st = broadcastStrides(p.shape.slice(Math.max(0, p.rank - normShape.length)), normShape);
  const out = new Float64Array(d);
  const str = normShape.map((_, i) => sizeOf(normShape.slice(i + 1)));
  for (let j = 0; j < d; j++) {
    let rem = j;
    let off = 0;
    for (let k = 0; k < normShape.length; k++) {
      const q = Math.floor(rem / str[k]!);
      rem -= q * str[k]!;
      off += q * st[k]!;
    }
    out[j] = src[off]!;
  }
  return out;
}

// The row loops below are written once per parameter combination so each stays small and
// monomorphic for the JIT; the reductions use four independent float64 accumulators so the adds
// are not serialized on one dependency chain.

/**
 * Σ(x − shift) and Σ(x − shift)² over X[off, off + d), into acc[0], acc[1] (float64).
 * @example const acc = new Float64Array(2); shiftedSums(X, 0, d, X[0], acc); const mean = X[0] + acc[0] / d;
 */
export function shiftedSums(X: Arr, off: number, d: number, shift: number, acc: Float64Array): void {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let q0 = 0,
    q1 = 0,
    q2 = 0,
    q3 = 0;
  const end4 = off + (d & ~3);
  let i = off;
  for (; i < end4; i += 4) {
    const a = X[i]! - shift;
    const b = X[i + 1]! - shift;
    const c = X[i + 2]! - shift;
    const e = X[i + 3]! - shift;
    s0 += a;
    s1 += b;
    s2 += c;
    s3 += e;
    q0 += a * a;
    q1 += b * b;
    q2 += c * c;
    q3 += e * e;
  }
  const end = off + d;
  for (; i < end; i++) {
    const a = X[i]! - shift;
    s0 += a;
    q0 += a * a;
  }
  acc[0] = s0 + s1 + (s2 + s3);
  acc[1] = q0 + q1 + (q2 + q3);
}

/** Σx² over X[off, off + d) (float64). @example const rms = Math.sqrt(sumSquares(X, 0, d) / d); */
export function sumSquares(X: Arr, off: number, d: number): number {
  let q0 = 0,
    q1 = 0,
    q2 = 0,
    q3 = 0;
  const end4 = off + (d & ~3);
  let i = off;
  for (; i < end4; i += 4) {
    const a = X[i]!;
    const b = X[i + 1]!;
    const c = X[i + 2]!;
    const e = X[i + 3]!;
    q0 += a * a;
    q1 += b * b;
    q2 += c * c;
    q3 += e * e;
  }
  const end = off + d;
  for (; i < end; i++) {
    const a = X[i]!;
    q0 += a * a;
  }
  return q0 + q1 + (q2 + q3);
}

/** Y = (X − mean)·inv·g + b over one row: written as X·k + c with k = inv·g, c = b − mean·k per element. */
function writeAffine(X: Arr, Y: Arr, off: number, d: number, mean: number, inv: number, g: Arr, b: Arr): void {
  for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv * g[j]! + b[j]!;
}
function writeScale(X: Arr, Y: Arr, off: number, d: number, mean: number, inv: number, g: Arr): void {
  for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv * g[j]!;
}
function writeBias(X: Arr, Y: Arr, off: number, d: number, mean: number, inv: number, b: Arr): void {
  for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv + b[j]!;
}
function writePlain(X: Arr, Y: Arr, off: number, d: number, mean: number, inv: number): void {
  for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv;
}
function writeRmsAffine(X: Arr, Y: Arr, off: number, d: number, inv: number, g: Arr, b: Arr): void {
  for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv * g[j]! + b[j]!;
}
function writeRmsScale(X: Arr, Y: Arr, off: number, d: number, inv: number, g: Arr): void {
  for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv * g[j]!;
}
function writeRmsBias(X: Arr, Y: Arr, off: number, d: number, inv: number, b: Arr): void {
  for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv + b[j]!;
}
function writeRmsPlain(X: Arr, Y: Arr, off: number, d: number, inv: number): void {
  for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv;
}

/** The row layout shared by the norm kernels: rows of d values of x, the output array (`out`'s or a new one) and γ/β as rows. */
function normRows(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, out: Tensor | undefined) {
  const normShape = x.shape.slice(axis);
  const d = sizeOf(normShape);
  const X = x.data as Arr;
  return {
    d,
    rows: d === 0 ? 0 : x.size / d,
    X,
    Y: (out ? out.data : allocate(x.dtype, X.length)) as Arr,
    g: paramRow(scale, normShape),
    b: paramRow(bias, normShape),
  };
}

/**
 * LayerNorm over axes [axis, rank) in two passes: mean and variance together (shifted sums), then the
 * write. float32 runs on the WebAssembly SIMD kernel (norm-wasm.ts) when the engine has it; float64,
 * and float32 without WebAssembly SIMD, on the JS loops above (float64 accumulation). `out`, already
 * checked by the public op to have x's shape and dtype, receives y (it may be x itself).
 */
export function layerNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis: number,
  eps: number,
  out?: Tensor,
): LayerNormResult {
  const { d, rows, X, Y, g, b } = normRows(x, scale, bias, axis, out);
  const meanOut = allocate(x.dtype, rows) as Arr;
  const invOut = allocate(x.dtype, rows) as Arr;
  const statShape = x.shape.map((dim, i) => (i < axis ? dim : 1));
  const result = (): LayerNormResult => ({
    y: out ?? new Tensor(x.shape, x.dtype, Y),
    mean: new Tensor(statShape, x.dtype, meanOut),
    invStdDev: new Tensor(statShape, x.dtype, invOut),
  });
  if (X instanceof Float32Array && layerNormWasm(X, Y as Float32Array, rows, d, g, b, eps, meanOut as Float32Array, invOut as Float32Array))
    return result();
  const acc = new Float64Array(2);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    // Shifted sums (shift = first element) keep the variance accurate when |mean| ≫ std.
    const shift = X[off]!;
    shiftedSums(X, off, d, shift, acc);
    const mu = acc[0]! / d;
    const variance = Math.max(acc[1]! / d - mu * mu, 0);
    const mean = mu + shift;
    const inv = 1 / Math.sqrt(variance + eps);
    meanOut[r] = mean;
    invOut[r] = inv;
    if (g && b) writeAffine(X, Y, off, d, mean, inv, g, b);
    else if (g) writeScale(X, Y, off, d, mean, inv, g);
    else if (b) writeBias(X, Y, off, d, mean, inv, b);
    else writePlain(X, Y, off, d, mean, inv);
  }
  return result();
}

/**
 * RMSNorm over axes [axis, rank): one pass for Σx², then the write. float32 on the WebAssembly SIMD
 * kernel when available, else (and for float64) the JS loops. `out` as for `layerNormKernel`.
 */
export function rmsNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis: number,
  eps: number,
  out?: Tensor,
): Tensor {
  const { d, rows, X, Y, g, b } = normRows(x, scale, bias, axis, out);
  if (X instanceof Float32Array && rmsNormWasm(X, Y as Float32Array, rows, d, g, b, eps)) return out ?? new Tensor(x.shape, x.dtype, Y);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    const inv = 1 / Math.sqrt(sumSquares(X, off, d) / d + eps);
    if (g && b) writeRmsAffine(X, Y, off, d, inv, g, b);
    else if (g) writeRmsScale(X, Y, off, d, inv, g);
    else if (b) writeRmsBias(X, Y, off, d, inv, b);
    else writeRmsPlain(X, Y, off, d, inv);
  }
  return out ?? new Tensor(x.shape, x.dtype, Y);
}
