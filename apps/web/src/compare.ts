import type { Tensor } from '@normkit/tensor';
import type { OutputDiffRow } from './protocol.js';

/** The relative tolerance of `normkit convert` and @normkit/graph's verifyEquivalence. */
export const TOLERANCE = 1e-5;

/**
 * Compares two runs' outputs by name with the CLI's measures: max |a−b|, that relative to the largest
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
    const a = numbers(ref);
    const b = numbers(got);
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] as number;
      const y = b[i] as number;
      const d = x === y ? 0 : Math.abs(x - y);
      if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
      if (Math.abs(x) > scale) scale = Math.abs(x);
    }
    const row = ref.shape[ref.shape.length - 1] ?? 1;
    return {
      name,
      maxAbsDiff: maxAbs,
      maxRelDiff: scale > 0 ? maxAbs / scale : maxAbs,
      argmaxAgreement: row > 1 ? argmaxAgreement(a, b, row) : 1,
    };
  });
}

/** Share of rows of length `row` whose argmax agrees. @example argmaxAgreement([1, 2], [1, 3], 2) // 1 */
export function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, row: number): number {
  const rows = Math.floor(a.length / row);
  if (rows === 0) return 1;
  let agree = 0;
  for (let r = 0; r < rows; r++) {
    let ia = 0;
    let ib = 0;
    for (let j = 1; j < row; j++) {
      if ((a[r * row + j] as number) > (a[r * row + ia] as number)) ia = j;
      if ((b[r * row + j] as number) > (b[r * row + ib] as number)) ib = j;
    }
    if (ia === ib) agree++;
  }
  return agree / rows;
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

function numbers(t: Tensor): ArrayLike<number> {
  const d = t.data as ArrayLike<number | bigint>;
  if (d instanceof BigInt64Array) return Array.from(d, (v) => Number(v));
  return d as ArrayLike<number>;
}
