import { defineOp, fmtShape, layerNormKernel, mul, NormkitError, runOp, sub, type Tensor, transpose } from '@normkit/tensor';
import { f64, invertPerm, permuteF64, requireFloat, rowBackward, tensorOf } from './internal.js';
import { matchInputs } from './recorded-op.js';

/** Options of `meanVarianceNormalization` (ONNX MeanVarianceNormalization). */
export interface MeanVarianceNormalizationOptions {
  /** Axes to take the statistics over. Default [0, 2, 3] (ONNX). */
  axes?: readonly number[];
  /** Added to the standard deviation (not the variance), as ONNX's function body does. Default 1e-9. */
  epsilon?: number;
}

function mvnPerm(op: string, x: Tensor, axesIn: readonly number[]): { perm: number[]; rows: number; d: number } {
  requireFloat(op, x);
  const axes = [...new Set(axesIn.map((a) => (a < 0 ? a + x.rank : a)))].sort((a, b) => a - b);
  if (axes.some((a) => a < 0 || a >= x.rank)) {
    throw new NormkitError(
      'AXIS_OUT_OF_RANGE',
      `${op}: axes [${axesIn.join(', ')}] out of range for x ${fmtShape(x.shape)}; the default [0, 2, 3] needs a 4-D input`,
      { op, shape: x.shape },
    );
  }
  const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...keep, ...axes];
  const d = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
  return { perm, rows: d === 0 ? 0 : x.size / d, d };
}

/** The op `meanVarianceNormalization` (input x), differentiated by `meanVarianceNormalizationBackward`. */
const MVN = defineOp<MeanVarianceNormalizationOptions>({
  name: 'meanVarianceNormalization',
  grad: (dy, { inputs, attrs }) => matchInputs(inputs, [meanVarianceNormalizationBackward(dy, inputs[0] as Tensor, attrs).dx]),
});

/**
 * Mean-variance normalization (ONNX MeanVarianceNormalization): y = (x − mean)/(sqrt(var) + ε)
 * with mean and biased variance over `axes`. Statistics come from the backend's fused kernel.
 * A recorded, differentiable op (input x).
 *
 * @example
 * ```ts
 * meanVarianceNormalization(Tensor.randn([3, 3, 3, 1], 1)); // over axes [0, 2, 3]
 * ```
 */
export function meanVarianceNormalization(x: Tensor, opts: MeanVarianceNormalizationOptions = {}): Tensor {
  return runOp(MVN, [x], opts, () => mvnForward(x, opts));
}

function mvnForward(x: Tensor, opts: MeanVarianceNormalizationOptions): Tensor {
  const { perm, rows, d } = mvnPerm('meanVarianceNormalization', x, opts.axes ?? [0, 2, 3]);
  const eps = opts.epsilon ?? 1e-9;
  const identity = perm.every((p, i) => p === i);
  const xt = identity ? x : transpose(x, perm);
  const xr = xt.reshape([rows, d]);
  const { mean, invStdDev } = layerNormKernel(xr, undefined, undefined, 1, 0);
  const inv = invStdDev.data as Float32Array;
  const f = new Float64Array(rows);
  for (let r = 0; r < rows; r++) f[r] = 1 / (1 / (inv[r] as number) + eps);
  const y = mul(sub(xr, mean), tensorOf(x.dtype as 'float32', [rows, 1], f)).reshape(xt.shape);
  return identity ? y : transpose(y, invertPerm(perm));
}

/**
 * Backward of `meanVarianceNormalization` (float64 on the host).
 *
 * @example
 * ```ts
 * const { dx } = meanVarianceNormalizationBackward(dy, x, { axes: [0, 2, 3] });
 * ```
 */
export function meanVarianceNormalizationBackward(dy: Tensor, x: Tensor, opts: MeanVarianceNormalizationOptions = {}): { dx: Tensor } {
  const dt = requireFloat('meanVarianceNormalizationBackward', x);
  const { perm, rows, d } = mvnPerm('meanVarianceNormalizationBackward', x, opts.axes ?? [0, 2, 3]);
  const X = permuteF64(f64(x), x.shape, perm);
  const DY = permuteF64(f64(dy), dy.shape, perm);
  const dxT = rowBackward(DY, X, rows, d, { center: true, p: 2, eps: opts.epsilon ?? 1e-9, epsMode: 'std' });
  return {
    dx: tensorOf(
      dt,
      x.shape,
      permuteF64(
        dxT,
        perm.map((p) => x.shape[p] as number),
        invertPerm(perm),
      ),
    ),
  };
}
