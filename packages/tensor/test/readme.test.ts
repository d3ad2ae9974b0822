import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources; the expected values are the README's own comments.
it("the README's first example runs and prints what its comments say", () => {
  const r = runExampleFromSource('packages/tensor');
  expect(r.status, r.stderr).toBe(0);
  const numbers = (s: string) => (s.match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map(Number);
  const [probs, eig, shape] = r.stdout.split(/\n(?=\[)/);
  const p = numbers(probs!);
  expect(p).toHaveLength(12);
  for (let row = 0; row < 4; row++) expect(Math.abs(p[3 * row]! + p[3 * row + 1]! + p[3 * row + 2]! - 1)).toBeLessThan(1e-6); // rows sum to 1
  const ev = numbers(eig!);
  expect(ev).toHaveLength(8);
  for (const v of ev) expect(Math.abs(v - 1)).toBeLessThan(1e-4); // identity scatter: eigenvalues ≈ 1 (float32 whitening)
  expect(shape!.trim()).toBe('[ 1, 16, 16, 16 ]');
});
