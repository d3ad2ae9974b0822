// The graph-level causes behind the fuzz campaign's findings (apps/convert-bench/scripts/fuzz.ts; the
// real-model replays are in packages/onnx/test/fuzz-regressions.test.ts): the recognizer wrote a γ of
// the declared normalized shape (2^31 floats), and shape inference indexed a shape array with an
// unchecked axis (a 2^31-long sparse array that later loops walked).
import { NormkitError, setMaxTensorElements, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  analyzeFoldability,
  execute,
  foldLayerNorms,
  GraphBuilder,
  inferShapes,
  type Model,
  randomInputs,
  recognizeLayerNorms,
} from '../src/index.js';

const HUGE = 2 ** 31;

/** An RMSNorm without γ (Pow → ReduceMean → Add → Sqrt → Div) over the last axis of x: [2, d]. */
function rmsNoScale(d: number): Model {
  const b = new GraphBuilder('rms');
  const x = b.input('x', 'float32', [2, d]);
  const sq = b.op('Pow', [x, b.constant('two', Tensor.scalar(2))]);
  const ms = b.op('ReduceMean', [sq], { axes: [-1], keepdims: 1 });
  const sd = b.op('Sqrt', [b.op('Add', [ms, b.constant('eps', Tensor.scalar(1e-6))])]);
  b.output(b.op('Div', [x, sd], {}, { name: 'rms_div' }));
  return b.model(17);
}

/** Resident plus array-buffer memory in MiB (a typed array of 2^31 floats shows in both). */
const mib = () => (process.memoryUsage().rss + process.memoryUsage().arrayBuffers) / 2 ** 20;

/** What `fn` throws (undefined when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('recognizeLayerNorms never allocates a γ/β from an unchecked declared dim', () => {
  it('a normalized dim of 2^31 is TENSOR_TOO_LARGE naming the node, the value and the fix', () => {
    const before = mib();
    const error = thrown(() => recognizeLayerNorms(rmsNoScale(HUGE)));
    expect(mib() - before).toBeLessThan(200);
    expect(error).toBeInstanceOf(NormkitError);
    const e = error as NormkitError;
    expect(e.code).toBe('TENSOR_TOO_LARGE');
    expect(e.message).toContain('γ (scale) of the RMSNormalization at "rms_div"');
    expect(e.message).toContain('"x"');
    expect(e.message).toContain('fix or remove it');
    expect(e.details).toMatchObject({ value: 'x', shape: [HUGE] });
  });

  it('a 2^53 dim (past any typed array) is the same typed error, not a RangeError', () => {
    const error = thrown(() => recognizeLayerNorms(rmsNoScale(2 ** 53)));
    expect((error as NormkitError).code).toBe('TENSOR_TOO_LARGE');
  });

  it('a real width still gets its γ of ones (exactly 1.0, the normalized shape)', () => {
    const r = recognizeLayerNorms(rmsNoScale(768));
    expect(r.fused).toHaveLength(1);
    const node = r.model.graph.nodes.find((n) => n.opType === 'SimplifiedLayerNormalization');
    const g = r.model.graph.initializers.get(node?.inputs[1] as string);
    expect(g?.shape).toEqual([768]);
    expect([...(g?.toFlatArray() ?? [])].every((v) => v === 1)).toBe(true);
  });
});

describe('shape inference refuses an axis outside the rank instead of indexing with it', () => {
  it('Concat axis 2^31: output shape unknown, no 2^31-long shape array, bounded memory', () => {
    const b = new GraphBuilder('cat');
    const x = b.input('x', 'float32', [2, 4]);
    const c = b.op('Concat', [x, x], { axis: HUGE }, { name: 'cat' });
    b.output(b.op('Relu', [c]));
    const m = b.model(17);
    const before = mib();
    expect(inferShapes(m.clone()).get(c)?.shape).toBeUndefined();
    analyzeFoldability(recognizeLayerNorms(m).model);
    expect(mib() - before).toBeLessThan(200);
  });

  it('Resize axes [2^31]: output shape unknown', () => {
    const b = new GraphBuilder('resize');
    const x = b.input('x', 'float32', [1, 3, 8, 8]);
    const sizes = b.constant('sizes', Tensor.from([16], [1], 'int64'));
    const y = b.op('Resize', [x, '', '', sizes], { axes: [HUGE] }, { name: 'rs' });
    b.output(y);
    const m = b.model(18);
    const before = mib();
    expect(inferShapes(m.clone()).get(y)?.shape).toBeUndefined();
    expect(mib() - before).toBeLessThan(200);
  });
});

describe('randomInputs (and so foldLayerNorms’ verification) checks declared sizes before allocating', () => {
  /** token ids [n] → Gather from an embedding table → LayerNorm. */
  function embedLn(n: number): Model {
    const b = new GraphBuilder('embed');
    const ids = b.input('input_ids', 'int64', [n]);
    const e = b.op('Gather', [b.constant('table', Tensor.randn([16, 8], 1)), ids], { axis: 0 });
    b.output(b.op('LayerNormalization', [e, b.constant('g', Tensor.ones([8])), b.constant('b', Tensor.zeros([8]))], { axis: -1 }));
    return b.model(17);
  }

  it('an int64 input declared [2^31] is TENSOR_TOO_LARGE naming the input (was a fatal heap OOM)', () => {
    const before = mib();
    const error = thrown(() => randomInputs(embedLn(HUGE), 0));
    expect(mib() - before).toBeLessThan(200);
    expect(error).toBeInstanceOf(NormkitError);
    expect((error as NormkitError).code).toBe('TENSOR_TOO_LARGE');
    expect((error as NormkitError).message).toContain('randomInputs: input "input_ids" of shape [2147483648]');
    expect((error as NormkitError).details).toMatchObject({ input: 'input_ids' });
  });

  it('foldLayerNorms with its default verification says the same instead of allocating', () => {
    const error = thrown(() => foldLayerNorms(embedLn(HUGE)));
    expect((error as NormkitError).code).toBe('TENSOR_TOO_LARGE');
  });

  it('a negative size for a symbolic dim is INVALID_SHAPE; real sizes still feed', () => {
    const b = new GraphBuilder('sym');
    b.output(b.op('Relu', [b.input('x', 'float32', ['batch', 8])]));
    const m = b.model(17);
    expect((thrown(() => randomInputs(m, 0, { batch: -3 })) as NormkitError).code).toBe('INVALID_SHAPE');
    expect(randomInputs(m, 0, { batch: 3 }).x?.shape).toEqual([3, 8]);
    expect(randomInputs(embedLn(12), 0).input_ids?.shape).toEqual([12]);
  });
});

describe('Gather refuses float indices instead of reading a weight as indices', () => {
  it('a Conv mutated into Gather(x, W) is INVALID_NODE naming the node and the input (was a 5.6 GB output)', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 3, 224, 224]);
    b.output(b.op('Gather', [x, b.constant('W', Tensor.randn([64, 3, 7, 7], 1))], {}, { name: 'n0' }));
    const e = thrown(() => execute(b.model(13), { x: Tensor.zeros([1, 3, 224, 224]) })) as NormkitError;
    expect(e).toBeInstanceOf(NormkitError);
    expect(e.code).toBe('INVALID_NODE');
    expect(e.message).toContain('"n0"');
    expect(e.message).toContain('int32 or int64, got float32');
  });

  it('int64 indices still gather (rows 2 and 0 of a 3 × 2 table)', () => {
    const b = new GraphBuilder('g');
    const t = b.input('t', 'float32', [3, 2]);
    const y = b.op('Gather', [t, b.constant('i', Tensor.from([2, 0], [2], 'int64'))]);
    b.output(y);
    const out = execute(b.model(13), { t: Tensor.from([1, 2, 3, 4, 5, 6], [3, 2]) }).outputs[y] as Tensor;
    expect(Array.from(out.data as Float32Array)).toEqual([5, 6, 1, 2]);
  });
});

describe('shape inference keeps a non-integer value symbolic instead of building an int64 constant of it', () => {
  // Fuzz seed 20261207 #32980 / #49433: a float value (NaN, 0.5) reached shape arithmetic in a corrupt
  // file (an int64 initializer retyped as double), and inference built an int64 tensor of it (BigInt RangeError).
  for (const v of [Number.NaN, 0.5]) {
    it(`Shape(x) + [${v}] then Gather: shapes inferred, no throw`, () => {
      const b = new GraphBuilder('g');
      const x = b.input('x', 'float32', ['n', 3]);
      const sum = b.op('Add', [b.op('Shape', [x]), b.constant('f', Tensor.from([v], [1], 'float64'))]);
      const g = b.op('Gather', [sum, b.constant('one', Tensor.from([1], [], 'int64'))], { axis: 0 });
      b.output(g, 'int64');
      const m = b.model(13);
      expect(() => inferShapes(m)).not.toThrow();
      expect(inferShapes(m).get(g)?.shape).toEqual([]);
      expect(() => analyzeFoldability(m)).not.toThrow();
    });
  }
});

describe('graph outputs declared float16 (fuzz seed 20261207 #2680, #3065 and 10 more: a mutated output type)', () => {
  it('an op whose output is int64 though the graph declares float16 (or bfloat16) is returned as computed', () => {
    for (const elemType of ['float16', 'bfloat16']) {
      const b = new GraphBuilder('nz');
      const x = b.input('x', 'float32', [2, 3]);
      const y = b.op('NonZero', [x]);
      b.graph.outputs.push({ name: y, elemType });
      const out = execute(b.model(13), { x: Tensor.from([0, 1, 0, 2, 0, 3], [2, 3]) }).outputs[y] as Tensor;
      expect(out.dtype).toBe('int64');
      expect(out.toArray()).toEqual([
        [0, 1, 1],
        [1, 0, 2],
      ]);
    }
  });
});

describe('Conv keeps im2col to bounded chunks (fuzz seed 20261207 #8045: a Conv padded by 65536, a 31 GB im2col)', () => {
  // The column matrix has Cin·kh·kw rows and one column per output position: 9× the output for
  // Cin = Cout = 16 and a 3×3 kernel (outputs here 67 and 131 MB, the old im2col 0.6 and 1.18 GB). The
  // bound on resident growth is the output plus 256 MiB (the 32 MiB chunk budget and the GEMM's
  // memory, with slack); the first test runs first, before the GEMM's memory has grown.
  const run = (pads: number[], W: number) => {
    const b = new GraphBuilder('conv');
    const x = b.input('x', 'float32', [1, 16, 64, W]);
    const y = b.op(
      'Conv',
      [x, b.constant('w', Tensor.randn([16, 16, 3, 3], 1)), b.constant('b', Tensor.ones([16]))],
      { pads },
      { name: 'n12' },
    );
    b.output(y);
    const rss = process.memoryUsage().rss;
    const out = execute(b.model(13), { x: Tensor.randn([1, 16, 64, W], 2) }).outputs[y] as Tensor;
    return { out, grew: process.memoryUsage().rss - rss };
  };

  it('padded 65536 above (as in the finding): only the rows that reach the input are computed', () => {
    const t = performance.now();
    const { out, grew } = run([65536, 1, 1, 1], 16);
    expect(out.shape).toEqual([1, 16, 65599, 16]);
    expect(grew).toBeLessThan(out.size * 4 + 256 * 2 ** 20);
    expect(performance.now() - t).toBeLessThan(20_000); // the fuzz campaign's hang limit
    const d = out.data as Float32Array;
    expect(d[0]).toBe(1);
    expect(d[65599 * 16 - 1]).not.toBe(1);
  });

  it('under a per-tensor cap (setMaxTensorElements, as a service or the fuzz campaign sets it): TENSOR_TOO_LARGE naming the node, nothing allocated', () => {
    const before = setMaxTensorElements(2 ** 20);
    try {
      const rss = process.memoryUsage().rss;
      const e = thrown(() => run([65536, 1, 1, 1], 16));
      expect(e).toBeInstanceOf(NormkitError);
      expect((e as NormkitError).code).toBe('TENSOR_TOO_LARGE');
      expect((e as Error).message).toMatch(/n12.*16793344 elements, over the limit of 1048576/s);
      expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20); // the 67 MB output was never allocated
    } finally {
      setMaxTensorElements(before);
    }
  });

  it('padded 16000 left and right: every chunk computed, resident growth below the output + 256 MiB', () => {
    const { out, grew } = run([1, 16000, 1, 16000], 16);
    expect(out.shape).toEqual([1, 16, 64, 32014]);
    const outBytes = out.size * 4;
    expect(outBytes).toBeGreaterThan(128e6);
    expect(grew).toBeLessThan(outBytes + 256 * 2 ** 20); // the old im2col alone: 9 × outBytes
    // Far in the padding a channel's output is its bias (1); next to the input it is not.
    const d = out.data as Float32Array;
    expect(d[5]).toBe(1);
    expect(d[16000]).not.toBe(1);
  });
});
