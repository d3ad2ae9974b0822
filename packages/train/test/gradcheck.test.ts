import { defineOp, mul, runOp, sum, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { gradCheck } from '../src/gradcheck.js';

// An op whose gradient is deliberately wrong in one element (×1.01 at index 0): gradCheck must see it.
const WRONG_SQUARE = defineOp({
  name: 'test.gradcheck.wrongSquare',
  grad: (dy, { inputs: [x] }) => {
    const g = mul(dy, mul(x as Tensor, 2)).clone();
    (g.data as Float64Array)[0]! *= 1.01;
    return [g];
  },
});
const wrongSquare = (x: Tensor) => runOp(WRONG_SQUARE, [x], {}, () => mul(x, x));

describe('gradCheck', () => {
  it('passes a correct gradient (Σ (x·w)², w broadcast, float64) with a tiny error', () => {
    const x = Tensor.randn([3, 4], 1, { dtype: 'float64' });
    const w = Tensor.randn([4], 2, { dtype: 'float64' });
    const r = gradCheck(() => sum(mul(mul(x, w), mul(x, w))), { x, w });
    expect(r.ok, r.summary).toBe(true);
    expect(r.checked).toBe(16);
    expect(r.maxAbsError).toBeLessThan(1e-7); // round-off of the differences: ~1e-16·|f|/eps
  });

  it('finds a wrong gradient element and names it', () => {
    const x = Tensor.from([1.5, -2, 0.5], undefined, 'float64');
    const r = gradCheck(() => sum(wrongSquare(x)), { x });
    expect(r.ok).toBe(false);
    expect(r.worst?.name).toBe('x');
    expect(r.worst?.index).toBe(0);
    // analytic 3·1.01 against numeric 3 (central differences are exact for a quadratic up to round-off)
    expect(r.worst?.analytic).toBeCloseTo(3.03, 12);
    expect(r.worst?.numeric).toBeCloseTo(3, 7);
    expect(r.summary).toMatch(/FAIL.*x\[0\]/);
  });

  it('checks a seeded sample of elements, the same for the same seed', () => {
    const x = Tensor.randn([50], 3, { dtype: 'float64' });
    const f = () => sum(mul(x, x));
    const a = gradCheck(f, [x], { sample: 7, seed: 5 });
    const b = gradCheck(f, [x], { sample: 7, seed: 5 });
    expect(a.checked).toBe(7);
    expect(a.ok).toBe(true);
    expect(a.worst?.index).toBe(b.worst?.index);
    expect(a.maxAbsError).toBe(b.maxAbsError);
  });

  it('refuses float32 inputs (finite differences would measure round-off)', () => {
    const x = Tensor.randn([3], 1);
    expect(() => gradCheck(() => sum(x), { x })).toThrow(/float64/);
  });
});
