import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources; the expected values are the README's own comments.
it("the README's first example runs and prints what its comments say", () => {
  const r = runExampleFromSource('packages/norm');
  expect(r.status, r.stderr).toBe(0);
  const [centered, both] = r.stdout.trim().split('\n');
  expect(centered).toBe('true');
  const v = (both!.match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map(Number);
  const s = Math.sqrt(1.5); // LN([4, 7, 10]) = ([-3, 0, 3] / sqrt(6)) / sqrt(1 + ε'), ε = 1e-5 changes the 6th digit
  expect(v).toHaveLength(6);
  for (const [i, want] of [-s, 0, s, -s, 0, s].entries()) expect(Math.abs(v[i]! - want)).toBeLessThan(1e-5);
});
