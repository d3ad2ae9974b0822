// LN-Net construction: built as a graph, run through @normkit/graph's executor and the independent
// evaluator, on random datasets with random labels; the shattering construction behind the VC bound.
import { NormkitError } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { buildLnNet, lnNet, lnNetDepthBound, lnNetVcLowerBound, randomLabelledPoints, shatter, verifyLnNet } from '../src/index.js';

describe('buildLnNet', () => {
  for (const [m, dim] of [
    [1, 2],
    [2, 3],
    [8, 2],
    [12, 3],
    [16, 5],
  ] as const) {
    it(`classifies ${m} random points in R^${dim} with random labels (3 seeds)`, () => {
      for (const seed of [0, 1, 2]) {
        const data = randomLabelledPoints(m, dim, seed);
        const net = buildLnNet(data, { seed });
        expect(net.width).toBe(3);
        const lnNodes = net.model.graph.nodes.filter((n) => n.opType === 'LayerNormalization');
        expect(lnNodes).toHaveLength(net.depth);
        // Every weight feeding an LN layer is 3 wide.
        for (const n of net.model.graph.nodes.filter((x) => x.opType === 'MatMul'))
          expect(net.model.graph.initializers.get(n.inputs[1]!)!.shape.at(-1)).toBeLessThanOrEqual(3);
        const r = verifyLnNet(net, data);
        expect(r.accuracy).toBe(1);
        expect(r.independentAccuracy).toBe(1);
        expect(net.depth).toBe(Math.max(1, net.runs - 2));
        expect(net.depth).toBeLessThanOrEqual(lnNetDepthBound(m));
      }
    });
  }

  it('a labelling with every label alternating needs m − 2 layers', () => {
    const points = Array.from({ length: 8 }, (_, i) => [i, 0]);
    const labels = points.map((_, i) => i % 2);
    const net = buildLnNet({ points, labels });
    expect(net.depth).toBe(6);
    expect(verifyLnNet(net, { points, labels }).accuracy).toBe(1);
  });

  // The scale: m up to 1000, several dimensions, random labels. Depth is max(1, runs − 2)
  // (runs = label runs along the first projection, ≈ m/2 for random labels) and the design margin,
  // net of the float64 error bound, stays well above the evaluators' rounding (the fold-the-circle
  // construction this replaced lost precision quadratically per layer and failed beyond m ≈ 25).
  for (const [m, dim, seed] of [
    [1000, 1, 0],
    [1000, 3, 1],
    [1000, 10, 2],
    [300, 2, 3],
    [300, 50, 4],
  ] as const) {
    it(`classifies ${m} random points in R^${dim} (seed ${seed}) with depth runs − 2`, () => {
      const data = randomLabelledPoints(m, dim, seed);
      const net = buildLnNet(data, { seed });
      expect(net.depth).toBe(Math.max(1, net.runs - 2));
      expect(net.depth).toBeLessThanOrEqual(lnNetDepthBound(m));
      expect(net.runs).toBeGreaterThan(m / 2 - 3 * Math.sqrt(m)); // random labels: E[runs] = (m + 1)/2
      expect(net.margin).toBeGreaterThan(1e-7);
      const r = verifyLnNet(net, data);
      expect(r.accuracy).toBe(1);
      expect(r.independentAccuracy).toBe(1);
      expect(r.minScore).toBeGreaterThan(0);
      // ~6 s alone for m = 1000 (a ~500-layer net, two float64 evaluators); CI runs every package's
      // suite at once on 2 cores, where it has taken over 60 s.
    }, 240_000);
  }

  it('the worst case, 200 collinear points with alternating labels, takes exactly m − 2 layers', () => {
    const points = Array.from({ length: 200 }, (_, i) => [i / 200, 0.5]);
    const labels = points.map((_, i) => i % 2);
    const net = buildLnNet({ points, labels });
    expect(net.runs).toBe(200);
    expect(net.depth).toBe(198);
    expect(verifyLnNet(net, { points, labels }).accuracy).toBe(1);
  });

  it('works for any LN epsilon, including 0 and a large one', () => {
    const data = randomLabelledPoints(100, 3, 5);
    for (const lnEpsilon of [0, 1e-12, 1e-3]) {
      const net = buildLnNet(data, { lnEpsilon });
      expect(verifyLnNet(net, data).accuracy).toBe(1);
    }
  });

  it('rejects bad input', () => {
    expect(() => buildLnNet({ points: [], labels: [] })).toThrow(NormkitError);
    expect(() => buildLnNet({ points: [[0], [1]], labels: [0, 2] })).toThrow(/labels/);
    expect(() => buildLnNet({ points: [[0], [0]], labels: [0, 1] })).toThrow(/coinciding|duplicate/);
    expect(() => buildLnNet({ points: [[0], [Number.NaN]], labels: [0, 1] })).toThrow(/finite/);
    expect(() => buildLnNet({ points: [[0], [1]], labels: [0, 1] }, { lnEpsilon: -1 })).toThrow(/lnEpsilon/);
  });
});

describe('VC lower bound', () => {
  it('L LN layers shatter L + 2 collinear points (exhaustive for L ≤ 5)', () => {
    for (let L = 1; L <= 5; L++) {
      const r = shatter(L);
      expect(r.points).toBe(lnNetVcLowerBound(L));
      expect(r.shattered).toBe(true);
      expect(r.maxDepth).toBeLessThanOrEqual(L);
    }
  });
});

describe('lnNet (CLI shape)', () => {
  it('returns depth, width, accuracy', () => {
    const r = lnNet({ points: 16, dim: 2, seed: 0 });
    expect(r.width).toBe(3);
    expect(r.accuracy).toBe(1);
    expect(r.verified).toBe(true);
    expect(r.depth).toBeGreaterThanOrEqual(1);
  });
});
