// Swin pads odd-sized feature maps with zeros before window attention and patch merging. Zero tokens
// are zero-mean, so the padding itself never blocks folding; the patch-merging Concat of four tokens
// along the features does, and the verdict must name it (not the Pad).
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { analyzeFoldability, foldLayerNorms, GraphBuilder, type Model } from '../src/index.js';

const D = 4;
const ints = (b: GraphBuilder, name: string, v: number[]) => b.constant(name, Tensor.from(v, [v.length], 'int64'));
const ln = (b: GraphBuilder, x: string, d: number, name: string) =>
  b.op(
    'LayerNormalization',
    [x, b.constant(`${name}.g`, Tensor.ones([d])), b.constant(`${name}.b`, Tensor.zeros([d]))],
    { axis: -1 },
    { name },
  );

/** NHWC stream from a dense layer, zero-padded on H and W (3×3 → 4×4), then `tail`. */
function padded(tail: (b: GraphBuilder, p: string) => string, value = 0): Model {
  const b = new GraphBuilder('swin-pad');
  const x = b.input('x', 'float32', [1, 3, 3, D]);
  const h = b.op('MatMul', [x, b.constant('w', Tensor.randn([D, D], 3))], {}, { name: 'dense' });
  const p = b.op(
    'Pad',
    [h, ints(b, 'pads', [0, 0, 0, 0, 0, 1, 1, 0]), b.constant('pv', Tensor.scalar(value))],
    { mode: 'constant' },
    { name: 'pad' },
  );
  b.output(tail(b, p));
  return b.model(17);
}

/** Swin patch merging: the four 2×2-strided sub-grids concatenated along the features, then LN(4D). */
function patchMerge(b: GraphBuilder, p: string): string {
  const part = (h0: number, w0: number) =>
    b.op('Slice', [
      p,
      ints(b, `s${h0}${w0}`, [h0, w0]),
      ints(b, `e${h0}${w0}`, [4, 4]),
      ints(b, `a${h0}${w0}`, [1, 2]),
      ints(b, `st${h0}${w0}`, [2, 2]),
    ]);
  const cat = b.op('Concat', [part(0, 0), part(1, 0), part(0, 1), part(1, 1)], { axis: -1 }, { name: 'merge_concat' });
  return ln(b, cat, 4 * D, 'merge_norm');
}

describe('Pad and Concat in the foldability analysis', () => {
  it('zero padding of the token axes propagates: LN(Pad(dense)) folds and matches the original', () => {
    const m = padded((b, p) => ln(b, p, D, 'norm'));
    expect(analyzeFoldability(m).layerNorms[0]?.foldable).toBe(true);
    expect(foldLayerNorms(m).verification?.equivalent).toBe(true);
  });

  it('padding with a non-zero constant blocks, naming the Pad and the value', () => {
    const v = analyzeFoldability(padded((b, p) => ln(b, p, D, 'norm'), 1)).layerNorms[0];
    expect(v?.foldable).toBe(false);
    expect(v?.blockingNode).toBe('pad');
    expect(v?.reason).toMatch(/pads with the constant 1/);
  });

  it('patch merging after a zero Pad is blamed on the Concat of four tokens, not on the Pad', () => {
    const v = analyzeFoldability(padded(patchMerge)).layerNorms[0];
    expect(v?.foldable).toBe(false);
    expect(v?.blockingNode).toBe('merge_concat');
    expect(v?.reason).toMatch(/concatenates along the normalized axis/);
  });
});
