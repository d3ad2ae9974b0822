import { outputDifference } from '@normkit/graph';
import type { Tensor } from '@normkit/tensor';
import type { OutputDiffRow } from './protocol.js';

/** The relative tolerance of `normkit convert` and @normkit/graph's verifyEquivalence. */
export const TOLERANCE = 1e-5;

/**
 * Compares two runs' outputs by name with @normkit/graph's `outputDifference` (the CLI's measures): max |a−b|, that relative to the largest
 * |reference| value, and argmax agreement over the last axis. A missing output or another shape is an
 * infinite difference.
 *
 * @example
 * ```ts
 * compareOutputs({ y: a }, { y: b })[0].maxRelDiff;
 * ```
 */
export function compareOutputs(reference: Record<string, Tensor>, candidate: Record<string, Tensor>): OutputDiffRow[] {
  return Object.entries(reference).map(([name, ref]) => {
    const got = candidate[name];
    if (!got || got.shape.join() !== ref.shape.join()) return { name, maxAbsDiff: Infinity, maxRelDiff: Infinity, argmaxAgreement: 0 };
    const d = outputDifference(ref, got);
    return { name, maxAbsDiff: d.maxAbsDiff, maxRelDiff: d.maxRelDiff, argmaxAgreement: d.rows > 0 ? d.agree / d.rows : 1 };
  });
}

/** Rows of several runs merged per output: the worst difference and the lowest agreement. @example mergeWorst([[r1], [r2]]) */
export function mergeWorst(runs: OutputDiffRow[][]): OutputDiffRow[] {
  const acc = new Map<string, OutputDiffRow>();
  for (const rows of runs)
    for (const r of rows) {
      const cur = acc.get(r.name);
      acc.set(
        r.name,
        cur
          ? {
              name: r.name,
              maxAbsDiff: Math.max(cur.maxAbsDiff, r.maxAbsDiff),
              maxRelDiff: Math.max(cur.maxRelDiff, r.maxRelDiff),
              argmaxAgreement: Math.min(cur.argmaxAgreement, r.argmaxAgreement),
            }
          : r,
      );
    }
  return [...acc.values()];
}

/** Whether every output is within `tolerance` (relative) with every argmax agreeing. @example withinTolerance(rows) */
export function withinTolerance(rows: readonly OutputDiffRow[], tolerance = TOLERANCE): boolean {
  return rows.length > 0 && rows.every((r) => r.maxRelDiff <= tolerance && r.argmaxAgreement === 1);
}
