// Column centering and the LN = RMSNorm fold identity against docs/PAPERS.md §5 oracles 1–3 (hand values) and fast-check properties.
import { NormkitError } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centeringMatrix, columnCenter, foldIdentityResidual, isColumnCentered, layerNorm64, rmsNorm64 } from '../src/index.js';

const W = [
  [1, 2],
  [3, 4],
  [5, 6],
];
const b = [1, 0, -1];
const close = (a: number[], e: number[], tol: number) =>
  a.forEach((v, i) => {
    expect(Math.abs(v - e[i]!)).toBeLessThanOrEqual(tol);
  });

describe('column centering (oracles 1–3)', () => {
  it('oracle 1: C W and C b', () => {
    const c = columnCenter(W, b);
    expect(c.W).toEqual([
      [-2, -2],
      [0, 0],
      [2, 2],
    ]);
    expect(c.b).toEqual([1, 0, -1]);
    expect(isColumnCentered(c.W, c.b)).toBe(true);
    expect(isColumnCentered(W, b)).toBe(false);
  });

  it('centeringMatrix is I − 11ᵀ/d and C·W equals columnCenter', () => {
    const C = centeringMatrix(3);
    expect(C[0]![0]).toBeCloseTo(2 / 3, 15);
    expect(C[0]![1]).toBeCloseTo(-1 / 3, 15);
    const CW = C.map((r) => [0, 1].map((j) => r.reduce((s, v, k) => s + v * W[k]![j]!, 0)));
    close(CW.flat(), columnCenter(W).W.flat(), 1e-15);
  });

  it('oracle 2: LN(Wx+b) = RMSNorm(CWx+Cb) with the stated values', () => {
    const r0 = foldIdentityResidual(W, b, [1, 1]);
    close(r0.ln, [-1.224745, 0, 1.224745], 1e-6);
    expect(r0.residual).toBeLessThan(1e-15);
    const r1 = foldIdentityResidual(W, b, [1, 1], { eps: 1e-5 });
    close(r1.rms, [-1.224744, 0, 1.224744], 1e-6);
    const r2 = foldIdentityResidual(W, b, [0.3, -2], { eps: 1e-5 });
    close(r2.ln, [1.224744, 0, -1.224744], 1e-6);
    close(r2.rms, [1.224744, 0, -1.224744], 1e-6);
  });

  it('rejects malformed input with NormkitError', () => {
    expect(() => columnCenter([[1, 2], [3]])).toThrow(NormkitError);
    expect(() => foldIdentityResidual(W, b, [1])).toThrow(/x has 1 entries/);
    expect(() => centeringMatrix(0)).toThrow(NormkitError);
  });
});

const matrix = (rows: number, cols: number) =>
  fc.array(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: cols, maxLength: cols }), {
    minLength: rows,
    maxLength: rows,
  });

describe('column centering properties (fast-check)', () => {
  it('columnCenter always satisfies CCC and the fold identity holds for every ε, γ, β', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 6 })
          .chain((d) =>
            fc.tuple(
              matrix(d, 3),
              fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: d, maxLength: d }),
              fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 3, maxLength: 3 }),
              fc.constantFrom(0, 1e-5, 1e-2),
              fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: d, maxLength: d }),
            ),
          ),
        ([Wr, br, x, eps, g]) => {
          const c = columnCenter(Wr, br);
          expect(isColumnCentered(c.W, c.b)).toBe(true);
          const h = Wr.map((r, i) => r.reduce((s, v, j) => s + v * x[j]!, br[i]!));
          const spread = Math.max(...h) - Math.min(...h);
          fc.pre(spread > 1e-3 || eps > 0);
          const r = foldIdentityResidual(Wr, br, x, { eps, gamma: g, beta: g });
          expect(r.residual).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('oracle 3: LN is shift invariant; RMSNorm equals LN exactly when the mean is 0', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (h, c) => {
          const a = layerNorm64(h, 1e-5);
          const s = layerNorm64(
            h.map((v) => v + c),
            1e-5,
          );
          a.forEach((v, i) => {
            expect(Math.abs(v - s[i]!)).toBeLessThan(1e-6);
          });
          const m = h.reduce((x, y) => x + y, 0) / h.length;
          const centered = h.map((v) => v - m);
          const r = rmsNorm64(centered, 1e-5);
          layerNorm64(centered, 1e-5).forEach((v, i) => {
            expect(Math.abs(v - r[i]!)).toBeLessThan(1e-12);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
