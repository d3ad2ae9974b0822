import type { Timing } from './protocol.js';

/**
 * The `q`-quantile (0..1) of `xs`, interpolating linearly between order statistics.
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

/** Median and quartiles of timings in ms. @example timing([3, 1, 2]).medianMs // 2 */
export function timing(ms: readonly number[]): Timing {
  return { runs: ms.length, medianMs: quantile(ms, 0.5), p25Ms: quantile(ms, 0.25), p75Ms: quantile(ms, 0.75) };
}

/**
 * Times two models in strictly alternating runs (the order flips every round, so drift and cache
 * warmth affect both alike), after `warmup` untimed runs of each, as `normkit bench` does. `between`
 * runs after every round (the page yields there so it stays responsive).
 *
 * @example
 * ```ts
 * const t = await timeAlternating(() => runA(), () => runB(), { rounds: 10 });
 * t.converted.medianMs / t.original.medianMs;
 * ```
 */
export async function timeAlternating(
  original: () => Promise<unknown>,
  converted: () => Promise<unknown>,
  opts: { rounds: number; warmup?: number; between?: (round: number) => Promise<void> },
): Promise<{ original: Timing; converted: Timing }> {
  for (let i = 0; i < (opts.warmup ?? 1); i++) {
    await original();
    await converted();
  }
  const a: number[] = [];
  const b: number[] = [];
  const timed = async (f: () => Promise<unknown>, into: number[]) => {
    const t0 = performance.now();
    await f();
    into.push(performance.now() - t0);
  };
  for (let r = 0; r < opts.rounds; r++) {
    if (r % 2 === 0) {
      await timed(original, a);
      await timed(converted, b);
    } else {
      await timed(converted, b);
      await timed(original, a);
    }
    await opts.between?.(r);
  }
  return { original: timing(a), converted: timing(b) };
}
