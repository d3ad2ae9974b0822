import {
  argmax,
  argmin,
  l1Norm,
  l2Norm,
  logSoftmax,
  logSumExp,
  max,
  mean,
  min,
  NormkitError,
  prod,
  softmax,
  sum,
  sumSquare,
  Tensor,
  variance,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, mulberry, randArray, randShape, ravel, refReduce, prod as sizeOf, unravel } from './ref.js';

type Red = (x: Tensor, axes?: number | readonly number[], keepDims?: boolean) => Tensor;
const OPS: [string, Red, (v: number[]) => number][] = [
  ['sum', sum, (v) => v.reduce((a, b) => a + b, 0)],
  ['mean', mean, (v) => v.reduce((a, b) => a + b, 0) / v.length],
  ['max', max, (v) => Math.max(...v)],
  ['min', min, (v) => Math.min(...v)],
  ['prod', prod, (v) => v.reduce((a, b) => a * b, 1)],
  ['l1', l1Norm, (v) => v.reduce((a, b) => a + Math.abs(b), 0)],
  ['l2', l2Norm, (v) => Math.sqrt(v.reduce((a, b) => a + b * b, 0))],
  ['sumSquare', sumSquare, (v) => v.reduce((a, b) => a + b * b, 0)],
  ['logSumExp', logSumExp, (v) => Math.log(v.reduce((a, b) => a + Math.exp(b), 0))],
  [
    'variance',
    (x, a, k) => variance(x, a, k),
    (v) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
    },
  ],
  [
    'variance unbiased',
    (x, a, k) => variance(x, a, k, 1),
    (v) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
    },
  ],
];

describe('reductions', () => {
  it('match a grouping reference over random shapes and axis subsets (keepdims both ways)', () => {
    const rnd = mulberry(3);
    for (let t = 0; t < 150; t++) {
      const shape = randShape(rnd, 1, 4, 4);
      const axes = shape.map((_, i) => i).filter(() => rnd() < 0.5);
      if (axes.length === 0) axes.push(Math.floor(rnd() * shape.length));
      const [name, f, ref] = OPS[t % OPS.length]!;
      if (name === 'variance unbiased' && axes.reduce((a, i) => a * shape[i]!, 1) === 1) continue;
      const data = randArray(sizeOf(shape), rnd, name === 'prod' ? 0.5 : -1, name === 'prod' ? 1.5 : 1);
      const keep = rnd() < 0.5;
      // Pass axes as negative numbers half the time.
      const passed = rnd() < 0.5 ? axes.map((a) => a - shape.length) : axes;
      const y = f(new Tensor(shape, 'float32', data), passed, keep);
      const r = refReduce(data, shape, axes, ref, keep);
      expect(y.shape, name).toEqual(r.shape);
      expectClose(y.toFlatArray(), r.values, 1e-5, 1e-5);
    }
  });
  it('hand cases and defaults', () => {
    const x = Tensor.from([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(sum(x).toArray()).toBe(21);
    expect(sum(x, 0).toArray()).toEqual([5, 7, 9]);
    expect(mean(x, [1], true).toArray()).toEqual([[2], [5]]);
    expect(max(x, -1).toArray()).toEqual([3, 6]);
    expect(prod(x, 1).toArray()).toEqual([6, 120]);
    expect(variance(x, 1).toFlatArray()).toEqual([2 / 3, 2 / 3].map(Math.fround));
    expect(sum(Tensor.from([[1, 2]], undefined, 'int64'), 1).toArray()).toEqual([3]);
    expect(sum(Tensor.from([[1, 2]], undefined, 'int64'), 1).dtype).toBe('int64');
    expect(max(Tensor.from([3, 9, 2], undefined, 'int64')).toArray()).toBe(9);
    // Empty: sum over an empty axis is 0, reduce over a non-empty axis of an empty tensor keeps the empty dim.
    expect(sum(Tensor.zeros([0, 3]), 0).toArray()).toEqual([0, 0, 0]);
    expect(sum(Tensor.zeros([0, 3]), 1).shape).toEqual([0]);
    expect(() => max(Tensor.zeros([0, 3]), 0)).toThrow(/reduce max: axis 0 of \[0, 3\] is empty/);
    expect(() => sum(x, 2)).toThrow(/reduce sum: axis 2 is out of range for shape \[2, 3\]/);
    expect(() => mean(Tensor.zeros([2], 'int64'))).toThrow(/expected a float tensor/);
  });
  it('argmax / argmin (first or last of ties)', () => {
    const x = Tensor.from([
      [1, 5, 5],
      [7, 0, 0],
    ]);
    expect(argmax(x, 1).toArray()).toEqual([[1], [0]]);
    expect(argmax(x, 1, false, true).toArray()).toEqual([2, 0]);
    expect(argmin(x, 1, false).toArray()).toEqual([0, 1]);
    expect(argmin(x, 1, false, true).toArray()).toEqual([0, 2]);
    expect(argmax(x, 0, false).toArray()).toEqual([1, 0, 0]);
    expect(argmax(x, 0).dtype).toBe('int64');
    expect(() => argmax(Tensor.zeros([2, 0]), 1)).toThrow(NormkitError);
    expect(() => argmax(x, 3)).toThrow(/argmax: axis 3 is out of range/);
  });
});

describe('softmax / logSoftmax', () => {
  it('match exp(x - max)/sum along any axis', () => {
    const rnd = mulberry(4);
    for (let t = 0; t < 30; t++) {
      const shape = randShape(rnd, 1, 4, 5);
      const axis = Math.floor(rnd() * shape.length);
      const data = randArray(sizeOf(shape), rnd, -10, 10);
      const x = new Tensor(shape, 'float32', data);
      const ref = refReduce(data, shape, [axis], (v) => Math.log(v.reduce((a, b) => a + Math.exp(b), 0)), true);
      const lse = (i: number) => {
        const idx = unravel(i, shape);
        idx[axis] = 0;
        return ref.values[ravel(idx, ref.shape)]!;
      };
      const expS = Array.from(data, (v, i) => Math.exp(v - lse(i)));
      const expL = Array.from(data, (v, i) => v - lse(i));
      expectClose(softmax(x, axis).toFlatArray(), expS, 1e-6, 1e-5);
      expectClose(logSoftmax(x, axis - shape.length).toFlatArray(), expL, 1e-5, 1e-5);
    }
    expect(softmax(Tensor.from([1000, 1000])).toArray()).toEqual([0.5, 0.5]);
    expect(() => softmax(Tensor.zeros([2], 'int64'))).toThrow(/softmax/);
  });
});
