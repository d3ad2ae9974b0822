// Hostile sizes in a small file: the analysis needs shapes, not values, so a dim, an axis or a
// ConstantOfShape target of 2^31 must neither allocate it nor hang — found by fuzzing real models.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { analyzeFoldability, GraphBuilder, inferShapes, type Model, recognizeLayerNorms } from '../src/index.js';

const HUGE = 2 ** 31;
const D = 8;

/** A pre-LN block whose stream input passes through `tweak` (which may add hostile nodes). */
function block(tweak: (b: GraphBuilder, x: string) => string, xShape: (number | string)[] = [2, D]): Model {
  const b = new GraphBuilder('hostile');
  const x = b.input('x', 'float32', xShape);
  const h = b.op('MatMul', [tweak(b, x), b.constant('w', Tensor.randn([D, D], 1))], {}, { name: 'dense' });
  const g = b.constant('g', Tensor.ones([D]));
  const beta = b.constant('beta', Tensor.zeros([D]));
  b.output(b.op('LayerNormalization', [h, g, beta], { axis: -1, epsilon: 1e-5 }, { name: 'ln' }));
  return b.model(17);
}

/** Runs the whole analysis and returns the heap growth in MB. */
function analyzeAll(m: Model): number {
  const before = process.memoryUsage().rss;
  inferShapes(m.clone());
  analyzeFoldability(recognizeLayerNorms(m).model);
  return (process.memoryUsage().rss - before) / 2 ** 20;
}

describe('analysis on hostile sizes (bounded memory, no hang)', () => {
  it('an input dim of 2^31 is a number to the analysis, not an allocation', () => {
    const grown = analyzeAll(block((b, x) => b.op('Add', [x, b.op('ConstantOfShape', [b.op('Shape', [x])])]), [HUGE, D]));
    expect(grown).toBeLessThan(200);
  });

  it('a ConstantOfShape target of 12000 × 12000 (576 MB) is not materialised', () => {
    const big = (b: GraphBuilder, x: string) => {
      const c = b.op('ConstantOfShape', [b.constant('big', Tensor.from([12000, 12000], [2], 'int64'))], { value: Tensor.from([1], [1]) });
      const s = b.op('ReduceSum', [c], { keepdims: 0 });
      return b.op('Add', [x, s]);
    };
    expect(analyzeAll(block(big))).toBeLessThan(200);
  });

  it('a Slice axis of 2^31 and a Range of 2^31 elements are refused or left unknown, not allocated', () => {
    const slice = (b: GraphBuilder, x: string) =>
      b.op('Slice', [
        x,
        b.constant('st', Tensor.from([0], [1], 'int64')),
        b.constant('en', Tensor.from([1], [1], 'int64')),
        b.constant('ax', Tensor.from([HUGE], [1], 'int64')),
      ]);
    expect(analyzeAll(block(slice))).toBeLessThan(200);
    const range = (b: GraphBuilder, x: string) => {
      const r = b.op('Range', [
        b.constant('r0', Tensor.scalar(0, 'int64')),
        b.constant('r1', Tensor.scalar(HUGE, 'int64')),
        b.constant('r2', Tensor.scalar(1, 'int64')),
      ]);
      return b.op('Add', [x, b.op('Cast', [b.op('ReduceSum', [r], { keepdims: 0 })], { to: 1 })]);
    };
    expect(analyzeAll(block(range))).toBeLessThan(200);
  });

  it('a rank taken from a 2^31 dim does not build a 2^31-long shape', () => {
    // ConstantOfShape of an unknown-valued shape vector whose LENGTH is 2^31.
    const rank = (b: GraphBuilder, x: string) => {
      const v = b.input('v', 'int64', [HUGE]);
      return b.op('Add', [x, b.op('ReduceSum', [b.op('ConstantOfShape', [v])], { keepdims: 0 })]);
    };
    expect(analyzeAll(block(rank))).toBeLessThan(200);
  });
});
