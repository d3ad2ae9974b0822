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
        expect(net.depth).toBeLessThanOrEqual(Math.max(lnNetDepthBound(m), 1) + net.moves);
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

  it('rejects bad input', () => {
    expect(() => buildLnNet({ points: [], labels: [] })).toThrow(NormkitError);
    expect(() => buildLnNet({ points: [[0], [1]], labels: [0, 2] })).toThrow(/labels/);
    expect(() => buildLnNet({ points: [[0], [0]], labels: [0, 1] })).toThrow(/coinciding|duplicate/);
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
