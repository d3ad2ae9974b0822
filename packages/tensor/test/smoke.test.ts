import { add, conv, layerNormKernel, matmul, softmax, sum, Tensor, transpose } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';

describe('smoke', () => {
  it('adds with broadcasting (hand-computed)', () => {
    expect(
      add(
        Tensor.from([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        Tensor.from([10, 20, 30]),
      ).toArray(),
    ).toEqual([
      [11, 22, 33],
      [14, 25, 36],
    ]);
  });
  it('matmul 2x2 (hand-computed)', () => {
    expect(
      matmul(
        Tensor.from([
          [1, 2],
          [3, 4],
        ]),
        Tensor.from([
          [5, 6],
          [7, 8],
        ]),
      ).toArray(),
    ).toEqual([
      [19, 22],
      [43, 50],
    ]);
  });
  it('transpose, sum, softmax, conv, layernorm run', () => {
    expect(transpose(Tensor.from([[1, 2, 3]])).shape).toEqual([3, 1]);
    expect(
      sum(
        Tensor.from([
          [1, 2],
          [3, 4],
        ]),
        [1],
      ).toArray(),
    ).toEqual([3, 7]);
    expect(softmax(Tensor.from([0, 0])).toArray()).toEqual([0.5, 0.5]);
    const y = conv(Tensor.ones([1, 1, 3, 3]), Tensor.ones([1, 1, 2, 2]));
    expect(y.toArray()).toEqual([
      [
        [
          [4, 4],
          [4, 4],
        ],
      ],
    ]);
    const ln = layerNormKernel(Tensor.from([[1, 2, 3]]), undefined, undefined, -1, 0).y.toFlatArray();
    expect(ln[0]).toBeCloseTo(-1.224745, 5);
  });
});

describe('device tensors', () => {
  it('Tensor.fromDevice keeps the shape and reads back lazily', () => {
    let reads = 0;
    const t = Tensor.fromDevice([2, 3], 'float32', {
      backend: 'test',
      handle: null,
      read: () => (reads++, new Float32Array([1, 2, 3, 4, 5, 6])),
    });
    expect(t.shape).toEqual([2, 3]);
    expect(t.onHost).toBe(false);
    const r = t.reshape([3, 2]);
    expect(r.shape).toEqual([3, 2]);
    expect(reads).toBe(0);
    expect(t.get(1, 2)).toBe(6);
    expect(reads).toBe(1);
  });
});
