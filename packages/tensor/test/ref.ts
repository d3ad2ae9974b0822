// The references live in src/testing/reference.ts (shared with the backend conformance suite); this
// file re-exports them for the tests and adds the vitest assertion helper.
import { expect } from 'vitest';

export * from '../src/testing/reference.js';

/** Asserts every |actual - expected| <= atol + rtol·|expected| (NaN matches NaN), reporting the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0)
    expect({ index: worst, actual: actual[worst], expected: expected[worst] }).toEqual({
      index: worst,
      actual: expected[worst],
      expected: expected[worst],
    });
}
