// Properties that hold for all inputs, checked with fast-check through the executor: LN shift
// invariance, LN = RMSNorm on zero-mean rows, Einsum = MatMul, and inferShapes = the executed shapes.
import { Tensor } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Executor, GraphBuilder, inferShapes } from '../src/index.js';
import { runOp } from './executor-helpers.js';

const maxDiff = (a: Tensor, b: Tensor) => {
  const av = a.toFlatArray();
  const bv = b.toFlatArray();
  let m = 0;
  for (let i = 0; i < av.length; i++) m = Math.max(m, Math.abs(av[i]! - bv[i]!));
  return m;
};

const dims = fc.record({
  rows: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 2, max: 16 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

describe('executor properties', () => {
  it('LayerNormalization is invariant to a per-row shift (tolerance 1e-4)', () => {
    fc.assert(
      fc.property(dims, fc.double({ min: -50, max: 50, noNaN: true }), ({ rows, d, seed }, c) => {
        const x = Tensor.randn([rows, d], seed);
        const g = Tensor.randn([d], seed + 1);
        const shifted = Tensor.from(
          x.toFlatArray().map((v) => v + c),
          [rows, d],
        );
        const a = runOp('LayerNormalization', [x, g], { epsilon: 1e-5 })[0]!;
        const b = runOp('LayerNormalization', [shifted, g], { epsilon: 1e-5 })[0]!;
        expect(maxDiff(a, b)).toBeLessThan(1e-4 * Math.max(1, ...g.toFlatArray().map(Math.abs)));
      }),
      { numRuns: 40 },
    );
  });

  it('LayerNormalization equals RMSNormalization on zero-mean rows (tolerance 1e-5)', () => {
    fc.assert(
      fc.property(dims, ({ rows, d, seed }) => {
        const raw = Tensor.randn([rows, d], seed).toFlatArray();
        const centered: number[] = [];
        for (let r = 0; r < rows; r++) {
          const row = raw.slice(r * d, (r + 1) * d);
          const mu = row.reduce((p, q) => p + q, 0) / d;
          centered.push(...row.map((v) => v - mu));
        }
        const x = Tensor.from(centered, [rows, d]);
        const g = Tensor.randn([d], seed + 7);
        const ln = runOp('LayerNormalization', [x, g], { epsilon: 1e-6 }, { opset: 23 })[0]!;
        const rms = runOp('RMSNormalization', [x, g], { epsilon: 1e-6 }, { opset: 23 })[0]!;
        expect(maxDiff(ln, rms)).toBeLessThan(1e-5 * Math.max(1, ...g.toFlatArray().map(Math.abs)));
      }),
      { numRuns: 40 },
    );
  });

  it("Einsum 'bij,bjk->bik' equals MatMul (tolerance 1e-5)", () => {
    fc.assert(
      fc.property(
        fc.tuple(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 5 }),
          fc.nat(1e6),
        ),
        ([b, i, j, k, seed]) => {
          const x = Tensor.randn([b, i, j], seed);
          const y = Tensor.randn([b, j, k], seed + 1);
          const e = runOp('Einsum', [x, y], { equation: 'bij,bjk->bik' }, { opset: 12 })[0]!;
          const m = runOp('MatMul', [x, y])[0]!;
          expect(e.shape).toEqual(m.shape);
          expect(maxDiff(e, m)).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('inferShapes predicts the executed shapes of broadcasting Add, MatMul and Reshape', () => {
    const dim = fc.integer({ min: 1, max: 4 });
    fc.assert(
      fc.property(
        fc.array(dim, { minLength: 2, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        dim,
        (shape, ones, n) => {
          const other = shape.map((d, i) => (ones[i] ? 1 : d));
          const b = new GraphBuilder('p');
          const x = b.input(
            'x',
            'float32',
            shape.map((d, i) => (i === 0 ? 'batch' : d)),
          );
          const s = b.op('Add', [x, b.constant('o', Tensor.randn(other, 1))]);
          const mm = b.op('MatMul', [s, b.constant('w', Tensor.randn([shape[shape.length - 1]!, n], 2))]);
          const r = b.op('Reshape', [mm, b.constant('t', Tensor.from([0, -1], [2], 'int64'))]);
          b.output(r);
          const m = b.model(13);
          inferShapes(m);
          const out = new Executor(m).run({ x: Tensor.randn(shape, 3) }, { outputs: [s, mm, r] }).outputs;
          for (const v of [s, mm, r]) {
            const inferred = m.graph.valueInfo.get(v)!.shape!;
            const actual = out[v]!.shape;
            expect(inferred.length).toBe(actual.length);
            inferred.forEach((d, i) => {
              if (typeof d === 'number') expect(d).toBe(actual[i]);
              else if (d === 'batch') expect(actual[i]).toBe(shape[0]);
            });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
