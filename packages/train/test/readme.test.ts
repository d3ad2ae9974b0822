import { expect, it } from 'vitest';
import { readmeExample, runExampleFromSource } from '../../../scripts/readme-example.mjs';

// The README's first example, verbatim, against the sources; it needs Debian's dataset-fashion-mnist.
const missing = readmeExample('packages/train')?.missing ?? [];
if (missing.length > 0)
  console.warn(`readme.test.ts: SKIPPED, the README example needs ${missing.join(', ')} (apt-get install dataset-fashion-mnist)`);

it.skipIf(missing.length > 0)("the README's first example trains and reaches the accuracy its comment says", () => {
  const r = runExampleFromSource('packages/train');
  expect(r.status, r.stderr).toBe(0);
  const [samplesPerSec, accuracy] = r.stdout.trim().split('\n').at(-1)!.split(' ').map(Number);
  expect(samplesPerSec).toBeGreaterThan(0);
  expect(accuracy).toBeGreaterThan(0.75); // the README says ≈ 0.80 after one epoch on 10,000 images (ten classes: chance is 0.1)
  expect(accuracy).toBeLessThanOrEqual(1);
});
