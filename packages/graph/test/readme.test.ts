import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources; the expected lines are the README's "Output:" block.
it("the README's first example runs and prints the README's output", () => {
  const r = runExampleFromSource('packages/graph');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.replace(/\s+/g, ' ')).toContain(
    "[ [ 'LayerNormalization_2', true, 'input is the sum of 2 centerable source(s): MatMul_0, const:b@Add_1' ] ]",
  );
  const lines = r.stdout.trim().split('\n');
  expect(lines.at(-2)).toBe('MatMul → Add → RMSNormalization → MatMul → Add true');
  expect(Number(lines.at(-1))).toBeLessThan(1e-5); // float32 rounding (the README shows ~1e-6)
});
