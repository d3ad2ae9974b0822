import type { Stat } from './types.js';

/**
 * Mean and sample standard deviation (n − 1; 0 for a single value) of per-seed values.
 * @example meanStd([0.85, 0.86, 0.87]) // { mean: 0.86, std: 0.01, values: [...] }
 */
export function meanStd(values: readonly number[]): Stat {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(n, 1);
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, values: [...values] };
}

/**
 * `mean ± std` with `digits` decimals, as percentages when `percent`.
 * @example fmtStat(meanStd([0.85, 0.87]), { percent: true }) // '86.00 ± 1.41 %'
 */
export function fmtStat(s: Stat, { digits = 2, percent = false } = {}): string {
  const k = percent ? 100 : 1;
  return `${(s.mean * k).toFixed(digits)} ± ${(s.std * k).toFixed(digits)}${percent ? ' %' : ''}`;
}

/**
 * The seeds of a run: 0 … n − 1, with n from the options (default 3, or 2 when quick).
 * @example seedsOf({ quick: true }) // [0, 1]
 */
export function seedsOf(opts: { quick: boolean; seeds?: number }): number[] {
  const n = opts.seeds ?? (opts.quick ? 2 : 3);
  return Array.from({ length: n }, (_, i) => i);
}
