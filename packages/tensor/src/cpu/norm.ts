import type { LayerNormResult } from '../backend.js';
import { allocate } from '../dtype.js';
import { broadcastStrides, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Expands a scale/bias that broadcasts to the normalized block into a flat array of `d` values. */
function paramRow(p: Tensor | undefined, normShape: readonly number[]): Float32Array | Float64Array | undefined {
  if (!p) return undefined;
  const d = sizeOf(normShape);
  const src = p.data as Float32Array;
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

/** LayerNorm in two passes: mean and variance together (shifted sums in float64), then the write. */
export function layerNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis: number,
  eps: number,
): LayerNormResult {
  const normShape = x.shape.slice(axis);
  const d = sizeOf(normShape);
  const rows = d === 0 ? 0 : x.size / d;
  const X = x.data as Float32Array;
  const Y = allocate(x.dtype, X.length) as Float32Array;
  const meanOut = allocate(x.dtype, rows) as Float32Array;
  const invOut = allocate(x.dtype, rows) as Float32Array;
  const g = paramRow(scale, normShape);
  const b = paramRow(bias, normShape);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    // Shifted sums (shift = first element) keep the variance accurate when |mean| ≫ std.
    const shift = X[off]!;
    let s = 0;
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      const v = X[off + j]! - shift;
      s += v;
      s2 += v * v;
    }
    const mu = s / d;
    const variance = Math.max(s2 / d - mu * mu, 0);
    const mean = mu + shift;
    const inv = 1 / Math.sqrt(variance + eps);
    meanOut[r] = mean;
    invOut[r] = inv;
    if (g && b) for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv * g[j]! + b[j]!;
    else if (g) for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv * g[j]!;
    else for (let j = 0; j < d; j++) Y[off + j] = (X[off + j]! - mean) * inv + (b ? b[j]! : 0);
  }
  const statShape = x.shape.map((dim, i) => (i < axis ? dim : 1));
  return {
    y: new Tensor(x.shape, x.dtype, Y),
    mean: new Tensor(statShape, x.dtype, meanOut),
    invStdDev: new Tensor(statShape, x.dtype, invOut),
  };
}

/** RMSNorm: one pass for Σx², then the write. */
export function rmsNormKernel(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, eps: number): Tensor {
  const normShape = x.shape.slice(axis);
  const d = sizeOf(normShape);
  const rows = d === 0 ? 0 : x.size / d;
  const X = x.data as Float32Array;
  const Y = allocate(x.dtype, X.length) as Float32Array;
  const g = paramRow(scale, normShape);
  const b = paramRow(bias, normShape);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      const v = X[off + j]!;
      s2 += v * v;
    }
    const inv = 1 / Math.sqrt(s2 / d + eps);
    if (g && b) for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv * g[j]! + b[j]!;
    else if (g) for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv * g[j]!;
    else for (let j = 0; j < d; j++) Y[off + j] = X[off + j]! * inv + (b ? b[j]! : 0);
  }
  return new Tensor(x.shape, x.dtype, Y);
}
