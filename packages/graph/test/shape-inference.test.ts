// inferShapes: symbolic dims kept, numbers where known, constants propagated through shape plumbing;
// checked against hand-derived shapes and against the shapes the executor actually produces.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Executor, GraphBuilder, inferShapes, type Model } from '../src/index.js';

const i64 = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length], 'int64');

/** A pre-LN attention block the way PyTorch exports it: dynamic Reshape targets built from Shape. */
function attentionBlock(): { model: Model; names: Record<string, string> } {
  const b = new GraphBuilder('attn');
  const x = b.input('x', 'float32', ['batch', 'seq', 8]);
  const ln = b.op('LayerNormalization', [x, b.constant('g', Tensor.ones([8])), b.constant('be', Tensor.zeros([8]))], { axis: -1 });
  const q = b.op('MatMul', [ln, b.constant('wq', Tensor.randn([8, 8], 1))]);
  const k = b.op('MatMul', [ln, b.constant('wk', Tensor.randn([8, 8], 2))]);
  const shape = b.op('Shape', [x]);
  const bdim = b.op('Unsqueeze', [b.op('Gather', [shape, b.constant('i0', i64([0], []))], { axis: 0 }), b.constant('ax0', i64([0]))]);
  const sdim = b.op('Unsqueeze', [b.op('Gather', [shape, b.constant('i1', i64([1], []))], { axis: 0 }), 'ax0']);
  const target = b.op('Concat', [bdim, sdim, b.constant('heads', i64([2, -1]))], { axis: 0 });
  const qh = b.op('Transpose', [b.op('Reshape', [q, target])], { perm: [0, 2, 1, 3] });
  const kh = b.op('Transpose', [b.op('Reshape', [k, target])], { perm: [0, 2, 3, 1] });
  const scores = b.op('Softmax', [b.op('Div', [b.op('MatMul', [qh, kh]), b.constant('sc', Tensor.scalar(2))])], { axis: -1 });
  const ctx = b.op('MatMul', [scores, qh]);
  const merged = b.op('Reshape', [b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), b.constant('m', i64([0, 0, -1]))]);
  const pooled = b.op('ReduceMean', [merged], { axes: [1], keepdims: 0 });
  const logits = b.op('Gemm', [pooled, b.constant('wo', Tensor.randn([3, 8], 3))], { transB: 1 });
  const top = b.opN('TopK', [logits, b.constant('k', i64([2]))], 2);
  b.output(top[1]!, 'int64');
  return { model: b.model(13), names: { ln, q, target, qh, kh, scores, merged, pooled, logits, idx: top[1]! } };
}

describe('inferShapes', () => {
  it('keeps symbolic dims through a dynamic-shape attention block', () => {
    const { model, names } = attentionBlock();
    inferShapes(model);
    const vi = (n: string) => model.graph.valueInfo.get(n);
    expect(vi(names.ln!)).toMatchObject({ dtype: 'float32', shape: ['batch', 'seq', 8] });
    expect(vi(names.target!)).toMatchObject({ dtype: 'int64', shape: [4] });
    expect(vi(names.qh!)?.shape).toEqual(['batch', 2, 'seq', 4]);
    expect(vi(names.kh!)?.shape).toEqual(['batch', 2, 4, 'seq']);
    expect(vi(names.scores!)?.shape).toEqual(['batch', 2, 'seq', 'seq']);
    expect(vi(names.merged!)?.shape).toEqual(['batch', 'seq', 8]);
    expect(vi(names.pooled!)?.shape).toEqual(['batch', 8]);
    expect(vi(names.logits!)?.shape).toEqual(['batch', 3]);
    expect(vi(names.idx!)).toMatchObject({ dtype: 'int64', shape: ['batch', 2] });
  });

  it('agrees with the shapes the executor produces for every value', () => {
    const { model } = attentionBlock();
    inferShapes(model);
    const names = model.graph.nodes.flatMap((n) => n.outputs);
    const out = new Executor(model).run({ x: Tensor.randn([3, 5, 8], 1) }, { outputs: names }).outputs;
    const bind: Record<string, number> = { batch: 3, seq: 5 };
    for (const n of names) {
      const vi = model.graph.valueInfo.get(n)!;
      expect(vi.dtype).toBe(out[n]!.dtype);
      expect(vi.shape!.map((d) => (typeof d === 'string' ? bind[d] : d))).toEqual([...out[n]!.shape]);
    }
  });

  it('solves Reshape -1 against symbolic dims, and Flatten', () => {
    const b = new GraphBuilder('r');
    const x = b.input('x', 'float32', ['n', 6, 4]);
    const r1 = b.op('Reshape', [x, b.constant('t1', i64([0, 3, -1]))]);
    const r2 = b.op('Reshape', [x, b.constant('t2', i64([-1, 4]))]);
    const fl = b.op('Flatten', [x], { axis: 1 });
    b.output(r1);
    const m = b.model(13);
    inferShapes(m);
    expect(m.graph.valueInfo.get(r1)?.shape).toEqual(['n', 3, 8]);
    expect(m.graph.valueInfo.get(r2)?.shape).toEqual(['n*6', 4]);
    expect(m.graph.valueInfo.get(fl)?.shape).toEqual(['n', 24]);
  });

  it('CNN ops: Conv with pads/strides/auto_pad, pools, Resize, Split, Concat', () => {
    const b = new GraphBuilder('cnn');
    const x = b.input('x', 'float32', ['N', 3, 32, 32]);
    const c1 = b.op('Conv', [x, b.constant('w', Tensor.randn([8, 3, 3, 3], 1))], { pads: [1, 1, 1, 1], strides: [2, 2] });
    const c2 = b.op('Conv', [c1, b.constant('w2', Tensor.randn([8, 8, 3, 3], 2))], { auto_pad: 'SAME_UPPER' });
    const p = b.op('MaxPool', [c2], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
    const up = b.op('Resize', [p, '', b.constant('s', Tensor.from([1, 1, 2, 2]))], { mode: 'nearest' });
    const [s1, s2] = b.opN('Split', [up, b.constant('sp', i64([3, 5]))], 2, { axis: 1 });
    const cat = b.op('Concat', [s2!, s1!, s1!], { axis: 1 });
    const g = b.op('GlobalAveragePool', [cat]);
    b.output(g);
    const m = b.model(13);
    inferShapes(m);
    const sh = (n: string) => m.graph.valueInfo.get(n)?.shape;
    expect(sh(c1)).toEqual(['N', 8, 16, 16]);
    expect(sh(c2)).toEqual(['N', 8, 16, 16]);
    expect(sh(p)).toEqual(['N', 8, 8, 8]);
    expect(sh(up)).toEqual(['N', 8, 16, 16]);
    expect(sh(s1!)).toEqual(['N', 3, 16, 16]);
    expect(sh(cat)).toEqual(['N', 11, 16, 16]);
    expect(sh(g)).toEqual(['N', 11, 1, 1]);
    const out = new Executor(m).run({ x: Tensor.randn([2, 3, 32, 32], 1) }, { outputs: [p, cat] }).outputs;
    expect(out[p]!.shape).toEqual([2, 8, 8, 8]);
    expect(out[cat]!.shape).toEqual([2, 11, 16, 16]);
  });

  it('dtypes of comparisons, Shape, Cast, ArgMax, LayerNorm statistics; keeps existing value info', () => {
    const b = new GraphBuilder('d');
    const x = b.input('x', 'float32', [2, 'k']);
    const eq = b.op('Greater', [x, b.constant('z', Tensor.scalar(0))]);
    const cast = b.op('Cast', [eq], { to: 1 });
    const am = b.op('ArgMax', [x], { axis: 1, keepdims: 0 });
    const [y, mean, inv] = b.opN('LayerNormalization', [x, b.constant('g', Tensor.ones([1]))], 3, { axis: 1 });
    const unknown = b.op('Frobnicate', [x], {}, { domain: 'com.example' });
    b.graph.valueInfo.set(unknown, { name: unknown, dtype: 'float32', shape: [2, 'k'] });
    b.output(y!);
    const m = b.model(17);
    const res = inferShapes(m);
    expect(res.get(eq)).toMatchObject({ dtype: 'bool', shape: [2, 'k'] });
    expect(res.get(cast)).toMatchObject({ dtype: 'float32', shape: [2, 'k'] });
    expect(res.get(am)).toMatchObject({ dtype: 'int64', shape: [2] });
    expect(res.get(mean!)).toMatchObject({ dtype: 'float32', shape: [2, 1] });
    expect(res.get(inv!)?.shape).toEqual([2, 1]);
    expect(m.graph.valueInfo.get(unknown)).toMatchObject({ dtype: 'float32', shape: [2, 'k'] });
  });

  it('resolves torch-style expand targets (Where(Equal(shape, -1), 1, shape)) and com.microsoft Attention', () => {
    const b = new GraphBuilder('e');
    const ids = b.input('ids', 'int64', ['batch', 3]);
    const shape = b.op('Shape', [ids]);
    const t = b.op('Where', [b.op('Equal', [shape, b.constant('m1', i64([-1]))]), b.constant('one', i64([1])), shape]);
    const e = b.op('Expand', [b.constant('pos', i64([0, 1, 2], [1, 3])), t]);
    const x = b.input('x', 'float32', ['batch', 3, 8]);
    const [att, present] = b.opN(
      'Attention',
      [x, b.constant('w', Tensor.randn([8, 24], 1)), b.constant('bb', Tensor.zeros([24]))],
      2,
      { num_heads: 2 },
      { domain: 'com.microsoft' },
    );
    b.output(e, 'int64');
    const m = b.model(13, [{ domain: 'com.microsoft', version: 1 }]);
    inferShapes(m);
    expect(m.graph.valueInfo.get(e)?.shape).toEqual(['batch', 3]);
    expect(m.graph.valueInfo.get(att!)?.shape).toEqual(['batch', 3, 8]);
    expect(m.graph.valueInfo.get(present!)?.shape).toEqual([2, 'batch', 2, 3, 4]);
    const out = new Executor(m).run(
      { ids: i64([0, 1, 2, 0, 1, 2], [2, 3]), x: Tensor.randn([2, 3, 8], 2) },
      { outputs: [e, att!, present!] },
    ).outputs;
    expect(out[e]!.shape).toEqual([2, 3]);
    expect(out[att!]!.shape).toEqual([2, 3, 8]);
    expect(out[present!]!.shape).toEqual([2, 2, 2, 3, 4]);
  });

  it('folds constant chains exactly (ConstantOfShape, Range, Expand)', () => {
    const b = new GraphBuilder('c');
    const x = b.input('x', 'float32', ['n', 4]);
    const r = b.op('Range', [
      b.constant('s', i64([0], [])),
      b.op('Gather', [b.op('Shape', [x]), b.constant('one', i64([1], []))]),
      b.constant('d', i64([1], [])),
    ]);
    const e = b.op('Expand', [b.op('Unsqueeze', [r, b.constant('a', i64([0]))]), b.op('Shape', [x])]);
    const c = b.op('ConstantOfShape', [b.op('Shape', [x])], { value: Tensor.from([1], [1], 'int64') });
    b.output(e, 'int64');
    const m = b.model(13);
    inferShapes(m);
    expect(m.graph.valueInfo.get(r)?.shape).toEqual([4]);
    expect(m.graph.valueInfo.get(e)?.shape).toEqual(['n', 4]);
    expect(m.graph.valueInfo.get(c)).toMatchObject({ dtype: 'int64', shape: ['n', 4] });
  });
});
