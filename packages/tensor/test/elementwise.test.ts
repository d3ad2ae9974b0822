import {
  abs,
  add,
  ceil,
  clip,
  cos,
  div,
  elu,
  equal,
  erf,
  exp,
  floor,
  gelu,
  greater,
  greaterEqual,
  hardSigmoid,
  hardSwish,
  leakyRelu,
  less,
  lessEqual,
  log,
  logicalAnd,
  logicalNot,
  logicalOr,
  logicalXor,
  maximum,
  minimum,
  mod,
  mul,
  NormkitError,
  neg,
  pow,
  powScalar,
  reciprocal,
  relu,
  round,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sin,
  softplus,
  sqrt,
  sub,
  Tensor,
  tanh,
  where,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { bget, expectClose, mulberry, prod, randArray, randShape, refBroadcast, unravel } from './ref.js';

type BinFn = (a: Tensor | number, b: Tensor | number) => Tensor;
const BINARY: [string, BinFn, (a: number, b: number) => number][] = [
  ['add', add, (a, b) => a + b],
  ['sub', sub, (a, b) => a - b],
  ['mul', mul, (a, b) => a * b],
  ['div', div, (a, b) => a / b],
  ['pow', pow, (a, b) => Math.abs(a) ** b],
  ['minimum', minimum, Math.min],
  ['maximum', maximum, Math.max],
  ['less', less, (a, b) => +(a < b)],
  ['greaterEqual', greaterEqual, (a, b) => +(a >= b)],
];

/** Random pair of broadcast-compatible shapes: some dims set to 1 on either side, different ranks, scalars, zero dims. */
function shapePair(rnd: () => number): [number[], number[]] {
  const out = randShape(rnd, 0, 4, 4);
  if (rnd() < 0.1 && out.length > 0) out[Math.floor(rnd() * out.length)] = 0;
  const derive = () => {
    const drop = Math.floor(rnd() * (out.length + 1));
    return out.slice(drop).map((d) => (rnd() < 0.3 ? 1 : d));
  };
  return [derive(), derive()];
}

describe('binary elementwise with broadcasting', () => {
  it('matches a naive multi-index reference on 200 random shape pairs', () => {
    const rnd = mulberry(1);
    for (let t = 0; t < 200; t++) {
      const [sa, sb] = shapePair(rnd);
      const [name, f, ref] = BINARY[t % BINARY.length]!;
      const a = randArray(prod(sa), rnd, name === 'pow' ? 0.1 : -2, 2);
      const b = randArray(prod(sb), rnd, name === 'div' ? 0.5 : -2, 2);
      const A = new Tensor(sa, 'float32', name === 'pow' ? a : a);
      const B = new Tensor(sb, 'float32', b);
      const y = f(A, B);
      const shape = refBroadcast(sa, sb);
      expect(y.shape).toEqual(shape);
      const expected = Array.from({ length: prod(shape) }, (_, i) => {
        const idx = unravel(i, shape);
        return ref(bget(a, sa, idx), bget(b, sb, idx));
      });
      expectClose(y.toFlatArray(), expected, 1e-6, 1e-5);
    }
  });

  it('hand cases: scalars, size-1 dims, empty tensors', () => {
    expect(add(Tensor.from([[1], [2]]), Tensor.from([10, 20, 30])).toArray()).toEqual([
      [11, 21, 31],
      [12, 22, 32],
    ]);
    expect(mul(Tensor.scalar(3), Tensor.from([1, 2])).toArray()).toEqual([3, 6]);
    expect(sub(2, Tensor.from([1, 5])).toArray()).toEqual([1, -3]);
    expect(add(Tensor.scalar(1), Tensor.scalar(2)).shape).toEqual([]);
    expect(add(Tensor.zeros([0, 3]), Tensor.from([1, 2, 3])).shape).toEqual([0, 3]);
    expect(add(Tensor.zeros([2, 0]), Tensor.zeros([1, 1])).shape).toEqual([2, 0]);
    expect(mod(Tensor.from([-7, 7, -7, 7]), Tensor.from([3, -3, -3, 3])).toArray()).toEqual([2, -2, -1, 1]);
  });

  it('int64, int32 and bool paths', () => {
    const a = Tensor.from(
      [
        [7, -7],
        [9, 4],
      ],
      undefined,
      'int64',
    );
    const b = Tensor.from([2, -3], undefined, 'int64');
    const q = div(a, b);
    expect(q.dtype).toBe('int64');
    expect(q.toArray()).toEqual([
      [3, 2],
      [4, -1],
    ]);
    expect(add(a, 1).dtype).toBe('int64');
    expect(add(a, 1).toArray()).toEqual([
      [8, -6],
      [10, 5],
    ]);
    const eq = equal(a, Tensor.from([7, 4], undefined, 'int64'));
    expect(eq.dtype).toBe('bool');
    expect(eq.toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
    const i32 = Tensor.from([5, -5, 6], undefined, 'int32');
    expect(div(i32, Tensor.from([2, 2, 4], undefined, 'int32')).toArray()).toEqual([2, -2, 1]);
    expect(mul(i32, i32).dtype).toBe('int32');
    const p = Tensor.from([true, true, false, false]);
    const r = Tensor.from([true, false, true, false]);
    expect(p.dtype).toBe('bool');
    expect(logicalAnd(p, r).toArray()).toEqual([1, 0, 0, 0]);
    expect(logicalOr(p, r).toArray()).toEqual([1, 1, 1, 0]);
    expect(logicalXor(p, r).toArray()).toEqual([0, 1, 1, 0]);
    expect(logicalNot(p).toArray()).toEqual([0, 0, 1, 1]);
    expect(greater(Tensor.from([1, 2, 3]), 2).toArray()).toEqual([0, 0, 1]);
    expect(lessEqual(Tensor.from([1, 2, 3]), 2).toArray()).toEqual([1, 1, 0]);
    expect(abs(Tensor.from([-3, 4], undefined, 'int64')).toArray()).toEqual([3, 4]);
    expect(neg(Tensor.from([-3, 4], undefined, 'int32')).toArray()).toEqual([3, -4]);
  });

  it('where broadcasts all three operands (and keeps int64)', () => {
    const c = Tensor.from([[true], [false]]);
    expect(where(c, Tensor.from([1, 2, 3]), 0).toArray()).toEqual([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    const rnd = mulberry(2);
    for (let t = 0; t < 30; t++) {
      const [sa, sb] = shapePair(rnd);
      const sc = sa.map((d) => (rnd() < 0.5 ? 1 : d));
      const cd = new Uint8Array(prod(sc)).map(() => (rnd() < 0.5 ? 1 : 0));
      const a = randArray(prod(sa), rnd);
      const b = randArray(prod(sb), rnd);
      const y = where(new Tensor(sc, 'bool', cd), new Tensor(sa, 'float32', a), new Tensor(sb, 'float32', b));
      const shape = refBroadcast(sc, sa, sb);
      const expected = Array.from({ length: prod(shape) }, (_, i) => {
        const idx = unravel(i, shape);
        return bget(cd, sc, idx) ? bget(a, sa, idx) : bget(b, sb, idx);
      });
      expect(y.toFlatArray()).toEqual(expected);
    }
    const yi = where(Tensor.from([true, false]), Tensor.from([5, 6], undefined, 'int64'), Tensor.from([-1, -2], undefined, 'int64'));
    expect(yi.dtype).toBe('int64');
    expect(yi.toArray()).toEqual([5, -2]);
  });

  it('errors name the op and both shapes', () => {
    const err = (() => {
      try {
        add(Tensor.zeros([2, 3]), Tensor.zeros([4]));
      } catch (e) {
        return e as NormkitError;
      }
    })();
    expect(err).toBeInstanceOf(NormkitError);
    expect(err?.code).toBe('SHAPE_MISMATCH');
    expect(err?.message).toMatch(/add.*\[2, 3\].*\[4\]/);
    expect(() => add(Tensor.zeros([2]), Tensor.zeros([2], 'int64'))).toThrow(/add: dtypes differ \(float32 \[2\] vs int64 \[2\]\)/);
    expect(() => where(Tensor.zeros([2]), Tensor.zeros([2]), 0)).toThrow(NormkitError);
    expect(() => exp(Tensor.zeros([2], 'int64'))).toThrow(/exp: expected a float tensor, got int64 \[2\]/);
    expect(() => logicalNot(Tensor.zeros([2]))).toThrow(NormkitError);
  });
});

describe('unary ops', () => {
  const xs = [-6, -3.5, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2.5, 3.5, 8, 25];
  const x = Tensor.from(xs);
  const check = (y: Tensor, f: (v: number) => number, tol = 1e-6) =>
    expectClose(
      y.toFlatArray(),
      xs.map((v) => Math.fround(f(Math.fround(v)))),
      tol,
      tol,
    );
  it('match the math definitions', () => {
    check(neg(x), (v) => -v);
    check(abs(x), Math.abs);
    check(exp(x), Math.exp);
    check(tanh(x), Math.tanh);
    check(sigmoid(x), (v) => 1 / (1 + Math.exp(-v)));
    check(relu(x), (v) => Math.max(v, 0));
    check(silu(x), (v) => v / (1 + Math.exp(-v)));
    check(softplus(x), (v) => Math.log(1 + Math.exp(v)));
    check(sin(x), Math.sin);
    check(cos(x), Math.cos);
    check(floor(x), Math.floor);
    check(ceil(x), Math.ceil);
    check(sign(x), Math.sign);
    check(gelu(x, 'tanh'), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    check(hardSigmoid(x), (v) => Math.max(0, Math.min(1, 0.2 * v + 0.5)));
    check(hardSigmoid(x, 0.5, 0.1), (v) => Math.max(0, Math.min(1, 0.5 * v + 0.1)));
    check(hardSwish(x), (v) => (v * Math.max(0, Math.min(6, v + 3))) / 6);
    check(clip(x, -1, 2), (v) => Math.min(2, Math.max(-1, v)));
    check(leakyRelu(x, 0.1), (v) => (v >= 0 ? v : 0.1 * v));
    check(elu(x, 0.7), (v) => (v >= 0 ? v : 0.7 * (Math.exp(v) - 1)));
    check(powScalar(x, 3), (v) => v ** 3);
    const pos = Tensor.from([0.25, 1, 4, 9]);
    expect(sqrt(pos).toArray()).toEqual([0.5, 1, 2, 3]);
    expect(rsqrt(pos).toArray()).toEqual([2, 1, 0.5, 1 / 3].map(Math.fround));
    expect(reciprocal(pos).toArray()).toEqual([4, 1, 0.25, 1 / 9].map(Math.fround));
    expectClose(log(pos).toFlatArray(), [Math.log(0.25), 0, Math.log(4), Math.log(9)], 1e-6, 1e-6);
    expect(Number.isNaN(sqrt(Tensor.from([-1])).get(0))).toBe(true);
  });
  it('erf and exact GELU against tabulated values', () => {
    // erf values from Abramowitz & Stegun table 7.1.
    const e = erf(Tensor.from([0, 0.1, 0.5, 1, 1.5, 2, -0.5, -2, 4])).toFlatArray();
    expectClose(
      e,
      [0, 0.112462916, 0.5204998778, 0.8427007929, 0.9661051465, 0.995322265, -0.5204998778, -0.995322265, 0.9999999846],
      2e-7,
      0,
    );
    // GELU(x) = x·Φ(x): Φ(1) = 0.8413447461, Φ(-1) = 0.1586552539, Φ(2) = 0.9772498681.
    expectClose(gelu(Tensor.from([1, -1, 2, 0])).toFlatArray(), [0.8413447461, -0.1586552539, 1.9544997361, 0], 2e-7, 1e-6);
  });
  it('round is half-to-even (ONNX Round)', () => {
    expect(round(Tensor.from([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, -2.6])).toArray()).toEqual([0, 2, 2, -0, -2, 2, 3, -3]);
  });
  it('keeps shapes, handles empty and scalar tensors', () => {
    expect(relu(Tensor.zeros([0, 4])).shape).toEqual([0, 4]);
    expect(exp(Tensor.scalar(0)).toArray()).toBe(1);
    expect(clip(Tensor.from([-5, 5], undefined, 'int64'), -2, 3).toArray()).toEqual([-2, 3]);
  });
});
