import { add, fmtShape, layerNormKernel, mul, NormkitError, rmsNormKernel, runOp, Tensor, transpose } from '@normkit/tensor';
import {
  asDtype,
  axisOf,
  backendNormBackward,
  f64,
  invertPerm,
  permuteF64,
  requireFloat,
  requireGradShape,
  rowBackward,
  rowForward,
  tensorOf,
} from './internal.js';
import { affineOp, withoutKeys } from './recorded-op.js';

/** Options of `parallelLayerNorm` (PLN / LN-G; Musicath/Parallel-LN `ParallelLN`). */
export interface ParallelLayerNormOptions {
  /** Features per group (`num_per_group`). Default 8 (the README's recommendation). */
  groupSize?: number;
  /** Alternatively the number of groups N (LN-G); groupSize = features / N. */
  numGroups?: number;
  /** true: LN per group (PLN); false: grouped RMSNorm (PLS). Default true. */
  centering?: boolean;
  /** Exponent of the group statistic s = mean(|x_c|^p); x̂ = x_c/(s + ε)^(1/p). Default 2. */
  p?: number;
  /** Default 1e-5. */
  epsilon?: number;
  /** Feature axis. Default 1 for 4-D input (B×C×H×W), else the last axis. */
  axis?: number;
  /** γ per feature (F elements, any shape such as [F] or [1, F, 1, 1]). Default: none. */
  scale?: Tensor;
  /** β per feature. Default: none. */
  bias?: Tensor;
}

/** Gradients of `parallelLayerNorm`. */
export interface ParallelLayerNormGradients {
  dx: Tensor;
  dScale?: Tensor;
  dBias?: Tensor;
}

interface PlnLayout {
  axis: number;
  F: number;
  g: number;
  perm: number[];
}

function plnLayout(op: string, x: Tensor, opts: ParallelLayerNormOptions): PlnLayout {
  requireFloat(op, x);
  if (x.rank < 1) throw new NormkitError('SHAPE_MISMATCH', `${op}: x must have rank ≥ 1`, { op });
  const axis = axisOf(op, opts.axis ?? (x.rank === 4 ? 1 : -1), x.rank, x.shape);
  const F = x.shape[axis] as number;
  let g = opts.groupSize ?? 8;
  if (opts.numGroups !== undefined) {
    if (!Number.isInteger(opts.numGroups) || opts.numGroups < 1 || F % opts.numGroups !== 0) {
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `${op}: numGroups ${opts.numGroups} must divide the ${F} features on axis ${axis} of ${fmtShape(x.shape)}`,
        { op },
      );
    }
    g = F / opts.numGroups;
  }
  if (!Number.isInteger(g) || g < 1 || F % g !== 0) {
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${op}: groupSize ${g} must divide the ${F} features on axis ${axis} of ${fmtShape(x.shape)} (num_features % num_per_group == 0)`,
      { op },
    );
  }
  for (const [name, t] of [
    ['scale', opts.scale],
    ['bias', opts.bias],
  ] as const) {
    if (t && t.size !== F)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${op}: ${name} ${fmtShape(t.shape)} must have ${F} elements (one per feature on axis ${axis})`,
        { op },
      );
  }
  const perm = x.shape.map((_, i) => i).filter((i) => i !== axis);
  perm.push(axis);
  return { axis, F, g, perm };
}

/** The op `parallelLayerNorm` (inputs x, scale, bias), differentiated by `parallelLayerNormBackward`; `lnG` records it too. */
const PARALLEL_LAYER_NORM = affineOp<Omit<ParallelLayerNormOptions, 'scale' | 'bias'>>('parallelLayerNorm', parallelLayerNormBackward);

/**
 * Parallel LayerNorm (PLN, also LN-G): the features on `axis` are split into contiguous groups of
 * `groupSize`; each group of each position is normalized on its own (LN, or RMS scaling when
 * `centering` is false = PLS, or the p-norm statistic), then γ, β per feature. With one group it
 * is LayerNorm over that axis. p = 2 runs on the backend's fused kernels; other p on the host.
 * A recorded, differentiable op (inputs x, scale, bias).
 *
 * @example
 * ```ts
 * parallelLayerNorm(Tensor.randn([4, 16], 1), { groupSize: 8 });            // PLN-8
 * parallelLayerNorm(x, { numGroups: 2, centering: false });                  // PLS, 2 groups
 * ```
 */
export function parallelLayerNorm(x: Tensor, opts: ParallelLayerNormOptions = {}): Tensor {
  return runOp(PARALLEL_LAYER_NORM, [x, opts.scale, opts.bias], withoutKeys(opts, 'scale', 'bias'), () => plnForward(x, opts));
}

function plnForward(x: Tensor, opts: ParallelLayerNormOptions): Tensor {
  const L = plnLayout('parallelLayerNorm', x, opts);
  const centering = opts.centering ?? true;
  const p = opts.p ?? 2;
  const eps = opts.epsilon ?? 1e-5;
  const { F, g, perm } = L;
  const last = perm.every((v, i) => v === i);
  const xt = last ? x : transpose(x, perm);
  let y: Tensor;
  if (p === 2) {
    const grouped = xt.reshape([xt.size / g || 0, g]);
    y = (
      centering ? layerNormKernel(grouped, undefined, undefined, 1, eps).y : rmsNormKernel(grouped, undefined, undefined, 1, eps)
    ).reshape([xt.size / F || 0, F]);
    if (opts.scale) y = mul(y, asDtype(opts.scale, x.dtype as 'float32').reshape([F]));
    if (opts.bias) y = add(y, asDtype(opts.bias, x.dtype as 'float32').reshape([F]));
  } else {
    const X = f64(xt);
    const xhat = rowForward(X, X.length / g, g, { center: centering, p, eps }).xhat;
    const gam = opts.scale && f64(opts.scale);
    const bet = opts.bias && f64(opts.bias);
    for (let i = 0; i < xhat.length; i++)
      xhat[i] = (xhat[i] as number) * (gam ? (gam[i % F] as number) : 1) + (bet ? (bet[i % F] as number) : 0);
    y = tensorOf(x.dtype as 'float32', [X.length / F, F], xhat);
  }
  y = y.reshape(xt.shape);
  return last ? y : transpose(y, invertPerm(perm));
}

/**
 * LN-G (ICML 2024): LayerNorm applied to `numGroups` equal groups of the feature axis; the same
 * operator as `parallelLayerNorm` with `numGroups` (and recorded as that op).
 *
 * @example
 * ```ts
 * lnG(Tensor.randn([3, 12], 1), 4); // 4 groups of 3 features
 * ```
 */
export function lnG(x: Tensor, numGroups: number, opts: Omit<ParallelLayerNormOptions, 'numGroups' | 'groupSize'> = {}): Tensor {
  return parallelLayerNorm(x, { ...opts, numGroups });
}

/**
 * Backward of `parallelLayerNorm` (any p, with or without centering). With p = 2, the feature axis
 * last and float32 x and dy it runs on the active backend's fused LN / RMSNorm backward over
 * [positions·G, groupSize] with a per-feature γ (`Backend.layerNormBackward` with `paramAxis`); otherwise
 * on the host in float64.
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias } = parallelLayerNormBackward(dy, x, { groupSize: 4, scale, bias });
 * ```
 */
export function parallelLayerNormBackward(dy: Tensor, x: Tensor, opts: ParallelLayerNormOptions = {}): ParallelLayerNormGradients {
  const dt = requireFloat('parallelLayerNormBackward', x);
  requireGradShape('parallelLayerNormBackward', dy, x);
  const layout = plnLayout('parallelLayerNormBackward', x, opts);
  return plnKernelBackward(dy, x, opts, layout) ?? plnHostBackward(dy, x, opts, layout, dt);
}

/** PLN's backward on the backend's fused kernel: x as [positions, G, groupSize], γ per feature over [G, groupSize]. */
function plnKernelBackward(dy: Tensor, x: Tensor, opts: ParallelLayerNormOptions, L: PlnLayout): ParallelLayerNormGradients | undefined {
  const { F, g, perm } = L;
  if ((opts.p ?? 2) !== 2 || !perm.every((v, i) => v === i)) return undefined;
  const grouped = [x.size / F || 0, F / g, g];
  const view = (t: Tensor) => new Tensor(grouped, t.dtype, t.data);
  const scale = opts.scale && new Tensor([F / g, g], 'float32', asDtype(opts.scale, 'float32').data as Float32Array);
  const r = backendNormBackward(opts.centering ?? true, view(dy), view(x), {
    axis: 2,
    paramAxis: 1,
    epsilon: opts.epsilon ?? 1e-5,
    scale,
    bias: opts.bias !== undefined,
  });
  if (!r) return undefined;
  const as = (t: Tensor, like: Tensor) => new Tensor(like.shape, t.dtype, t.data);
  return {
    dx: as(r.dx, x),
    ...(opts.scale && r.dScale && { dScale: as(r.dScale, opts.scale) }),
    ...(opts.bias && r.dBias && { dBias: as(r.dBias, opts.bias) }),
  };
}

/** PLN's backward on the host in float64 (any p, any feature axis). */
function plnHostBackward(
  dy: Tensor,
  x: Tensor,
  opts: ParallelLayerNormOptions,
  L: PlnLayout,
  dt: 'float32' | 'float64',
): ParallelLayerNormGradients {
  const { F, g, perm } = L;
  const spec = { center: opts.centering ?? true, p: opts.p ?? 2, eps: opts.epsilon ?? 1e-5 };
  const X = permuteF64(x.data as Float32Array, x.shape, perm);
  const DY = permuteF64(dy.data as Float32Array, dy.shape, perm);
  const gam = opts.scale && f64(opts.scale);
  const G = new Float64Array(DY.length);
  for (let i = 0; i < G.length; i++) G[i] = (DY[i] as number) * (gam ? (gam[i % F] as number) : 1);
  const rows = X.length / g;
  const dxT = rowBackward(G, X, rows, g, spec);
  const tShape = perm.map((p) => x.shape[p] as number);
  const out: ParallelLayerNormGradients = { dx: tensorOf(dt, x.shape, permuteF64(dxT, tShape, invertPerm(perm))) };
  if (opts.scale || opts.bias) {
    const xhat = rowForward(X, rows, g, spec).xhat;
    const ds = new Float64Array(F);
    const db = new Float64Array(F);
    for (let i = 0; i < DY.length; i++) {
      ds[i % F]! += (DY[i] as number) * (xhat[i] as number);
      db[i % F]! += DY[i] as number;
    }
    if (opts.scale) out.dScale = tensorOf(dt, opts.scale.shape, ds);
    if (opts.bias) out.dBias = tensorOf(dt, opts.bias.shape, db);
  }
  return out;
}
