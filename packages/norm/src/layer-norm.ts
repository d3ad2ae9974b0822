import { type LayerNormResult, layerNormKernel, sizeOf, type Tensor } from '@normkit/tensor';
import {
  asDtype,
  axisOf,
  backendNormBackward,
  expandParam,
  f64,
  gradToParam,
  reduceToParam,
  requireFloat,
  requireGradShape,
  rowBackward,
  tensorOf,
} from './internal.js';
import { affineOp, refuseOutWhileRecording, runOpOnY, withoutKeys } from './recorded-op.js';

/** Options of `layerNorm` (ONNX LayerNormalization semantics). */
export interface LayerNormOptions {
  /** First normalized axis; statistics are taken over axes [axis, rank). Negative counts from the end. Default -1. */
  axis?: number;
  /** Added to the variance inside the square root. Default 1e-5. */
  epsilon?: number;
  /** γ, broadcastable to x.shape[axis:]. Default: none (1). */
  scale?: Tensor;
  /** β, broadcastable to x.shape[axis:]. Default: none (0). */
  bias?: Tensor;
  /**
   * Forward only: a preallocated tensor of x's shape and dtype that receives y (x itself normalizes in
   * place), so a loop allocates no output. A shape or dtype mismatch throws a `NormkitError` naming
   * both shapes. The backward passes ignore it.
   */
  out?: Tensor;
}

/** Gradients of `layerNorm`: with respect to x and to each parameter that was given. */
export interface LayerNormGradients {
  dx: Tensor;
  dScale?: Tensor;
  dBias?: Tensor;
}

/** The attributes a LayerNorm-style op records (its tensors, x, scale and bias, are its inputs). */
export type NormAttrs = Omit<LayerNormOptions, 'scale' | 'bias' | 'out'>;

/** The op `layerNorm` (inputs x, scale, bias), differentiated by `layerNormBackward`. */
const LAYER_NORM = affineOp<NormAttrs>('layerNorm', layerNormBackward);

/**
 * LayerNorm over the trailing axes from `axis` (ONNX LayerNormalization):
 * y = (x − μ) / sqrt(σ² + ε) · scale + bias, with μ and the biased σ² over x.shape[axis:].
 * Runs through the active backend's fused kernel (`layerNormKernel`; float32 on the CPU backend uses
 * WebAssembly SIMD). With `out`, y is written into that tensor, which is returned. A recorded,
 * differentiable op (inputs x, scale, bias); `out` is refused while a gradient tape records.
 *
 * @example
 * ```ts
 * import { Tensor } from '@normkit/tensor';
 * import { layerNorm } from '@normkit/norm';
 * layerNorm(Tensor.from([[3, 1]]), { epsilon: 0 }).toArray(); // [[1, -1]]
 *
 * // In a loop: one output buffer, no allocation per call.
 * const out = Tensor.zeros([128, 768]);
 * for (const x of batches) layerNorm(x, { scale, bias, out }); // out holds the latest y
 * ```
 */
export function layerNorm(x: Tensor, opts: LayerNormOptions = {}): Tensor {
  return layerNormWithStats(x, opts).y;
}

/**
 * LayerNorm that also returns ONNX's optional outputs: `mean` and `invStdDev` (shape
 * x.shape[:axis] + [1]·(rank − axis)). The op `layerNorm` is recorded on y; the statistics carry no
 * gradient.
 *
 * @example
 * ```ts
 * const { y, mean, invStdDev } = layerNormWithStats(x, { axis: 1 });
 * ```
 */
export function layerNormWithStats(x: Tensor, opts: LayerNormOptions = {}): LayerNormResult {
  refuseOutWhileRecording('layerNorm', opts.out);
  const attrs = withoutKeys(opts, 'scale', 'bias', 'out');
  return runOpOnY(LAYER_NORM, [x, opts.scale, opts.bias], attrs, () => layerNormForward(x, opts));
}

function layerNormForward(x: Tensor, opts: LayerNormOptions): LayerNormResult {
  const { axis, scale, bias } = normParams('layerNorm', x, opts);
  return layerNormKernel(x, scale, bias, axis, opts.epsilon ?? 1e-5, opts.out);
}

/** The checked axis of a LayerNorm-style op and its scale, bias in x's dtype. */
export function normParams(op: string, x: Tensor, opts: LayerNormOptions): { axis: number; scale?: Tensor; bias?: Tensor } {
  const dt = requireFloat(op, x);
  const axis = axisOf(op, opts.axis ?? -1, x.rank, x.shape);
  const scale = opts.scale && asDtype(opts.scale, dt);
  const bias = opts.bias && asDtype(opts.bias, dt);
  checkParam(op, 'scale', scale, x.shape.slice(axis));
  checkParam(op, 'bias', bias, x.shape.slice(axis));
  return { axis, scale, bias };
}

/** Throws (naming op and shapes) when a parameter does not broadcast to the normalized shape. */
function checkParam(op: string, name: string, p: Tensor | undefined, normShape: readonly number[]): void {
  // A parameter of the normalized block's size is used as is; only a broadcast one needs the check.
  if (p && p.size !== sizeOf(normShape)) expandParam(op, name, p, normShape);
}

/**
 * Backward of `layerNorm`: given dy = ∂L/∂y, returns ∂L/∂x and ∂L/∂scale, ∂L/∂bias (each with its
 * parameter's shape): dx = a·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·γ, a = 1/sqrt(σ² + ε). float32 x and
 * dy run on the active backend's fused kernel (`Backend.layerNormBackward`; on the CPU backend
 * WebAssembly SIMD with float64 row sums); float64, or a backend without it, on the host in float64.
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias } = layerNormBackward(dy, x, { scale, bias });
 * ```
 */
export function layerNormBackward(dy: Tensor, x: Tensor, opts: LayerNormOptions = {}): LayerNormGradients {
  return normBackward('layerNormBackward', dy, x, opts, true);
}

/** Shared LN / RMSNorm backward over axes [axis, rank): the backend's kernel for float32, else the host path. */
export function normBackward(op: string, dy: Tensor, x: Tensor, opts: LayerNormOptions, center: boolean): LayerNormGradients {
  const dt = requireFloat(op, x);
  requireGradShape(op, dy, x);
  const axis = axisOf(op, opts.axis ?? -1, x.rank, x.shape);
  return kernelBackward(op, dy, x, opts, center, axis) ?? hostBackward(op, dy, x, opts, center, axis, dt);
}

/** The backward on the backend's fused kernel (float32 x and dy), or undefined when it has none. */
function kernelBackward(
  op: string,
  dy: Tensor,
  x: Tensor,
  opts: LayerNormOptions,
  center: boolean,
  axis: number,
): LayerNormGradients | undefined {
  const normShape = x.shape.slice(axis);
  const { scale, bias } = opts;
  // The kernel takes γ over the normalized block: a broadcast γ is expanded, its gradient summed back.
  const g =
    scale &&
    (scale.size === sizeOf(normShape)
      ? asDtype(scale, 'float32')
      : tensorOf('float32', normShape, expandParam(op, 'scale', scale, normShape)!));
  const r = backendNormBackward(center, dy, x, { axis, epsilon: opts.epsilon ?? 1e-5, scale: g, bias: bias !== undefined });
  if (!r) return undefined;
  const out: LayerNormGradients = { dx: r.dx };
  if (scale && r.dScale) out.dScale = gradToParam(r.dScale, normShape, scale);
  if (bias && r.dBias) out.dBias = gradToParam(r.dBias, normShape, bias);
  return out;
}

/** The backward in float64 on the host (float64 inputs, and backends without a fused backward). */
function hostBackward(
  op: string,
  dy: Tensor,
  x: Tensor,
  opts: LayerNormOptions,
  center: boolean,
  axis: number,
  dt: 'float32' | 'float64',
): LayerNormGradients {
  const normShape = x.shape.slice(axis);
  const d = sizeOf(normShape);
  const rows = d === 0 ? 0 : x.size / d;
  const X = f64(x);
  const DY = f64(dy);
  const g = expandParam(op, 'scale', opts.scale, normShape);
  const spec = { center, p: 2, eps: opts.epsilon ?? 1e-5 };
  const G = new Float64Array(DY.length);
  for (let i = 0; i < G.length; i++) G[i] = (DY[i] as number) * (g ? (g[i % d] as number) : 1);
  const dx = rowBackward(G, X, rows, d, spec);
  const out: LayerNormGradients = { dx: tensorOf(dt, x.shape, dx) };
  if (opts.scale) {
    // x̂ recomputed: (x − μ)·a
    const full = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      const off = r * d;
      let mu = 0;
      if (center) {
        for (let j = 0; j < d; j++) mu += X[off + j] as number;
        mu /= d;
      }
      let s = 0;
      for (let j = 0; j < d; j++) s += ((X[off + j] as number) - mu) ** 2;
      const a = 1 / Math.sqrt(s / d + spec.eps);
      for (let j = 0; j < d; j++) full[j]! += (DY[off + j] as number) * ((X[off + j] as number) - mu) * a;
    }
    out.dScale = tensorOf(dt, opts.scale.shape, reduceToParam(full, normShape, opts.scale));
  }
  if (opts.bias) {
    const full = new Float64Array(d);
    for (let i = 0; i < DY.length; i++) full[i % d]! += DY[i] as number;
    out.dBias = tensorOf(dt, opts.bias.shape, reduceToParam(full, normShape, opts.bias));
  }
  return out;
}
