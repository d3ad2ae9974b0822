import { defineOp, fmtShape, NormkitError, runOp, type Tensor } from '@normkit/tensor';
import {
  centerRowsF64,
  channelView,
  type F64,
  f64,
  fromChannelRows,
  requireFloat,
  tensorOf,
  toChannelRows,
  uncenterGradRows,
} from './internal.js';
import { newtonBackward, newtonForward, newtonIterates } from './newton.js';
import { affineOp, matchInputs, runOpOnY, withoutKeys } from './recorded-op.js';

/** Channel grouping shared by IterNorm and the whitening operators. */
export interface ChannelGroupOptions {
  /** Number of channel groups G (each whitened on its own). Default 1. */
  numGroups?: number;
  /** Alternatively the channels per group d (IterNorm's `num_channels`); G = C/d. */
  groupSize?: number;
}

/** Options of `iterNorm` (training; Huang et al. CVPR 2019, huangleiBuaa/IterNorm-pytorch). */
export interface IterNormOptions extends ChannelGroupOptions {
  /** Newton iterations T. Default 5. */
  T?: number;
  /** Σ = ε·I + (1/m)·x_c·x_cᵀ. Default 1e-5. */
  epsilon?: number;
  /** running ← (1 − momentum)·running + momentum·batch. Default 0.1. */
  momentum?: number;
  /** Running mean [C]. Default zeros. */
  runningMean?: Tensor;
  /** Running whitening matrices [G, d, d]. Default identities. */
  runningWm?: Tensor;
  /** γ [C]. Default: none. */
  scale?: Tensor;
  /** β [C]. Default: none. */
  bias?: Tensor;
}

/** Options of `iterNormInference`. */
export interface IterNormInferenceOptions extends ChannelGroupOptions {
  runningMean: Tensor;
  runningWm: Tensor;
  scale?: Tensor;
  bias?: Tensor;
}

/** Result of `iterNorm`. */
export interface IterNormResult {
  /** Whitened (and affine-transformed) output, x's shape. */
  y: Tensor;
  /** Batch mean per channel [C]. */
  mean: Tensor;
  /** Batch whitening matrices W = P_T/sqrt(tr Σ), [G, d, d]. */
  whitening: Tensor;
  /** Updated running mean [C]. */
  runningMean: Tensor;
  /** Updated running whitening matrices [G, d, d]. */
  runningWm: Tensor;
}

/** Gradients of IterNorm / whitening operators. */
export interface WhiteningGradients {
  dx: Tensor;
  dScale?: Tensor;
  dBias?: Tensor;
}

/** Gradients of `iterNormInference`: also w.r.t. the running statistics it reads. */
export interface IterNormInferenceGradients extends WhiteningGradients {
  /** ∂L/∂runningMean [C]. */
  dMean: Tensor;
  /** ∂L/∂runningWm [G, d, d]. */
  dWm: Tensor;
}

export interface Groups {
  outer: number;
  C: number;
  inner: number;
  m: number;
  G: number;
  d: number;
}

/** Layout of x [N, C, ...]: channels on axis 1, m = N·spatial samples per channel, G groups of d. */
export function channelGroups(op: string, x: Tensor, o: ChannelGroupOptions): Groups {
  requireFloat(op, x);
  if (x.rank < 2)
    throw new NormkitError('SHAPE_MISMATCH', `${op}: x must be [N, C, ...] (samples × channels), got ${fmtShape(x.shape)}`, {
      op,
      shape: x.shape,
    });
  const { outer, C, inner } = channelView(x.shape, 1);
  let G = o.numGroups ?? 1;
  if (o.groupSize !== undefined) G = C / o.groupSize;
  if (!Number.isInteger(G) || G < 1 || C % G !== 0) {
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${op}: the ${C} channels of x ${fmtShape(x.shape)} cannot be split into ${o.groupSize !== undefined ? `groups of ${o.groupSize}` : `${o.numGroups} groups`}`,
      { op, shape: x.shape },
    );
  }
  return { outer, C, inner, m: outer * inner, G, d: C / G };
}

function affineVec(op: string, name: string, t: Tensor | undefined, C: number): F64 | undefined {
  if (!t) return undefined;
  if (t.size !== C)
    throw new NormkitError('SHAPE_MISMATCH', `${op}: ${name} ${fmtShape(t.shape)} must have ${C} elements (one per channel)`, { op });
  return f64(t);
}

/** Applies γ, β to channel rows R (C × m) in place. */
export function applyAffineRows(R: F64, C: number, m: number, g?: F64, b?: F64): void {
  if (!g && !b) return;
  for (let c = 0; c < C; c++) {
    const gc = g ? (g[c] as number) : 1;
    const bc = b ? (b[c] as number) : 0;
    for (let i = 0; i < m; i++) R[c * m + i] = (R[c * m + i] as number) * gc + bc;
  }
}

/** dScale, dBias from dy rows and normalized rows; returns ĝ = dy·γ rows. */
export function affineBackwardRows(DY: F64, Xhat: F64, C: number, m: number, g?: F64): { G: F64; ds: F64; db: F64 } {
  const G = new Float64Array(DY.length);
  const ds = new Float64Array(C);
  const db = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const gc = g ? (g[c] as number) : 1;
    for (let i = 0; i < m; i++) {
      const k = c * m + i;
      G[k] = (DY[k] as number) * gc;
      ds[c]! += (DY[k] as number) * (Xhat[k] as number);
      db[c]! += DY[k] as number;
    }
  }
  return { G, ds, db };
}

function groupSlice(R: F64, g: number, d: number, m: number): F64 {
  return R.slice(g * d * m, (g + 1) * d * m);
}

/** The op `iterNorm`, recorded on y (inputs x, scale, bias), differentiated by `iterNormBackward`. */
const ITER_NORM = affineOp<Omit<IterNormOptions, 'scale' | 'bias' | 'runningMean' | 'runningWm'>>('iterNorm', iterNormBackward);

/**
 * IterNorm in training mode: per group of d channels, center over the m = N·spatial samples,
 * Σ = ε·I + x_c·x_cᵀ/m, Σ_N = Σ/tr Σ, T Newton steps P_{k+1} = 1.5·P_k − 0.5·P_k³·Σ_N, then
 * x̂ = P_T/sqrt(tr Σ)·x_c, γ, β per channel; updates the running mean and running W with momentum.
 * Defaults T = 5, ε = 1e-5, momentum 0.1, one group. The iteration is the paper's uncoupled form:
 * T ≈ 5–15 converges for well-conditioned groups, while far larger T (≳ 30) amplifies round-off.
 * The op `iterNorm` is recorded on y (inputs x, scale, bias); the statistics carry no gradient.
 *
 * @example
 * ```ts
 * const { y, runningMean, runningWm } = iterNorm(Tensor.randn([64, 8], 1, { dtype: 'float64' }), { numGroups: 2 });
 * ```
 */
export function iterNorm(x: Tensor, opts: IterNormOptions = {}): IterNormResult {
  const attrs = withoutKeys(opts, 'scale', 'bias', 'runningMean', 'runningWm');
  return runOpOnY(ITER_NORM, [x, opts.scale, opts.bias], attrs, () => iterNormForward(x, opts));
}

function iterNormForward(x: Tensor, opts: IterNormOptions): IterNormResult {
  const op = 'iterNorm';
  const dt = requireFloat(op, x);
  const L = channelGroups(op, x, opts);
  const { outer, C, inner, m, G, d } = L;
  const T = opts.T ?? 5;
  const eps = opts.epsilon ?? 1e-5;
  const mom = opts.momentum ?? 0.1;
  const R = toChannelRows(x.data as Float32Array, outer, C, inner);
  const Y = new Float64Array(R.length);
  const mean = new Float64Array(C);
  const Wall = new Float64Array(G * d * d);
  for (let g = 0; g < G; g++) {
    const { Ac, mean: mu } = centerRowsF64(groupSlice(R, g, d, m), d, m);
    mean.set(mu, g * d);
    const st = newtonForward(Ac, d, m, 1 / m, eps, T);
    Y.set(st.Y, g * d * m);
    Wall.set(st.W, g * d * d);
  }
  applyAffineRows(Y, C, m, affineVec(op, 'scale', opts.scale, C), affineVec(op, 'bias', opts.bias, C));
  const rm = opts.runningMean ? f64(opts.runningMean) : new Float64Array(C);
  if (rm.length !== C) throw new NormkitError('SHAPE_MISMATCH', `${op}: runningMean must have ${C} elements`, { op });
  let rw: F64;
  if (opts.runningWm) {
    if (opts.runningWm.size !== G * d * d)
      throw new NormkitError('SHAPE_MISMATCH', `${op}: runningWm ${fmtShape(opts.runningWm.shape)} must be [${G}, ${d}, ${d}]`, { op });
    rw = f64(opts.runningWm);
  } else {
    rw = new Float64Array(G * d * d);
    for (let g = 0; g < G; g++) for (let i = 0; i < d; i++) rw[g * d * d + i * d + i] = 1;
  }
  return {
    y: tensorOf(dt, x.shape, fromChannelRows(Y, outer, C, inner)),
    mean: tensorOf(dt, [C], mean),
    whitening: tensorOf(dt, [G, d, d], Wall),
    runningMean: tensorOf(
      dt,
      [C],
      rm.map((v, i) => (1 - mom) * v + mom * (mean[i] as number)),
    ),
    runningWm: tensorOf(
      dt,
      [G, d, d],
      rw.map((v, i) => (1 - mom) * v + mom * (Wall[i] as number)),
    ),
  };
}

/**
 * Backward of `iterNorm` (training) through the Newton iterations, the trace normalization and the
 * covariance: ∂L/∂x, ∂L/∂scale, ∂L/∂bias.
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias } = iterNormBackward(dy, x, { T: 5, scale, bias });
 * ```
 */
export function iterNormBackward(dy: Tensor, x: Tensor, opts: IterNormOptions = {}): WhiteningGradients {
  const op = 'iterNormBackward';
  const dt = requireFloat(op, x);
  const { outer, C, inner, m, G, d } = channelGroups(op, x, opts);
  const T = opts.T ?? 5;
  const eps = opts.epsilon ?? 1e-5;
  const R = toChannelRows(x.data as Float32Array, outer, C, inner);
  const DY = toChannelRows(dy.data as Float32Array, outer, C, inner);
  const states = [];
  const Xhat = new Float64Array(R.length);
  for (let g = 0; g < G; g++) {
    const st = newtonForward(centerRowsF64(groupSlice(R, g, d, m), d, m).Ac, d, m, 1 / m, eps, T);
    Xhat.set(st.Y, g * d * m);
    states.push(st);
  }
  const { G: Gr, ds, db } = affineBackwardRows(DY, Xhat, C, m, affineVec(op, 'scale', opts.scale, C));
  const dR = new Float64Array(R.length);
  for (let g = 0; g < G; g++) {
    const dA = newtonBackward(groupSlice(Gr, g, d, m), states[g] as ReturnType<typeof newtonForward>);
    dR.set(uncenterGradRows(dA, d, m), g * d * m);
  }
  const out: WhiteningGradients = { dx: tensorOf(dt, x.shape, fromChannelRows(dR, outer, C, inner)) };
  if (opts.scale) out.dScale = tensorOf(dt, opts.scale.shape, ds);
  if (opts.bias) out.dBias = tensorOf(dt, opts.bias.shape, db);
  return out;
}

/** The op `iterNormInference` (inputs x, scale, bias, runningMean, runningWm), differentiated by `iterNormInferenceBackward`. */
const ITER_NORM_INFERENCE = defineOp<ChannelGroupOptions>({
  name: 'iterNormInference',
  grad: (dy, { inputs, attrs }) => {
    const [x, scale, bias, runningMean, runningWm] = inputs as [Tensor, Tensor | undefined, Tensor | undefined, Tensor, Tensor];
    const g = iterNormInferenceBackward(dy, x, { ...attrs, scale, bias, runningMean, runningWm });
    return matchInputs(inputs, [g.dx, g.dScale, g.dBias, g.dMean, g.dWm]);
  },
});

/** Checked running statistics of IterNorm inference as float64: the mean [C] and the matrices [G, d, d]. */
function runningStats(op: string, opts: IterNormInferenceOptions, L: Groups): { rm: F64; W: F64 } {
  const { C, G, d } = L;
  const rm = f64(opts.runningMean);
  const W = f64(opts.runningWm);
  if (rm.length !== C || W.length !== G * d * d) {
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `${op}: runningMean ${fmtShape(opts.runningMean.shape)} / runningWm ${fmtShape(opts.runningWm.shape)} must be [${C}] / [${G}, ${d}, ${d}]`,
      { op },
    );
  }
  return { rm, W };
}

/** x̂ = W_run·(x − μ_run) per group, on channel rows R (C × m). */
function whitenRunning(R: F64, rm: F64, W: F64, L: Groups): F64 {
  const { m, G, d } = L;
  const Y = new Float64Array(R.length);
  for (let g = 0; g < G; g++)
    for (let i = 0; i < d; i++)
      for (let k = 0; k < d; k++) {
        const w = W[g * d * d + i * d + k] as number;
        if (w === 0) continue;
        const src = (g * d + k) * m;
        const dst = (g * d + i) * m;
        const mu = rm[g * d + k] as number;
        for (let t = 0; t < m; t++) Y[dst + t]! += w * ((R[src + t] as number) - mu);
      }
  return Y;
}

/**
 * IterNorm at inference: x̂ = W_run·(x − μ_run) per group, then γ, β. A recorded, differentiable op
 * (inputs x, scale, bias, runningMean, runningWm).
 *
 * @example
 * ```ts
 * const train = iterNorm(x);
 * const y = iterNormInference(x2, { runningMean: train.runningMean, runningWm: train.runningWm });
 * ```
 */
export function iterNormInference(x: Tensor, opts: IterNormInferenceOptions): Tensor {
  const inputs = [x, opts.scale, opts.bias, opts.runningMean, opts.runningWm];
  return runOp(ITER_NORM_INFERENCE, inputs, withoutKeys(opts, 'scale', 'bias', 'runningMean', 'runningWm'), () => {
    const op = 'iterNormInference';
    const dt = requireFloat(op, x);
    const L = channelGroups(op, x, opts);
    const { rm, W } = runningStats(op, opts, L);
    const Y = whitenRunning(toChannelRows(x.data as Float32Array, L.outer, L.C, L.inner), rm, W, L);
    applyAffineRows(Y, L.C, L.m, affineVec(op, 'scale', opts.scale, L.C), affineVec(op, 'bias', opts.bias, L.C));
    return tensorOf(dt, x.shape, fromChannelRows(Y, L.outer, L.C, L.inner));
  });
}

/**
 * Backward of `iterNormInference`: ∂L/∂x = W_runᵀ·ĝ per group, ∂L/∂scale, ∂L/∂bias, and the gradients
 * w.r.t. the running statistics: ∂L/∂W_run = ĝ·(x − μ_run)ᵀ, ∂L/∂μ_run = −Σ over samples of ∂L/∂x.
 *
 * @example
 * ```ts
 * const { dx, dMean, dWm } = iterNormInferenceBackward(dy, x, { runningMean, runningWm });
 * ```
 */
export function iterNormInferenceBackward(dy: Tensor, x: Tensor, opts: IterNormInferenceOptions): IterNormInferenceGradients {
  const op = 'iterNormInferenceBackward';
  const dt = requireFloat(op, x);
  const L = channelGroups(op, x, opts);
  const { outer, C, inner, m, G, d } = L;
  const { rm, W } = runningStats(op, opts, L);
  const R = toChannelRows(x.data as Float32Array, outer, C, inner);
  const DY = toChannelRows(dy.data as Float32Array, outer, C, inner);
  const { G: Gr, ds, db } = affineBackwardRows(DY, whitenRunning(R, rm, W, L), C, m, affineVec(op, 'scale', opts.scale, C));
  const dR = new Float64Array(Gr.length);
  const dW = new Float64Array(W.length);
  for (let g = 0; g < G; g++)
    for (let i = 0; i < d; i++)
      for (let k = 0; k < d; k++) {
        const w = W[g * d * d + i * d + k] as number;
        const gi = (g * d + i) * m;
        const xk = (g * d + k) * m;
        const mu = rm[g * d + k] as number;
        let dw = 0;
        for (let t = 0; t < m; t++) {
          dR[xk + t]! += w * (Gr[gi + t] as number);
          dw += (Gr[gi + t] as number) * ((R[xk + t] as number) - mu);
        }
        dW[g * d * d + i * d + k] = dw;
      }
  const dMean = new Float64Array(C);
  for (let c = 0; c < C; c++) for (let t = 0; t < m; t++) dMean[c]! -= dR[c * m + t] as number;
  const out: IterNormInferenceGradients = {
    dx: tensorOf(dt, x.shape, fromChannelRows(dR, outer, C, inner)),
    dMean: tensorOf(dt, opts.runningMean.shape, dMean),
    dWm: tensorOf(dt, opts.runningWm.shape, dW),
  };
  if (opts.scale) out.dScale = tensorOf(dt, opts.scale.shape, ds);
  if (opts.bias) out.dBias = tensorOf(dt, opts.bias.shape, db);
  return out;
}

/**
 * IterNorm's whitening matrix for a given covariance Σ (d × d, ε already included):
 * W_T = P_T/sqrt(tr Σ) with Σ_N = Σ/tr Σ. As T → ∞, W_T → Σ^(−1/2).
 *
 * @example
 * ```ts
 * iterNormMatrix(Tensor.from([[2, 1], [1, 2]], undefined, 'float64'), 1).toFlatArray(); // [0.625, -0.0625, -0.0625, 0.625]
 * ```
 */
export function iterNormMatrix(sigma: Tensor, T = 5): Tensor {
  const dt = requireFloat('iterNormMatrix', sigma, 'sigma');
  if (sigma.rank !== 2 || sigma.shape[0] !== sigma.shape[1])
    throw new NormkitError('SHAPE_MISMATCH', `iterNormMatrix: sigma must be square, got ${fmtShape(sigma.shape)}`);
  const n = sigma.shape[0] as number;
  const S = f64(sigma);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += S[i * n + i] as number;
  const P = newtonIterates(
    S.map((v) => v / tr),
    n,
    T,
  )[T] as F64;
  return tensorOf(
    dt,
    [n, n],
    P.map((v) => v / Math.sqrt(tr)),
  );
}

/**
 * What T IterNorm steps do to one normalized eigenvalue x = λ/tr Σ: the whitened eigenvalue
 * h_T(x) = x·p_T(x)², p_0 = 1, p_{k+1} = 1.5·p_k − 0.5·p_k³·x. h_T(x) → 1 as T → ∞.
 *
 * @example
 * ```ts
 * iterNormSpectrum(0.01, 4); // 0.225465
 * ```
 */
export function iterNormSpectrum(x: number, T = 5): number {
  let p = 1;
  for (let k = 0; k < T; k++) p = 1.5 * p - 0.5 * p * p * p * x;
  return x * p * p;
}
