import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Model, recognizeLayerNorms } from '../src/index.js';

/** The decomposed LN an exporter writes; options bend it into the variants and the near-misses. */
function decomposedLn(
  opts: {
    opset?: number;
    axes1?: number[];
    axes2?: number[];
    exponent?: number;
    mulSelf?: boolean;
    reciprocal?: boolean;
    constantNodes?: boolean;
    castBeforePow?: boolean;
    extraReader?: boolean;
    keepdims?: number;
    runtimeEps?: boolean;
    shape?: number[];
  } = {},
): Model {
  const opset = opts.opset ?? 14;
  const shape = opts.shape ?? [2, 3, 4];
  const d = shape[shape.length - 1] as number;
  const b = new GraphBuilder('ln');
  const x = b.input('x', 'float32', shape);
  const constant = (name: string, t: Tensor) =>
    opts.constantNodes ? b.op('Constant', [], { value: t }, { name: `${name}_node`, output: name }) : b.constant(name, t);
  const reduce = (v: string, axes: number[]) =>
    opset >= 18
      ? b.op('ReduceMean', [v, constant(`axes_${v}`, Tensor.from(axes, [axes.length], 'int64'))], { keepdims: opts.keepdims ?? 1 })
      : b.op('ReduceMean', [v], { axes, keepdims: opts.keepdims ?? 1 });
  const mean = reduce(x, opts.axes1 ?? [-1]);
  const c = b.op('Sub', [x, mean], {}, { name: 'sub' });
  const base = opts.castBeforePow ? b.op('Cast', [c], { to: 1 }) : c;
  const sq = opts.mulSelf ? b.op('Mul', [base, base]) : b.op('Pow', [base, constant('two', Tensor.scalar(opts.exponent ?? 2))]);
  const v = reduce(sq, opts.axes2 ?? [-1]);
  const eps = opts.runtimeEps ? b.input('eps', 'float32', [1]) : constant('eps', Tensor.scalar(1e-5));
  const s = b.op('Sqrt', [b.op('Add', [v, eps])]);
  const n = opts.reciprocal ? b.op('Mul', [c, b.op('Reciprocal', [s])]) : b.op('Div', [c, s]);
  const gamma = constant('gamma', Tensor.from(Array.from({ length: d }, (_, i) => 1 + i / 10)));
  const beta = constant('beta', Tensor.from(Array.from({ length: d }, (_, i) => i / 100)));
  const y = b.op('Add', [b.op('Mul', [n, gamma]), beta], {}, { output: 'y' });
  b.output(y);
  if (opts.extraReader) b.output(b.op('Neg', [c], {}, { output: 'neg' }));
  return b.model(opset);
}

describe('recognizeLayerNorms', () => {
  it('fuses the opset-14 exporter pattern into one LayerNormalization with the same ε, γ, β', () => {
    const { model, fused, nearMisses } = recognizeLayerNorms(decomposedLn());
    expect(nearMisses).toEqual([]);
    expect(fused).toHaveLength(1);
    expect(fused[0]).toMatchObject({ kind: 'LayerNormalization', op: 'LayerNormalization', axis: -1 });
    expect(fused[0]?.epsilon).toBeCloseTo(1e-5, 12);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['LayerNormalization']);
    const ln = model.graph.nodes[0];
    expect(ln?.inputs).toEqual(['x', 'gamma', 'beta']);
    expect(ln?.outputs).toEqual(['y']);
    // The input model is untouched.
    expect(decomposedLn().graph.nodes.length).toBe(9);
  });

  it('handles axes as an input (opset 18), Constant nodes, Mul(self), Reciprocal·Mul and Casts', () => {
    const { model, fused, nearMisses } = recognizeLayerNorms(
      decomposedLn({ opset: 18, constantNodes: true, mulSelf: true, reciprocal: true, castBeforePow: true }),
    );
    expect(nearMisses).toEqual([]);
    expect(fused).toHaveLength(1);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Constant', 'Constant', 'LayerNormalization']);
    // The Constant nodes that remain are γ and β, now read by the fused node.
    expect(model.graph.nodes[2]?.inputs).toEqual(['x', 'gamma', 'beta']);
  });

  it('fuses a trailing multi-axis LN with axis = first normalized axis', () => {
    const { fused } = recognizeLayerNorms(decomposedLn({ axes1: [1, 2], axes2: [-2, -1], shape: [2, 3, 4] }));
    expect(fused[0]?.axis).toBe(-2);
  });

  it('writes RMSNorm as SimplifiedLayerNormalization below opset 23 and RMSNormalization at 23', () => {
    const rms = (opset: number) => {
      const b = new GraphBuilder('rms');
      const x = b.input('x', 'float32', [2, 4]);
      const ms = b.op(
        'ReduceMean',
        opset >= 18
          ? [b.op('Pow', [x, b.constant('two', Tensor.scalar(2))]), b.constant('ax', Tensor.from([-1], [1], 'int64'))]
          : [b.op('Pow', [x, b.constant('two', Tensor.scalar(2))])],
        opset >= 18 ? {} : { axes: [-1] },
      );
      const y = b.op('Mul', [
        b.constant('g', Tensor.from([1, 2, 3, 4])),
        b.op('Div', [x, b.op('Sqrt', [b.op('Add', [ms, b.constant('e', Tensor.scalar(1e-6))])])]),
      ]);
      b.output(y);
      return b.model(opset);
    };
    const low = recognizeLayerNorms(rms(17));
    expect(low.fused[0]).toMatchObject({ kind: 'RMSNormalization', op: 'SimplifiedLayerNormalization', axis: -1 });
    expect(low.model.graph.nodes.map((n) => n.opType)).toEqual(['SimplifiedLayerNormalization']);
    const high = recognizeLayerNorms(rms(23));
    expect(high.model.graph.nodes.map((n) => n.opType)).toEqual(['RMSNormalization']);
    expect(high.model.graph.nodes[0]?.inputs).toEqual(['x', 'g']);
  });

  it.each([
    [{ axes1: [-1], axes2: [-2] }, /mean is taken over axes \[-1\] but the variance over \[-2\]/],
    [{ exponent: 3 }, /exponent \[3\], not 2/],
    [{ extraReader: true }, /intermediate value "sub_out" is also read by Neg/],
    [{ runtimeEps: true }, /not a constant scalar ε/],
    [{ keepdims: 0 }, /keepdims=0/],
    [{ axes1: [1], axes2: [1] }, /not the trailing axes/],
  ])('leaves a near-miss alone and says why (%o)', (opts, reason) => {
    const src = decomposedLn(opts);
    const { model, fused, nearMisses } = recognizeLayerNorms(src);
    expect(fused).toEqual([]);
    expect(nearMisses).toHaveLength(1);
    expect(nearMisses[0]?.reason).toMatch(reason);
    expect(model.graph.nodes.length).toBe(src.graph.nodes.length);
  });
});
