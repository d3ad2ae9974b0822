import { existsSync } from 'node:fs';
import { mul, Tensor } from '@normkit/tensor';
import { AdamW, computeGrads, deriveSeed, FASHION_MNIST_DIR, Linear, mse, noGrad, PLN, ReLU, Sequential } from '@normkit/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { approximationTargets, boundForWidth, plnExperiment, RegressorBank } from '../src/pln.js';
import { runExperiment } from '../src/run.js';
import type { ExperimentResult, Stat } from '../src/types.js';

const HAS_DATA = existsSync(FASHION_MNIST_DIR);
const SKIP = HAS_DATA ? '' : ` (skipped: Fashion-MNIST is not installed at ${FASHION_MNIST_DIR}; apt-get install dataset-fashion-mnist)`;

const isStat = (s: unknown): s is Stat => {
  const v = s as Stat;
  return typeof v?.mean === 'number' && typeof v.std === 'number' && Array.isArray(v.values);
};

describe('boundForWidth', () => {
  it('inverts the width bounds: PLN-2 ε = L/(N+2), ReLU ε = L/(2N), sigmoid ε = L/(2(N+1)) (tolerance 1e-12)', () => {
    for (const N of [4, 8, 16, 32, 64]) {
      for (const L of [1, 4]) {
        expect(boundForWidth('pln', N, L).epsilon).toBeCloseTo(L / (N + 2), 12);
        expect(boundForWidth('relu', N, L).epsilon).toBeCloseTo(L / (2 * N), 12);
        expect(boundForWidth('sigmoid', N, L).epsilon).toBeCloseTo(L / (2 * (N + 1)), 12);
      }
    }
    // An odd width leaves one neuron unused by the staircase: 5 neurons give 2 steps as 4 do.
    expect(boundForWidth('pln', 5, 1).epsilon).toBeCloseTo(1 / 6, 12);
  });
});

describe('approximationTargets', () => {
  it('are L-Lipschitz, and the random piecewise-linear one reaches slope L (finite differences, tolerance 1e-9)', () => {
    for (const seed of [0, 1, 2]) {
      for (const L of [1, 4]) {
        for (const t of approximationTargets(L, seed)) {
          const h = 1e-5;
          let steepest = 0;
          for (let x = 0; x + h <= 1; x += h) steepest = Math.max(steepest, Math.abs(t.f(x + h) - t.f(x)) / h);
          expect(steepest, t.name).toBeLessThanOrEqual(L * (1 + 1e-9));
          expect(steepest, t.name).toBeGreaterThan(L * 0.999);
        }
      }
    }
  });

  it('draws a different random piecewise-linear function per seed', () => {
    const f0 = approximationTargets(1, 0)[3]!.f;
    const f1 = approximationTargets(1, 1)[3]!.f;
    expect(f0(0.7)).not.toBeCloseTo(f1(0.7), 6);
  });
});

describe('RegressorBank', () => {
  it('trains each network exactly as it would train alone (PLN-2 and ReLU, 30 AdamW steps, float32 tolerance 2e-5)', () => {
    const nets = [
      { name: 'a', neurons: 4 },
      { name: 'b', neurons: 6 },
    ];
    const M = 32;
    const x = Tensor.from(
      Array.from({ length: M }, (_, i) => i / (M - 1)),
      [M, 1],
    );
    const ys = [(v: number) => Math.abs(v - 0.5), (v: number) => Math.sin(6 * v)];
    const Y = Tensor.from(
      Array.from({ length: M * 2 }, (_, i) => ys[i % 2]!(Math.floor(i / 2) / (M - 1))),
      [M, 2],
    );
    for (const act of ['pln', 'relu'] as const) {
      const bank = new RegressorBank(nets, act, 3);
      const alone = nets.map(
        ({ name, neurons }) =>
          new Sequential(
            new Linear(1, neurons, { seed: deriveSeed(3, `${name}/in`) }),
            act === 'pln' ? new PLN(neurons, { groupSize: 2 }) : new ReLU(),
            new Linear(neurons, 1, { seed: deriveSeed(3, `${name}/out`) }),
          ),
      );
      const bankOpt = new AdamW(bank.parameters(), { lr: 1e-2, weightDecay: 0 });
      const opts = alone.map((m) => new AdamW(m.parameters(), { lr: 1e-2, weightDecay: 0 }));
      const yk = (k: number) =>
        Tensor.from(
          Array.from({ length: M }, (_, i) => Y.data[i * 2 + k] as number),
          [M, 1],
        );
      for (let step = 0; step < 30; step++) {
        computeGrads(() => mul(mse(bank.forward(x), Y), Tensor.scalar(2, 'float32')), bankOpt.parameters);
        bankOpt.step();
        bankOpt.zeroGrad();
        alone.forEach((m, k) => {
          computeGrads(() => mse(m.forward(x), yk(k)), opts[k]!.parameters);
          opts[k]!.step();
          opts[k]!.zeroGrad();
        });
      }
      const out = noGrad(() => bank.forward(x)).data;
      alone.forEach((m, k) => {
        const o = noGrad(() => m.forward(x)).data;
        for (let i = 0; i < M; i++)
          expect(Math.abs((out[i * 2 + k] as number) - (o[i] as number)), `${act} net ${k} row ${i}`).toBeLessThan(2e-5);
      });
    }
  });
});

describe.skipIf(!HAS_DATA)(`pln experiment (--quick)${SKIP}`, () => {
  let r: ExperimentResult;
  const approx = () => r.rows.filter((x) => x.activation !== undefined);

  beforeAll(async () => {
    r = await runExperiment(plnExperiment, { quick: true });
  }, 240_000);

  it('has a row per target × activation × width with Stat fields and the bound, and the two ViT rows', () => {
    expect(r.seeds).toEqual([0, 1]);
    const rows = approx();
    expect(rows).toHaveLength(4 * 3 * 5);
    for (const row of rows) {
      expect(isStat(row.supError) && isStat(row.construction)).toBe(true);
      expect((row.supError as Stat).values).toHaveLength(2);
      expect(row.bound as number).toBeGreaterThan(0);
    }
    const vit = r.rows.filter((x) => x.arch === 'vit');
    expect(vit.map((x) => x.norm)).toEqual(['ln', 'pln']);
    for (const v of vit) {
      const a = v.accuracy as Stat;
      expect(isStat(a) && a.values.length === 2 && a.mean >= 0 && a.mean <= 1).toBe(true);
    }
    expect(r.findings).toHaveLength(4);
    expect(r.plots.map((p) => p.id)).toContain('pln-vit');
  });

  it('sup error falls from 4 to 64 neurons for ReLU and PLN on L·|x−0.5|', () => {
    for (const act of ['relu', 'pln']) {
      const rows = approx().filter((x) => x.activation === act && x.target === 'L·|x−0.5|');
      const at = (n: number) => (rows.find((x) => x.neurons === n)!.supError as Stat).mean;
      expect(at(64), act).toBeLessThan(at(4));
    }
  });

  it('every trained PLN network is within the range of its target (a constant would be within half of it)', () => {
    const rangeOf = (f: (x: number) => number) => {
      const ys = Array.from({ length: 10001 }, (_, i) => f(i / 10000));
      return Math.max(...ys) - Math.min(...ys);
    };
    for (const row of approx().filter((x) => x.activation === 'pln')) {
      (row.supError as Stat).values.forEach((v, i) => {
        const target = approximationTargets(1, r.seeds[i]!).find((t) => t.name === row.target)!;
        expect(v, `${row.target} N=${row.neurons} seed ${r.seeds[i]}`).toBeLessThanOrEqual(rangeOf(target.f));
      });
    }
  });

  it('the theory construction is within its bound (0.1 % slack: the bound is attained with ε_LN > 0)', () => {
    for (const row of approx()) expect((row.construction as Stat).mean).toBeLessThanOrEqual((row.bound as number) * 1.001);
  });
});
