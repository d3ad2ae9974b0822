// Shape and data-movement ops, constants, and the host-data ops (TopK, CumSum, ScatterND, Trilu, ...),
// with hand-computed expectations and opset variants.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { execute, GraphBuilder } from '../src/index.js';
import { errorOf, expectClose, runOp } from './executor-helpers.js';

const f = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length]);
const i64 = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length], 'int64');
const iota = (shape: number[]) =>
  Tensor.arange(
    0,
    shape.reduce((a, b) => a * b, 1),
  ).reshape(shape);

describe('Reshape / Transpose / Flatten / Squeeze / Unsqueeze', () => {
  const x = iota([2, 3, 4]);
  it('Reshape with 0 (copy) and -1, and allowzero', () => {
    expect(runOp('Reshape', [x, i64([0, -1])])[0]!.shape).toEqual([2, 12]);
    expect(runOp('Reshape', [x, i64([-1, 0, 2])])[0]!.shape).toEqual([4, 3, 2]);
    expect(runOp('Reshape', [Tensor.zeros([0, 3]), i64([3, 0])], { allowzero: 1 }, { opset: 14 })[0]!.shape).toEqual([3, 0]);
    expect(runOp('Reshape', [f([5], [1, 1]), i64([])])[0]!.shape).toEqual([]);
    const e = errorOf(() => runOp('Reshape', [x, i64([5, -1])]));
    expect(e.message).toContain('[2, 3, 4]');
  });
  it('Transpose with and without perm', () => {
    const y = runOp('Transpose', [x], { perm: [2, 0, 1] })[0]!;
    expect(y.shape).toEqual([4, 2, 3]);
    expect(y.toFlatArray().slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
    expect(runOp('Transpose', [x])[0]!.shape).toEqual([4, 3, 2]);
  });
  it('Flatten at positive, zero and negative axes', () => {
    expect(runOp('Flatten', [x])[0]!.shape).toEqual([2, 12]);
    expect(runOp('Flatten', [x], { axis: 0 })[0]!.shape).toEqual([1, 24]);
    expect(runOp('Flatten', [x], { axis: -1 })[0]!.shape).toEqual([6, 4]);
  });
  it('Squeeze / Unsqueeze: axes attribute (opset 11) and input (opset 13)', () => {
    const y = iota([1, 3, 1]);
    expect(runOp('Squeeze', [y], { axes: [0] }, { opset: 11 })[0]!.shape).toEqual([3, 1]);
    expect(runOp('Squeeze', [y, { const: i64([-1]) }], {}, { opset: 13 })[0]!.shape).toEqual([1, 3]);
    expect(runOp('Squeeze', [y], {}, { opset: 13 })[0]!.shape).toEqual([3]);
    expect(runOp('Unsqueeze', [y], { axes: [0, 4] }, { opset: 11 })[0]!.shape).toEqual([1, 1, 3, 1, 1]);
    expect(runOp('Unsqueeze', [f([7], []), { const: i64([0]) }], {}, { opset: 13 })[0]!.shape).toEqual([1]);
  });
});

describe('Concat / Split / Slice / Gather', () => {
  it('Concat, including empty inputs and a rank-0 input among rank-1 ones', () => {
    expectClose(runOp('Concat', [f([1, 2], [1, 2]), f([3, 4, 5, 6], [2, 2])], { axis: 0 })[0]!, [1, 2, 3, 4, 5, 6], [3, 2]);
    expectClose(runOp('Concat', [f([1, 2]), f([]), f([3])], { axis: -1 })[0]!, [1, 2, 3], [3]);
    expect(runOp('Concat', [i64([1, 2]), i64([3], [])], { axis: 0 })[0]!.toFlatArray()).toEqual([1, 2, 3]);
  });
  it('Split: split attribute (opset 11), input (opset 13), equal parts, num_outputs (opset 18)', () => {
    const x = iota([2, 5]);
    const [a, b] = runOp('Split', [x], { axis: 1, split: [2, 3] }, { opset: 11, outputs: 2 });
    expect(a!.toFlatArray()).toEqual([0, 1, 5, 6]);
    expect(b!.shape).toEqual([2, 3]);
    const [c, d] = runOp('Split', [x, { const: i64([4, 1]) }], { axis: -1 }, { opset: 13, outputs: 2 });
    expect(c!.shape).toEqual([2, 4]);
    expect(d!.toFlatArray()).toEqual([4, 9]);
    const [e, g] = runOp('Split', [iota([4])], {}, { opset: 13, outputs: 2 });
    expect(e!.toFlatArray()).toEqual([0, 1]);
    expect(g!.toFlatArray()).toEqual([2, 3]);
    const parts = runOp('Split', [iota([5])], { num_outputs: 3 }, { opset: 18, outputs: 3 });
    expect(parts.map((p) => p.toFlatArray())).toEqual([[0, 1], [2, 3], [4]]);
    expect(errorOf(() => runOp('Split', [iota([5])], {}, { opset: 13, outputs: 2 })).code).toBe('INVALID_NODE');
  });
  it('Slice: inputs with negative steps and clamping (opset 13), attributes (opset 9)', () => {
    const x = iota([3, 4]);
    expect(runOp('Slice', [x, i64([0, 1]), i64([2, 3])])[0]!.toFlatArray()).toEqual([1, 2, 5, 6]);
    expect(runOp('Slice', [x, i64([-1]), i64([-1e18]), i64([1]), i64([-2])])[0]!.toFlatArray()).toEqual([3, 1, 7, 5, 11, 9]);
    expect(runOp('Slice', [x, i64([1]), i64([1e18]), i64([0])])[0]!.shape).toEqual([2, 4]);
    expect(runOp('Slice', [x], { starts: [1], ends: [2], axes: [1] }, { opset: 9 })[0]!.toFlatArray()).toEqual([1, 5, 9]);
  });
  it('Gather with negative and scalar indices; GatherElements; GatherND', () => {
    const x = iota([3, 2]);
    expect(runOp('Gather', [x, i64([-1, 0])])[0]!.toFlatArray()).toEqual([4, 5, 0, 1]);
    const s = runOp('Gather', [x, i64([1], [])], { axis: 1 })[0]!;
    expect(s.shape).toEqual([3]);
    expect(s.toFlatArray()).toEqual([1, 3, 5]);
    expect(runOp('GatherElements', [x, i64([1, 0, 0, 1, -1, 0], [3, 2])], { axis: 1 })[0]!.toFlatArray()).toEqual([1, 0, 2, 3, 5, 4]);
    expect(runOp('GatherND', [x, i64([2, 1, 0, 0], [2, 2])])[0]!.toFlatArray()).toEqual([5, 0]);
    expect(runOp('GatherND', [x, i64([1, 2], [2, 1])])[0]!.toFlatArray()).toEqual([2, 3, 4, 5]);
    expect(errorOf(() => runOp('Gather', [x, i64([3])])).code).toBe('INDEX_OUT_OF_RANGE');
  });
});

describe('Shape, Size, Cast, constants', () => {
  const x = iota([2, 3, 4]);
  it('Shape with start/end; Size', () => {
    expect(runOp('Shape', [x])[0]!.toFlatArray()).toEqual([2, 3, 4]);
    expect(runOp('Shape', [x], { start: 1 }, { opset: 15 })[0]!.toFlatArray()).toEqual([3, 4]);
    expect(runOp('Shape', [x], { start: -2, end: -1 }, { opset: 15 })[0]!.toFlatArray()).toEqual([3]);
    const sz = runOp('Size', [x])[0]!;
    expect(sz.shape).toEqual([]);
    expect(sz.dtype).toBe('int64');
    expect(sz.toFlatArray()).toEqual([24]);
  });
  it('Cast (to int truncates, to bool, to narrow types rounds or wraps) and CastLike; unsupported target types are refused', () => {
    const y = runOp('Cast', [f([1.7, -1.7, 0])], { to: 7 })[0]!;
    expect(y.dtype).toBe('int64');
    expect(y.toFlatArray()).toEqual([1, -1, 0]);
    expect(runOp('Cast', [f([2, 0])], { to: 9 })[0]!.toFlatArray()).toEqual([1, 0]);
    expect(runOp('CastLike', [i64([3]), f([0])])[0]!.dtype).toBe('float32');
    // float16 is held in float32, every value rounded to the nearest half (ties to even); 65520 overflows.
    expect(runOp('Cast', [f([1.0001, 1 + 2 ** -11, 65520])], { to: 10 })[0]!.toFlatArray()).toEqual([1, 1, Infinity]);
    expect(runOp('Cast', [f([300, -129])], { to: 3 })[0]!.toFlatArray()).toEqual([44, 127]); // int8 wraps
    const e = errorOf(() => runOp('Cast', [f([1])], { to: 8 }));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toContain('string');
  });
  it('Constant: value, value_float(s), value_int(s)', () => {
    const run = (attrs: Record<string, number | number[] | Tensor>) => runOp('Constant', [], attrs)[0]!;
    expect(run({ value: f([1, 2]) }).toFlatArray()).toEqual([1, 2]);
    const vf = run({ value_float: { type: 'float', value: 2 } as never });
    expect([vf.dtype, vf.shape, vf.toFlatArray()]).toEqual(['float32', [], [2]]);
    expect(run({ value_floats: [0.5, 1.5] }).toFlatArray()).toEqual([0.5, 1.5]);
    const vi = run({ value_int: 3 });
    expect([vi.dtype, vi.shape]).toEqual(['int64', []]);
    expect(run({ value_ints: [1, 2, 3] }).toFlatArray()).toEqual([1, 2, 3]);
  });
  it('ConstantOfShape (default zero float, given value and dtype, empty shape = scalar)', () => {
    const z = runOp('ConstantOfShape', [i64([2, 2])])[0]!;
    expect([z.dtype, z.shape, z.toFlatArray()]).toEqual(['float32', [2, 2], [0, 0, 0, 0]]);
    const o = runOp('ConstantOfShape', [i64([3])], { value: i64([7], [1]) })[0]!;
    expect([o.dtype, o.toFlatArray()]).toEqual(['int64', [7, 7, 7]]);
    expect(runOp('ConstantOfShape', [i64([])], { value: f([1], [1]) })[0]!.shape).toEqual([]);
  });
  it('Range (float and int, negative delta, empty)', () => {
    expectClose(runOp('Range', [f([1], []), f([2], []), f([0.25], [])])[0]!, [1, 1.25, 1.5, 1.75]);
    expect(runOp('Range', [i64([10], []), i64([4], []), i64([-3], [])])[0]!.toFlatArray()).toEqual([10, 7]);
    expect(runOp('Range', [i64([0], []), i64([0], []), i64([1], [])])[0]!.shape).toEqual([0]);
  });
});

describe('Expand / Tile / Pad / Dropout / Identity', () => {
  it('Expand with a shape of lower rank and with ones', () => {
    expect(runOp('Expand', [f([1, 2, 3], [3, 1]), i64([2, 1, 2])])[0]!.toFlatArray()).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    expect(runOp('Expand', [iota([2, 3]), i64([3])])[0]!.shape).toEqual([2, 3]);
  });
  it('Tile', () => {
    expect(runOp('Tile', [f([1, 2], [1, 2]), i64([2, 2])])[0]!.toFlatArray()).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
  });
  it('Pad: constant/reflect/edge modes, inputs (opset 11+) and attributes (opset 2), axes (opset 18), negative pads', () => {
    const x = f([1, 2, 3]);
    expect(runOp('Pad', [x, i64([1, 2]), f([9], [])], {}, { opset: 13 })[0]!.toFlatArray()).toEqual([9, 1, 2, 3, 9, 9]);
    expect(runOp('Pad', [x, i64([2, 1])], { mode: 'reflect' }, { opset: 13 })[0]!.toFlatArray()).toEqual([3, 2, 1, 2, 3, 2]);
    expect(runOp('Pad', [x, i64([2, 1])], { mode: 'edge' }, { opset: 13 })[0]!.toFlatArray()).toEqual([1, 1, 1, 2, 3, 3]);
    expect(runOp('Pad', [x], { pads: [1, 0], value: 5 }, { opset: 2 })[0]!.toFlatArray()).toEqual([5, 1, 2, 3]);
    expect(runOp('Pad', [x, i64([-1, 1])], {}, { opset: 13 })[0]!.toFlatArray()).toEqual([2, 3, 0]);
    const m = iota([2, 2]);
    expect(runOp('Pad', [m, i64([1, 0]), undefined, i64([1])], {}, { opset: 18 })[0]!.toFlatArray()).toEqual([0, 0, 1, 0, 2, 3]);
    expect(errorOf(() => runOp('Pad', [x, i64([1, 1])], { mode: 'wrap' }, { opset: 19 })).code).toBe('UNSUPPORTED_OP');
  });
  it('Dropout in inference returns its input and an all-true mask', () => {
    const x = f([1, 2]);
    const [y, mask] = runOp('Dropout', [x, f([0.5], [])], {}, { opset: 13, outputs: 2 });
    expect(y!.toFlatArray()).toEqual([1, 2]);
    expect([mask!.dtype, mask!.toFlatArray()]).toEqual(['bool', [1, 1]]);
    expect(errorOf(() => runOp('Dropout', [x, f([0.5], []), Tensor.from([1], [], 'bool')], {}, { opset: 13 })).code).toBe('UNSUPPORTED_OP');
  });
});

describe('host-data ops', () => {
  it('TopK: largest/smallest, ties keep the lower index, K as input (opset 10+) and attribute (opset 1)', () => {
    const x = f([1, 3, 3, 2, 0, 5], [2, 3]);
    const [v, i] = runOp('TopK', [x, i64([2])], {}, { outputs: 2 });
    expect(v!.toFlatArray()).toEqual([3, 3, 5, 2]);
    expect(i!.toFlatArray()).toEqual([1, 2, 2, 0]);
    const [v2, i2] = runOp('TopK', [x, i64([1])], { largest: 0, axis: 0 }, { outputs: 2 });
    expect(v2!.toFlatArray()).toEqual([1, 0, 3]);
    expect(i2!.toFlatArray()).toEqual([0, 1, 0]);
    expect(runOp('TopK', [x], { k: 1 }, { opset: 1, outputs: 2 })[0]!.toFlatArray()).toEqual([3, 5]);
  });
  it('CumSum with exclusive / reverse', () => {
    const x = f([1, 2, 3, 4]);
    const ax = i64([0], []);
    expect(runOp('CumSum', [x, ax])[0]!.toFlatArray()).toEqual([1, 3, 6, 10]);
    expect(runOp('CumSum', [x, ax], { exclusive: 1 })[0]!.toFlatArray()).toEqual([0, 1, 3, 6]);
    expect(runOp('CumSum', [x, ax], { reverse: 1 })[0]!.toFlatArray()).toEqual([10, 9, 7, 4]);
    expect(runOp('CumSum', [iota([2, 2]), i64([1], [])])[0]!.toFlatArray()).toEqual([0, 1, 2, 5]);
  });
  it('ScatterND (none / add) and ScatterElements', () => {
    const data = f([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(runOp('ScatterND', [data, i64([4, 3, 1, 7], [4, 1]), f([9, 10, 11, 12])])[0]!.toFlatArray()).toEqual([
      1, 11, 3, 10, 9, 6, 7, 12,
    ]);
    expect(runOp('ScatterND', [data, i64([0, 0], [2, 1]), f([1, 1])], { reduction: 'add' }, { opset: 16 })[0]!.toFlatArray()[0]).toBe(3);
    const m = iota([2, 2]);
    expect(runOp('ScatterND', [m, i64([1], [1, 1]), f([8, 9], [1, 2])])[0]!.toFlatArray()).toEqual([0, 1, 8, 9]);
    expect(runOp('ScatterElements', [m, i64([1, 0], [1, 2]), f([5, 6], [1, 2])], { axis: 0 })[0]!.toFlatArray()).toEqual([0, 6, 5, 3]);
  });
  it('Trilu upper/lower with k', () => {
    const x = iota([3, 3]).reshape([3, 3]);
    expect(runOp('Trilu', [x])[0]!.toFlatArray()).toEqual([0, 1, 2, 0, 4, 5, 0, 0, 8]);
    expect(runOp('Trilu', [x, i64([1], [])])[0]!.toFlatArray()).toEqual([0, 1, 2, 0, 0, 5, 0, 0, 0]);
    expect(runOp('Trilu', [x], { upper: 0 })[0]!.toFlatArray()).toEqual([0, 0, 0, 3, 4, 0, 6, 7, 8]);
    expect(runOp('Trilu', [x, i64([-1], [])], { upper: 0 })[0]!.toFlatArray()).toEqual([0, 0, 0, 3, 0, 0, 6, 7, 0]);
  });
  it('NonZero / OneHot / DepthToSpace / SpaceToDepth', () => {
    expect(runOp('NonZero', [f([0, 1, 1, 0], [2, 2])])[0]!.toFlatArray()).toEqual([0, 1, 1, 0]);
    expect(runOp('OneHot', [i64([0, 2]), i64([3], []), f([0, 1])])[0]!.toFlatArray()).toEqual([1, 0, 0, 0, 0, 1]);
    const x = iota([1, 4, 1, 1]);
    expect(runOp('DepthToSpace', [x], { blocksize: 2 })[0]!.toFlatArray()).toEqual([0, 1, 2, 3]);
    expect(runOp('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' })[0]!.shape).toEqual([1, 1, 2, 2]);
    expect(runOp('SpaceToDepth', [iota([1, 1, 2, 2])], { blocksize: 2 })[0]!.shape).toEqual([1, 4, 1, 1]);
  });
});

describe('dynamic-shape plumbing (Shape → Gather → Unsqueeze → Concat → Reshape)', () => {
  it('reshapes [batch, seq, 8] into heads the way exporters do', () => {
    const b = new GraphBuilder('heads');
    const x = b.input('x', 'float32', ['batch', 'seq', 8]);
    const shape = b.op('Shape', [x]);
    const bdim = b.op('Unsqueeze', [
      b.op('Gather', [shape, b.constant('i0', Tensor.from([0], [], 'int64'))]),
      b.constant('ax', Tensor.from([0], [1], 'int64')),
    ]);
    const sdim = b.op('Unsqueeze', [b.op('Gather', [shape, b.constant('i1', Tensor.from([1], [], 'int64'))]), 'ax']);
    const target = b.op('Concat', [bdim, sdim, b.constant('rest', Tensor.from([2, 4], [2], 'int64'))], { axis: 0 });
    const y = b.op('Transpose', [b.op('Reshape', [x, target])], { perm: [0, 2, 1, 3] });
    b.output(y);
    const out = execute(b.model(13), { x: iota([3, 5, 8]) }).outputs[y]!;
    expect(out.shape).toEqual([3, 2, 5, 4]);
    expect(out.toFlatArray().slice(0, 5)).toEqual([0, 1, 2, 3, 8]);
  });
});

describe('If', () => {
  it('runs the branch the condition picks, reading outer values', () => {
    const then = new GraphBuilder('then');
    then.graph.addNode({ name: 'tmul', opType: 'Mul', inputs: ['x', 'x'], outputs: ['t_out'] });
    then.output('t_out');
    const els = new GraphBuilder('else');
    els.graph.addNode({ name: 'eneg', opType: 'Neg', inputs: ['x'], outputs: ['e_out'] });
    els.output('e_out');
    const b = new GraphBuilder('if');
    const c = b.input('c', 'bool', []);
    b.input('x', 'float32', [2]);
    const y = b.op('If', [c], { then_branch: then.graph as never, else_branch: els.graph as never });
    b.output(y);
    const m = b.model(13);
    const x = f([2, -3]);
    expect(execute(m, { c: Tensor.from([1], [], 'bool'), x }).outputs[y]!.toFlatArray()).toEqual([4, 9]);
    expect(execute(m, { c: Tensor.from([0], [], 'bool'), x }).outputs[y]!.toFlatArray()).toEqual([-2, 3]);
  });
});
