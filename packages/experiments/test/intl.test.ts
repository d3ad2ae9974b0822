import { existsSync } from 'node:fs';
import { Tensor } from '@normkit/tensor';
import { FASHION_MNIST_DIR } from '@normkit/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { covarianceSpectrum, effectiveRank, INTL_METHODS, intlExperiment, knnAccuracy } from '../src/intl.js';
import { runExperiment } from '../src/run.js';
import type { ExperimentResult, Stat } from '../src/types.js';

const present = existsSync(FASHION_MNIST_DIR);
if (!present) console.warn(`intl experiment test skipped: ${FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)`);

const isStat = (s: unknown): s is Stat => {
  const v = s as Stat;
  return typeof v?.mean === 'number' && typeof v.std === 'number' && Array.isArray(v.values);
};

describe.skipIf(!present)('intl experiment (--quick, Fashion-MNIST)', () => {
  let r: ExperimentResult;
  const row = (m: string) => r.rows.find((x) => x.method === m) as unknown as { effectiveRank: Stat };

  beforeAll(async () => {
    r = await runExperiment(intlExperiment, { quick: true });
  }, 180_000);

  it('returns one row per method with Stat fields over the two quick seeds', () => {
    expect(r.rows.map((x) => x.method)).toEqual([...INTL_METHODS]);
    for (const x of r.rows)
      for (const k of ['linearProbe', 'knn', 'effectiveRank', 'featureRank']) {
        expect(isStat(x[k]), `${x.method} ${k}`).toBe(true);
        expect((x[k] as Stat).values).toHaveLength(2);
      }
    for (const x of r.rows) expect((x.linearProbe as Stat).mean).toBeGreaterThan(0.1); // above chance (10 classes)
    expect(r.findings).toHaveLength(4);
  });

  it('plain alignment (`none`) ends with a lower embedding effective rank than INTL', () => {
    expect(row('none').effectiveRank.mean).toBeLessThan(row('intl').effectiveRank.mean);
  });

  it('plots the final spectra (one series per method but pixels) and a spectrum per epoch for each objective', () => {
    const final = r.plots.find((p) => p.id === 'intl-spectrum-final')!;
    expect(final.series.map((s) => s.name)).toEqual(INTL_METHODS.filter((m) => m !== 'pixels'));
    const epochs = r.settings.epochs as number;
    for (const m of ['intl', 'iternorm', 'zca', 'none']) {
      const p = r.plots.find((x) => x.id === `intl-spectrum-epochs-${m}`)!;
      expect(p.series).toHaveLength(epochs + 1);
      expect(p.series[0]!.points).toHaveLength(r.rows[0]!.embeddingDim as number);
    }
  });
});

describe('effectiveRank and covarianceSpectrum', () => {
  it('effective rank is d for equal eigenvalues, 1 for one, and exp(entropy) in between', () => {
    expect(effectiveRank([2, 2, 2, 2])).toBeCloseTo(4, 12);
    expect(effectiveRank([5, 0, 0])).toBeCloseTo(1, 12);
    // p = (3/4, 1/4): exp(−(3/4)ln(3/4) − (1/4)ln(1/4)), computed by hand = 1.7547654...
    expect(effectiveRank([3, 1])).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
  });

  it('gives the covariance eigenvalues through the d×d covariance (n > d) and through the n×n Gram (n ≤ d)', () => {
    // cov of (±1, 0), (0, ±2) with n − 1 = 3: diag(2/3, 8/3).
    const a = covarianceSpectrum(
      Tensor.from([
        [1, 0],
        [-1, 0],
        [0, 2],
        [0, -2],
      ]),
    );
    expect(a[0]).toBeCloseTo(8 / 3, 5); // float32 input, float64 maths
    expect(a[1]).toBeCloseTo(2 / 3, 5);
    // Two rows a, b: cov = (a − b)(a − b)ᵀ/2, one eigenvalue ‖a − b‖²/2 = 30/2, the rest 0.
    const b = covarianceSpectrum(
      Tensor.from([
        [1, 2, 3, 4],
        [0, 0, 0, 0],
      ]),
    );
    expect(b).toHaveLength(4);
    expect(b[0]).toBeCloseTo(15, 5);
    for (const v of b.slice(1)) expect(Math.abs(v)).toBeLessThan(1e-9);
  });

  it('k-NN votes by cosine similarity among the k nearest training rows', () => {
    // Training directions: class 0 near the x axis, class 1 near the y axis; queries at 10° and 80°.
    const deg = (t: number) => [Math.cos((t * Math.PI) / 180), Math.sin((t * Math.PI) / 180)];
    const trainF = Tensor.from([deg(0), deg(5), deg(15), deg(85), deg(90), deg(75)]);
    const trainY = new Tensor([6], 'int32', Int32Array.from([0, 0, 0, 1, 1, 1]));
    const testF = Tensor.from([deg(10), deg(80)]);
    expect(knnAccuracy(trainF, trainY, testF, new Tensor([2], 'int32', Int32Array.from([0, 1])), 3)).toBe(1);
    expect(knnAccuracy(trainF, trainY, testF, new Tensor([2], 'int32', Int32Array.from([1, 1])), 3)).toBe(0.5);
  });
});
