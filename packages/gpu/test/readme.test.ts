import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources: it picks the best mode this machine has
// and says which and why.
it("the README's first example runs and names the mode it chose", () => {
  const r = runExampleFromSource('packages/gpu');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^(webgpu|webgl2|webgl|headlessgl|webasm|cpu) — \S/);
});
