import { NormkitError } from '@normkit/tensor';

/** A learning rate per optimizer step (0-based): `opt.lr = schedule(step)` before `opt.step()`. */
export type LrSchedule = (step: number) => number;

/** Options of `warmupCosine`. */
export interface WarmupCosineOptions {
  /** The peak learning rate, reached at the end of the warm-up. */
  baseLr: number;
  /** Steps of the whole run (the last one, totalSteps − 1, gets `minLr`). */
  totalSteps: number;
  /** Steps of linear warm-up (default 0). */
  warmupSteps?: number;
  /** The floor the cosine decays to (default 0). */
  minLr?: number;
}

/**
 * Linear warm-up then cosine decay to a floor, as in the SimCLR/INTL training scripts:
 * - step s < W (warm-up): lr = baseLr·(s + 1)/W, so the last warm-up step runs at baseLr;
 * - s ≥ W: with progress p = min(1, (s − W + 1)/(T − W)), lr = minLr + (baseLr − minLr)·½(1 + cos πp),
 *   so the last step T − 1 runs at minLr and steps past the end stay there.
 *
 * @example
 * ```ts
 * const lrAt = warmupCosine({ baseLr: 1e-3, warmupSteps: 500, totalSteps: 10_000, minLr: 1e-6 });
 * opt.lr = lrAt(step);
 * ```
 */
export function warmupCosine(opts: WarmupCosineOptions): LrSchedule {
  const { baseLr, totalSteps, warmupSteps = 0, minLr = 0 } = opts;
  const bad = (name: string, v: number, rule: string) =>
    new NormkitError('INVALID_ARGUMENT', `warmupCosine: ${name} must be ${rule}, got ${v}`, { [name]: v });
  if (!(baseLr >= 0) || !Number.isFinite(baseLr)) throw bad('baseLr', baseLr, 'a finite number ≥ 0');
  if (!(minLr >= 0 && minLr <= baseLr)) throw bad('minLr', minLr, `in [0, baseLr = ${baseLr}]`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw bad('warmupSteps', warmupSteps, 'an integer ≥ 0');
  if (!Number.isInteger(totalSteps) || totalSteps <= warmupSteps)
    throw bad('totalSteps', totalSteps, `an integer > warmupSteps (${warmupSteps})`);
  return (step) => {
    if (!Number.isInteger(step) || step < 0)
      throw new NormkitError('INVALID_ARGUMENT', `warmupCosine: step must be an integer ≥ 0, got ${step}`);
    if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps + 1) / (totalSteps - warmupSteps));
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}
