import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources; the expected values are the README's own comments.
it("the README's first example runs and prints what its comments say", () => {
  const r = runExampleFromSource('packages/zoo');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe('5 true'); // GPT-2 tiny: 5 LayerNorms, all folded, verified equivalent
});
