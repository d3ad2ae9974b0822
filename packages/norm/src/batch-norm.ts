import { add, defineOp, fmtShape, mul, NormkitError, runOp, type Tensor } from '@normkit/tensor';
import { axisOf, channelView, f64, fromChannelRows, requireFloat, rowBackward, rowForward, tensorOf, toChannelRows } from './internal.js';
import { affineOp, matchInputs, runOpOnY, withoutKeys } from './recorded-op.js';

/** Options shared by the BatchNorm functions. */
export interface BatchNormCommonOptions {
  /** γ [C]. Default: none (1). */
  scale?: Tensor;
  /** β [C]. Default: none (0). */
  bias?: Tensor;
  /** Added to the variance. Default 1e-5. */
  epsilon?: number;
  /** Channel axis: 1 for NCHW (default), -1 for NHWC. A rank-1 input is one channel. */
  channelAxis?: number;
  /**
   * ONNX BatchNormalization-7 `spatial`: when false, every element of x.shape[1:] is its own
   * "channel" (statistics over the batch axis only). Default true.
   */
  spatial?: boolean;
}

/** Options of `batchNorm` (inference with running statistics). */
export interface BatchNormOptions extends BatchNormCommonOptions {
  /** Running mean [C]. */
  runningMean: Tensor;
  /** Running variance [C]. */
  runningVar: Tensor;
}

/** Options of `batchNormTraining`. */
export interface BatchNormTrainingOptions extends BatchNormCommonOptions {
  /** Running mean [C] to update. Default zeros. */
  runningMean?: Tensor;
  /** Running variance [C] to update. Default ones. */
  runningVar?: Tensor;
  /**
   * Weight of the batch statistics in the running update (PyTorch convention):
   * running ← (1 − momentum)·running + momentum·batch. Default 0.1. ONNX's `momentum` attribute is
   * the other weight: pass 1 − onnxMomentum.
   */
  momentum?: number;
  /** Update the running variance with the unbiased batch variance (PyTorch) instead of the biased one (ONNX). Default false. */
  unbiasedRunningVar?: boolean;
}

/** Result of `batchNormTraining`. */
export interface BatchNormTrainingResult {
  /** Normalized output (batch statistics). */
  y: Tensor;
  /** Batch mean per channel [C]. */
  batchMean: Tensor;
  /** Biased batch variance per channel [C]. */
  batchVar: Tensor;
  /** Updated running mean [C]. */
  runningMean: Tensor;
  /** Updated running variance [C]. */
  runningVar: Tensor;
}

/** Gradients of `batchNorm` (inference): also w.r.t. the running statistics used as inputs. */
export interface BatchNormGradients {
  dx: Tensor;
  dScale?: Tensor;
  dBias?: Tensor;
  dMean?: Tensor;
  dVar?: Tensor;
}

interface BnLayout {
  outer: number;
  C: number;
  inner: number;
  /** Shape that a [C] vector must take to broadcast against x. */
  pShape: number[];
}

function bnLayout(op: string, x: Tensor, o: BatchNormCommonOptions): BnLayout {
  requireFloat(op, x);
  if (x.rank === 0) throw new NormkitError('SHAPE_MISMATCH', `${op}: x must have rank ≥ 1`, { op });
  if (o.spatial === false || x.rank === 1) {
    const C = x.rank === 1 ? 1 : x.size / (x.shape[0] as number);
    return { outer: x.shape[0] as number, C, inner: 1, pShape: x.rank === 1 ? [1] : (x.shape.slice(1) as number[]) };
  }
  const axis = axisOf(op, o.channelAxis ?? 1, x.rank, x.shape);
  const v = channelView(x.shape, axis);
  return { ...v, pShape: [v.C, ...x.shape.slice(axis + 1).map(() => 1)] };
}

function vec(op: string, name: string, t: Tensor | undefined, C: number, fill: number): Float64Array {
  if (!t) return new Float64Array(C).fill(fill);
  if (t.size !== C)
    throw new NormkitError('SHAPE_MISMATCH', `${op}: ${name} ${fmtShape(t.shape)} must have ${C} elements (one per channel)`, {
      op,
      shape: t.shape,
    });
  return f64(t);
}

/** y = x·a + b with per-channel a, b, through backend broadcasting ops. */
function applyChannelAffine(x: Tensor, L: BnLayout, a: Float64Array, b: Float64Array): Tensor {
  const dt = x.dtype as 'float32';
  return add(mul(x, tensorOf(dt, L.pShape, a)), tensorOf(dt, L.pShape, b));
}

/** Attributes of the op `batchNorm` (its tensors x, scale, bias, runningMean, runningVar are inputs). */
type BatchNormAttrs = Omit<BatchNormCommonOptions, 'scale' | 'bias'>;

/** The op `batchNorm` (inputs x, scale, bias, runningMean, runningVar), differentiated by `batchNormBackward`. */
const BATCH_NORM = defineOp<BatchNormAttrs>({
  name: 'batchNorm',
  grad: (dy, { inputs, attrs }) => {
    const [x, scale, bias, runningMean, runningVar] = inputs as [Tensor, Tensor | undefined, Tensor | undefined, Tensor, Tensor];
    const g = batchNormBackward(dy, x, { ...attrs, scale, bias, runningMean, runningVar });
    return matchInputs(inputs, [g.dx, g.dScale, g.dBias, g.dMean, g.dVar]);
  },
});

/** The op `batchNormTraining`, recorded on y (inputs x, scale, bias), differentiated by `batchNormTrainingBackward`. */
const BATCH_NORM_TRAINING = affineOp<Omit<BatchNormTrainingOptions, 'scale' | 'bias' | 'runningMean' | 'runningVar'>>(
  'batchNormTraining',
  batchNormTrainingBackward,
);

/**
 * BatchNorm at inference (ONNX BatchNormalization, training_mode = 0):
 * y = (x − runningMean)/sqrt(runningVar + ε)·scale + bias per channel, through backend ops.
 * A recorded, differentiable op (inputs x, scale, bias, runningMean, runningVar).
 *
 * @example
 * ```ts
 * batchNorm(x, { runningMean: Tensor.zeros([3]), runningVar: Tensor.ones([3]), scale, bias });
 * ```
 */
export function batchNorm(x: Tensor, opts: BatchNormOptions): Tensor {
  const inputs = [x, opts.scale, opts.bias, opts.runningMean, opts.runningVar];
  return runOp(BATCH_NORM, inputs, withoutKeys(opts, 'scale', 'bias', 'runningMean', 'runningVar'), () => batchNormForward(x, opts));
}

function batchNormForward(x: Tensor, opts: BatchNormOptions): Tensor {
  const L = bnLayout('batchNorm', x, opts);
  const eps = opts.epsilon ?? 1e-5;
  const g = vec('batchNorm', 'scale', opts.scale, L.C, 1);
  const be = vec('batchNorm', 'bias', opts.bias, L.C, 0);
  const m = vec('batchNorm', 'runningMean', opts.runningMean, L.C, 0);
  const v = vec('batchNorm', 'runningVar', opts.runningVar, L.C, 1);
  const a = new Float64Array(L.C);
  const b = new Float64Array(L.C);
  for (let c = 0; c < L.C; c++) {
    a[c] = (g[c] as number) / Math.sqrt((v[c] as number) + eps);
    b[c] = (be[c] as number) - (m[c] as number) * (a[c] as number);
  }
  return applyChannelAffine(x, L, a, b);
}

/**
 * BatchNorm in training mode (ONNX BatchNormalization, training_mode = 1): normalizes with the
 * batch mean and biased variance of each channel (over every axis but the channel axis) and
 * updates the running statistics with `momentum`. The op `batchNormTraining` is recorded on y
 * (inputs x, scale, bias); the batch and running statistics carry no gradient.
 *
 * @example
 * ```ts
 * const { y, runningMean, runningVar } = batchNormTraining(x, { momentum: 0.1 });
 * ```
 */
export function batchNormTraining(x: Tensor, opts: BatchNormTrainingOptions = {}): BatchNormTrainingResult {
  const attrs = withoutKeys(opts, 'scale', 'bias', 'runningMean', 'runningVar');
  return runOpOnY(BATCH_NORM_TRAINING, [x, opts.scale, opts.bias], attrs, () => batchNormTrainingForward(x, opts));
}

function batchNormTrainingForward(x: Tensor, opts: BatchNormTrainingOptions): BatchNormTrainingResult {
  const op = 'batchNormTraining';
  const L = bnLayout(op, x, opts);
  const eps = opts.epsilon ?? 1e-5;
  const mom = opts.momentum ?? 0.1;
  const dt = x.dtype as 'float32';
  const R = toChannelRows(x.data as Float32Array, L.outer, L.C, L.inner);
  const n = L.outer * L.inner;
  const mean = new Float64Array(L.C);
  const variance = new Float64Array(L.C);
  for (let c = 0; c < L.C; c++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += R[c * n + i] as number;
    const mu = s / n;
    let s2 = 0;
    for (let i = 0; i < n; i++) s2 += ((R[c * n + i] as number) - mu) ** 2;
    mean[c] = mu;
    variance[c] = s2 / n;
  }
  const g = vec(op, 'scale', opts.scale, L.C, 1);
  const be = vec(op, 'bias', opts.bias, L.C, 0);
  const rm = vec(op, 'runningMean', opts.runningMean, L.C, 0);
  const rv = vec(op, 'runningVar', opts.runningVar, L.C, 1);
  const a = new Float64Array(L.C);
  const b = new Float64Array(L.C);
  const nrm = new Float64Array(L.C);
  const nrv = new Float64Array(L.C);
  for (let c = 0; c < L.C; c++) {
    a[c] = (g[c] as number) / Math.sqrt((variance[c] as number) + eps);
    b[c] = (be[c] as number) - (mean[c] as number) * (a[c] as number);
    const vb = opts.unbiasedRunningVar && n > 1 ? ((variance[c] as number) * n) / (n - 1) : (variance[c] as number);
    nrm[c] = (1 - mom) * (rm[c] as number) + mom * (mean[c] as number);
    nrv[c] = (1 - mom) * (rv[c] as number) + mom * vb;
  }
  return {
    y: applyChannelAffine(x, L, a, b),
    batchMean: tensorOf(dt, [L.C], mean),
    batchVar: tensorOf(dt, [L.C], variance),
    runningMean: tensorOf(dt, [L.C], nrm),
    runningVar: tensorOf(dt, [L.C], nrv),
  };
}

/**
 * Backward of `batchNorm` (inference): ∂L/∂x = dy·γ/sqrt(v + ε), and the gradients w.r.t. scale,
 * bias, runningMean and runningVar (all [C]).
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias, dMean, dVar } = batchNormBackward(dy, x, { runningMean, runningVar, scale, bias });
 * ```
 */
export function batchNormBackward(dy: Tensor, x: Tensor, opts: BatchNormOptions): BatchNormGradients {
  const op = 'batchNormBackward';
  const dt = requireFloat(op, x);
  const L = bnLayout(op, x, opts);
  const eps = opts.epsilon ?? 1e-5;
  const g = vec(op, 'scale', opts.scale, L.C, 1);
  const m = vec(op, 'runningMean', opts.runningMean, L.C, 0);
  const v = vec(op, 'runningVar', opts.runningVar, L.C, 1);
  const X = toChannelRows(x.data as Float32Array, L.outer, L.C, L.inner);
  const DY = toChannelRows(dy.data as Float32Array, L.outer, L.C, L.inner);
  const n = L.outer * L.inner;
  const dX = new Float64Array(X.length);
  const ds = new Float64Array(L.C);
  const db = new Float64Array(L.C);
  const dm = new Float64Array(L.C);
  const dv = new Float64Array(L.C);
  for (let c = 0; c < L.C; c++) {
    const inv = 1 / Math.sqrt((v[c] as number) + eps);
    const gc = g[c] as number;
    for (let i = 0; i < n; i++) {
      const k = c * n + i;
      const d = DY[k] as number;
      const xc = (X[k] as number) - (m[c] as number);
      dX[k] = d * gc * inv;
      ds[c]! += d * xc * inv;
      db[c]! += d;
      dm[c]! -= d * gc * inv;
      dv[c]! += d * gc * xc * -0.5 * inv * inv * inv;
    }
  }
  const out: BatchNormGradients = {
    dx: tensorOf(dt, x.shape, fromChannelRows(dX, L.outer, L.C, L.inner)),
    dMean: tensorOf(dt, opts.runningMean.shape, dm),
    dVar: tensorOf(dt, opts.runningVar.shape, dv),
  };
  if (opts.scale) out.dScale = tensorOf(dt, opts.scale.shape, ds);
  if (opts.bias) out.dBias = tensorOf(dt, opts.bias.shape, db);
  return out;
}

/**
 * Backward of `batchNormTraining` through the batch statistics:
 * ∂L/∂x = a·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per channel, ĝ = dy·γ; plus ∂L/∂scale, ∂L/∂bias.
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias } = batchNormTrainingBackward(dy, x, { scale, bias });
 * ```
 */
export function batchNormTrainingBackward(dy: Tensor, x: Tensor, opts: BatchNormTrainingOptions = {}): BatchNormGradients {
  const op = 'batchNormTrainingBackward';
  const dt = requireFloat(op, x);
  const L = bnLayout(op, x, opts);
  const spec = { center: true, p: 2, eps: opts.epsilon ?? 1e-5 };
  const g = vec(op, 'scale', opts.scale, L.C, 1);
  const X = toChannelRows(x.data as Float32Array, L.outer, L.C, L.inner);
  const DY = toChannelRows(dy.data as Float32Array, L.outer, L.C, L.inner);
  const n = L.outer * L.inner;
  const G = new Float64Array(DY.length);
  for (let i = 0; i < G.length; i++) G[i] = (DY[i] as number) * (g[Math.floor(i / n)] as number);
  const dX = rowBackward(G, X, L.C, n, spec);
  const out: BatchNormGradients = { dx: tensorOf(dt, x.shape, fromChannelRows(dX, L.outer, L.C, L.inner)) };
  if (opts.scale || opts.bias) {
    const xhat = rowForward(X, L.C, n, spec).xhat;
    const ds = new Float64Array(L.C);
    const db = new Float64Array(L.C);
    for (let i = 0; i < DY.length; i++) {
      const c = Math.floor(i / n);
      ds[c]! += (DY[i] as number) * (xhat[i] as number);
      db[c]! += DY[i] as number;
    }
    if (opts.scale) out.dScale = tensorOf(dt, opts.scale.shape, ds);
    if (opts.bias) out.dBias = tensorOf(dt, opts.bias.shape, db);
  }
  return out;
}
