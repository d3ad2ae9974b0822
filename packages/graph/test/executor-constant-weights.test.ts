import { isConstantData, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Executor, GraphBuilder, LazyTensor } from '../src/index.js';

// The executor promises the GEMM that weights do not change (markConstant), so they are packed once:
// initializers and weights kept between runs are marked; streamed weights (re-read every run) are not.

/** y = x · W with W [4, 3] = 1..12 / 10, and the product by hand for x = [1, 1, 1, 1]: column sums. */
const W = Float32Array.from({ length: 12 }, (_, i) => (i + 1) / 10);
const colSums = [0, 1, 2].map((j) => [0, 1, 2, 3].reduce((s, k) => s + (W[k * 3 + j] as number), 0));

function model(w: Tensor) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 4]);
  const y = b.op('MatMul', [x, b.constant('w', w)]);
  b.output(y);
  return { m: b.model(17), y };
}

/** y equals the column sums of W (within 1e-5). */
function expectColSums(y: Tensor | undefined): void {
  const d = y?.data as Float32Array;
  for (let j = 0; j < 3; j++) expect(d[j]).toBeCloseTo(colSums[j] as number, 5);
}

describe('executor: constant weights', () => {
  const x = Tensor.ones([1, 4]);

  it('marks initializers constant when built', () => {
    const w = Tensor.from(W.slice(), [4, 3]);
    const { m, y } = model(w);
    const ex = new Executor(m);
    expect(isConstantData(w.data)).toBe(true);
    expectColSums(ex.run({ x }).outputs[y]);
  });

  it('marks a lazy weight kept between runs (streamWeights: false) once it is read', () => {
    const w = new LazyTensor([4, 3], 'float32', () => W.slice());
    const { m, y } = model(w);
    const ex = new Executor(m, { streamWeights: false });
    for (let run = 0; run < 2; run++) expectColSums(ex.run({ x }).outputs[y]);
    expect(w.loaded).toBe(true);
    expect(w.loads).toBe(1);
    expect(isConstantData(w.data)).toBe(true);
  });

  it('does not mark a streamed lazy weight (its values are read anew each run and dropped)', () => {
    const w = new LazyTensor([4, 3], 'float32', () => W.slice());
    const { m, y } = model(w);
    const ex = new Executor(m, { streamWeights: true });
    expectColSums(ex.run({ x }).outputs[y]);
    expect(w.loaded).toBe(false);
    expect(isConstantData(w.data)).toBe(false);
  });
});
