// LN's nonlinearity: docs/PAPERS.md §5 oracle 10 (≤ 1 stationary point for a single LN, many for PLN-2),
// checked analytically and numerically; SSR/LSSR ([R] reconstruction) against hand values and
// its own invariances.

import { Rng } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildApproximator,
  countStationaryPoints,
  lssr,
  lssrByGroupSize,
  scalarLnNet,
  singleLnStationaryPoints,
  ssr,
} from '../src/index.js';

describe('stationary points (oracle 10)', () => {
  it('analytic count agrees with the numeric count and never exceeds one (fast-check)', () => {
    // Values on a 0.01 grid: random nets without denormal-scale weights whose rounding noise looks like slope.
    const vec = (d: number) =>
      fc.array(
        fc.integer({ min: -300, max: 300 }).map((v) => v / 100),
        { minLength: d, maxLength: d },
      );
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }).chain((d) => fc.tuple(vec(d), vec(d), vec(d), fc.constantFrom(0, 1e-5, 1e-2))),
        ([w, b, a, eps]) => {
          const net = { w, b, a, eps };
          const f = scalarLnNet(net);
          // With ε = 0 and d = 2, LN is a hard sign: f is a step with f′ = 0 almost everywhere.
          fc.pre([-5, -1, 0, 1, 5].every((x) => Number.isFinite(f(x))) && (eps > 0 || w.length > 2));
          const an = singleLnStationaryPoints(net);
          expect(an.points.length).toBeLessThanOrEqual(1);
          // A constant f (e.g. a ∝ 1: LN's output sums to 0) is pure rounding noise numerically.
          if (an.constant) return;
          const inside = an.points.filter((x) => x > -5 && x < 5).length;
          const num = countStationaryPoints(scalarLnNet(net), -5, 5, 4001, 1e-9);
          // The numeric count can miss a stationary point that sits in a flat stretch, never find more.
          expect(num).toBeLessThanOrEqual(1);
          if (num === 1 && !an.constant) expect(inside).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a hand example: f(x) = LN([x, 1, −x])[1] has its stationary point at 0', () => {
    const r = singleLnStationaryPoints({ w: [1, 0, -1], b: [0, 1, 0], a: [0, 1, 0] });
    expect(r.points).toHaveLength(1);
    expect(r.points[0]).toBeCloseTo(0, 12);
  });

  it('a PLN-2 network has arbitrarily many stationary points (the sine staircase)', () => {
    const ap = buildApproximator({ lipschitz: 8, epsilon: 0.2, activation: 'pln2', f: (x) => Math.sin(8 * x) });
    const w = ap.readout.weights;
    // Same network as a ScalarLnNet: w1 = [s, 0, s, 0, …], b1 = [−s t_j, 0, …].
    const w1 = w.map((_, i) => (i % 2 === 0 ? ap.slope : 0));
    const b1 = w.map((_, i) => (i % 2 === 0 ? -ap.slope * ap.knots[i / 2]! : 0));
    const f = scalarLnNet({ w: w1, b: b1, a: w, c: ap.readout.bias, eps: 1e-5, groupSize: 2 });
    expect(countStationaryPoints(f, 0, 1, 20001, 1e-12)).toBeGreaterThanOrEqual(2);
  });
});

describe('SSR / LSSR ([R])', () => {
  it('hand values', () => {
    expect(ssr([0, 0, 1, 1], [0, 0, 1, 1])).toBe(0);
    expect(ssr([0, 1, 0, 1], [0, 0, 1, 1])).toBe(1);
    expect(ssr([0, 1, 2, 3], [0, 0, 1, 1])).toBeCloseTo(1 / 5, 12);
    // XOR: both class means are 0, so no linear projection separates anything.
    const X = [
      [1, 1],
      [-1, -1],
      [1, -1],
      [-1, 1],
    ];
    expect(lssr(X, [0, 0, 1, 1])).toBeCloseTo(1, 12);
    expect(lssr([[0], [0.1], [1], [1.1]], [0, 0, 1, 1])).toBeCloseTo(ssr([0, 0.1, 1, 1.1], [0, 0, 1, 1]), 12);
  });

  it('a linear map never lowers LSSR (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), (seed) => {
        const rng = new Rng(seed);
        const X = Array.from({ length: 12 }, () => [rng.normal(), rng.normal(), rng.normal()]);
        const y = X.map((_, i) => i % 2);
        const A = Array.from({ length: 3 }, () => Array.from({ length: 2 }, () => rng.normal()));
        const AX = X.map((x) => [0, 1].map((j) => x.reduce((s, v, i) => s + v * A[i]![j]!, 0)));
        expect(lssr(AX, y)).toBeGreaterThanOrEqual(lssr(X, y) - 1e-9);
      }),
      { numRuns: 100 },
    );
  });

  it('LN-G lowers LSSR below what any linear layer can reach (XOR)', () => {
    const X = [
      [1, 1],
      [-1, -1],
      [1, -1],
      [-1, 1],
    ];
    // h = [x1 − x2, 1, x2 − x1, 1]: each 2-group is sign(±(x1 − x2) − 1), a hard threshold.
    const W = [
      [1, 0, -1, 0],
      [-1, 0, 1, 0],
    ];
    const r = lssrByGroupSize(X, [0, 0, 1, 1], W, [0, 1, 0, 1], [2, 4], 0);
    expect(r.input).toBeCloseTo(1, 9);
    expect(r.linear).toBeGreaterThanOrEqual(r.input - 1e-9);
    const g2 = r.byGroup.find((g) => g.groupSize === 2)!.lssr;
    expect(g2).toBeLessThan(1e-9);
    expect(g2).toBeLessThan(r.linear);
  });
});
