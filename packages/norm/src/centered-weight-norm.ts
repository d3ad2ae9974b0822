import { defineOp, fmtShape, NormkitError, runOp, type Tensor } from '@normkit/tensor';
import { f64, requireFloat, tensorOf } from './internal.js';
import { matchInputs } from './recorded-op.js';

/** CWN's default `NScale` (the code's literal 1.414, not √2). */
// biome-ignore lint/suspicious/noApproximativeNumericConstant: the reference implementation's literal value
const CWN_SCALE = 1.414;

/** Options of `centeredWeightNorm` (Huang et al. ICCV 2017, huangleiBuaa/CenteredWN). */
export interface CenteredWeightNormOptions {
  /** The scale s: a number (CWN's `NScale`) or one value per output neuron. Default 1.414. */
  scale?: number | Tensor;
  /** Added to the norm (not inside it). Default 1e-5. */
  epsilon?: number;
}

/** Gradients of `centeredWeightNorm`. */
export interface CenteredWeightNormGradients {
  dV: Tensor;
  /** Present when `scale` was given as a Tensor. */
  dScale?: Tensor;
}

function rowsOf(op: string, V: Tensor, scale: number | Tensor | undefined): { out: number; n: number; s: Float64Array } {
  requireFloat(op, V, 'V');
  if (V.rank < 1) throw new NormkitError('SHAPE_MISMATCH', `${op}: V must be (out, in, ...)`, { op });
  const out = V.shape[0] as number;
  const n = out === 0 ? 0 : V.size / out;
  let s: Float64Array;
  if (scale === undefined || typeof scale === 'number') s = new Float64Array(out).fill(scale ?? CWN_SCALE);
  else {
    if (scale.size !== out && scale.size !== 1)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${op}: scale ${fmtShape(scale.shape)} must have 1 or ${out} elements (one per output neuron)`,
        { op },
      );
    const sv = f64(scale);
    s = scale.size === 1 ? new Float64Array(out).fill(sv[0] as number) : sv;
  }
  return { out, n, s };
}

/** Attributes of the op `centeredWeightNorm`: ε and a number scale (a Tensor scale is its second input). */
interface CwnAttrs {
  scale?: number;
  epsilon?: number;
}

/** The op `centeredWeightNorm` (inputs V, scale when a Tensor), differentiated by `centeredWeightNormBackward`. */
const CENTERED_WEIGHT_NORM = defineOp<CwnAttrs>({
  name: 'centeredWeightNorm',
  grad: (dy, { inputs, attrs }) => {
    const [V, scale] = inputs;
    const g = centeredWeightNormBackward(dy, V as Tensor, { epsilon: attrs.epsilon, scale: scale ?? attrs.scale });
    return matchInputs(inputs, [g.dV, g.dScale]);
  },
});

/**
 * Centered weight normalization: each output neuron's weights v (a row of V (out, in, ...), i.e.
 * centered over the input side) become w = s·(v − mean(v))/(‖v − mean(v)‖ + ε). The output is
 * invariant to adding a constant to all inputs. (This is row centering, not CBWC.) A recorded,
 * differentiable op (inputs V and a Tensor scale).
 *
 * @example
 * ```ts
 * centeredWeightNorm(Tensor.from([[1, 2, 3]]), { scale: 1 }).toArray(); // [[-0.7071, 0, 0.7071]] (ε = 1e-5)
 * ```
 */
export function centeredWeightNorm(V: Tensor, opts: CenteredWeightNormOptions = {}): Tensor {
  const scale = typeof opts.scale === 'number' ? undefined : opts.scale;
  const attrs = { epsilon: opts.epsilon, scale: typeof opts.scale === 'number' ? opts.scale : undefined };
  return runOp(CENTERED_WEIGHT_NORM, [V, scale], attrs, () => cwnForward(V, opts));
}

function cwnForward(V: Tensor, opts: CenteredWeightNormOptions): Tensor {
  const op = 'centeredWeightNorm';
  const { out, n, s } = rowsOf(op, V, opts.scale);
  const eps = opts.epsilon ?? 1e-5;
  const X = f64(V);
  const Y = new Float64Array(X.length);
  for (let o = 0; o < out; o++) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += X[o * n + j] as number;
    mu /= n;
    let q = 0;
    for (let j = 0; j < n; j++) q += ((X[o * n + j] as number) - mu) ** 2;
    const f = (s[o] as number) / (Math.sqrt(q) + eps);
    for (let j = 0; j < n; j++) Y[o * n + j] = ((X[o * n + j] as number) - mu) * f;
  }
  return tensorOf(V.dtype as 'float32', V.shape, Y);
}

/**
 * Backward of `centeredWeightNorm`: ∂L/∂V and, for a Tensor scale, ∂L/∂scale.
 *
 * @example
 * ```ts
 * const { dV, dScale } = centeredWeightNormBackward(dW, V, { scale: Tensor.ones([4]) });
 * ```
 */
export function centeredWeightNormBackward(dW: Tensor, V: Tensor, opts: CenteredWeightNormOptions = {}): CenteredWeightNormGradients {
  const op = 'centeredWeightNormBackward';
  const { out, n, s } = rowsOf(op, V, opts.scale);
  const eps = opts.epsilon ?? 1e-5;
  const X = f64(V);
  const G = f64(dW);
  const dV = new Float64Array(X.length);
  const ds = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += X[o * n + j] as number;
    mu /= n;
    let q = 0;
    for (let j = 0; j < n; j++) q += ((X[o * n + j] as number) - mu) ** 2;
    const nr = Math.sqrt(q);
    const den = nr + eps;
    const so = s[o] as number;
    let gc = 0; // Σ g·v_c
    for (let j = 0; j < n; j++) gc += (G[o * n + j] as number) * ((X[o * n + j] as number) - mu);
    ds[o] = gc / den;
    // w = s·v_c/den; ∂/∂v_c: s·g/den − s·(g·v_c)·v_c/(den²·‖v_c‖)
    let msum = 0;
    for (let j = 0; j < n; j++) {
      const vc = (X[o * n + j] as number) - mu;
      const g = (so * (G[o * n + j] as number)) / den - (nr > 0 ? (so * gc * vc) / (den * den * nr) : 0);
      dV[o * n + j] = g;
      msum += g;
    }
    msum /= n;
    for (let j = 0; j < n; j++) dV[o * n + j]! -= msum;
  }
  const res: CenteredWeightNormGradients = { dV: tensorOf(V.dtype as 'float32', V.shape, dV) };
  if (opts.scale !== undefined && typeof opts.scale !== 'number') {
    const sc = opts.scale;
    res.dScale = tensorOf(V.dtype as 'float32', sc.shape, sc.size === 1 ? Float64Array.of(ds.reduce((a, b) => a + b, 0)) : ds);
  }
  return res;
}
