import { add, fmtShape, layerNormKernel, mul, NormkitError, runOp, type Tensor } from '@normkit/tensor';
import { asDtype, f64, requireFloat, rowBackward, rowForward, tensorOf } from './internal.js';
import { affineOp, withoutKeys } from './recorded-op.js';

/** Options of `groupNorm` (ONNX GroupNormalization). */
export interface GroupNormOptions {
  /** Number of channel groups G; C must be divisible by G. */
  numGroups: number;
  /** Added to the variance inside the square root. Default 1e-5. */
  epsilon?: number;
  /** γ: [C] per channel (opset 21) or [G] per group (opset 18). Default: none. */
  scale?: Tensor;
  /** β: same layout as scale. Default: none. */
  bias?: Tensor;
  /**
   * 'channel' (ONNX opset 21, PyTorch) or 'group' (ONNX opset 18: one γ, β per group). Default:
   * inferred from the parameter size ('group' when it has G ≠ C elements).
   */
  affine?: 'channel' | 'group';
}

/** Gradients of `groupNorm` / `instanceNorm`. */
export interface GroupNormGradients {
  dx: Tensor;
  dScale?: Tensor;
  dBias?: Tensor;
}

interface GroupLayout {
  N: number;
  C: number;
  S: number;
  G: number;
  mode: 'channel' | 'group';
}

function layout(op: string, x: Tensor, opts: GroupNormOptions): GroupLayout {
  requireFloat(op, x);
  if (x.rank < 2)
    throw new NormkitError('SHAPE_MISMATCH', `${op}: x must be [N, C, ...], got ${fmtShape(x.shape)}`, { op, shape: x.shape });
  const N = x.shape[0] as number;
  const C = x.shape[1] as number;
  const S = N * C === 0 ? 0 : x.size / (N * C);
  const G = opts.numGroups;
  if (!Number.isInteger(G) || G < 1 || C % G !== 0) {
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${op}: numGroups ${G} must be a positive divisor of the channel count ${C} of x ${fmtShape(x.shape)}`,
      { op, shape: x.shape },
    );
  }
  let mode: 'channel' | 'group' = opts.affine ?? 'channel';
  const p = opts.scale ?? opts.bias;
  if (!opts.affine && p && p.size === G && G !== C) mode = 'group';
  const want = mode === 'channel' ? C : G;
  for (const [name, t] of [
    ['scale', opts.scale],
    ['bias', opts.bias],
  ] as const) {
    if (t && t.size !== want) {
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${op}: ${name} ${fmtShape(t.shape)} must have ${want} elements (${mode === 'channel' ? `one per channel, C = ${C}` : `one per group, G = ${G}`}); pass affine: 'group' for ONNX opset-18 models`,
        { op, shape: t.shape },
      );
    }
  }
  return { N, C, S, G, mode };
}

/** Applies per-channel (or per-group) γ, β to y viewed as [N, K, rest] with backend ops. */
function affineRows(y: Tensor, K: number, scale: Tensor | undefined, bias: Tensor | undefined): Tensor {
  let out = y;
  if (scale) out = mul(out, asDtype(scale, y.dtype as 'float32').reshape([K, 1]));
  if (bias) out = add(out, asDtype(bias, y.dtype as 'float32').reshape([K, 1]));
  return out;
}

/** The op `groupNorm` (inputs x, scale, bias), differentiated by `groupNormBackward`. */
const GROUP_NORM = affineOp<Omit<GroupNormOptions, 'scale' | 'bias'>>('groupNorm', groupNormBackward);

/**
 * GroupNorm (ONNX GroupNormalization): channels of x [N, C, ...] split into G groups; each (n, g)
 * block of C/G channels × spatial is normalized with its own mean and variance, then γ, β are
 * applied per channel (opset 21) or per group (opset 18). Runs through the backend's fused
 * LayerNorm kernel. A recorded, differentiable op (inputs x, scale, bias).
 *
 * @example
 * ```ts
 * groupNorm(Tensor.randn([2, 4, 3, 3], 1), { numGroups: 2, scale: Tensor.ones([4]), bias: Tensor.zeros([4]) });
 * ```
 */
export function groupNorm(x: Tensor, opts: GroupNormOptions): Tensor {
  return runOp(GROUP_NORM, [x, opts.scale, opts.bias], withoutKeys(opts, 'scale', 'bias'), () =>
    groupForward(x, layout('groupNorm', x, opts), opts.epsilon ?? 1e-5, opts.scale, opts.bias),
  );
}

function groupForward(x: Tensor, L: GroupLayout, eps: number, scale?: Tensor, bias?: Tensor): Tensor {
  const { N, C, S, G, mode } = L;
  const y = layerNormKernel(x.reshape([N, G, (C / G) * S]), undefined, undefined, 2, eps).y;
  if (!scale && !bias) return y.reshape(x.shape);
  if (mode === 'group') return affineRows(y, G, scale, bias).reshape(x.shape);
  return affineRows(y.reshape([N, C, S]), C, scale, bias).reshape(x.shape);
}

/**
 * Backward of `groupNorm`: ∂L/∂x, and ∂L/∂scale, ∂L/∂bias in the parameters' layout.
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias } = groupNormBackward(dy, x, { numGroups: 2, scale, bias });
 * ```
 */
export function groupNormBackward(dy: Tensor, x: Tensor, opts: GroupNormOptions): GroupNormGradients {
  const L = layout('groupNormBackward', x, opts);
  return groupBackward(dy, x, L, opts.epsilon ?? 1e-5, opts.scale, opts.bias);
}

function groupBackward(dy: Tensor, x: Tensor, L: GroupLayout, eps: number, scale?: Tensor, bias?: Tensor): GroupNormGradients {
  const dt = requireFloat('groupNormBackward', x);
  const { N, C, S, G, mode } = L;
  const cpg = C / G;
  const d = cpg * S;
  const rows = N * G;
  const X = f64(x);
  const DY = f64(dy);
  const gam = scale ? f64(scale) : undefined;
  const param = (i: number) => {
    const c = Math.floor(i / S) % C;
    return mode === 'channel' ? c : Math.floor(c / cpg);
  };
  const Gd = new Float64Array(DY.length);
  for (let i = 0; i < Gd.length; i++) Gd[i] = (DY[i] as number) * (gam ? (gam[param(i)] as number) : 1);
  const spec = { center: true, p: 2, eps };
  const dx = rowBackward(Gd, X, rows, d, spec);
  const out: GroupNormGradients = { dx: tensorOf(dt, x.shape, dx) };
  if (scale || bias) {
    const K = mode === 'channel' ? C : G;
    const xhat = rowForward(X, rows, d, spec).xhat;
    const ds = new Float64Array(K);
    const db = new Float64Array(K);
    for (let i = 0; i < DY.length; i++) {
      const k = param(i);
      ds[k]! += (DY[i] as number) * (xhat[i] as number);
      db[k]! += DY[i] as number;
    }
    if (scale) out.dScale = tensorOf(dt, scale.shape, ds);
    if (bias) out.dBias = tensorOf(dt, bias.shape, db);
  }
  return out;
}

/** Options of `instanceNorm` (ONNX InstanceNormalization). */
export interface InstanceNormOptions {
  /** Added to the variance. Default 1e-5. */
  epsilon?: number;
  /** γ [C]. Default: none. */
  scale?: Tensor;
  /** β [C]. Default: none. */
  bias?: Tensor;
}

/** The op `instanceNorm` (inputs x, scale, bias), differentiated by `instanceNormBackward`. */
const INSTANCE_NORM = affineOp<Omit<InstanceNormOptions, 'scale' | 'bias'>>('instanceNorm', instanceNormBackward);

/**
 * InstanceNorm (ONNX InstanceNormalization): every (n, c) plane of x [N, C, ...] normalized over
 * its spatial elements, then γ, β per channel. Same as GroupNorm with G = C. A recorded,
 * differentiable op (inputs x, scale, bias).
 *
 * @example
 * ```ts
 * instanceNorm(Tensor.randn([1, 2, 1, 3], 1), { scale: Tensor.from([1, 1.5]), bias: Tensor.from([0, 1]) });
 * ```
 */
export function instanceNorm(x: Tensor, opts: InstanceNormOptions = {}): Tensor {
  return runOp(INSTANCE_NORM, [x, opts.scale, opts.bias], withoutKeys(opts, 'scale', 'bias'), () => {
    const L = layout('instanceNorm', x, { numGroups: x.shape[1] ?? 1, ...opts, affine: 'channel' });
    return groupForward(x, L, opts.epsilon ?? 1e-5, opts.scale, opts.bias);
  });
}

/**
 * Backward of `instanceNorm`.
 *
 * @example
 * ```ts
 * const { dx, dScale, dBias } = instanceNormBackward(dy, x, { scale, bias });
 * ```
 */
export function instanceNormBackward(dy: Tensor, x: Tensor, opts: InstanceNormOptions = {}): GroupNormGradients {
  const L = layout('instanceNormBackward', x, { numGroups: x.shape[1] ?? 1, ...opts, affine: 'channel' });
  return groupBackward(dy, x, L, opts.epsilon ?? 1e-5, opts.scale, opts.bias);
}
