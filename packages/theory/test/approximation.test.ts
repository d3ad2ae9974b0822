// Approximation widths against docs/PAPERS.md §5 oracle 11 and against their own constructions: each
// network is built as a graph, its width read back from the graph, its output compared with a naive
// formula written here, and its sup error certified.
import { NormkitError } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  type Activation,
  approximationWidth,
  buildApproximator,
  executeGraph64,
  plnWidth,
  staircaseWidth,
  verifyApproximator,
} from '../src/index.js';

describe('widths (oracle 11 and the derived table)', () => {
  it('staircase width 2(⌈L/(2ε)⌉ − 1)', () => {
    expect(staircaseWidth(1, 0.05)).toBe(18);
    expect(staircaseWidth(2, 0.01)).toBe(198);
    expect(staircaseWidth(10, 0.1)).toBe(98);
  });

  it('per activation', () => {
    const w = (activation: Activation, groupSize?: number) =>
      approximationWidth({ lipschitz: 1, epsilon: 0.05, activation, groupSize }).width;
    expect(w('pln2')).toBe(18);
    expect(w('pln', 4)).toBe(36);
    expect(w('pls')).toBe(9);
    expect(w('pls', 2)).toBe(18);
    expect(w('relu')).toBe(10);
    expect(w('sigmoid')).toBe(9);
    expect(approximationWidth({ lipschitz: 3, epsilon: 0.07 }).pieces).toBe(22);
    expect(approximationWidth({ lipschitz: 1, epsilon: 1, activation: 'pln2' }).width).toBe(0);
    expect(approximationWidth({ lipschitz: 2, epsilon: 0.05, interval: [-1, 1] }).pieces).toBe(40);
  });

  it('rejects bad input', () => {
    expect(() => approximationWidth({ lipschitz: -1, epsilon: 0.1 })).toThrow(NormkitError);
    expect(() => approximationWidth({ lipschitz: 1, epsilon: 0 })).toThrow(/epsilon/);
    expect(() => approximationWidth({ lipschitz: 1, epsilon: 0.1, activation: 'pln', groupSize: 1 })).toThrow(/groupSize/);
    expect(() => approximationWidth({ lipschitz: 1, epsilon: 0.1, activation: 'tanh' as Activation })).toThrow(/activation/);
  });
});

/** Hidden width read from the graph: the MatMul that produces the output reads a [width, 1] weight. */
function graphWidth(ap: ReturnType<typeof buildApproximator>): number {
  const w2 = ap.model.graph.initializers.get('w2');
  return w2 ? w2.shape[0]! : 0;
}

describe('constructions', () => {
  const cases: [Activation, number | undefined, number, number][] = [
    ['pln2', undefined, 1, 0.05],
    ['pln2', undefined, 3, 0.07],
    ['pln', 3, 2, 0.1],
    ['pls', undefined, 1, 0.05],
    ['pls', 4, 2, 0.1],
    ['relu', undefined, 1, 0.05],
    ['sigmoid', undefined, 10, 0.1],
  ];
  for (const [activation, groupSize, L, eps] of cases) {
    it(`${activation}${groupSize ? `-${groupSize}` : ''} L=${L} ε=${eps}: exact stated width, sup error ≤ ε certified`, () => {
      const ap = buildApproximator({ lipschitz: L, epsilon: eps, activation, groupSize });
      expect(graphWidth(ap)).toBe(approximationWidth({ lipschitz: L, epsilon: eps, activation, groupSize }).width);
      const check = verifyApproximator(ap);
      expect(check.monotoneUnits).toBe(true);
      expect(check.supError).toBeLessThanOrEqual(eps);
      expect(check.certifiedBound + check.roundoff).toBeLessThanOrEqual(eps);
      expect(check.evaluatorAgreement).toBeLessThan(1e-9);
      expect(check.verified).toBe(true);
    });
  }

  it('the PLN-2 graph computes the softsign staircase written out here', () => {
    const L = 2;
    const eps = 0.1;
    const f = (x: number) => Math.abs(x - 0.3) * L;
    const ap = buildApproximator({ lipschitz: L, epsilon: eps, activation: 'pln2', f, lnEpsilon: 1e-5 });
    const n = 10;
    const h = 1 / n;
    const levels = Array.from({ length: n }, (_, k) => f((k + 0.5) * h));
    const naive = (x: number) => {
      let g = (levels[0]! + levels[n - 1]!) / 2;
      for (let j = 1; j < n; j++) {
        const u = (ap.slope * (x - j * h)) / 2;
        g += ((levels[j]! - levels[j - 1]!) / 2) * (u / Math.sqrt(u * u + 1e-5));
      }
      return g;
    };
    const xs = Array.from({ length: 101 }, (_, i) => i / 100 + 0.0013 * Math.sin(i));
    const out = executeGraph64(ap.model, { x: { data: Float64Array.from(xs), shape: [xs.length, 1] } })[ap.output]!.data;
    xs.forEach((x, i) => {
      expect(Math.abs(out[i]! - naive(x))).toBeLessThan(1e-9);
    });
  });

  it('no slack (L/(2ε) ∈ ℕ): ReLU is exact; the PLN-2 universal bound is flagged, not claimed', () => {
    const relu = buildApproximator({ lipschitz: 1, epsilon: 0.05, activation: 'relu', f: (x) => x });
    expect(relu.universal).toBe(true);
    expect(verifyApproximator(relu).supError).toBeLessThan(1e-12);
    const pln = buildApproximator({ lipschitz: 1, epsilon: 0.05, activation: 'pln2', f: (x) => x });
    expect(pln.universal).toBe(false);
    expect(pln.universalBound).toBeGreaterThan(0.05);
    expect(pln.universalBound - 0.05).toBeLessThan(1e-12 * 0.05 * 1.01);
    // With slack the bound is universal.
    expect(buildApproximator({ lipschitz: 3, epsilon: 0.07, activation: 'pln2' }).universal).toBe(true);
  });

  it('a target that is not L-Lipschitz is caught by the check', () => {
    const ap = buildApproximator({ lipschitz: 1, epsilon: 0.05, activation: 'pln2', f: (x) => 5 * x });
    expect(verifyApproximator(ap, { gridPoints: 4097, refinePoints: 1000 }).verified).toBe(false);
  });

  it('plnWidth (CLI shape)', () => {
    const r = plnWidth({ lipschitz: 1, epsilon: 0.05, activation: 'pln2' });
    expect(r.width).toBe(18);
    expect(r.verified).toBe(true);
    expect(r.supError).toBeLessThanOrEqual(0.05);
    expect(r.construction.pieces).toBe(10);
    expect(plnWidth({ lipschitz: 10, epsilon: 0.1, activation: 'relu' }).width).toBe(50);
  });
});

describe('the between-grid-points certificate is sound', () => {
  it('bounds a spike that falls between grid points', () => {
    // f has a narrow L-Lipschitz spike (height 0.04, width 0.08) centred between two grid points of a
    // coarse grid; the network (built for f) cannot follow it, so the true sup error is near the spike.
    const L = 1;
    const x0 = 0.5 + 0.5 / 4096;
    const f = (x: number) => L * Math.max(0, 0.04 - Math.abs(x - x0));
    const ap = buildApproximator({ lipschitz: L, epsilon: 0.05, activation: 'relu', f });
    const check = verifyApproximator(ap, { gridPoints: 4097, refinePoints: 0 });
    const xs = Array.from({ length: 200001 }, (_, i) => i / 200000);
    const g = executeGraph64(ap.model, { x: { data: Float64Array.from(xs), shape: [xs.length, 1] } })[ap.output]!.data;
    const trueSup = xs.reduce((m, x, i) => Math.max(m, Math.abs(f(x) - g[i]!)), 0);
    expect(check.certifiedBound).toBeGreaterThanOrEqual(trueSup - 1e-12);
    expect(check.certifiedBound).toBeGreaterThanOrEqual(check.supError);
  });
});
