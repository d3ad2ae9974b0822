// fast-check property tests for identities that hold for all inputs.
import { matmul, Tensor } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centerColumns, isColumnCentered, layerNorm, parallelLayerNorm, rmsNorm } from '../src/index.js';

const vec = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 16 });
const t64 = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length], 'float64');
const arr = (t: Tensor) => Array.from(t.data as Float64Array);
const variance = (v: number[]) => {
  const m = v.reduce((a, x) => a + x, 0) / v.length;
  return v.reduce((a, x) => a + (x - m) ** 2, 0) / v.length;
};
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))));
const RUNS = { numRuns: 200, seed: 42 };

describe('properties (fast-check)', () => {
  it('LN of a zero-mean input equals RMSNorm (same γ, β, ε)', () => {
    fc.assert(
      fc.property(vec, fc.double({ min: 0, max: 1e-2, noNaN: true }), (v, eps) => {
        const m = v.reduce((a, x) => a + x, 0) / v.length;
        const h = t64(v.map((x) => x - m));
        const g = t64(v.map((_, i) => 1 + 0.1 * i));
        const b = t64(v.map((_, i) => 0.5 - 0.05 * i));
        fc.pre(variance(v) > 1e-6 || eps > 0);
        const ln = arr(layerNorm(h, { epsilon: eps, scale: g, bias: b }));
        const rms = arr(rmsNorm(h, { epsilon: eps, scale: g, bias: b }));
        expect(maxDiff(ln, rms)).toBeLessThan(1e-9);
      }),
      RUNS,
    );
  });

  it('LN is shift invariant: LN(h + c·1) = LN(h)', () => {
    fc.assert(
      fc.property(vec, fc.double({ min: -1000, max: 1000, noNaN: true }), (v, c) => {
        fc.pre(variance(v) > 1e-3);
        const a = arr(layerNorm(t64(v)));
        const b = arr(layerNorm(t64(v.map((x) => x + c))));
        expect(maxDiff(a, b)).toBeLessThan(1e-9);
      }),
      RUNS,
    );
  });

  it('PLN with one group equals LN (2-D and 4-D layouts)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 0, max: 1000 }), (rows, F, seed) => {
        const x = Tensor.randn([rows, F], seed, { dtype: 'float64' });
        expect(maxDiff(arr(parallelLayerNorm(x, { groupSize: F })), arr(layerNorm(x)))).toBeLessThan(1e-12);
        expect(maxDiff(arr(parallelLayerNorm(x, { numGroups: 1, centering: false })), arr(rmsNorm(x)))).toBeLessThan(1e-12);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('centerColumns output passes isColumnCentered (any shape and axis)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 0, max: 1000 }),
        fc.boolean(),
        (shape, ax, seed, f32) => {
          const axis = ax % shape.length;
          const W = Tensor.randn(shape, seed, { dtype: f32 ? 'float32' : 'float64', std: 10, mean: 3 });
          const Wc = centerColumns(W, axis);
          expect(isColumnCentered(Wc, f32 ? 1e-6 : 1e-12, axis)).toBe(true);
          // Centering is idempotent and changes nothing along other directions than the mean.
          expect(maxDiff(Array.from(centerColumns(Wc, axis).data as Float32Array), Array.from(Wc.data as Float32Array))).toBeLessThan(
            f32 ? 1e-4 : 1e-12,
          );
        },
      ),
      RUNS,
    );
  });

  it('LN(Wx + b) = RMSNorm(CWx + Cb) for every W, b, x', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (dOut, dIn, tokens, seed) => {
          // Row-vector convention (ONNX MatMul): y = x·W + b with W [in, out]; center over the output axis.
          const W = Tensor.randn([dIn, dOut], seed, { dtype: 'float64' });
          const b = Tensor.randn([dOut], seed + 1, { dtype: 'float64' });
          const x = Tensor.randn([tokens, dIn], seed + 2, { dtype: 'float64' });
          const g = Tensor.randn([dOut], seed + 3, { dtype: 'float64' });
          const be = Tensor.randn([dOut], seed + 4, { dtype: 'float64' });
          const h = arr(matmul(x, W)).map((v, i) => v + (b.data[i % dOut] as number));
          const Wc = centerColumns(W, 'matmul');
          const bc = centerColumns(b, 'bias');
          const hc = arr(matmul(x, Wc)).map((v, i) => v + (bc.data[i % dOut] as number));
          const ln = arr(layerNorm(t64(h, [tokens, dOut]), { scale: g, bias: be }));
          const rms = arr(rmsNorm(t64(hc, [tokens, dOut]), { scale: g, bias: be }));
          expect(maxDiff(ln, rms)).toBeLessThan(1e-9);
        },
      ),
      RUNS,
    );
  });
});
