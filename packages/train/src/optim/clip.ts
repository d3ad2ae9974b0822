import { NormkitError, Tensor } from '@normkit/tensor';
import type { Parameter } from '../nn/module.js';
import type { FloatArray } from './optimizer.js';

/**
 * Clips gradients by their global norm, PyTorch's `clip_grad_norm_`: the norm of all gradients
 * together (the p-norm of the concatenation, accumulated in float64) is computed; when
 * maxNorm / (norm + 1e-6) < 1 every gradient is multiplied by that factor. Returns the norm before
 * clipping (NaN or Infinity when a gradient holds one; nothing is scaled then). Parameters without a
 * gradient are skipped. Scaled gradients are new tensors: a gradient tensor may be shared (two
 * parameters summed get the same one), so it is never scaled in place.
 *
 * @example
 * ```ts
 * const norm = clipGradNorm(model.parameters(), 1.0);
 * opt.step();
 * ```
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number, normType = 2): number {
  if (!(maxNorm >= 0)) throw new NormkitError('INVALID_ARGUMENT', `clipGradNorm: maxNorm must be a number ≥ 0, got ${maxNorm}`);
  if (!(normType > 0))
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `clipGradNorm: normType must be > 0 (2 for the Euclidean norm, Infinity for the max), got ${normType}`,
    );
  const withGrad = params.filter((p) => p.grad !== undefined);
  const total = globalNorm(
    withGrad.map((p) => (p.grad as Tensor).data as FloatArray),
    normType,
  );
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) for (const p of withGrad) p.grad = scaled(p.grad as Tensor, coef);
  return total;
}

/** The p-norm of several arrays taken as one vector (p = Infinity: the largest |x|). */
function globalNorm(arrays: readonly FloatArray[], p: number): number {
  let acc = 0;
  for (const a of arrays)
    for (let i = 0; i < a.length; i++) {
      const x = Math.abs(a[i] as number);
      if (p === Number.POSITIVE_INFINITY) acc = x > acc || Number.isNaN(x) ? x : acc;
      else acc += p === 2 ? x * x : x ** p;
    }
  return p === Number.POSITIVE_INFINITY ? acc : p === 2 ? Math.sqrt(acc) : acc ** (1 / p);
}

function scaled(t: Tensor, k: number): Tensor {
  const src = t.data as FloatArray;
  const out = src instanceof Float64Array ? new Float64Array(src.length) : new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = (src[i] as number) * k;
  return new Tensor(t.shape, t.dtype, out);
}
