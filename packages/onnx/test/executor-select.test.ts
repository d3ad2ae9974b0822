// ReverseSequence, Compress and Unique: normkit's executor against onnxruntime-node 1.30 on seeded
// inputs. Every comparison is exact (these ops only move or count elements).

import { inferShapes } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { expectOrtMatch, normals, normkitErrorOf, opModel, randInts } from './op-vs-ort.js';

const i64 = (v: number[]) => Tensor.from(v, [v.length], 'int64');
const bools = (v: number[]) => Tensor.from(v, [v.length], 'bool');

describe('ReverseSequence (exact vs onnxruntime)', () => {
  it('time-major [T, B, D] with mixed lengths, including 0... and the full length', async () => {
    await expectOrtMatch('ReverseSequence', [normals([5, 4, 3], 1), i64([5, 1, 3, 2])], { batch_axis: 1, time_axis: 0 }, { opset: 10 });
  });
  it('batch-major [B, T, D, E]', async () => {
    await expectOrtMatch('ReverseSequence', [normals([3, 6, 2, 2], 2), i64([6, 4, 1])], { batch_axis: 0, time_axis: 1 }, { opset: 10 });
  });
  it('int64 data', async () => {
    await expectOrtMatch('ReverseSequence', [randInts([4, 2], 3, -9, 9, 'int64'), i64([3, 4])], {}, { opset: 10, outTypes: ['int64'] });
  });
  it('a length past the time axis is INVALID_NODE naming the node and the entry', () => {
    const e = normkitErrorOf('ReverseSequence', [normals([3, 2], 1), i64([4, 1])], {}, { opset: 10 });
    expect(e.code).toBe('INVALID_NODE');
    expect(e.message).toMatch(/ReverseSequence_node.*sequence_lens\[0\] = 4/);
  });
});

describe('Compress (exact vs onnxruntime)', () => {
  it('along axis 1, condition shorter than the axis', async () => {
    await expectOrtMatch('Compress', [normals([2, 5, 3], 4), bools([1, 0, 1, 1])], { axis: 1 }, { opset: 11 });
  });
  it('negative axis, and no axis (flattened)', async () => {
    await expectOrtMatch('Compress', [normals([3, 4], 5), bools([0, 1, 1, 0])], { axis: -1 }, { opset: 11 });
    await expectOrtMatch('Compress', [normals([3, 4], 5), bools([1, 0, 0, 1, 1, 0, 1])], {}, { opset: 11 });
  });
  it('nothing selected gives an empty axis', async () => {
    const [y] = await expectOrtMatch('Compress', [normals([2, 3], 6), bools([0, 0])], { axis: 0 }, { opset: 11 });
    expect(y!.shape).toEqual([0, 3]);
  });
  it('a condition longer than the axis is INVALID_NODE', () => {
    const e = normkitErrorOf('Compress', [normals([2, 3], 1), bools([1, 1, 1])], { axis: 0 }, { opset: 11 });
    expect(e.message).toMatch(/Compress_node.*condition has 3 entries but the axis 0 has 2/);
  });
});

describe('Unique: all four outputs (exact vs onnxruntime)', () => {
  const four: Tensor['dtype'][] = ['float32', 'int64', 'int64', 'int64'];
  const vals = randInts([3, 8], 7, -3, 4);
  it('flattened, sorted and unsorted', async () => {
    for (const sorted of [1, 0]) {
      const [y] = await expectOrtMatch('Unique', [vals], { sorted }, { opset: 11, outTypes: four });
      expect(y!.size).toBeLessThanOrEqual(7);
    }
  });
  it('int64 input', async () => {
    await expectOrtMatch('Unique', [randInts([10], 8, 0, 5, 'int64')], {}, { opset: 11, outTypes: ['int64', 'int64', 'int64', 'int64'] });
  });
  it('along axis 0 and axis -1 (slices compared lexicographically), sorted and unsorted', async () => {
    const rows = Tensor.from([2, 1, 0, 1, 0, 2, 2, 1, 0, 0, 0, 5, 1, 0, 2], [5, 3], 'float32');
    for (const sorted of [1, 0]) {
      const [y] = await expectOrtMatch('Unique', [rows], { axis: 0, sorted }, { opset: 11, outTypes: four });
      expect(y!.shape).toEqual([3, 3]);
      await expectOrtMatch('Unique', [randInts([2, 6], 9, 0, 2)], { axis: -1, sorted }, { opset: 11, outTypes: four });
    }
  });
  it('an axis outside the rank is INVALID_NODE', () => {
    const e = normkitErrorOf('Unique', [vals], { axis: 2 }, { opset: 11, outTypes: four });
    expect(e.message).toMatch(/Unique_node.*axis=2 is outside the input's rank 2/);
  });
});

describe('shape rules (inferShapes)', () => {
  const shapesOf = (...args: Parameters<typeof opModel>) => {
    const { model, outs } = opModel(...args);
    const infos = inferShapes(model);
    return outs.map((o) => infos.get(o)?.shape);
  };
  it('data-dependent sizes stay unknown; everything else is known', () => {
    expect(shapesOf('ReverseSequence', [normals([5, 4, 3], 1), i64([1, 2, 3, 4])], {}, { opset: 10 })).toEqual([[5, 4, 3]]);
    expect(shapesOf('Compress', [normals([2, 5], 1), bools([1, 0])], { axis: 1 }, { opset: 11 })).toEqual([[2, undefined]]);
    expect(shapesOf('Unique', [normals([3, 4], 1)], { axis: 1 }, { opset: 11, outTypes: ['float32', 'int64', 'int64', 'int64'] })).toEqual([
      [3, undefined],
      [undefined],
      [4],
      [undefined],
    ]);
  });
  it('constant inputs fold to the exact result', () => {
    const { model, outs } = opModel(
      'Unique',
      [{ const: i64([3, 1, 3, 2]) }],
      {},
      { opset: 11, outTypes: ['int64', 'int64', 'int64', 'int64'] },
    );
    expect(inferShapes(model).get(outs[0]!)?.shape).toEqual([3]);
  });
});
