import { existsSync } from 'node:fs';
import { Rng, Tensor } from '@normkit/tensor';
import { lssr } from '@normkit/theory';
import { FASHION_MNIST_DIR } from '@normkit/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { lngExperiment, representationLssr } from '../src/lng.js';
import { runExperiment } from '../src/run.js';
import type { ExperimentResult, Stat } from '../src/types.js';

const HAS_DATA = existsSync(FASHION_MNIST_DIR);
const SKIP = HAS_DATA ? '' : ` (skipped: Fashion-MNIST is not installed at ${FASHION_MNIST_DIR}; apt-get install dataset-fashion-mnist)`;

const isStat = (s: unknown): s is Stat => {
  const v = s as Stat;
  return typeof v?.mean === 'number' && typeof v.std === 'number' && Array.isArray(v.values);
};

/** n samples of d features with class structure (a mean shift and a curved one) and a duplicated column (S_T singular). */
function classData(n: number, d: number, classes: number, seed: number): { X: number[][]; labels: number[] } {
  const rng = new Rng(seed);
  const labels = Array.from({ length: n }, (_, i) => i % classes);
  const X = labels.map((c) => {
    const row = Array.from({ length: d }, () => rng.normal());
    row[0]! += c;
    row[1]! += 0.3 * c * c;
    row[d - 1] = row[0]! + 2 * row[2]!;
    return row;
  });
  return { X, labels };
}

describe('representationLssr', () => {
  it('equals @normkit/theory lssr on the full features (2 and 4 classes, rank-deficient S_T; tolerance 1e-9)', () => {
    for (const [classes, seed] of [
      [2, 1],
      [4, 2],
    ] as const) {
      const { X, labels } = classData(300, 20, classes, seed);
      expect(representationLssr(Tensor.from(X, undefined, 'float64'), labels)).toBeCloseTo(lssr(X, labels), 9);
    }
  });

  it('is 1 when every class has the same mean, and 0 for classes collapsed to distinct points', () => {
    const xor = Tensor.from(
      [
        [1, 1],
        [-1, -1],
        [1, -1],
        [-1, 1],
      ],
      undefined,
      'float64',
    );
    expect(representationLssr(xor, [0, 0, 1, 1])).toBeCloseTo(1, 12);
    const points = Tensor.from(
      [
        [0, 1],
        [0, 1],
        [2, 3],
        [2, 3],
      ],
      undefined,
      'float64',
    );
    expect(representationLssr(points, [0, 0, 1, 1])).toBeCloseTo(0, 12);
  });
});

describe.skipIf(!HAS_DATA)(`lng experiment (--quick)${SKIP}`, () => {
  let r: ExperimentResult;
  const row = (g: number | 'linear') => r.rows.find((x) => x.groups === g) as { accuracy: Stat; lssr: Stat };

  beforeAll(async () => {
    r = await runExperiment(lngExperiment, { quick: true });
  }, 240_000);

  it('has a row per G and the linear baseline, with accuracy and LSSR over the two seeds', () => {
    expect(r.seeds).toEqual([0, 1]);
    expect(r.rows.map((x) => x.groups)).toEqual([1, 2, 4, 8, 16, 32, 128, 'linear']);
    for (const x of r.rows) {
      expect(isStat(x.accuracy) && isStat(x.lssr)).toBe(true);
      expect((x.accuracy as Stat).values).toHaveLength(2);
      for (const v of (x.lssr as Stat).values) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(r.findings).toHaveLength(3);
    expect(r.plots.map((p) => p.id)).toEqual(['lng-accuracy', 'lng-lssr']);
  });

  it('plain LN (G = 1) and LN-G with G ∈ {8, 16, 32} beat the linear baseline on every seed', () => {
    const linear = row('linear').accuracy.values;
    for (const g of [1, 8, 16, 32]) {
      row(g).accuracy.values.forEach((a, i) => {
        expect(a, `G=${g} seed ${i}`).toBeGreaterThan(linear[i]!);
      });
    }
  });
});
