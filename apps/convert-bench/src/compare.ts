import type { Tensor } from '@normkit/tensor';

/** How one output of two runs differs. */
export interface OutputDiff {
  name: string;
  shape: number[];
  maxAbsDiff: number;
  /** maxAbsDiff relative to the output's scale (the largest |value| of the reference). */
  maxRelDiff: number;
  /** Share of rows (over the last axis) whose argmax is the same in both; 1 for identical outputs. */
  argmaxAgreement: number;
  /** Whether the difference is within tolerance: maxRelDiff ≤ tolerance and every argmax agrees. */
  withinTolerance: boolean;
}

/** The relative tolerance on maxRelDiff, as in @normkit/graph's verifyEquivalence. */
export const DEFAULT_TOLERANCE = 1e-5;

/**
 * Compares the outputs of two runs by name with the measures of @normkit/graph's verifyEquivalence:
 * max abs difference, that difference relative to the output's scale (max |reference|), and argmax
 * agreement over the last axis (rows of one column count as agreeing).
 * An output missing on one side, or with another shape, is a difference (infinite).
 *
 * @example
 * ```ts
 * const diffs = compareOutputs({ y: a }, { y: b });
 * diffs[0].maxAbsDiff;
 * ```
 */
export function compareOutputs(
  reference: Record<string, Tensor>,
  candidate: Record<string, Tensor>,
  tolerance = DEFAULT_TOLERANCE,
): OutputDiff[] {
  return Object.entries(reference).map(([name, ref]) => {
    const got = candidate[name];
    if (!got || got.shape.length !== ref.shape.length || got.shape.some((d, i) => d !== ref.shape[i])) {
      return { name, shape: [...ref.shape], maxAbsDiff: Infinity, maxRelDiff: Infinity, argmaxAgreement: 0, withinTolerance: false };
    }
    const a = numbers(ref);
    const b = numbers(got);
    let maxAbs = 0;
    let scale = 0;
    let nonFinite = false;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] as number;
      const y = b[i] as number;
      if (Number.isNaN(x) !== Number.isNaN(y)) nonFinite = true;
      else if (!Number.isNaN(x)) {
        const d = x === y ? 0 : Math.abs(x - y);
        if (!(d <= maxAbs)) maxAbs = d;
      }
      if (Math.abs(x) > scale) scale = Math.abs(x);
    }
    if (nonFinite || Number.isNaN(maxAbs)) maxAbs = Infinity;
    const last = ref.shape[ref.shape.length - 1] ?? 1;
    const maxRelDiff = scale > 0 ? maxAbs / scale : maxAbs;
    const agreement = last > 1 ? argmaxAgreement(a, b, last) : 1;
    return {
      name,
      shape: [...ref.shape],
      maxAbsDiff: maxAbs,
      maxRelDiff,
      argmaxAgreement: agreement,
      withinTolerance: maxRelDiff <= tolerance && agreement === 1,
    };
  });
}

/** Share of rows of length `row` whose argmax agrees. */
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

function numbers(t: Tensor): ArrayLike<number> {
  const d = t.data as ArrayLike<number | bigint>;
  if (d instanceof BigInt64Array) return Array.from(d, (v) => Number(v));
  return d as ArrayLike<number>;
}

/** The worst of several diffs: largest abs/rel difference, smallest argmax agreement. */
export function worst(diffs: readonly Pick<OutputDiff, 'maxAbsDiff' | 'maxRelDiff' | 'argmaxAgreement'>[]): {
  maxAbsDiff: number;
  maxRelDiff: number;
  argmaxAgreement: number;
} {
  return {
    maxAbsDiff: Math.max(0, ...diffs.map((d) => d.maxAbsDiff)),
    maxRelDiff: Math.max(0, ...diffs.map((d) => d.maxRelDiff)),
    argmaxAgreement: Math.min(1, ...diffs.map((d) => d.argmaxAgreement)),
  };
}
