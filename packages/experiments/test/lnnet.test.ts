import { buildLnNet } from '@normkit/theory';
import { indexSeed, LayerNorm, randomLabels } from '@normkit/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { lnNetModel, lnnetExperiment } from '../src/lnnet.js';
import { runExperiment } from '../src/run.js';
import type { ExperimentResult, Stat } from '../src/types.js';

const isStat = (s: unknown): s is Stat => {
  const v = s as Stat;
  return typeof v?.mean === 'number' && typeof v.std === 'number' && Array.isArray(v.values);
};

describe('lnnet experiment (--quick)', () => {
  let r: ExperimentResult;
  const row = (m: number, width: number, depth: number) =>
    r.rows.find((x) => x.points === m && x.width === width && x.depth === depth && x.init === 'default') as unknown as {
      trainAccuracy: Stat;
    };

  beforeAll(async () => {
    r = await runExperiment(lnnetExperiment, { quick: true });
  }, 60_000);

  it('returns every row with Stat fields over the two quick seeds, findings and one plot per dim', () => {
    expect(r.seeds).toEqual([0, 1]);
    expect(r.rows.length).toBeGreaterThan(5);
    for (const x of r.rows) {
      for (const k of ['trainAccuracy', 'initLogitRange', 'constructedDepth']) {
        expect(isStat(x[k]), k).toBe(true);
        expect((x[k] as Stat).values).toHaveLength(2);
      }
      expect(['points', 'dim', 'width', 'depth'].every((k) => Number.isInteger(x[k]))).toBe(true);
    }
    expect(r.findings.length).toBeGreaterThanOrEqual(3);
    expect(r.plots.map((p) => p.id)).toEqual(['lnnet-accuracy-vs-depth-dim10']);
  });

  it('reports the depth buildLnNet constructs on the same seeded points, and trains width 3 up to the largest one', () => {
    const sets = new Map(r.rows.map((x) => [`${x.points}/${x.dim}`, x]));
    for (const x of sets.values()) {
      const { points: m, dim } = x as { points: number; dim: number };
      const depths = r.seeds.map((s) => {
        const { x: pts, y } = randomLabels(m, dim, { seed: indexSeed(s, m, dim) });
        const d = pts.data as Float32Array;
        const points = Array.from({ length: m }, (_, i) => Array.from(d.subarray(i * dim, (i + 1) * dim)));
        return buildLnNet({ points, labels: Array.from(y.data as Int32Array) }).depth;
      });
      for (const y of r.rows.filter((y) => y.points === m && y.dim === dim)) expect((y.constructedDepth as Stat).values).toEqual(depths);
    }
    for (const m of [20, 100]) {
      const own = r.rows.filter((x) => x.points === m && x.width === 3);
      expect(Math.max(...own.map((x) => x.depth as number))).toBe(Math.max(...(own[0]!.constructedDepth as Stat).values));
    }
  });

  it('width 32 at depth 4 reaches a higher train accuracy than width 3 at depth 2 on m = 100 (mean over seeds)', () => {
    expect(row(100, 32, 4).trainAccuracy.mean).toBeGreaterThan(row(100, 3, 2).trainAccuracy.mean);
  });
});

describe('lnNetModel', () => {
  it('has `depth` LayerNorms of width w between linear layers and two logits', () => {
    const net = lnNetModel(5, 3, 6, 1);
    expect(net.layers.filter((l) => l instanceof LayerNorm)).toHaveLength(6);
    expect(net.layers).toHaveLength(2 * 6 + 1);
    expect(net.forward(randomLabels(7, 5).x).shape).toEqual([7, 2]);
  });

  it('starts the hidden layers at I + 0.3·W₀ with the identity init (same draw W₀ as the default)', () => {
    const weight = (init: 'default' | 'identity') => lnNetModel(2, 3, 3, 4, init).layers[2]!.parameters()[0]!.value.data as Float32Array;
    const [a, b] = [weight('default'), weight('identity')];
    for (let i = 0; i < 9; i++) expect(b[i]!).toBeCloseTo((i % 4 === 0 ? 1 : 0) + 0.3 * a[i]!, 6); // float32 rounding
  });
});
