// LN geometry and PLN against docs/PAPERS.md §5 oracles 7, 8, 9, 12 — hand values and a graph run through
// both @normkit/graph's executor and the independent float64 evaluator.
import { GraphBuilder } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateGraph64, executeGraph64, layerNorm64, parallelNorm64, rmsNorm64 } from '../src/index.js';

describe('LN geometry (oracles 7, 8, 12)', () => {
  it('oracle 7: LN([3,1])', () => {
    expect(layerNorm64([3, 1])).toEqual([1, -1]);
    const e = layerNorm64([3, 1], 1e-5);
    expect(e[0]).toBeCloseTo(0.999995, 6);
    expect(e[1]).toBeCloseTo(-0.999995, 6);
  });

  it('oracle 8: LN over 3 features (ε=0) has sum 0 and sum of squares 3', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 3, maxLength: 3 }), (h) => {
        fc.pre(Math.max(...h) - Math.min(...h) > 1e-6);
        const y = layerNorm64(h);
        expect(Math.abs(y[0]! + y[1]! + y[2]!)).toBeLessThan(1e-12);
        expect(Math.abs(y[0]! ** 2 + y[1]! ** 2 + y[2]! ** 2 - 3)).toBeLessThan(1e-12);
      }),
    );
  });

  it('oracle 12: PLN with one group is LN; centering=false is grouped RMSNorm', () => {
    const h = [0.3, -1.2, 2.5, 0.7, 1.1, -0.4];
    expect(parallelNorm64(h, 6, 1e-5)).toEqual(layerNorm64(h, 1e-5));
    expect(parallelNorm64(h, 3, 1e-5, false)).toEqual([...rmsNorm64(h.slice(0, 3), 1e-5), ...rmsNorm64(h.slice(3), 1e-5)]);
    expect(() => parallelNorm64(h, 4)).toThrow(/groups of 4/);
  });
});

describe('oracle 9: a PLN-2 network solves XOR exactly (as a graph)', () => {
  it('runs the graph Reshape → LayerNormalization → Reshape → γ/β through both evaluators', () => {
    const s = 100;
    const b = new GraphBuilder('xor');
    const f64 = (v: number[], shape: number[]) => new Tensor(shape, 'float64', Float64Array.from(v));
    const x = b.input('x', 'float64', ['N', 2]);
    // Hidden pre-activations [s(x1−x2−0.5), 0 | s(x2−x1−0.5), 0].
    const pre = b.op('Add', [
      b.op('MatMul', [x, b.constant('w', f64([s, 0, -s, 0, -s, 0, s, 0], [2, 4]))]),
      b.constant('b', f64([-s / 2, 0, -s / 2, 0], [4])),
    ]);
    const g = b.op('Reshape', [pre, b.constant('s1', Tensor.from([-1, 2, 2], undefined, 'int64'))]);
    const n = b.op('LayerNormalization', [g, b.constant('one', f64([1, 1], [2])), b.constant('zero', f64([0, 0], [2]))], {
      axis: -1,
      epsilon: { type: 'float', value: 1e-5 },
    });
    const flat = b.op('Reshape', [n, b.constant('s2', Tensor.from([-1, 4], undefined, 'int64'))]);
    const hid = b.op('Add', [b.op('Mul', [flat, b.constant('gamma', f64([1, 1, 1, 1], [4]))]), b.constant('beta', f64([0, 0, 0, 0], [4]))]);
    // y = ½(g1[0]+1) + ½(g2[0]+1)
    const y = b.op('Add', [b.op('MatMul', [hid, b.constant('r', f64([0.5, 0, 0.5, 0], [4, 1]))]), b.constant('c', f64([1], [1]))]);
    b.output(y, 'float64');
    const input = { x: { data: Float64Array.from([0, 0, 1, 1, 1, 0, 0, 1]), shape: [4, 2] } };
    const a = executeGraph64(b.model(17), input)[y]!.data;
    const r = evaluateGraph64(b.model(17), input)[y]!.data;
    const want = [0, 0, 1, 1];
    want.forEach((v, i) => {
      expect(Math.abs(a[i]! - v)).toBeLessThan(1e-6);
      expect(Math.abs(r[i]! - a[i]!)).toBeLessThan(1e-12);
    });
  });
});
