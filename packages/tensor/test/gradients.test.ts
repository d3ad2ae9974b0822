// Every op's gradient (VJP) against central finite differences in float64. Tolerance unless stated:
// |analytic − numeric| ≤ 1e-6·(1 + |numeric|) with h = 1e-5 (see grad-check.ts). Inputs keep away
// from kinks (relu at 0, clip bounds, ...) and from ties in max/maxPool windows, except where a test
// is about ties.
import {
  abs,
  add,
  argmax,
  avgPool,
  cast,
  ceil,
  clip,
  concat,
  conv,
  conv1d,
  conv2d,
  cos,
  div,
  elu,
  equal,
  erf,
  exp,
  expand,
  flatten,
  floor,
  gather,
  gelu,
  gemm,
  globalAvgPool,
  globalMaxPool,
  greater,
  hardSigmoid,
  hardSwish,
  l1Norm,
  l2Norm,
  layerNormKernel,
  leakyRelu,
  listOps,
  log,
  logSoftmax,
  logSumExp,
  matmul,
  max,
  maximum,
  maxPool,
  mean,
  min,
  minimum,
  mul,
  neg,
  opDefinition,
  pad,
  permute,
  pow,
  powScalar,
  prod,
  reciprocal,
  relu,
  reshape,
  rmsNormKernel,
  round,
  rsqrt,
  selfAttention,
  sigmoid,
  sign,
  silu,
  sin,
  slice,
  softmax,
  softplus,
  split,
  sqrt,
  squeeze,
  sub,
  sum,
  sumSquare,
  Tensor,
  tanh,
  tile,
  transpose,
  unsqueeze,
  variance,
  where,
} from '@normkit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { awayFrom, checked, checkGrad, checkTape, distinctT, randT, recordCall } from './grad-check.js';
import { mulberry } from './ref.js';

const rnd = mulberry(7);
const values = (t: Tensor) => Array.from(t.data as Float64Array);

describe('unary gradients', () => {
  // [op name, function, input range, kinks to keep away from, tolerance]
  const cases: [string, (x: Tensor) => Tensor, [number, number], number[], number?][] = [
    ['neg', neg, [-2, 2], []],
    ['abs', abs, [-2, 2], [0]],
    ['exp', exp, [-2, 2], []],
    ['log', log, [0.3, 3], []],
    ['sqrt', sqrt, [0.3, 3], []],
    ['rsqrt', rsqrt, [0.3, 3], []],
    ['reciprocal', reciprocal, [0.3, 3], []],
    ['reciprocal', reciprocal, [-3, -0.3], []],
    // erf's forward is an approximation (error < 1.2e-7); its slope matches the exact 2/√π·e^(−x²) to 1e-6.
    ['erf', erf, [-2.5, 2.5], []],
    ['tanh', tanh, [-3, 3], []],
    ['sigmoid', sigmoid, [-6, 6], []],
    ['relu', relu, [-2, 2], [0]],
    ['gelu', (x) => gelu(x), [-4, 4], []],
    ['gelu', (x) => gelu(x, 'tanh'), [-4, 4], []],
    ['silu', silu, [-6, 6], []],
    ['softplus', softplus, [-5, 30], [20]],
    ['sin', sin, [-4, 4], []],
    ['cos', cos, [-4, 4], []],
    ['floor', floor, [-3, 3], [-3, -2, -1, 0, 1, 2, 3]],
    ['ceil', ceil, [-3, 3], [-3, -2, -1, 0, 1, 2, 3]],
    ['round', round, [-3, 3], [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]],
    ['sign', sign, [-3, 3], [0]],
    ['leakyRelu', (x) => leakyRelu(x, 0.1), [-2, 2], [0]],
    ['elu', (x) => elu(x, 0.7), [-3, 2], [0]],
    ['clip', (x) => clip(x, -0.5, 0.8), [-2, 2], [-0.5, 0.8]],
    ['clip', (x) => clip(x, 0), [-2, 2], [0]],
    ['hardSigmoid', (x) => hardSigmoid(x), [-4, 4], [-2.5, 2.5]],
    ['hardSigmoid', (x) => hardSigmoid(x, 0.5, 0.1), [-4, 4], [-0.2, 1.8]],
    ['hardSwish', hardSwish, [-5, 5], [-3, 3]],
    ['powScalar', (x) => powScalar(x, 2), [-2, 2], []],
    ['powScalar', (x) => powScalar(x, 3), [-2, 2], []],
    ['powScalar', (x) => powScalar(x, 0.5), [0.3, 3], []],
    ['powScalar', (x) => powScalar(x, -1.5), [0.3, 3], []],
    ['powScalar', (x) => powScalar(x, 1), [-2, 2], []],
    ['powScalar', (x) => powScalar(x, 0), [-2, 2], []],
  ];
  for (const [name, f, [lo, hi], kinks, tol] of cases) {
    it(`${name} on [${lo}, ${hi}]`, () => {
      const x = awayFrom(randT([3, 5], rnd, lo, hi), kinks);
      checkGrad(name, f, [x], rnd, { tol });
    });
  }

  it('relu at 0 and clip at its bounds take the one-sided derivatives 0 and 1 (PyTorch)', () => {
    const x = Tensor.from([0, -0.5, 0.8, 1], undefined, 'float64');
    const gRelu = recordCall(() => relu(x));
    expect(values(opDefinition('relu')!.grad!(Tensor.ones([4], 'float64'), gRelu.ctx)[0]!)).toEqual([0, 0, 1, 1]);
    const gClip = recordCall(() => clip(x, -0.5, 0.8));
    expect(values(opDefinition('clip')!.grad!(Tensor.ones([4], 'float64'), gClip.ctx)[0]!)).toEqual([1, 1, 1, 0]);
  });
});

describe('binary gradients with broadcasting', () => {
  const shapes: [number[], number[]][] = [
    [
      [3, 4],
      [3, 4],
    ],
    [[2, 3, 4], [4]],
    [
      [2, 1, 4],
      [3, 1],
    ],
    [[], [2, 3]],
    [[2, 3], []],
    [[1], [3]],
    [
      [4, 1, 3],
      [1, 5, 1],
    ],
  ];
  const ops: [string, (a: Tensor, b: Tensor) => Tensor, [number, number], [number, number]][] = [
    ['add', add, [-1, 1], [-1, 1]],
    ['sub', sub, [-1, 1], [-1, 1]],
    ['mul', mul, [-1, 1], [-1, 1]],
    ['div', div, [-1, 1], [0.5, 2]],
    ['pow', pow, [0.3, 2], [-1.5, 2.5]],
    ['minimum', minimum, [-1, 1], [-1, 1]],
    ['maximum', maximum, [-1, 1], [-1, 1]],
  ];
  for (const [name, f, ra, rb] of ops)
    for (const [sa, sb] of shapes)
      it(`${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => {
        const a = randT(sa, rnd, ...ra);
        const b = randT(sb, rnd, ...rb);
        checkGrad(name, f, [a, b], rnd);
      });

  it('pow: negative base with integer exponents (base gradient; the exponent one is 0 there)', () => {
    const a = randT([2, 3], rnd, -2, -0.5);
    const b = Tensor.from([[1, 2, 3]], undefined, 'float64');
    checkGrad('pow', pow, [a, b], rnd, { wrt: [0] });
    const { ctx } = recordCall(() => pow(a, b));
    const [, db] = opDefinition('pow')!.grad!(Tensor.ones([2, 3], 'float64'), ctx);
    expect(values(db!)).toEqual([0, 0, 0]);
  });

  it('minimum / maximum split ties evenly (central differences agree: ½ each)', () => {
    const a = Tensor.from([1, 2, 3, -1], undefined, 'float64');
    const b = Tensor.from([1, 0, 3, 2], undefined, 'float64');
    checkGrad('maximum', maximum, [a, b], rnd);
    checkGrad('minimum', minimum, [a, b], rnd);
    const { ctx } = recordCall(() => maximum(a, b));
    const [da, db] = opDefinition('maximum')!.grad!(Tensor.ones([4], 'float64'), ctx);
    expect(values(da!)).toEqual([0.5, 1, 0.5, 0]);
    expect(values(db!)).toEqual([0.5, 0, 0.5, 1]);
  });

  it('where: to a where cond holds, to b elsewhere, none to cond; broadcasting all three', () => {
    const cond = greater(randT([3, 1, 4], rnd), Tensor.scalar(0, 'float64'));
    const a = randT([2, 4], rnd);
    const b = randT([3, 2, 1], rnd);
    checkGrad('where', (c, x, y) => where(c, x, y), [cond, a, b], rnd, { none: [0] });
    checkGrad('where', (c, x) => where(c, x, 0), [cond, randT([], rnd)], rnd, { none: [0] });
  });
});

describe('reduction gradients', () => {
  const axesCases: [number[] | undefined, boolean][] = [
    [undefined, false],
    [[1], true],
    [[-1], false],
    [[0, 2], true],
    [[2, 0], false],
  ];
  const ops: [string, typeof sum, [number, number]][] = [
    ['sum', sum, [-1, 1]],
    ['mean', mean, [-1, 1]],
    ['prod', prod, [0.5, 1.5]],
    ['l1Norm', l1Norm, [-1, 1]],
    ['l2Norm', l2Norm, [-1, 1]],
    ['sumSquare', sumSquare, [-1, 1]],
    ['logSumExp', logSumExp, [-3, 3]],
  ];
  for (const [name, f, [lo, hi]] of ops)
    for (const [axes, keep] of axesCases)
      it(`${name} over ${axes ? `[${axes}]` : 'all axes'}, keepDims ${keep}`, () => {
        const x = awayFrom(randT([2, 3, 4], rnd, lo, hi), name === 'l1Norm' ? [0] : []);
        checkGrad(name, (t) => f(t, axes, keep), [x], rnd);
      });

  for (const [name, f] of [
    ['max', max],
    ['min', min],
  ] as const)
    for (const [axes, keep] of axesCases)
      it(`${name} over ${axes ? `[${axes}]` : 'all axes'}, keepDims ${keep} (no ties)`, () => {
        checkGrad(name, (t) => f(t, axes, keep), [distinctT([2, 3, 4], rnd)], rnd);
      });

  it('max / min split the gradient evenly among ties (as torch.amax)', () => {
    const x = Tensor.from(
      [
        [3, 1, 3, 3],
        [3, 5, 5, 0],
      ],
      undefined,
      'float64',
    );
    const { ctx } = recordCall(() => max(x, 1));
    const [dx] = opDefinition('max')!.grad!(Tensor.from([6, 4], undefined, 'float64'), ctx);
    expect(values(dx!)).toEqual([2, 0, 2, 2, 0, 2, 2, 0]); // a 3-way and a 2-way tie
    const mctx = recordCall(() => min(x, 0, true)).ctx;
    const [dm] = opDefinition('min')!.grad!(Tensor.ones([1, 4], 'float64'), mctx);
    expect(values(dm!)).toEqual([0.5, 1, 1, 0, 0.5, 0, 0, 1]);
    // Two-way ties: central differences see the half each gets (for a 3-way tie they would see ½, not ⅓).
    const x2 = Tensor.from([3, 1, 3, 2, 2, 5, 5, 0], [2, 4], 'float64');
    checkGrad('max', (t) => max(t, -1), [x2], rnd);
  });

  it('prod with zeros in a group (one zero, two zeros) is exact, no division', () => {
    const x = Tensor.from(
      [
        [0, 2, 3],
        [0, 0, 4],
        [1, -2, 0.5],
      ],
      undefined,
      'float64',
    );
    checkGrad('prod', (t) => prod(t, -1), [x], rnd);
    checkGrad('prod', (t) => prod(t, 0, true), [x], rnd);
  });

  it('variance (composed of recorded ops) differentiates through the tape, biased and unbiased', () => {
    checkTape('variance', (t) => variance(t, -1, true), [randT([3, 5], rnd)], rnd);
    checkTape('variance', (t) => variance(t, [0, 2], false, 1), [randT([3, 2, 4], rnd)], rnd);
  });

  for (const axis of [0, 1, -1])
    it(`softmax and logSoftmax along axis ${axis}`, () => {
      checkGrad('softmax', (t) => softmax(t, axis), [randT([3, 4, 5], rnd, -3, 3)], rnd);
      checkGrad('logSoftmax', (t) => logSoftmax(t, axis), [randT([3, 4, 5], rnd, -3, 3)], rnd);
    });

  it('selfAttention over packed QKV (2 heads of 4)', () => {
    checkGrad('selfAttention', (t) => selfAttention(t, 2), [randT([2, 5, 24], rnd, -1.5, 1.5)], rnd);
    checkGrad('selfAttention', (t) => selfAttention(t, 1, { scale: 0.7 }), [randT([1, 3, 6], rnd, -1.5, 1.5)], rnd);
  });
});

describe('gradients the tape does not need (needsGrad false) are skipped, the others unchanged', () => {
  const cases: [string, () => Tensor][] = [
    ['gemm', () => gemm(randT([5, 4], rnd), randT([3, 4], rnd), randT([3], rnd), { transB: true })],
    ['matmul', () => matmul(randT([2, 5, 4], rnd), randT([4, 3], rnd))],
    ['conv', () => conv(randT([2, 3, 6, 6], rnd), randT([4, 3, 3, 3], rnd), randT([4], rnd), { strides: [2, 2] })],
  ];
  for (const [name, f] of cases)
    it(name, () => {
      const { def, ctx } = recordCall(f);
      const dy = randT(ctx.output.shape, rnd);
      const all = def.grad!(dy, ctx);
      for (let k = 0; k < all.length; k++) {
        if (!all[k]) continue;
        const needsGrad = all.map((_, j) => j !== k);
        const part = def.grad!(dy, { ...ctx, needsGrad });
        expect(part[k], `${name}: gradient ${k} skipped`).toBeUndefined();
        part.forEach((g, j) => {
          if (j !== k && all[j]) expect(values(g!), `${name}: gradient ${j}`).toEqual(values(all[j]!));
        });
      }
    });
});

describe('matmul and gemm gradients', () => {
  const shapes: [number[], number[]][] = [
    [
      [3, 4],
      [4, 5],
    ],
    [[4], [4, 5]],
    [[3, 4], [4]],
    [[4], [4]],
    [[4], [2, 4, 5]],
    [
      [2, 3, 4],
      [4, 5],
    ],
    [
      [3, 4],
      [2, 4, 5],
    ],
    [
      [2, 3, 4],
      [2, 4, 5],
    ],
    [
      [2, 1, 3, 4],
      [3, 4, 2],
    ],
  ];
  for (const [sa, sb] of shapes)
    it(`matmul ${JSON.stringify(sa)} · ${JSON.stringify(sb)}`, () => {
      checkGrad('matmul', matmul, [randT(sa, rnd), randT(sb, rnd)], rnd);
    });

  for (const transA of [false, true])
    for (const transB of [false, true])
      for (const cShape of [undefined, [5], [3, 1], [3, 5], [], [1, 5]])
        it(`gemm transA ${transA} transB ${transB}, C ${cShape ? JSON.stringify(cShape) : 'none'}`, () => {
          const a = randT(transA ? [4, 3] : [3, 4], rnd);
          const b = randT(transB ? [5, 4] : [4, 5], rnd);
          const opts = { transA, transB, alpha: 0.7, beta: 1.3 };
          if (!cShape) checkGrad('gemm', (x, y) => gemm(x, y, undefined, opts), [a, b], rnd);
          else checkGrad('gemm', (x, y, c) => gemm(x, y, c, opts), [a, b, randT(cShape, rnd)], rnd);
        });
});

describe('conv and pool gradients', () => {
  const convCases: [string, number[], number[], boolean, Parameters<typeof conv>[3]][] = [
    ['1-D plain', [2, 3, 7], [4, 3, 3], true, {}],
    ['1-D strided, padded, dilated, group 2', [2, 4, 9], [6, 2, 3], true, { strides: [2], pads: [1, 2], dilations: [2], group: 2 }],
    ['2-D plain', [2, 3, 5, 6], [4, 3, 3, 2], true, {}],
    ['2-D strided, padded, dilated', [1, 3, 7, 6], [4, 3, 3, 2], false, { strides: [2, 1], pads: [1, 0, 2, 1], dilations: [1, 2] }],
    ['2-D depthwise (group 3, multiplier 2)', [2, 3, 5, 5], [6, 1, 3, 3], true, { pads: [1, 1, 1, 1], group: 3 }],
    ['2-D pointwise 1×1, group 2', [2, 4, 3, 3], [6, 2, 1, 1], true, { group: 2 }],
    ['2-D 1×1 strided', [1, 2, 5, 5], [3, 2, 1, 1], false, { strides: [2, 2] }],
    ['3-D padded, strided', [1, 2, 4, 4, 3], [2, 2, 2, 3, 2], true, { pads: [1, 0, 1, 0, 1, 0], strides: [1, 2, 1] }],
  ];
  for (const [label, xs, ws, withBias, opts] of convCases)
    it(`conv ${label}${withBias ? ' with bias' : ''}`, () => {
      const x = randT(xs, rnd);
      const w = randT(ws, rnd);
      if (withBias) checkGrad('conv', (a, b, c) => conv(a, b, c, opts), [x, w, randT([ws[0]!], rnd)], rnd, { maxProbes: 40 });
      else checkGrad('conv', (a, b) => conv(a, b, undefined, opts), [x, w], rnd, { maxProbes: 40 });
    });

  const poolCases: [string, number[], Parameters<typeof maxPool>[1]][] = [
    ['2×2 stride 2', [2, 2, 6, 6], { kernelShape: [2, 2], strides: [2, 2] }],
    ['3×3 stride 1 padded', [1, 2, 5, 5], { kernelShape: [3, 3], pads: [1, 1, 1, 1] }],
    ['3×2 dilated, asymmetric pads', [1, 2, 7, 6], { kernelShape: [3, 2], dilations: [2, 1], pads: [0, 1, 1, 0], strides: [1, 2] }],
    ['3×3 stride 2 ceil mode', [1, 1, 6, 6], { kernelShape: [3, 3], strides: [2, 2], ceilMode: true }],
    ['1-D kernel 3 stride 2 padded', [2, 3, 9], { kernelShape: [3], strides: [2], pads: [1, 1] }],
  ];
  for (const [label, shape, opts] of poolCases) {
    it(`maxPool ${label} (distinct values: no ties)`, () => {
      checkGrad('maxPool', (t) => maxPool(t, opts), [distinctT(shape, rnd)], rnd);
    });
    for (const countIncludePad of [false, true])
      it(`avgPool ${label}, countIncludePad ${countIncludePad}`, () => {
        checkGrad('avgPool', (t) => avgPool(t, { ...opts, countIncludePad }), [randT(shape, rnd)], rnd);
      });
  }

  it('maxPool sends each window gradient to the maximum the forward picked (first of ties)', () => {
    const x = Tensor.from([[[1, 4, 4, 2, 0, 3]]], undefined, 'float64');
    const { ctx } = recordCall(() => maxPool(x, { kernelShape: [2], strides: [2] }));
    const [dx] = opDefinition('maxPool')!.grad!(Tensor.from([[[1, 2, 3]]], undefined, 'float64'), ctx);
    expect(values(dx!)).toEqual([0, 1, 2, 0, 0, 3]);
  });
});

describe('movement gradients', () => {
  it('transpose (explicit perm, negative axes, default reversal)', () => {
    checkGrad('transpose', (t) => transpose(t, [1, -1, 0]), [randT([2, 3, 4], rnd)], rnd);
    checkGrad('transpose', (t) => transpose(t), [randT([2, 3, 4], rnd)], rnd);
  });

  it('reshape: the Tensor method and the function record one op, "reshape"', () => {
    checkGrad('reshape', (t) => t.reshape([4, -1]), [randT([2, 3, 4], rnd)], rnd);
    checkGrad('reshape', (t) => reshape(t, [6, 4]), [randT([2, 3, 4], rnd)], rnd);
  });

  it('squeeze / unsqueeze / flatten', () => {
    checkGrad('squeeze', (t) => squeeze(t), [randT([2, 1, 3, 1], rnd)], rnd);
    checkGrad('squeeze', (t) => squeeze(t, [-1]), [randT([2, 1, 3, 1], rnd)], rnd);
    checkGrad('unsqueeze', (t) => unsqueeze(t, [0, -1]), [randT([2, 3], rnd)], rnd);
    checkGrad('flatten', (t) => flatten(t, 2), [randT([2, 3, 2, 2], rnd)], rnd);
  });

  it('concat along axis 1 and -1 (three inputs of different widths)', () => {
    const xs = [randT([2, 1, 3], rnd), randT([2, 4, 3], rnd), randT([2, 2, 3], rnd)];
    checkGrad('concat', (...t) => concat(t, 1), xs, rnd);
    const ys = [randT([2, 3, 1], rnd), randT([2, 3, 2], rnd)];
    checkGrad('concat', (...t) => concat(t, -1), ys, rnd);
  });

  const sliceCases: [string, number[], number[], number[]?, number[]?][] = [
    ['plain', [1], [3], [0]],
    ['steps 2 on two axes', [0, 1], [4, 5], [0, 2], [2, 2]],
    ['negative step', [-1], [-6], [1], [-1]],
    ['negative step −2, negative start, clamped end', [4, -2], [-100, 0], [0, 2], [-2, -2]],
    ['clamped', [-100], [100], [-1], [3]],
  ];
  for (const [label, starts, ends, axes, steps] of sliceCases)
    it(`slice ${label}`, () => {
      checkGrad('slice', (t) => slice(t, starts, ends, axes, steps), [randT([5, 4, 5], rnd)], rnd);
    });

  it('split (composed of slices) through the tape', () => {
    checkTape('split', (t) => mul(split(t, [1, 3], -1)[1]!, split(t, [3, 1], -1)[0]!), [randT([2, 4], rnd)], rnd);
  });

  it('pad: constant (positive and negative pads), reflect and edge', () => {
    checkGrad('pad', (t) => pad(t, [1, 0, 2, 1], 'constant', 3), [randT([3, 4], rnd)], rnd);
    checkGrad('pad', (t) => pad(t, [-1, 2, 1, -1]), [randT([3, 4], rnd)], rnd);
    checkGrad('pad', (t) => pad(t, [2, 1, 1, 3], 'reflect'), [randT([3, 4], rnd)], rnd);
    checkGrad('pad', (t) => pad(t, [0, 2, 3, 2, 1, 0], 'edge'), [randT([2, 3, 2], rnd)], rnd);
  });

  it('gather: scatter-add into the table (repeated and negative indices), none to the indices', () => {
    const table = randT([5, 3], rnd);
    const ids = Tensor.from(
      [
        [0, 4, -1],
        [2, 2, 0],
      ],
      undefined,
      'int64',
    );
    checkGrad('gather', (t, i) => gather(t, i, 0), [table, ids], rnd, { none: [1] });
    const ids32 = Tensor.from([1, -3, 1], undefined, 'int32');
    checkGrad('gather', (t, i) => gather(t, i, 1), [randT([2, 3, 2], rnd), ids32], rnd, { none: [1] });
  });

  it('expand (added and stretched axes) and tile', () => {
    checkGrad('expand', (t) => expand(t, [2, 3, 4]), [randT([3, 1], rnd)], rnd);
    checkGrad('expand', (t) => expand(t, [2, 1, 4]), [randT([3, 1], rnd)], rnd);
    checkGrad('tile', (t) => tile(t, [2, 1, 3]), [randT([2, 3, 2], rnd)], rnd);
    checkGrad('tile', (t) => tile(t, [3]), [randT([2], rnd)], rnd);
  });

  it('cast: float64 → float32 casts the gradient back (linear, so h = 1e-2; float32 rounding: tol 1e-4)', () => {
    checkGrad('cast', (t) => cast(t, 'float32'), [randT([3, 4], rnd)], rnd, { h: 1e-2, tol: 1e-4 });
    const { ctx } = recordCall(() => cast(Tensor.from([1, 2], undefined, 'int32'), 'float64'));
    expect(opDefinition('cast')!.grad!(Tensor.ones([2], 'float64'), ctx)).toEqual([undefined]);
  });
});

describe('composites through the tape', () => {
  it('globalAvgPool, globalMaxPool, conv1d, conv2d and permute record their building blocks', () => {
    checkTape('globalAvgPool', globalAvgPool, [randT([2, 3, 4, 4], rnd)], rnd);
    checkTape('globalMaxPool', globalMaxPool, [distinctT([2, 3, 4, 4], rnd)], rnd);
    checkTape('conv1d', (x, w) => conv1d(x, w, undefined, { pads: [1, 1] }), [randT([1, 2, 6], rnd), randT([3, 2, 3], rnd)], rnd);
    checkTape(
      'conv2d',
      (x, w, b) => conv2d(x, w, b, { strides: [2, 2] }),
      [randT([1, 2, 5, 5], rnd), randT([3, 2, 3, 3], rnd), randT([3], rnd)],
      rnd,
    );
    checkTape('permute', (t) => permute(t, [2, 0, 1]), [randT([2, 3, 4], rnd)], rnd);
  });

  it('a small classifier loss: embedding → matmul → gelu → standardize → logSoftmax → cross-entropy', () => {
    const table = randT([6, 4], rnd);
    const w = randT([4, 5], rnd);
    const b = randT([5], rnd);
    const ids = Tensor.from([1, 5, 1, 0], undefined, 'int64');
    const targets = Tensor.from([0, 3, 4, 1], undefined, 'int64');
    const oneHot = equal(unsqueeze(targets, [-1]), Tensor.arange(0, 5, 1, 'int64'));
    const loss = (t: Tensor, wt: Tensor, bt: Tensor) => {
      const h = gelu(add(matmul(gather(t, ids), wt), bt), 'tanh');
      const z = div(sub(h, mean(h, -1, true)), sqrt(add(variance(h, -1, true), 1e-5)));
      const lp = logSoftmax(mul(z, 2), -1);
      return neg(mean(sum(where(oneHot, lp, 0), -1)));
    };
    checkTape('classifier', loss, [table, w, b], rnd);
  });
});

describe('the registry', () => {
  // Ops with a float output and no gradient, on purpose. A new op must be added here or get a grad.
  const NON_DIFFERENTIABLE = new Set([
    'mod', // piecewise with jumps; not needed for training
    'layerNormKernel', // differentiable LayerNorm: @normkit/norm's layerNorm
    'rmsNormKernel', // differentiable RMSNorm: @normkit/norm's rmsNorm
  ]);
  // Ops whose outputs are integer or bool: never differentiable.
  const DISCRETE = new Set([
    'argmax',
    'argmin',
    'equal',
    'less',
    'lessEqual',
    'greater',
    'greaterEqual',
    'logicalAnd',
    'logicalOr',
    'logicalXor',
    'logicalNot',
  ]);

  it('every op has a gradient, or is listed as non-differentiable or discrete', () => {
    const missing = listOps().filter((n) => !opDefinition(n)!.grad && !NON_DIFFERENTIABLE.has(n) && !DISCRETE.has(n));
    expect(missing).toEqual([]);
    for (const n of [...NON_DIFFERENTIABLE, ...DISCRETE]) expect(opDefinition(n)?.grad, n).toBeUndefined();
  });

  it('the norm kernels and argmax are recorded ops (without a gradient)', () => {
    const x = randT([2, 4], rnd);
    expect(recordCall(() => layerNormKernel(x, undefined, undefined, -1, 1e-5).y).def.name).toBe('layerNormKernel');
    expect(recordCall(() => rmsNormKernel(x, undefined, undefined, -1, 1e-5)).def.name).toBe('rmsNormKernel');
    expect(recordCall(() => argmax(x, -1)).def.name).toBe('argmax');
  });
});

afterAll(() => {
  // Every op with a gradient has a finite-difference check in this file.
  const unchecked = listOps().filter((n) => opDefinition(n)!.grad && !checked.has(n));
  expect(unchecked).toEqual([]);
});
