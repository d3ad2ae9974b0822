import { NormkitError } from '@normkit/tensor';

/**
 * Float64 reference normalizations of one vector, the formulas of docs/PAPERS.md §0 (biased variance,
 * ε inside the square root, no affine). `@normkit/norm` works on float32 tensors; the theory needs
 * float64 for its certificates, so these private-to-the-theory helpers are written out here.
 *
 * @example
 * ```ts
 * layerNorm64([3, 1]);        // [1, -1]
 * layerNorm64([3, 1], 1e-5);  // [0.999995, -0.999995]
 * ```
 */
export function layerNorm64(h: readonly number[], eps = 0): number[] {
  const d = h.length;
  if (d === 0) throw new NormkitError('INVALID_ARGUMENT', 'layerNorm64: empty vector; pass at least one feature');
  let mu = 0;
  for (const v of h) mu += v;
  mu /= d;
  let v2 = 0;
  for (const v of h) v2 += (v - mu) * (v - mu);
  const inv = 1 / Math.sqrt(v2 / d + eps);
  return h.map((v) => (v - mu) * inv);
}

/**
 * Float64 RMSNorm of one vector: h / sqrt(mean(h²) + ε) (no affine).
 *
 * @example
 * ```ts
 * rmsNorm64([3, 4]); // [0.8485.., 1.1313..]
 * ```
 */
export function rmsNorm64(h: readonly number[], eps = 0): number[] {
  const d = h.length;
  if (d === 0) throw new NormkitError('INVALID_ARGUMENT', 'rmsNorm64: empty vector; pass at least one feature');
  let s = 0;
  for (const v of h) s += v * v;
  const inv = 1 / Math.sqrt(s / d + eps);
  return h.map((v) => v * inv);
}

/**
 * Float64 parallel LayerNorm (PLN / LN-G) of one vector: contiguous groups of `groupSize` features,
 * each normalized on its own (`centering: false` gives PLS, grouped RMSNorm). docs/PAPERS.md §0.
 *
 * @example
 * ```ts
 * parallelNorm64([3, 1, 0, 2], 2); // [1, -1, -1, 1]
 * ```
 */
export function parallelNorm64(h: readonly number[], groupSize: number, eps = 0, centering = true): number[] {
  if (!Number.isInteger(groupSize) || groupSize < 1 || h.length % groupSize !== 0) {
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `parallelNorm64: ${h.length} features do not split into groups of ${groupSize}; pick a group size that divides the width`,
      { width: h.length, groupSize },
    );
  }
  const out: number[] = [];
  for (let g = 0; g < h.length; g += groupSize) {
    const part = h.slice(g, g + groupSize);
    out.push(...(centering ? layerNorm64(part, eps) : rmsNorm64(part, eps)));
  }
  return out;
}
