import { add, mean, mul, sub, sum, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { grad, noGrad, valueAndGrads } from '../src/index.js';

describe('autograd tape', () => {
  it('accumulates the gradient of a tensor used twice (d/dx Σ x·x = 2x)', () => {
    const x = Tensor.from([1, -2, 3], undefined, 'float64');
    expect(Array.from(grad((t) => sum(mul(t, t)))(x).data as Float64Array)).toEqual([2, -4, 6]);
  });

  it('reduces broadcast gradients back to the operand shape', () => {
    const a = Tensor.randn([4, 3], 1, { dtype: 'float64' });
    const b = Tensor.randn([3], 2, { dtype: 'float64' });
    const { grads } = valueAndGrads(() => mean(mul(add(a, b), b)), { a, b });
    // d/db mean((a+b)·b) = Σ_rows (a + 2b) / 12
    const expected = [0, 1, 2].map((j) => {
      let s = 0;
      for (let i = 0; i < 4; i++) s += (a.data[i * 3 + j] as number) + 2 * (b.data[j] as number);
      return s / 12;
    });
    expect(grads.b.shape).toEqual([3]);
    for (const [j, v] of Array.from(grads.b.data as Float64Array).entries()) expect(v).toBeCloseTo(expected[j] as number, 12);
  });

  it('records nothing inside noGrad and gives zeros for unused inputs', () => {
    const x = Tensor.from([1, 2], undefined, 'float64');
    const y = Tensor.from([5, 7], undefined, 'float64');
    const { grads } = valueAndGrads(
      () =>
        add(
          sum(x),
          noGrad(() => sum(mul(x, x))),
        ),
      { x, y },
    );
    expect(Array.from(grads.x.data as Float64Array)).toEqual([1, 1]);
    expect(Array.from(grads.y.data as Float64Array)).toEqual([0, 0]);
  });

  it('refuses a non-scalar result with a clear error', () => {
    const x = Tensor.from([1, 2]);
    expect(() => valueAndGrads(() => sub(x, 1), [x])).toThrow(/one-element tensor/);
  });
});
