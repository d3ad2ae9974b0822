/** Summary statistics of a set of timings (milliseconds). */
export interface TimingStats {
  runs: number;
  medianMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  p25Ms: number;
  p75Ms: number;
  /** Interquartile range p75 - p25. */
  iqrMs: number;
  /** The spread as a share of the median: iqr / median (0.05 = ±2.5% around the median). */
  spread: number;
}

/**
 * The `q`-quantile (0..1) of `xs` with linear interpolation between order statistics.
 * @example quantile([1, 2, 3, 4], 0.5) // 2.5
 */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/** The median of `xs`. @example median([3, 1, 2]) // 2 */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/**
 * Median, quartiles, min/max and relative spread of timings.
 * @example timingStats([10, 11, 12]).medianMs // 11
 */
export function timingStats(ms: readonly number[]): TimingStats {
  const medianMs = median(ms);
  const p25Ms = quantile(ms, 0.25);
  const p75Ms = quantile(ms, 0.75);
  return {
    runs: ms.length,
    medianMs,
    meanMs: ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    p25Ms,
    p75Ms,
    iqrMs: p75Ms - p25Ms,
    spread: medianMs > 0 ? (p75Ms - p25Ms) / medianMs : 0,
  };
}
