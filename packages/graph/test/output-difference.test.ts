// verifyEquivalence's per-output measure, on hand-computed cases.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { outputDifference } from '../src/index.js';

describe('outputDifference', () => {
  it('max |Δ|, relative to max |reference|, and argmax agreement per last-axis row', () => {
    expect(outputDifference(Tensor.from([1, 2]), Tensor.from([1, 2.5]))).toEqual({ maxAbsDiff: 0.5, maxRelDiff: 0.25, rows: 1, agree: 1 });
    // Row 0 keeps its argmax (column 1), row 1 loses it (column 0 → column 2).
    const d = outputDifference(Tensor.from([0, 4, 1, 3, 1, 2], [2, 3]), Tensor.from([0, 4, 1, 1, 1, 2], [2, 3]));
    expect(d).toEqual({ maxAbsDiff: 2, maxRelDiff: 0.5, rows: 2, agree: 1 });
  });

  it('a NaN on either side is an infinite difference; a last axis of one has no rows', () => {
    expect(outputDifference(Tensor.from([1, Number.NaN]), Tensor.from([1, 2])).maxAbsDiff).toBe(Number.POSITIVE_INFINITY);
    expect(outputDifference(Tensor.from([1, 2], [2, 1]), Tensor.from([1, 2], [2, 1]))).toEqual({
      maxAbsDiff: 0,
      maxRelDiff: 0,
      rows: 0,
      agree: 0,
    });
  });
});
