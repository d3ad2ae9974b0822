import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Executor, foldLayerNorms, GraphBuilder, isLazy, LazyTensor, type Model, randomInputs } from '../src/index.js';

/** x → MatMul(W1) + b → LN → MatMul(W2) → LN → y, with seeded weights (a pre-LN stack of two). */
function stack(seed: number): Model {
  const b = new GraphBuilder('stack');
  const x = b.input('x', 'float32', [2, 8]);
  const w1 = b.constant('W1', Tensor.randn([8, 16], seed));
  const h = b.op('Add', [b.op('MatMul', [x, w1]), b.constant('b1', Tensor.randn([16], seed + 1))]);
  const ln1 = b.op(
    'LayerNormalization',
    [h, b.constant('g1', Tensor.randn([16], seed + 2)), b.constant('be1', Tensor.randn([16], seed + 3))],
    {
      axis: -1,
      epsilon: 1e-5,
    },
  );
  const w2 = b.constant('W2', Tensor.randn([16, 16], seed + 4));
  const h2 = b.op('MatMul', [ln1, w2]);
  b.output(
    b.op(
      'LayerNormalization',
      [h2, b.constant('g2', Tensor.ones([16])), b.constant('be2', Tensor.zeros([16]))],
      { axis: -1, epsilon: 1e-5 },
      { output: 'y' },
    ),
  );
  return b.model(17);
}

/** The same model with every initializer replaced by a LazyTensor reading a copy of its values. */
function streamed(m: Model): { model: Model; lazy: Map<string, LazyTensor> } {
  const c = m.clone();
  const lazy = new Map<string, LazyTensor>();
  for (const [k, t] of c.graph.initializers) {
    const values = (t.data as Float32Array).slice();
    const l = new LazyTensor(t.shape, 'float32', () => values.slice());
    lazy.set(k, l);
    c.graph.initializers.set(k, l);
  }
  return { model: c, lazy };
}

describe('LazyTensor', () => {
  it('reads on first access, keeps the values until release(), then reads again', () => {
    let reads = 0;
    const t = new LazyTensor([2, 2], 'float32', () => {
      reads++;
      return new Float32Array([1, 2, 3, 4]);
    });
    expect(t.loaded).toBe(false);
    expect(t.shape).toEqual([2, 2]);
    expect(t.byteLength).toBe(16);
    expect(reads).toBe(0);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4]);
    expect(t.data[3]).toBe(4);
    expect(reads).toBe(1);
    t.release();
    expect(t.loaded).toBe(false);
    expect(t.reshape([4]).data[0]).toBe(1);
    expect(reads).toBe(2);
  });

  it('refuses a reader that gives the wrong number or kind of values (CORRUPT_TENSOR)', () => {
    expect(() => new LazyTensor([3], 'float32', () => new Float32Array(2)).data).toThrow(
      expect.objectContaining({ code: 'CORRUPT_TENSOR' }),
    );
    expect(() => new LazyTensor([2], 'float32', () => new Int32Array(2) as unknown as Float32Array).data).toThrow(
      expect.objectContaining({ code: 'CORRUPT_TENSOR' }),
    );
  });

  it('the executor reads each streamed weight once per run and releases it after its last reader; outputs are bit-identical', () => {
    const eager = stack(3);
    const { model, lazy } = streamed(eager);
    const feed = randomInputs(eager, 7);
    const want = new Executor(eager).run(feed).outputs.y?.data as Float32Array;
    const ex = new Executor(model, { streamWeights: true });
    for (const t of lazy.values()) expect(t.loaded).toBe(false);
    for (let run = 1; run <= 2; run++) {
      const got = ex.run(feed).outputs.y?.data as Float32Array;
      expect(Array.from(got)).toEqual(Array.from(want));
      for (const [k, t] of lazy) {
        expect(t.loaded, k).toBe(false);
        // Construction may read a weight once (fusion planning looks at constants); each run reads it once more.
        expect(t.loads - run, k).toBeLessThanOrEqual(1);
        expect(t.loads - run, k).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('with streamWeights: false the executor keeps each weight once read (one read for many runs)', () => {
    const eager = stack(4);
    const { model, lazy } = streamed(eager);
    const feed = randomInputs(eager, 2);
    const ex = new Executor(model, { streamWeights: false });
    const want = Array.from(new Executor(eager).run(feed).outputs.y?.data as Float32Array);
    for (let run = 0; run < 3; run++) expect(Array.from(ex.run(feed).outputs.y?.data as Float32Array)).toEqual(want);
    for (const [k, t] of lazy) expect(t.loads, k).toBe(1);
  });

  it('foldLayerNorms leaves streamed float32 weights unread: centered copies are lazy, and equal the eager fold bit for bit', () => {
    const eager = stack(11);
    const { model, lazy } = streamed(eager);
    const a = foldLayerNorms(eager, { verify: false });
    const b = foldLayerNorms(model, { verify: false });
    expect(b.report.folded.length).toBe(a.report.folded.length);
    expect(b.report.folded.length).toBeGreaterThan(0);
    for (const c of b.report.centered) {
      const t = b.model.graph.initializers.get(c.into);
      expect(isLazy(t), c.into).toBe(true);
      expect((t as LazyTensor).loaded).toBe(false);
    }
    // The fold read only the small parameters it needs values of (γ, β for moving β into W2's bias); W1 and W2 were not read.
    expect(lazy.get('W1')?.loads).toBe(0);
    expect(lazy.get('W1')?.loaded).toBe(false);
    for (const c of a.report.centered) {
      const want = a.model.graph.initializers.get(c.into)?.data as Float32Array;
      const got = b.model.graph.initializers.get(c.into)?.data as Float32Array;
      expect(Array.from(got), c.into).toEqual(Array.from(want));
    }
    const feed = randomInputs(eager, 5);
    expect(Array.from(new Executor(b.model).run(feed).outputs.y?.data as Float32Array)).toEqual(
      Array.from(new Executor(a.model).run(feed).outputs.y?.data as Float32Array),
    );
  });
});
