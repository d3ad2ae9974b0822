import { Tensor } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  centerTensor,
  execute,
  foldLayerNorms,
  GraphBuilder,
  type Model,
  randomInputs,
  recognizeLayerNorms,
  verifyEquivalence,
} from '../src/index.js';

const out = (m: Model, feed: Record<string, Tensor>) => execute(m, feed).outputs;

/** y = LN(x·Wᵀ + b) with W = [[1,2],[3,4],[5,6]] (out × in), b = [1, 0, −1]: PAPERS §5 oracles 1–2. */
function oracleModel(eps: number): Model {
  const b = new GraphBuilder('oracle');
  const x = b.input('x', 'float32', [1, 2]);
  const wt = b.constant(
    'Wt',
    Tensor.from([
      [1, 3, 5],
      [2, 4, 6],
    ]),
  );
  const h = b.op('Add', [b.op('MatMul', [x, wt], {}, { name: 'dense' }), b.constant('b', Tensor.from([1, 0, -1]))], {}, { name: 'bias' });
  b.output(
    b.op(
      'LayerNormalization',
      [h, b.constant('g', Tensor.ones([3])), b.constant('beta', Tensor.zeros([3]))],
      { axis: -1, epsilon: eps },
      { name: 'ln', output: 'y' },
    ),
  );
  return b.model(17);
}

describe('foldLayerNorms', () => {
  it('reproduces PAPERS §5 oracle 2 for every export form: LN(Wx+b) = RMSNorm(CWx+Cb)', () => {
    for (const rmsFormat of ['onnx23', 'simplified', 'decomposed'] as const) {
      const { model, report } = foldLayerNorms(oracleModel(1e-5), { rmsFormat });
      expect(report.folded.map((f) => f.name)).toEqual(['ln']);
      // The centered weight: C·W = [[-2,-2],[0,0],[2,2]] (as in × out: [[-2,0,2],[-2,0,2]]), C·b = b.
      expect(Array.from(model.graph.initializers.get('Wt_centered')?.data as Float32Array)).toEqual([-2, 0, 2, -2, 0, 2]);
      const y1 = out(model, { x: Tensor.from([[1, 1]]) }).y?.toFlatArray() as number[];
      const y2 = out(model, { x: Tensor.from([[0.3, -2]]) }).y?.toFlatArray() as number[];
      for (const [i, v] of [-1.224744, 0, 1.224744].entries()) expect(y1[i]).toBeCloseTo(v, 5);
      for (const [i, v] of [1.224744, 0, -1.224744].entries()) expect(y2[i]).toBeCloseTo(v, 5);
    }
    // ε = 0: exactly ±√(3/2).
    const { model } = foldLayerNorms(oracleModel(0));
    const y = out(model, { x: Tensor.from([[1, 1]]) }).y?.toFlatArray() as number[];
    expect(y[0]).toBeCloseTo(-1.224745, 5);
  });

  it('folding preserves the outputs of random pre-LN stacks (property, 8 seeds)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), (seed, gemm) => {
        const d = 6;
        const b = new GraphBuilder('stack');
        const x = b.input('x', 'float32', [3, d]);
        let h = gemm
          ? b.op('Gemm', [x, b.constant('w0', Tensor.randn([d, d], seed)), b.constant('c0', Tensor.randn([d], seed + 1))], { transB: 1 })
          : b.op('Add', [b.op('MatMul', [x, b.constant('w0', Tensor.randn([d, d], seed))]), b.constant('c0', Tensor.randn([d], seed + 1))]);
        for (let l = 0; l < 2; l++) {
          const n = b.op(
            'LayerNormalization',
            [
              h,
              b.constant(`g${l}`, Tensor.randn([d], seed + 10 + l, { mean: 1, std: 0.2 })),
              b.constant(`b${l}`, Tensor.randn([d], seed + 20 + l)),
            ],
            { axis: -1 },
          );
          h = b.op('Add', [h, b.op('MatMul', [b.op('Tanh', [n]), b.constant(`w${l + 1}`, Tensor.randn([d, d], seed + 30 + l))])]);
        }
        b.output(
          b.op(
            'LayerNormalization',
            [h, b.constant('gf', Tensor.ones([d])), b.constant('bf', Tensor.zeros([d]))],
            { axis: -1 },
            { output: 'y' },
          ),
        );
        const { report, verification } = foldLayerNorms(b.model(17), { verifyOptions: { seed, runs: 2 } });
        expect(report.folded).toHaveLength(3);
        expect(verification?.equivalent).toBe(true);
      }),
      { numRuns: 8 },
    );
  });

  it('a non-foldable component is left alone; centering it anyway would change the model (the patch-merging rule)', () => {
    const D = 4;
    const b = new GraphBuilder('merge');
    const x = b.input('x', 'float32', [1, 4, D]);
    const w = Tensor.randn([D, D], 5);
    const h = b.op('MatMul', [x, b.constant('w', w)], {}, { name: 'dense' });
    const ln = (v: string, d: number, name: string) =>
      b.op(
        'LayerNormalization',
        [v, b.constant(`${name}.g`, Tensor.ones([d])), b.constant(`${name}.b`, Tensor.zeros([d]))],
        { axis: -1 },
        { name, output: `${name}_out` },
      );
    const ints = (n: string, v: number[]) => b.constant(n, Tensor.from(v, [v.length], 'int64'));
    const even = b.op('Slice', [h, ints('s0', [0]), ints('e0', [4]), ints('a0', [1]), ints('p0', [2])]);
    const odd = b.op('Slice', [h, ints('s1', [1]), ints('e1', [4]), ints('a1', [1]), ints('p1', [2])]);
    b.output(ln(h, D, 'ln_tok'));
    b.output(ln(b.op('Concat', [even, odd], { axis: -1 }), 2 * D, 'ln_merge'));
    const model = b.model(17);
    const { report, model: folded } = foldLayerNorms(model);
    expect(report.folded).toEqual([]);
    expect(report.skipped.map((s) => s.name)).toEqual(['ln_tok', 'ln_merge']);
    expect(folded.graph.nodes.filter((n) => n.opType === 'LayerNormalization')).toHaveLength(2);
    // Center the dense weight by hand: ln_tok is unchanged (mean-invariant), ln_merge is not.
    const hand = model.clone();
    hand.graph.initializers.set('w', new Tensor([D, D], 'float32', centerTensor(w, -1)));
    const feed = { x: Tensor.randn([1, 4, D], 9) };
    const [a, c] = [out(model, feed), out(hand, feed)];
    const diff = (k: string) => {
      const [p, q] = [(a[k] as Tensor).toFlatArray(), (c[k] as Tensor).toFlatArray()];
      return Math.max(...p.map((v, i) => Math.abs(v - (q[i] as number))));
    };
    expect(diff('ln_tok_out')).toBeLessThan(1e-5);
    expect(diff('ln_merge_out')).toBeGreaterThan(1e-2);
  });

  it('recognized decomposed LN computes the same as a naive LayerNorm loop', () => {
    const b = new GraphBuilder('dec');
    const x = b.input('x', 'float32', [2, 5]);
    const mean = b.op('ReduceMean', [x], { axes: [-1] });
    const c = b.op('Sub', [x, mean]);
    const v = b.op('ReduceMean', [b.op('Mul', [c, c])], { axes: [-1] });
    const n = b.op('Mul', [c, b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [v, b.constant('eps', Tensor.scalar(1e-3))])])])]);
    const g = [0.5, 1, 1.5, 2, 2.5];
    const be = [0.1, 0.2, 0.3, 0.4, 0.5];
    b.output(b.op('Add', [b.op('Mul', [n, b.constant('g', Tensor.from(g))]), b.constant('b', Tensor.from(be))], {}, { output: 'y' }));
    const { model, fused } = recognizeLayerNorms(b.model(13));
    expect(fused).toHaveLength(1);
    const xv = Tensor.randn([2, 5], 4);
    const y = out(model, { x: xv }).y?.toFlatArray() as number[];
    const xs = xv.toFlatArray();
    for (let r = 0; r < 2; r++) {
      const row = xs.slice(r * 5, r * 5 + 5);
      const mu = row.reduce((s, t) => s + t, 0) / 5;
      const va = row.reduce((s, t) => s + (t - mu) ** 2, 0) / 5;
      for (const [k, t] of row.entries())
        expect(y[r * 5 + k]).toBeCloseTo(((t - mu) / Math.sqrt(va + 1e-3)) * (g[k] as number) + (be[k] as number), 5);
    }
  });

  it('refuses to raise the opset when a node changed incompatibly, and says which', () => {
    const b = new GraphBuilder('old');
    const x = b.input('x', 'float32', [1, 4]);
    const h = b.op('MatMul', [x, b.constant('w', Tensor.randn([4, 4], 1))]);
    const l = b.op('LayerNormalization', [h, b.constant('g', Tensor.ones([4])), b.constant('be', Tensor.zeros([4]))], { axis: -1 });
    b.output(b.op('Pad', [l], { pads: [0, 1, 0, 1] }, { name: 'old_pad' }));
    const m = b.model(10);
    expect(() => foldLayerNorms(m, { rmsFormat: 'onnx23', verify: false })).toThrow(
      /cannot raise the opset from 10 to 23.*old_pad \(Pad with a pads attribute\).*'simplified' or 'decomposed'/,
    );
    expect(foldLayerNorms(m, { rmsFormat: 'simplified', verify: false }).report.folded).toHaveLength(1);
  });
});

describe('verifyEquivalence and randomInputs', () => {
  it('samples token ids below the embedding table size and reports per-output differences', () => {
    const b = new GraphBuilder('emb');
    const ids = b.input('ids', 'int64', ['batch', 'seq']);
    const e = b.op('Gather', [b.constant('table', Tensor.randn([7, 4], 2)), ids]);
    b.output(
      b.op(
        'LayerNormalization',
        [e, b.constant('g', Tensor.ones([4])), b.constant('be', Tensor.zeros([4]))],
        { axis: -1 },
        { output: 'y' },
      ),
    );
    const m = b.model(17);
    const feed = randomInputs(m, 3);
    expect(feed.ids?.shape).toEqual([2, 8]);
    expect((feed.ids as Tensor).toFlatArray().every((v) => v >= 0 && v < 7)).toBe(true);
    const v = verifyEquivalence(m, m, { runs: 1 });
    expect(v).toMatchObject({ equivalent: true, outputs: [{ name: 'y', maxAbsDiff: 0, maxRelDiff: 0, argmaxAgreement: 1 }] });
    const { model: folded, verification } = foldLayerNorms(m);
    expect(folded.graph.initializers.has('table_centered')).toBe(true);
    expect(verification?.equivalent).toBe(true);
  });
});
