import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { analyzeFoldability, centerTensor, GraphBuilder, type Model, mapAxisThroughReshape } from '../src/index.js';

const D = 8;
let seed = 1;
const w = (b: GraphBuilder, name: string, shape: number[]) => b.constant(name, Tensor.randn(shape, seed++, { std: 0.3 }));
const ln = (b: GraphBuilder, x: string, name: string, d = D, axis = -1) =>
  b.op(
    'LayerNormalization',
    [x, b.constant(`${name}.g`, Tensor.ones([d])), b.constant(`${name}.b`, Tensor.zeros([d]))],
    { axis, epsilon: 1e-5 },
    { name },
  );

/** A pre-LN residual stream: x → dense → [+ branch(LN(h))] → LN_f → head. `tweak` edits it into an adversarial case. */
function preLn(tweak: (b: GraphBuilder, h: string, lnOut: string) => string | undefined = () => undefined): Model {
  const b = new GraphBuilder('preln');
  const x = b.input('x', 'float32', [2, 3, D]);
  const h0 = b.op('Add', [b.op('MatMul', [x, w(b, 'w_in', [D, D])], {}, { name: 'dense_in' }), w(b, 'b_in', [D])], {}, { name: 'bias_in' });
  const l1 = ln(b, h0, 'ln_1');
  const branch = b.op(
    'MatMul',
    [b.op('Relu', [b.op('MatMul', [l1, w(b, 'w_up', [D, 2 * D])])]), w(b, 'w_down', [2 * D, D])],
    {},
    { name: 'proj' },
  );
  const h1 = b.op('Add', [h0, branch], {}, { name: 'residual' });
  const replaced = tweak(b, h1, l1);
  const f = ln(b, replaced ?? h1, 'ln_f');
  b.output(b.op('MatMul', [f, w(b, 'head', [D, 5])], {}, { name: 'head' }));
  return b.model(17);
}

describe('analyzeFoldability', () => {
  it('folds a pre-LN residual stream: both LNs share sources and form one component', () => {
    const r = analyzeFoldability(preLn());
    expect(r.layerNorms.map((l) => [l.name, l.foldable])).toEqual([
      ['ln_1', true],
      ['ln_f', true],
    ]);
    expect(r.components).toHaveLength(1);
    expect(r.components[0]?.sources.map((s) => s.id).sort()).toEqual(['const:b_in@bias_in', 'dense_in', 'proj']);
    expect(r.layerNorms[1]?.reason).toMatch(/3 centerable source/);
  });

  it('stream also read by a graph output: not foldable, says so', () => {
    const m = preLn();
    m.graph.outputs.push({ name: 'residual_out', dtype: 'float32' });
    const r = analyzeFoldability(m);
    expect(r.layerNorms.every((l) => !l.foldable)).toBe(true);
    expect(r.components[0]?.reason).toMatch(/"residual_out" is a graph output/);
  });

  it('stream read by a non-LN consumer (a linear head on the raw stream): not foldable, names the node', () => {
    const r = analyzeFoldability(
      preLn((b, h) => {
        b.output(b.op('MatMul', [h, w(b, 'probe', [D, 2])], {}, { name: 'probe' }));
        return undefined;
      }),
    );
    expect(r.layerNorms.every((l) => !l.foldable)).toBe(true);
    expect(r.layerNorms[0]?.blockingNode).toBe('probe');
    expect(r.layerNorms[0]?.reason).toMatch(
      /probe \(MatMul\) reads the stream.*a linear layer over the normalized axis\); path: .*residual \(Add\) → probe \(MatMul\)/,
    );
  });

  it('nonlinearity on one branch of an add: blocked, with the path to the LN', () => {
    const r = analyzeFoldability(
      preLn((b, h) =>
        b.op('Add', [h, b.op('Tanh', [b.op('MatMul', [h, w(b, 'side', [D, D])])], {}, { name: 'tanh' })], {}, { name: 'join' }),
      ),
    );
    const f = r.layerNorms.find((l) => l.name === 'ln_f');
    expect(f?.foldable).toBe(false);
    expect(f?.blockingNode).toBe('tanh');
    expect(f?.path).toEqual(['join (Add)', 'tanh (Tanh)']);
    expect(f?.reason).toMatch(/blocked by "tanh" \(Tanh\): nonlinear activation; path: join \(Add\) ← tanh \(Tanh\)/);
    // ln_1 is fine upstream but shares the stream with `join`'s side branch, which reads it through a
    // MatMul: centering would change that branch, so the component is not foldable either.
    expect(r.layerNorms.find((l) => l.name === 'ln_1')?.foldable).toBe(false);
  });

  it('LN over an axis the sources do not center (conv output normalized over width)', () => {
    const b = new GraphBuilder('conv');
    const x = b.input('x', 'float32', [1, 3, 4, 4]);
    const c = b.op('Conv', [x, w(b, 'k', [4, 3, 3, 3]), w(b, 'kb', [4])], { pads: [1, 1, 1, 1] }, { name: 'conv' });
    b.output(ln(b, c, 'ln_w', 4));
    const r = analyzeFoldability(b.model(17));
    expect(r.layerNorms[0]?.foldable).toBe(false);
    expect(r.layerNorms[0]?.reason).toMatch(/"conv" \(Conv\): the normalized axis is not the output-channel axis/);
  });

  it('conv output normalized over channels (through a Transpose) is foldable; a depthwise conv is not', () => {
    const build = (group: number) => {
      const b = new GraphBuilder('conv');
      const x = b.input('x', 'float32', [1, 4, 4, 4]);
      const c = b.op('Conv', [x, w(b, 'k', [4, 4 / group, 3, 3])], { pads: [1, 1, 1, 1], group }, { name: 'conv' });
      b.output(ln(b, b.op('Transpose', [c], { perm: [0, 2, 3, 1] }), 'ln_c', 4));
      return analyzeFoldability(b.model(17));
    };
    expect(build(1).layerNorms[0]?.foldable).toBe(true);
    expect(build(1).components[0]?.sources[0]).toMatchObject({ kind: 'conv', params: [{ name: 'k', axis: -4 }] });
    const dw = build(4).layerNorms[0];
    expect(dw?.foldable).toBe(false);
    expect(dw?.reason).toMatch(/grouped\/depthwise conv \(group=4\)/);
  });

  it('a shared weight with a second, non-centerable use is reported and marked for untying', () => {
    const b = new GraphBuilder('tied');
    const ids = b.input('ids', 'int64', [1, 3]);
    const table = w(b, 'wte', [11, D]);
    const f = ln(b, b.op('Gather', [table, ids], {}, { name: 'embed' }), 'ln_f');
    b.output(b.op('MatMul', [f, b.op('Transpose', [table], { perm: [1, 0] }, { name: 'lm_head_T' })], {}, { name: 'lm_head' }));
    const r = analyzeFoldability(b.model(17));
    expect(r.layerNorms[0]?.foldable).toBe(true);
    expect(r.sharedWeights).toEqual([
      { initializer: 'wte', centeredBy: ['embed'], otherUses: [{ node: 'lm_head_T', op: 'Transpose' }], action: 'untie' },
    ]);
  });

  it('concatenating tokens along features (patch merging) passes the backward walk but fails the consumer check', () => {
    const b = new GraphBuilder('merge');
    const x = b.input('x', 'float32', [1, 4, D]);
    const h = b.op('MatMul', [x, w(b, 'w', [D, D])], {}, { name: 'dense' });
    const l1 = ln(b, h, 'ln_tok');
    const ints = (n: string, v: number[]) => b.constant(n, Tensor.from(v, [v.length], 'int64'));
    const even = b.op('Slice', [h, ints('s0', [0]), ints('e0', [4]), ints('a0', [1]), ints('p0', [2])]);
    const odd = b.op('Slice', [h, ints('s1', [1]), ints('e1', [4]), ints('a1', [1]), ints('p1', [2])]);
    const cat = b.op('Concat', [even, odd], { axis: -1 }, { name: 'merge' });
    b.output(l1);
    b.output(ln(b, cat, 'ln_merge', 2 * D));
    const r = analyzeFoldability(b.model(17));
    expect(r.layerNorms.map((l) => l.foldable)).toEqual([false, false]);
    expect(r.components[0]?.reason).toMatch(/merge \(Concat\).*concatenates along the normalized axis/);
  });

  it('multi-axis LN and raw graph inputs are reported, not folded', () => {
    const b = new GraphBuilder('raw');
    const x = b.input('x', 'float32', [2, 3, D]);
    b.output(ln(b, x, 'ln_raw'));
    b.output(
      b.op(
        'LayerNormalization',
        [b.op('MatMul', [x, w(b, 'w2', [D, D])]), b.constant('g2', Tensor.ones([3, D]))],
        { axis: -2 },
        { name: 'ln_2axes' },
      ),
    );
    const r = analyzeFoldability(b.model(17));
    expect(r.layerNorms[0]?.reason).toMatch(/raw graph input "x"/);
    expect(r.layerNorms[1]?.reason).toMatch(/normalizes over 2 axes/);
  });
});

describe('centerTensor and axis tracking', () => {
  it('centers W over the output axis (PAPERS §5 oracle 1): C·W = [[-2,-2],[0,0],[2,2]], C·b = [1,0,-1]', () => {
    // W is (out × in) = [[1,2],[3,4],[5,6]]; our MatMul weights are (in × out), i.e. Wᵀ, centered over axis -1.
    const wt = Tensor.from([
      [1, 3, 5],
      [2, 4, 6],
    ]);
    expect(Array.from(centerTensor(wt, -1))).toEqual([-2, 0, 2, -2, 0, 2]);
    expect(Array.from(centerTensor(Tensor.from([1, 0, -1]), -1))).toEqual([1, 0, -1]);
    // Conv kernel [M=2, C=1, 1, 1] centered over axis 0; a broadcast value centers to 0.
    expect(Array.from(centerTensor(Tensor.from([3, 5], [2, 1, 1, 1]), -4))).toEqual([-1, 1]);
    expect(Array.from(centerTensor(Tensor.from([7], [1]), -1))).toEqual([0]);
  });

  it('centering in float64 is exact to float32 rounding', () => {
    const t = Tensor.from([1e8, 1e8 + 8, 1e8 + 16, 3], [2, 2]);
    // Columns [1e8, 1e8+16] and [1e8+8, 3]: means 1e8+8 and 50000005.5, computed in float64.
    expect(Array.from(centerTensor(t, -2))).toEqual([-8, Math.fround(50000002.5), 8, Math.fround(-50000002.5)]);
  });

  it('tracks the feature axis through reshapes that keep it and refuses ones that split it', () => {
    expect(mapAxisThroughReshape([2, 3, 8], [6, 8], -1)).toBe(-1);
    expect(mapAxisThroughReshape([6, 8], [2, 3, 8], -1)).toBe(-1);
    expect(mapAxisThroughReshape([2, 3, 8], [2, 3, 2, 4], -1)).toBeUndefined();
    expect(mapAxisThroughReshape([2, 8, 3], [2, 8, 3, 1], -2)).toBe(-1);
    expect(mapAxisThroughReshape([2, 8, 3], [2, 8, 3, 1], -3)).toBe(-2);
    expect(mapAxisThroughReshape([undefined, undefined, 8], [undefined, 8], -1)).toBe(-1);
  });
});
