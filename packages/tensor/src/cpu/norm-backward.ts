// Backward passes of the fused LayerNorm / RMSNorm of the CPU backend. float32 runs on the
// WebAssembly SIMD kernel (norm-wasm.ts, generated from scripts/norm-wat.mjs); float64, and float32
// on engines without WebAssembly SIMD, on the JS loops below (float64 arithmetic).
//
// Per row, with ĝ = dy·γ, x̂ = (x − μ)·a, a = 1/sqrt(σ² + ε) (RMSNorm: μ = 0, σ² = mean(x²)):
//   dx = a·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))      (RMSNorm: without the mean(ĝ) term)
// and over the rows dγ = Σ dy·x̂, dβ = Σ dy. The statistics are recomputed from x (one pass that also
// takes Σĝ and Σĝ·(x − s)), so the kernels need nothing saved from the forward pass.
//
// Accuracy of the float32 kernel: each output within ~1e-6 of the size of the terms it is made of
// (a·|ĝ| for dx). Where those terms cancel, dx is small and only that absolute accuracy remains: when
// ĝ lies in span{1, x̂} (ĝ = x̂: dy = y for γ = 1, β = 0), dx = a·x̂·ε/(σ² + ε) is O(ε/σ²) of its
// terms. Rows shorter than one vector (d < 4: LN over 2 values always cancels so, RMSNorm over 1 too)
// run on the float64 JS loops, which are as fast there.
import type { NormBackwardOptions, NormBackwardResult } from '../backend.js';
import { allocate } from '../dtype.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { shiftedSums, sumSquares } from './norm.js';
import { normBackwardWasm } from './norm-wasm.js';

type Arr = Float32Array | Float64Array;

/**
 * The CPU backend's LayerNorm backward (`Backend.layerNormBackward`): dx, and dScale, dBias summed
 * over the rows. dy has x's shape and dtype; opts as `NormBackwardOptions` describes.
 * @example const { dx, dScale } = layerNormBackwardKernel(dy, x, { axis: 1, epsilon: 1e-5, scale: g, bias: false });
 */
export function layerNormBackwardKernel(dy: Tensor, x: Tensor, opts: NormBackwardOptions): NormBackwardResult {
  return normBackwardKernel(true, dy, x, opts);
}

/**
 * The CPU backend's RMSNorm backward (`Backend.rmsNormBackward`), as `layerNormBackwardKernel`.
 * @example const { dx } = rmsNormBackwardKernel(dy, x, { axis: x.rank - 1, epsilon: 1e-5, bias: false });
 */
export function rmsNormBackwardKernel(dy: Tensor, x: Tensor, opts: NormBackwardOptions): NormBackwardResult {
  return normBackwardKernel(false, dy, x, opts);
}

function normBackwardKernel(center: boolean, dy: Tensor, x: Tensor, opts: NormBackwardOptions): NormBackwardResult {
  const { axis, epsilon, scale } = opts;
  const paramAxis = opts.paramAxis ?? axis;
  const d = sizeOf(x.shape.slice(axis));
  const period = sizeOf(x.shape.slice(paramAxis, axis));
  const F = period * d;
  const rows = d === 0 ? 0 : x.size / d;
  const X = x.data as Arr;
  const DY = dy.data as Arr;
  const DX = allocate(x.dtype, X.length) as Arr;
  const g = scale?.data as Arr | undefined;
  const dg = scale ? new Float64Array(F) : undefined;
  const db = opts.bias ? new Float64Array(F) : undefined;
  const wasm =
    d >= 4 &&
    X instanceof Float32Array &&
    DY instanceof Float32Array &&
    normBackwardWasm(center, X, DY, DX as Float32Array, rows, d, period, g, epsilon, dg, db);
  if (!wasm) backwardJs(center, X, DY, DX, rows, d, period, g, epsilon, dg, db);
  const pShape = x.shape.slice(paramAxis);
  const asX = (v: Float64Array) => new Tensor(pShape, x.dtype, x.dtype === 'float64' ? v : Float32Array.from(v));
  return { dx: new Tensor(x.shape, x.dtype, DX), dScale: dg && asX(dg), dBias: db && asX(db) };
}

/** The backward over rows in JS (float64 arithmetic); arguments as `normBackwardWasm`'s. */
function backwardJs(
  center: boolean,
  X: Arr,
  DY: Arr,
  DX: Arr,
  rows: number,
  d: number,
  period: number,
  g: Arr | undefined,
  eps: number,
  dg: Float64Array | undefined,
  db: Float64Array | undefined,
): void {
  const acc = new Float64Array(2);
  const gam = g ?? new Float64Array(d).fill(1);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    const go = g ? (r % period) * d : 0;
    let mean = 0;
    let variance: number;
    if (center) {
      const shift = X[off]!;
      shiftedSums(X, off, d, shift, acc);
      const m = acc[0]! / d;
      variance = Math.max(acc[1]! / d - m * m, 0);
      mean = shift + m;
    } else variance = sumSquares(X, off, d) / d;
    const a = 1 / Math.sqrt(variance + eps);
    let sg = 0; // Σĝ
    let sgx = 0; // Σĝ·(x − μ)
    for (let j = 0; j < d; j++) {
      const gh = DY[off + j]! * gam[go + j]!;
      sg += gh;
      sgx += gh * (X[off + j]! - mean);
    }
    // dx = a·(ĝ − mean ĝ − x̂·mean(ĝx̂)), x̂·mean(ĝx̂) = (x − μ)·a²·Σĝ(x − μ)/d
    const c1 = center ? sg / d : 0;
    const c2 = (a * a * sgx) / d;
    for (let j = 0; j < d; j++) DX[off + j] = a * (DY[off + j]! * gam[go + j]! - c1 - (X[off + j]! - mean) * c2);
    const po = (r % period) * d;
    if (dg) for (let j = 0; j < d; j++) dg[po + j]! += DY[off + j]! * (X[off + j]! - mean) * a;
    if (db) for (let j = 0; j < d; j++) db[po + j]! += DY[off + j]!;
  }
}
