import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources: the quick LN-Net experiment with one seed.
it("the README's first example runs an experiment and prints its findings", () => {
  const r = runExampleFromSource('packages/experiments');
  expect(r.status, r.stderr).toBe(0);
  const [title, ...findings] = r.stdout.trim().split('\n');
  expect(title).toMatch(/^LN-Nets.*\(\d+ runs\)$/);
  expect(findings.length).toBeGreaterThan(0);
  for (const f of findings) expect(f).toMatch(/^(yes|no|partly): \S/);
});
