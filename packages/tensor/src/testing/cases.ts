// The cases of the backend conformance suite: every op family run through the public ops on the
// backend under test, each next to an independent float64 reference (reference.ts) and a stated
// tolerance. Inputs are small, seeded, and deliberately not multiples of 4.

import * as op from '@normkit/tensor';
import {
  type Backend,
  CpuBackend,
  type DType,
  type GradKernels,
  type NormBackwardOptions,
  NormkitError,
  Tensor,
  withBackend,
} from '@normkit/tensor';
import {
  bget,
  erfcRef,
  mulberry,
  prod,
  randArray,
  ravel,
  refAttention,
  refBroadcast,
  refConv,
  refGemm,
  refMatmul,
  refNorm,
  refNormBackward,
  refPool,
  refReduce,
  unravel,
} from './reference.js';

/** The op families the suite covers; a case id is `family/name`. */
export type ConformanceFamily =
  | 'elementwise'
  | 'gelu'
  | 'reduce'
  | 'movement'
  | 'linear'
  | 'norm'
  | 'attention'
  | 'norm-backward'
  | 'grads';

/** Per element, |got − want| ≤ atol + rtol·|want|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** One reference output: its shape, dtype and float64 values. */
export interface Expected {
  shape: readonly number[];
  dtype: DType;
  values: ArrayLike<number>;
}

/** One conformance case. `compute` runs with `backend` active; `expected` never calls a kernel. */
export interface ConformanceCase {
  /** `family/name`, unique; the key of a backend's skip list. */
  id: string;
  family: ConformanceFamily;
  tol: Tolerance;
  /** The optional `Backend` method the case exercises; a backend without it lacks the op. */
  needs?: 'selfAttention' | 'layerNormBackward' | 'rmsNormBackward' | 'grads';
  /** Runs the case's ops (with `backend` active) and returns their outputs, in the order of `expected()`. */
  compute(backend: Backend): Tensor[];
  /** The float64 reference outputs, computed without any backend kernel. */
  expected(): Expected[];
}

/** Movement, comparisons, selections: the result is one of the inputs' values, bit for bit. */
export const EXACT: Tolerance = { atol: 0, rtol: 0 };
/** One float32 rounding of a float64-exact result (2⁻²⁴ ≈ 6e-8), with margin. */
export const ROUNDED: Tolerance = { atol: 0, rtol: 2e-7 };
/** αx + β in float32: the sum may cancel, so one rounding of each term (≈ 6e-8 of |αx| + |β|) is absolute. */
export const AFFINE: Tolerance = { atol: 1e-7, rtol: 2e-7 };
/** Transcendental functions: float32 inputs, libm-grade math, float32 output (erf/GELU: ≤ 1.2e-7 absolute). */
export const TRANSCENDENTAL: Tolerance = { atol: 3e-7, rtol: 1e-6 };
/** Sums of up to a few hundred O(1) terms in float32 (reductions, products, norms, attention). */
export const ACCUMULATED: Tolerance = { atol: 1e-5, rtol: 1e-5 };

type Rnd = () => number;
const f32 = (shape: number[], rnd: Rnd, lo = -1, hi = 1): Tensor => new Tensor(shape, 'float32', randArray(prod(shape), rnd, lo, hi));
/** `idx` with entry `axis` set to `v`. */
const at = (idx: readonly number[], axis: number, v: number) => idx.map((u, i) => (i === axis ? v : u));
const vals = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
const out = (shape: readonly number[], values: ArrayLike<number>, dtype: DType = 'float32'): Expected => ({ shape, dtype, values });

function mk(
  family: ConformanceFamily,
  name: string,
  tol: Tolerance,
  compute: (backend: Backend) => Tensor | Tensor[],
  expected: () => Expected | Expected[],
) {
  const c: ConformanceCase = {
    id: `${family}/${name}`,
    family,
    tol,
    compute: (b) => [compute(b)].flat(),
    expected: () => [expected()].flat(),
  };
  return c;
}

/** x mapped elementwise by `f` (float64), as float32 (or `dtype`). */
function mapCase(
  family: ConformanceFamily,
  name: string,
  tol: Tolerance,
  x: Tensor,
  fn: (x: Tensor) => Tensor,
  f: (v: number) => number,
  dtype?: DType,
) {
  return mk(
    family,
    name,
    tol,
    () => fn(x),
    () => out(x.shape, vals(x).map(f), dtype ?? x.dtype),
  );
}

const roundHalfEven = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const erfRef = (v: number) => (v >= 0 ? 1 - erfcRef(v) : erfcRef(-v) - 1);
const phi = (v: number) => (v >= 0 ? 1 - 0.5 * erfcRef(v / Math.SQRT2) : 0.5 * erfcRef(-v / Math.SQRT2));

function unaryCases(): ConformanceCase[] {
  const rnd = mulberry(11);
  const x = f32([5, 7], rnd, -3, 3);
  const pos = f32([5, 7], rnd, 0.1, 4);
  const halves = Tensor.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49, -0.51]);
  const E = 'elementwise';
  const table: [string, (t: Tensor) => Tensor, (v: number) => number, Tolerance, Tensor?][] = [
    ['neg', op.neg, (v) => -v, EXACT],
    ['abs', op.abs, Math.abs, EXACT],
    ['relu', op.relu, (v) => Math.max(v, 0), EXACT],
    ['floor', op.floor, Math.floor, EXACT],
    ['ceil', op.ceil, Math.ceil, EXACT],
    ['sign', op.sign, Math.sign, EXACT],
    ['round (half to even)', op.round, roundHalfEven, EXACT, halves],
    ['exp', op.exp, Math.exp, TRANSCENDENTAL],
    ['log', op.log, Math.log, TRANSCENDENTAL, pos],
    ['sqrt', op.sqrt, Math.sqrt, ROUNDED, pos],
    ['rsqrt', op.rsqrt, (v) => 1 / Math.sqrt(v), TRANSCENDENTAL, pos],
    ['reciprocal', op.reciprocal, (v) => 1 / v, ROUNDED, pos],
    ['erf', op.erf, erfRef, TRANSCENDENTAL],
    ['tanh', op.tanh, Math.tanh, TRANSCENDENTAL],
    ['tanh saturated', op.tanh, Math.tanh, TRANSCENDENTAL, Tensor.from([-100, -20, 20, 100, 0])],
    ['sigmoid', op.sigmoid, (v) => 1 / (1 + Math.exp(-v)), TRANSCENDENTAL],
    ['sigmoid saturated', op.sigmoid, (v) => 1 / (1 + Math.exp(-v)), TRANSCENDENTAL, Tensor.from([-100, -20, 20, 100, 0])],
    ['silu', op.silu, (v) => v / (1 + Math.exp(-v)), TRANSCENDENTAL],
    ['softplus', op.softplus, (v) => Math.log1p(Math.exp(v)), TRANSCENDENTAL],
    ['sin', op.sin, Math.sin, TRANSCENDENTAL],
    ['cos', op.cos, Math.cos, TRANSCENDENTAL],
    ['leakyRelu', (t) => op.leakyRelu(t, 0.2), (v) => (v >= 0 ? v : 0.2 * v), ROUNDED],
    ['elu', (t) => op.elu(t, 0.7), (v) => (v >= 0 ? v : 0.7 * Math.expm1(v)), TRANSCENDENTAL],
    ['hardSigmoid', (t) => op.hardSigmoid(t, 0.3, 0.4), (v) => Math.max(0, Math.min(1, 0.3 * v + 0.4)), AFFINE],
    ['hardSwish', op.hardSwish, (v) => (v * Math.max(0, Math.min(6, v + 3))) / 6, ROUNDED],
    ['clip', (t) => op.clip(t, -0.5, 0.75), (v) => Math.min(Math.max(v, -0.5), 0.75), EXACT],
    ['clip below only', (t) => op.clip(t, -0.5), (v) => Math.max(v, -0.5), EXACT],
    ['powScalar 2', (t) => op.powScalar(t, 2), (v) => v * v, ROUNDED],
    ['powScalar 3 (negative base)', (t) => op.powScalar(t, 3), (v) => v ** 3, TRANSCENDENTAL],
    ['powScalar 0.5', (t) => op.powScalar(t, 0.5), Math.sqrt, TRANSCENDENTAL, pos],
    ['powScalar 1.7', (t) => op.powScalar(t, 1.7), (v) => v ** 1.7, TRANSCENDENTAL, pos],
  ];
  return table.map(([name, fn, f, tol, input]) => mapCase(E, name, tol, input ?? x, fn, f));
}

function geluCases(): ConformanceCase[] {
  const x = new Tensor(
    [61],
    'float32',
    Float32Array.from({ length: 61 }, (_, i) => -6 + i / 5),
  );
  const c = Math.sqrt(2 / Math.PI);
  return [
    mapCase(
      'gelu',
      'erf form',
      TRANSCENDENTAL,
      x,
      (t) => op.gelu(t),
      (v) => v * phi(v),
    ),
    mapCase(
      'gelu',
      'tanh form',
      TRANSCENDENTAL,
      x,
      (t) => op.gelu(t, 'tanh'),
      (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))),
    ),
  ];
}

/** a ⊙ b broadcast, by the reference broadcast and `f` per element. */
function binaryRef(a: Tensor, b: Tensor, f: (p: number, q: number) => number, dtype: DType): Expected {
  const shape = refBroadcast(a.shape, b.shape);
  const [va, vb] = [vals(a), vals(b)];
  const values = Array.from({ length: prod(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return f(bget(va, a.shape, idx), bget(vb, b.shape, idx));
  });
  return out(shape, values, dtype);
}

function binaryCases(): ConformanceCase[] {
  const rnd = mulberry(12);
  const a = f32([4, 1, 6], rnd, -2, 2);
  const b = f32([3, 6], rnd, -2, 2);
  const bPos = f32([3, 6], rnd, 0.5, 2.5);
  const aPos = f32([4, 1, 6], rnd, 0.1, 2);
  type Bin = (p: Tensor, q: Tensor) => Tensor;
  const bin = (name: string, fn: Bin, f: (p: number, q: number) => number, tol: Tolerance, p = a, q = b, dtype: DType = 'float32') =>
    mk(
      'elementwise',
      name,
      tol,
      () => fn(p, q),
      () => binaryRef(p, q, f, dtype),
    );
  const test = (name: string, fn: Bin, f: (p: number, q: number) => boolean, p = a, q = b) =>
    bin(name, fn, (u, v) => +f(u, v), EXACT, p, q, 'bool');
  const pmask = op.greater(a, 0);
  const [ra, rb] = [op.round(a), op.round(b)]; // integers: exact ties
  const qmask = op.less(b, 0.3);
  return [
    bin('add (broadcast)', op.add, (p, q) => p + q, ROUNDED),
    bin('sub', op.sub, (p, q) => p - q, ROUNDED),
    bin('mul', op.mul, (p, q) => p * q, ROUNDED),
    bin('div', op.div, (p, q) => p / q, ROUNDED, a, bPos),
    bin('pow', op.pow, (p, q) => p ** q, TRANSCENDENTAL, aPos, b),
    bin('pow integer exponent, negative base', op.pow, (p, q) => p ** q, TRANSCENDENTAL, a, Tensor.full([1], 3)),
    bin('minimum', op.minimum, Math.min, EXACT),
    bin('maximum', op.maximum, Math.max, EXACT),
    bin('mod (sign of divisor)', op.mod, (p, q) => p - Math.floor(p / q) * q, { atol: 1e-6, rtol: 1e-6 }, op.mul(a, 5), bPos),
    test('equal', op.equal, (p, q) => p === q, ra, rb),
    test('less', op.less, (p, q) => p < q),
    test('lessEqual', op.lessEqual, (p, q) => p <= q, ra, rb),
    test('greater', op.greater, (p, q) => p > q),
    test('greaterEqual', op.greaterEqual, (p, q) => p >= q, ra, rb),
    test('logicalAnd', op.logicalAnd, (p, q) => !!p && !!q, pmask, qmask),
    test('logicalOr', op.logicalOr, (p, q) => !!p || !!q, pmask, qmask),
    test('logicalXor', op.logicalXor, (p, q) => !p !== !q, pmask, qmask),
    mapCase('elementwise', 'logicalNot', EXACT, pmask, op.logicalNot, (v) => +!v),
    mk(
      'elementwise',
      'add scalar',
      ROUNDED,
      () => op.add(a, 2.5),
      () =>
        out(
          a.shape,
          vals(a).map((v) => v + 2.5),
        ),
    ),
    mk(
      'elementwise',
      'where (broadcast, -inf)',
      EXACT,
      () => op.where(qmask, b, Tensor.full([1], Number.NEGATIVE_INFINITY)),
      () => binaryRef(qmask, b, (m, q) => (m ? q : Number.NEGATIVE_INFINITY), 'float32'),
    ),
  ];
}

function castCases(): ConformanceCase[] {
  const rnd = mulberry(13);
  const x = f32([3, 5], rnd, -4, 4);
  const r = op.round(x);
  const ints = new Tensor([3, 5], 'int32', Int32Array.from(vals(r)));
  return [
    mapCase(
      'elementwise',
      'cast float32→bool',
      EXACT,
      r,
      (t) => op.cast(t, 'bool'),
      (v) => +(v !== 0),
      'bool',
    ),
    mapCase(
      'elementwise',
      'cast bool→float32',
      EXACT,
      op.greater(x, 0),
      (t) => op.cast(t, 'float32'),
      (v) => v,
      'float32',
    ),
    mapCase(
      'elementwise',
      'cast float32→int32',
      EXACT,
      r,
      (t) => op.cast(t, 'int32'),
      (v) => v,
      'int32',
    ),
    mk(
      'elementwise',
      'add int32',
      EXACT,
      () => op.add(ints, ints),
      () =>
        out(
          ints.shape,
          vals(ints).map((v) => 2 * v),
          'int32',
        ),
    ),
    mk(
      'elementwise',
      'add empty',
      EXACT,
      () => op.add(Tensor.zeros([0, 3]), 1),
      () => out([0, 3], []),
    ),
  ];
}

type ReduceFn = (x: Tensor, axes?: number | readonly number[], keep?: boolean) => Tensor;
function reduceCases(): ConformanceCase[] {
  const rnd = mulberry(14);
  const x = f32([3, 4, 5, 2], rnd, -2, 2);
  const xp = f32([3, 4, 5, 2], rnd, 0.6, 1.4);
  const sum = (v: number[]) => v.reduce((s, t) => s + t, 0);
  const table: [string, ReduceFn, (v: number[]) => number, Tensor?][] = [
    ['sum', op.sum, sum],
    ['mean', op.mean, (v) => sum(v) / v.length],
    ['max', op.max, (v) => Math.max(...v)],
    ['min', op.min, (v) => Math.min(...v)],
    ['prod', op.prod, (v) => v.reduce((s, t) => s * t, 1), xp],
    ['l1Norm', op.l1Norm, (v) => sum(v.map(Math.abs))],
    ['l2Norm', op.l2Norm, (v) => Math.sqrt(sum(v.map((t) => t * t)))],
    ['sumSquare', op.sumSquare, (v) => sum(v.map((t) => t * t))],
    ['logSumExp', op.logSumExp, (v) => Math.log(sum(v.map(Math.exp)))],
  ];
  const axesList: [string, number[], boolean][] = [
    ['last', [3], false],
    ['[1,2] keepDims', [1, 2], true],
    ['[0,3]', [0, 3], false],
    ['all', [0, 1, 2, 3], false],
  ];
  return table.flatMap(([name, fn, f, input]) =>
    axesList.map(([label, axes, keep]) => {
      const t = input ?? x;
      return mk(
        'reduce',
        `${name} ${label}`,
        ACCUMULATED,
        () => fn(t, axes, keep),
        () => {
          const r = refReduce(t.data as Float32Array, [...t.shape], axes, f, keep);
          return out(r.shape, r.values);
        },
      );
    }),
  );
}

/** Softmax / log-softmax along `axis` by the definition, in float64. */
function softmaxRef(x: Tensor, axis: number, log: boolean): Expected {
  const shape = x.shape;
  const v = vals(x);
  const n = shape[axis] as number;
  const values = v.map((_, i) => {
    const idx = unravel(i, shape);
    const row = Array.from({ length: n }, (_, k) => v[ravel(at(idx, axis, k), shape)] as number);
    const m = Math.max(...row);
    const z = row.reduce((s, t) => s + Math.exp(t - m), 0);
    return log ? (v[i] as number) - m - Math.log(z) : Math.exp((v[i] as number) - m) / z;
  });
  return out(shape, values);
}

/** argmax/argmin along `axis` (first index on ties), kept dims. */
function argRef(x: Tensor, axis: number, max: boolean): Expected {
  const shape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const v = vals(x);
  const values = Array.from({ length: prod(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    let best = 0;
    for (let k = 1; k < (x.shape[axis] as number); k++) {
      const get = (j: number) => v[ravel(at(idx, axis, j), x.shape)] as number;
      if (max ? get(k) > get(best) : get(k) < get(best)) best = k;
    }
    return best;
  });
  return out(shape, values, 'int64');
}

function softmaxCases(): ConformanceCase[] {
  const rnd = mulberry(15);
  const x = f32([4, 6, 5], rnd, -4, 4);
  const masked = op.where(op.greater(x, 1), Tensor.full([1], Number.NEGATIVE_INFINITY), x);
  return [
    ...[0, 1, 2].flatMap((axis) => [
      mk(
        'reduce',
        `softmax axis ${axis}`,
        ACCUMULATED,
        () => op.softmax(x, axis),
        () => softmaxRef(x, axis, false),
      ),
      mk(
        'reduce',
        `logSoftmax axis ${axis}`,
        ACCUMULATED,
        () => op.logSoftmax(x, axis),
        () => softmaxRef(x, axis, true),
      ),
    ]),
    mk(
      'reduce',
      'softmax masked (-inf)',
      ACCUMULATED,
      () => op.softmax(masked, -1),
      () => softmaxRef(masked, 2, false),
    ),
    mk(
      'reduce',
      'argmax',
      EXACT,
      () => op.argmax(x, 1),
      () => argRef(x, 1, true),
    ),
    mk(
      'reduce',
      'argmin',
      EXACT,
      () => op.argmin(x, 2),
      () => argRef(x, 2, false),
    ),
  ];
}

/** The element of `x` each output index reads, by `src(outIdx)` (undefined: `fill`). */
function gatherRef(x: Tensor, shape: readonly number[], src: (idx: number[]) => number[] | undefined, fill = 0): Expected {
  const v = vals(x);
  const values = Array.from({ length: prod(shape) }, (_, i) => {
    const s = src(unravel(i, shape));
    return s ? (v[ravel(s, x.shape)] as number) : fill;
  });
  return out(shape, values, x.dtype);
}

const reflect = (i: number, n: number) => {
  const p = 2 * (n - 1);
  const m = ((i % p) + p) % p;
  return m < n ? m : p - m;
};

function movementCases(): ConformanceCase[] {
  const rnd = mulberry(16);
  const x = f32([3, 5, 4], rnd);
  const y = f32([3, 2, 4], rnd);
  const M = 'movement';
  const ids = Tensor.from(
    [
      [0, -1, 2],
      [1, 1, 0],
    ],
    undefined,
    'int64',
  );
  const idv = vals(ids);
  const inside = (idx: number[], pads: number[]) => {
    const s = idx.map((v, d) => v - (pads[d] as number));
    return s.every((v, d) => v >= 0 && v < (x.shape[d] as number)) ? s : undefined;
  };
  const pads = [1, 0, 2, 0, 2, 1];
  const padShape = x.shape.map((d, i) => d + (pads[i] as number) + (pads[i + 3] as number));
  const e = f32([3, 1, 4], rnd);
  return [
    mk(
      M,
      'transpose',
      EXACT,
      () => op.transpose(x, [2, 0, 1]),
      () => gatherRef(x, [4, 3, 5], ([k, i, j]) => [i!, j!, k!]),
    ),
    mk(
      M,
      'transpose bool',
      EXACT,
      () => op.transpose(op.greater(x, 0), [1, 0, 2]),
      () => {
        const g = gatherRef(x, [5, 3, 4], ([j, i, k]) => [i!, j!, k!]);
        return out(
          g.shape,
          Array.from(g.values, (v) => +(v > 0)),
          'bool',
        );
      },
    ),
    mk(
      M,
      'concat',
      EXACT,
      () => op.concat([x, y, x], 1),
      () =>
        out(
          [3, 12, 4],
          Array.from({ length: 144 }, (_, i) => {
            const [a, b, c] = unravel(i, [3, 12, 4]) as [number, number, number];
            return b < 5
              ? vals(x)[ravel([a, b, c], x.shape)]!
              : b < 7
                ? vals(y)[ravel([a, b - 5, c], y.shape)]!
                : vals(x)[ravel([a, b - 7, c], x.shape)]!;
          }),
        ),
    ),
    mk(
      M,
      'slice',
      EXACT,
      () => op.slice(x, [1, 1], [-1, 100], [1, 2]),
      () => gatherRef(x, [3, 3, 3], ([i, j, k]) => [i!, j! + 1, k! + 1]),
    ),
    mk(
      M,
      'slice negative steps',
      EXACT,
      () => op.slice(x, [-1, -1], [-100, -100], [1, 2], [-2, -1]),
      () => gatherRef(x, [3, 3, 4], ([i, j, k]) => [i!, 4 - 2 * j!, 3 - k!]),
    ),
    mk(
      M,
      'pad constant',
      EXACT,
      () => op.pad(x, pads, 'constant', 1.5),
      () => gatherRef(x, padShape, (idx) => inside(idx, pads), 1.5),
    ),
    mk(
      M,
      'pad reflect',
      EXACT,
      () => op.pad(x, pads, 'reflect'),
      () => gatherRef(x, padShape, (idx) => idx.map((v, d) => reflect(v - pads[d]!, x.shape[d]!))),
    ),
    mk(
      M,
      'pad edge',
      EXACT,
      () => op.pad(x, pads, 'edge'),
      () => gatherRef(x, padShape, (idx) => idx.map((v, d) => Math.min(Math.max(v - pads[d]!, 0), x.shape[d]! - 1))),
    ),
    mk(
      M,
      'gather axis 1 (negative index)',
      EXACT,
      () => op.gather(x, ids, 1),
      () =>
        gatherRef(x, [3, 2, 3, 4], ([i, a, b, k]) => {
          const v = idv[a! * 3 + b!]!;
          return [i!, v < 0 ? v + 5 : v, k!];
        }),
    ),
    mk(
      M,
      'gather scalar index',
      EXACT,
      () => op.gather(x, Tensor.scalar(2, 'int32'), 2),
      () => gatherRef(x, [3, 5], ([i, j]) => [i!, j!, 2]),
    ),
    mk(
      M,
      'expand',
      EXACT,
      () => op.expand(e, [2, 3, 5, 4]),
      () => gatherRef(e, [2, 3, 5, 4], ([, i, , k]) => [i!, 0, k!]),
    ),
    mk(
      M,
      'tile',
      EXACT,
      () => op.tile(x, [2, 1, 3]),
      () => gatherRef(x, [6, 5, 12], ([i, j, k]) => [i! % 3, j!, k! % 4]),
    ),
  ];
}

function matmulCases(): ConformanceCase[] {
  const rnd = mulberry(17);
  const L = 'linear';
  const mm = (name: string, sa: number[], sb: number[], so: number[]) => {
    const a = f32(sa, rnd);
    const b = f32(sb, rnd);
    return mk(
      L,
      name,
      ACCUMULATED,
      () => op.matmul(a, b),
      () => {
        const [M, K, N] = [sa.length > 1 ? sa[sa.length - 2]! : 1, sa[sa.length - 1]!, sb.length > 1 ? sb[sb.length - 1]! : 1];
        const batch = so.slice(0, -2);
        const res = new Float64Array(prod(so));
        for (let i = 0; i < Math.max(prod(batch), 1); i++) {
          const bi = unravel(i, batch);
          const off = (s: number[]) =>
            ravel(
              s.slice(0, -2).map((d, j) => (d === 1 ? 0 : bi[j + batch.length - (s.length - 2)]!)),
              s.slice(0, -2),
            );
          const r = refMatmul(vals(a), vals(b), M, K, N, sa.length > 2 ? off(sa) * M * K : 0, sb.length > 2 ? off(sb) * K * N : 0);
          res.set(r, i * M * N);
        }
        return out(so, res);
      },
    );
  };
  return [
    mm('matmul 2-D', [7, 13], [13, 5], [7, 5]),
    mm('matmul batched, shared B', [3, 5, 9], [9, 6], [3, 5, 6]),
    mm('matmul batched, broadcast A', [1, 5, 11], [3, 11, 6], [3, 5, 6]),
    mm('matmul K = 67', [3, 67], [67, 5], [3, 5]),
    mm('matmul vector · matrix', [9], [9, 6], [6]),
  ];
}

function gemmCases(): ConformanceCase[] {
  const rnd = mulberry(18);
  const gm = (name: string, tA: boolean, tB: boolean, cShape: number[] | undefined, alpha: number, beta: number) => {
    const [M, K, N] = [6, 11, 7];
    const a = f32(tA ? [K, M] : [M, K], rnd);
    const b = f32(tB ? [N, K] : [K, N], rnd);
    const c = cShape ? f32(cShape, rnd) : undefined;
    return mk(
      'linear',
      name,
      ACCUMULATED,
      () => op.gemm(a, b, c, { transA: tA, transB: tB, alpha, beta }),
      () => {
        const c0 = Float32Array.from({ length: M * N }, (_, i) => (c ? bget(vals(c), c.shape, unravel(i, [M, N])) : 0));
        return out([M, N], refGemm(a.data as Float32Array, b.data as Float32Array, c0, M, K, N, tA, tB, alpha, beta));
      },
    );
  };
  return [
    gm('gemm, C broadcast over rows', false, false, [7], 1, 1),
    gm('gemm transA transB, alpha, beta, C column', true, true, [6, 1], 0.5, 2),
    gm('gemm transB, no C', false, true, undefined, 1, 1),
  ];
}

function convCases(): ConformanceCase[] {
  const rnd = mulberry(19);
  const x = f32([2, 4, 9, 7], rnd);
  const cv = (
    name: string,
    ws: number[],
    bias: boolean,
    o: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number },
    xin = x,
  ) => {
    const w = f32(ws, rnd);
    const b = bias ? f32([ws[0]!], rnd) : undefined;
    const sp = xin.rank - 2;
    return mk(
      'linear',
      name,
      ACCUMULATED,
      () => op.conv(xin, w, b, o),
      () => {
        const r = refConv(
          xin.data as Float32Array,
          [...xin.shape],
          w.data as Float32Array,
          ws,
          b?.data as Float32Array | undefined,
          o.strides ?? new Array(sp).fill(1),
          o.pads ?? new Array(2 * sp).fill(0),
          o.dilations ?? new Array(sp).fill(1),
          o.group ?? 1,
        );
        return out(r.shape, r.data);
      },
    );
  };
  return [
    cv('conv2d padded, bias', [6, 4, 3, 3], true, { pads: [1, 1, 1, 1] }),
    cv('conv2d strided, dilated, asymmetric pads', [3, 4, 3, 2], false, { strides: [2, 1], dilations: [1, 2], pads: [0, 1, 2, 0] }),
    cv('conv2d grouped', [4, 2, 3, 3], true, { group: 2, pads: [1, 1, 1, 1] }),
    cv('conv2d depthwise', [4, 1, 3, 3], false, { group: 4 }),
    cv('conv1d', [5, 3, 4], true, { strides: [2], pads: [1, 2] }, f32([2, 3, 11], rnd)),
  ];
}

function poolCases(): ConformanceCase[] {
  const rnd = mulberry(20);
  const x = f32([2, 3, 9, 7], rnd);
  const pl = (name: string, kind: 'max' | 'avg', k: number[], s: number[], pads: number[], ceil = false, incl = false) =>
    mk(
      'linear',
      name,
      ACCUMULATED,
      () => (kind === 'max' ? op.maxPool : op.avgPool)(x, { kernelShape: k, strides: s, pads, ceilMode: ceil, countIncludePad: incl }),
      () => {
        const r = refPool(kind, x.data as Float32Array, [...x.shape], k, s, pads, [1, 1], ceil, incl);
        return out(r.shape, r.data);
      },
    );
  return [
    pl('maxPool', 'max', [3, 2], [2, 2], [1, 0, 1, 1]),
    pl('avgPool', 'avg', [2, 3], [1, 2], [1, 1, 0, 1]),
    pl('avgPool count pad, ceil mode', 'avg', [3, 3], [2, 2], [1, 1, 1, 1], true, true),
  ];
}

function normCases(): ConformanceCase[] {
  const rnd = mulberry(21);
  const x = op.add(f32([9, 13], rnd, -2, 2), 3); // |mean| ≫ 0 checks the centring
  const g = f32([13], rnd);
  const b = f32([13], rnd);
  const N = 'norm';
  const ref = (kind: 'ln' | 'rms', scale?: Tensor, bias?: Tensor, eps = 1e-5) =>
    refNorm(kind, vals(x), 9, 13, scale && vals(scale), bias && vals(bias), eps);
  const x4 = f32([2, 3, 4, 5], rnd, -2, 2);
  const g4 = f32([4, 5], rnd);
  return [
    mk(
      N,
      'layerNorm y, mean, invStdDev',
      ACCUMULATED,
      () => {
        const r = op.layerNormKernel(x, g, b, -1, 1e-5);
        return [r.y, r.mean, r.invStdDev];
      },
      () => {
        const r = ref('ln', g, b);
        return [out([9, 13], r.y), out([9, 1], r.mean), out([9, 1], r.inv)];
      },
    ),
    mk(
      N,
      'layerNorm without parameters',
      ACCUMULATED,
      () => op.layerNormKernel(x, undefined, undefined, -1, 1e-6).y,
      () => out([9, 13], ref('ln', undefined, undefined, 1e-6).y),
    ),
    mk(
      N,
      'layerNorm over the last two axes',
      ACCUMULATED,
      () => op.layerNormKernel(x4, g4, undefined, 2, 1e-5).y,
      () => out(x4.shape, refNorm('ln', vals(x4), 6, 20, vals(g4), undefined, 1e-5).y),
    ),
    mk(
      N,
      'rmsNorm',
      ACCUMULATED,
      () => op.rmsNormKernel(x, g, undefined, -1, 1e-6),
      () => out([9, 13], ref('rms', g, undefined, 1e-6).y),
    ),
    mk(
      N,
      'rmsNorm with bias',
      ACCUMULATED,
      () => op.rmsNormKernel(x, g, b, -1, 1e-5),
      () => out([9, 13], ref('rms', g, b).y),
    ),
    mk(
      N,
      'rmsNorm over the last two axes',
      ACCUMULATED,
      () => op.rmsNormKernel(x4, g4, undefined, 2, 1e-5),
      () => out(x4.shape, refNorm('rms', vals(x4), 6, 20, vals(g4), undefined, 1e-5).y),
    ),
  ];
}

function attentionCases(): ConformanceCase[] {
  const qkv = f32([2, 5, 36], mulberry(22), -2, 2);
  const c = mk(
    'attention',
    'selfAttention 3 heads',
    ACCUMULATED,
    () => op.selfAttention(qkv, 3),
    () => out([2, 5, 12], refAttention(qkv, 3, 1 / 2)),
  );
  return [{ ...c, needs: 'selfAttention' }];
}

function normBackwardCases(): ConformanceCase[] {
  const rnd = mulberry(23);
  const [rows, d] = [7, 10];
  const x = f32([rows, d], rnd, -2, 2);
  const dy = f32([rows, d], rnd);
  const g = f32([d], rnd);
  const opts: NormBackwardOptions = { axis: 1, epsilon: 1e-5, scale: g, bias: true };
  const kinds = [
    ['layerNormBackward', true],
    ['rmsNormBackward', false],
  ] as const;
  return kinds.map(([method, center]) => ({
    ...mk(
      'norm-backward',
      method,
      ACCUMULATED,
      () => [],
      () => {
        const r = refNormBackward(center, x.data as Float32Array, dy.data as Float32Array, rows, d, 1, g.data as Float32Array);
        return [out([rows, d], r.dx), out([d], r.dg), out([d], r.db)];
      },
    ),
    needs: method,
    compute: (be: Backend) => {
      const fn = be[method];
      if (!fn) throw new NormkitError('UNSUPPORTED_OP', `backend "${be.name}" has no ${method}`);
      const r = fn.call(be, dy, x, opts);
      return [r.dx, r.dScale as Tensor, r.dBias as Tensor];
    },
  }));
}

/** A GradKernels method of `be`, or a typed error naming what the backend lacks. */
function gradsOf(be: Backend): GradKernels {
  if (!be.grads) throw new NormkitError('UNSUPPORTED_OP', `backend "${be.name}" has no grads (backward kernels)`);
  return be.grads;
}

/** Backward kernels (`Backend.grads`), each against its derivative written out by hand. */
function gradCases(): ConformanceCase[] {
  const rnd = mulberry(24);
  const x = f32([4, 6], rnd, -2, 2);
  const dy = f32([4, 6], rnd);
  const y = op.tanh(x);
  const sm = op.softmax(x, 1);
  const lsm = op.logSoftmax(x, 1);
  const [vdy, vy, vsm, vlsm] = [dy, y, sm, lsm].map(vals) as [number[], number[], number[], number[]];
  const rowSum = (f: (i: number) => number, r: number) => Array.from({ length: 6 }, (_, j) => f(r * 6 + j)).reduce((s, v) => s + v, 0);
  const G = 'grads';
  const ids = new Tensor([5], 'int32', Int32Array.from([3, 0, 3, -1, 1]));
  const dyG = f32([5, 6], rnd);
  const vdyG = vals(dyG);
  const pads = [1, 2, 2, 1];
  const dyP = f32([7, 9], rnd);
  const vdyP = vals(dyP);
  const cases = [
    mk(
      G,
      'unary tanh',
      ACCUMULATED,
      (b) => gradsOf(b).unary('tanh', x, y, dy),
      () =>
        out(
          x.shape,
          vdy.map((d, i) => d * (1 - vy[i]! ** 2)),
        ),
    ),
    mk(
      G,
      'softmax',
      ACCUMULATED,
      (b) => gradsOf(b).softmax(dy, sm, 1, false),
      () =>
        out(
          x.shape,
          vsm.map((s, i) => s * (vdy[i]! - rowSum((k) => vdy[k]! * vsm[k]!, Math.floor(i / 6)))),
        ),
    ),
    mk(
      G,
      'logSoftmax',
      ACCUMULATED,
      (b) => gradsOf(b).softmax(dy, lsm, 1, true),
      () =>
        out(
          x.shape,
          vlsm.map((l, i) => vdy[i]! - Math.exp(l) * rowSum((k) => vdy[k]!, Math.floor(i / 6))),
        ),
    ),
    mk(
      G,
      'gather (scatter-add, repeated and negative indices)',
      ACCUMULATED,
      (b) => gradsOf(b).gather(dyG, ids, [4, 6], 0),
      () => {
        const r = new Float64Array(24);
        vals(ids).forEach((v, i) => {
          for (let j = 0; j < 6; j++) r[(v < 0 ? v + 4 : v) * 6 + j]! += vdyG[i * 6 + j]!;
        });
        return out([4, 6], r);
      },
    ),
    mk(
      G,
      'slice (strided, negative step)',
      EXACT,
      (b) => gradsOf(b).slice(op.slice(dy, [3, 0], [0, 6], [0, 1], [-1, 2]), [4, 6], [3, 0], [-1, 2]),
      () => {
        const r = new Float64Array(24);
        for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) r[(3 - i) * 6 + 2 * j] = vdy[(3 - i) * 6 + 2 * j]!;
        return out([4, 6], r);
      },
    ),
    mk(
      G,
      'pad reflect (folded back)',
      ACCUMULATED,
      (b) => gradsOf(b).pad(dyP, [4, 6], pads, 'reflect'),
      () => {
        const r = new Float64Array(24);
        vdyP.forEach((v, i) => {
          const [a, b] = unravel(i, [7, 9]) as [number, number];
          r[reflect(a - 1, 4) * 6 + reflect(b - 2, 6)]! += v;
        });
        return out([4, 6], r);
      },
    ),
  ];
  return cases.map((c) => ({ ...c, needs: 'grads' as const }));
}

/**
 * Every conformance case, in a fixed order (the same list in Node and in a browser bundle).
 * @example conformanceCases().map((c) => c.id) // ['elementwise/neg', ...]
 */
export function conformanceCases(): ConformanceCase[] {
  // Inputs derived with ops (masks, rounding) are made on the CPU backend, whatever backend is active.
  return withBackend(new CpuBackend(), () => [
    ...unaryCases(),
    ...geluCases(),
    ...binaryCases(),
    ...castCases(),
    ...reduceCases(),
    ...softmaxCases(),
    ...movementCases(),
    ...matmulCases(),
    ...gemmCases(),
    ...convCases(),
    ...poolCases(),
    ...normCases(),
    ...attentionCases(),
    ...normBackwardCases(),
    ...gradCases(),
  ]);
}
