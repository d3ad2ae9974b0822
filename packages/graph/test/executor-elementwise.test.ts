// Elementwise ops: arithmetic, comparisons, logic, activations, variadic ops. Expected values are
// hand-computed or from Math.* formulas written here (independent of the tensor kernels).
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { errorOf, expectClose, runOp } from './executor-helpers.js';

const f = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length]);
const i64 = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length], 'int64');

describe('binary arithmetic with broadcasting', () => {
  const a = f([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = f([10, 20, 30], [3]);
  it.each([
    ['Add', [11, 22, 33, 14, 25, 36]],
    ['Sub', [-9, -18, -27, -6, -15, -24]],
    ['Mul', [10, 40, 90, 40, 100, 180]],
    ['Div', [0.1, 0.1, 0.1, 0.4, 0.25, 0.2]],
  ])('%s', (op, want) => {
    expectClose(runOp(op as string, [a, b])[0]!, want as number[], [2, 3]);
  });
  it('Pow: float base, scalar and tensor exponents, int exponent', () => {
    expectClose(runOp('Pow', [f([2, 3, -2]), f([2])])[0]!, [4, 9, 4]);
    expectClose(runOp('Pow', [f([2, 9, 4]), f([3, 0.5, -1])])[0]!, [8, 3, 0.25]);
    expectClose(runOp('Pow', [f([2, 3]), i64([3])])[0]!, [8, 27]);
  });
  it('integer Div truncates; Mod follows the divisor sign (fmod=0) or the dividend (fmod=1)', () => {
    expect(runOp('Div', [i64([7, -7]), i64([2, 2])])[0]!.toFlatArray()).toEqual([3, -3]);
    expect(runOp('Mod', [i64([5, -5, 5, -5]), i64([3, 3, -3, -3])])[0]!.toFlatArray()).toEqual([2, 1, -1, -2]);
    expect(runOp('Mod', [i64([5, -5, 5, -5]), i64([3, 3, -3, -3])], { fmod: 1 })[0]!.toFlatArray()).toEqual([2, -2, 2, -2]);
    expectClose(runOp('Mod', [f([5.5, -5.5]), f([2, 2])], { fmod: 1 })[0]!, [1.5, -1.5]);
  });
});

describe('comparisons and logic', () => {
  const a = f([1, 2, 3]);
  const b = f([2, 2, 2]);
  it.each([
    ['Equal', [0, 1, 0]],
    ['Less', [1, 0, 0]],
    ['LessOrEqual', [1, 1, 0]],
    ['Greater', [0, 0, 1]],
    ['GreaterOrEqual', [0, 1, 1]],
  ])('%s gives bool', (op, want) => {
    const y = runOp(op as string, [a, b])[0]!;
    expect(y.dtype).toBe('bool');
    expect(y.toFlatArray()).toEqual(want);
  });
  it('Not / And / Or / Xor', () => {
    const p = Tensor.from([1, 1, 0, 0], [4], 'bool');
    const q = Tensor.from([1, 0, 1, 0], [4], 'bool');
    expect(runOp('Not', [p])[0]!.toFlatArray()).toEqual([0, 0, 1, 1]);
    expect(runOp('And', [p, q])[0]!.toFlatArray()).toEqual([1, 0, 0, 0]);
    expect(runOp('Or', [p, q])[0]!.toFlatArray()).toEqual([1, 1, 1, 0]);
    expect(runOp('Xor', [p, q])[0]!.toFlatArray()).toEqual([0, 1, 1, 0]);
  });
  it('Where broadcasts condition and branches', () => {
    const c = Tensor.from([1, 0], [2, 1], 'bool');
    expectClose(runOp('Where', [c, f([1, 2, 3]), f([-1])])[0]!, [1, 2, 3, -1, -1, -1], [2, 3]);
  });
  it('IsNaN / IsInf', () => {
    const x = f([1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(runOp('IsNaN', [x])[0]!.toFlatArray()).toEqual([0, 1, 0, 0]);
    expect(runOp('IsInf', [x])[0]!.toFlatArray()).toEqual([0, 0, 1, 1]);
    expect(runOp('IsInf', [x], { detect_negative: 0 })[0]!.toFlatArray()).toEqual([0, 0, 1, 0]);
  });
});

describe('unary math and activations', () => {
  const xs = [-2, -0.5, 0, 0.5, 2.5];
  const x = f(xs);
  const erf = (v: number) => {
    // Abramowitz–Stegun 7.1.26 is not precise enough; integrate the series instead (|v| ≤ 3).
    let s = 0;
    let term = v;
    for (let n = 0; n < 60; n++) {
      s += term / (2 * n + 1);
      term *= (-v * v) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  };
  const cases: [string, (v: number) => number, Record<string, number | string>?][] = [
    ['Neg', (v) => -v],
    ['Abs', Math.abs],
    ['Exp', Math.exp],
    ['Erf', erf],
    ['Tanh', Math.tanh],
    ['Sigmoid', (v) => 1 / (1 + Math.exp(-v))],
    ['Relu', (v) => Math.max(0, v)],
    ['LeakyRelu', (v) => (v < 0 ? 0.1 * v : v), { alpha: 0.1 }],
    ['LeakyRelu', (v) => (v < 0 ? 0.01 * v : v)],
    ['HardSigmoid', (v) => Math.max(0, Math.min(1, 0.2 * v + 0.5))],
    ['HardSigmoid', (v) => Math.max(0, Math.min(1, 0.5 * v + 0.1)), { alpha: 0.5, beta: 0.1 }],
    ['HardSwish', (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5))],
    ['Gelu', (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ['Gelu', (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), { approximate: 'tanh' }],
    ['Sin', Math.sin],
    ['Cos', Math.cos],
    ['Floor', Math.floor],
    ['Ceil', Math.ceil],
    ['Sign', Math.sign],
    ['Softplus', (v) => Math.log(1 + Math.exp(v))],
    ['Elu', (v) => (v < 0 ? Math.exp(v) - 1 : v)],
    ['Elu', (v) => (v < 0 ? 2 * (Math.exp(v) - 1) : v), { alpha: 2 }],
    ['Selu', (v) => 1.0507009873554805 * (v < 0 ? 1.6732632423543772 * (Math.exp(v) - 1) : v)],
    ['Softsign', (v) => v / (1 + Math.abs(v))],
    ['Identity', (v) => v],
    ['Tan', Math.tan],
    ['Atan', Math.atan],
    ['Sinh', Math.sinh],
    ['Cosh', Math.cosh],
    ['Asinh', Math.asinh],
    ['Swish', (v) => v / (1 + Math.exp(-v))],
  ];
  it.each(cases)('%s %j', (op, fn, attrs) => {
    const opset = op === 'Gelu' ? 20 : op === 'Swish' ? 24 : 17;
    expectClose(runOp(op, [x], attrs ?? {}, { opset })[0]!, xs.map(fn), [5], 2e-6);
  });
  it('Sqrt / Log / Reciprocal on positive values', () => {
    const p = f([0.25, 1, 4]);
    expectClose(runOp('Sqrt', [p])[0]!, [0.5, 1, 2]);
    expectClose(runOp('Log', [p])[0]!, [Math.log(0.25), 0, Math.log(4)]);
    expectClose(runOp('Reciprocal', [p])[0]!, [4, 1, 0.25]);
  });
  it('Round is half to even', () => {
    expectClose(runOp('Round', [f([0.5, 1.5, 2.5, -0.5, -1.5, 2.4])])[0]!, [0, 2, 2, -0, -2, 2]);
  });
  it('PRelu broadcasts the slope per channel', () => {
    const x2 = f([-1, 2, -3, 4], [1, 2, 2]);
    const slope = f([0.5, 0.25], [2, 1]);
    expectClose(runOp('PRelu', [x2, slope])[0]!, [-0.5, 2, -0.75, 4]);
  });
  it('Clip: attributes before opset 11, optional inputs after', () => {
    const v = f([-3, -1, 0, 1, 3]);
    expectClose(runOp('Clip', [v], { min: -1.5, max: 2 }, { opset: 6 })[0]!, [-1.5, -1, 0, 1, 2]);
    expectClose(runOp('Clip', [v, f([-1.5], []), f([2], [])], {}, { opset: 13 })[0]!, [-1.5, -1, 0, 1, 2]);
    expectClose(runOp('Clip', [v, undefined, f([0.5], [])], {}, { opset: 13 })[0]!, [-3, -1, 0, 0.5, 0.5]);
    expectClose(runOp('Clip', [v], {}, { opset: 13 })[0]!, [-3, -1, 0, 1, 3]);
    expect(runOp('Clip', [i64([-5, 5]), i64([-2], []), i64([2], [])], {}, { opset: 13 })[0]!.toFlatArray()).toEqual([-2, 2]);
  });
  it('Mish / Celu / ThresholdedRelu', () => {
    expectClose(
      runOp('Mish', [x], {}, { opset: 18 })[0]!,
      xs.map((v) => v * Math.tanh(Math.log1p(Math.exp(v)))),
      undefined,
      2e-6,
    );
    expectClose(
      runOp('Celu', [x], { alpha: 2 })[0]!,
      xs.map((v) => Math.max(0, v) + Math.min(0, 2 * (Math.exp(v / 2) - 1))),
      undefined,
      2e-6,
    );
    expectClose(
      runOp('ThresholdedRelu', [x], { alpha: 0.4 })[0]!,
      xs.map((v) => (v > 0.4 ? v : 0)),
    );
  });
  it('Gelu with an unknown approximation is refused', () => {
    expect(errorOf(() => runOp('Gelu', [x], { approximate: 'cubic' }, { opset: 20 })).code).toBe('UNSUPPORTED_OP');
  });
});

describe('variadic Sum / Mean / Min / Max', () => {
  const a = f([1, 5, 3]);
  const b = f([4, 2, 6]);
  const c = f([0], [1]);
  it('broadcast over several inputs', () => {
    expectClose(runOp('Sum', [a, b, c])[0]!, [5, 7, 9]);
    expectClose(runOp('Mean', [a, b, c])[0]!, [5 / 3, 7 / 3, 3]);
    expectClose(runOp('Max', [a, b, c])[0]!, [4, 5, 6]);
    expectClose(runOp('Min', [a, b, c])[0]!, [0, 0, 0]);
    expectClose(runOp('Sum', [a])[0]!, [1, 5, 3]);
  });
});

describe('com.microsoft activations', () => {
  const xs = [-1.5, -0.2, 0, 0.7, 3];
  const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  it('FastGelu with and without bias', () => {
    expectClose(runOp('FastGelu', [f(xs)], {}, { domain: 'com.microsoft' })[0]!, xs.map(gelu), undefined, 2e-6);
    expectClose(
      runOp('FastGelu', [f(xs), f([1])], {}, { domain: 'com.microsoft' })[0]!,
      xs.map((v) => gelu(v + 1)),
      undefined,
      2e-6,
    );
  });
  it('BiasGelu and Gelu use the erf form', () => {
    const ref = runOp('Gelu', [f(xs.map((v) => v + 0.5))], {}, { opset: 20 })[0]!.toFlatArray();
    expectClose(runOp('BiasGelu', [f(xs), f([0.5])], {}, { domain: 'com.microsoft' })[0]!, ref, undefined, 1e-6);
    const ref2 = runOp('Gelu', [f(xs)], {}, { opset: 20 })[0]!.toFlatArray();
    expectClose(runOp('Gelu', [f(xs)], {}, { domain: 'com.microsoft' })[0]!, ref2, undefined, 1e-6);
  });
  it('QuickGelu', () => {
    expectClose(
      runOp('QuickGelu', [f(xs)], {}, { domain: 'com.microsoft' })[0]!,
      xs.map((v) => v / (1 + Math.exp(-1.702 * v))),
      undefined,
      2e-6,
    );
  });
});
