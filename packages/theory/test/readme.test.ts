import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources; the expected values are the README's own comments.
it("the README's first example runs and prints what its comments say", () => {
  const r = runExampleFromSource('packages/theory');
  expect(r.status, r.stderr).toBe(0);
  const out = r.stdout;
  expect(out).toMatch(/width: 18,\s+supError: 0\.04918/);
  expect(out).toMatch(/pieces: 10,/);
  expect(out).toMatch(/width: 3,\s+accuracy: 1,\s+verified: true/);
  const lines = out.trim().split('\n');
  expect(lines.at(-2)).toBe('4');
  expect(Math.abs(Number(lines.at(-1)))).toBeLessThan(1e-12); // ~1e-16
  expect(out.match(/verified: true/g)).toHaveLength(2);
});
