import * as T from '@normkit/tensor';
import { isFloat, Tensor } from '@normkit/tensor';
import { attr, type Dim } from '../ir.js';
import { arith, broadcastShape, type InferredValue, isNum, sameShape, symOf } from './dims.js';
import { defineOnnxOp, type FoldRole, has, invalid, need, type OpContext, type ShapeContext, scalarOf, unsupported } from './registry.js';

// Elementwise ONNX ops: arithmetic, comparisons, logic, activations, variadic Min/Max/Sum/Mean.

const binaryOps: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  Add: T.add,
  Sub: T.sub,
  Mul: T.mul,
  Div: T.div,
  Equal: T.equal,
  Less: T.less,
  LessOrEqual: T.lessEqual,
  Greater: T.greater,
  GreaterOrEqual: T.greaterEqual,
  And: T.logicalAnd,
  Or: T.logicalOr,
  Xor: T.logicalXor,
};

/** Foldability roles of the binary ops that have one (the comparisons and logic ops block). */
const binaryRoles: Record<string, FoldRole> = { Add: 'sum', Sub: 'sum', Mul: 'scale', Div: 'scale' };
for (const [op, f] of Object.entries(binaryOps)) {
  const bool = op !== 'Add' && op !== 'Sub' && op !== 'Mul' && op !== 'Div';
  defineOnnxOp('', op, {
    kernel: (ctx) => [f(need(ctx, 0), need(ctx, 1))],
    shape: bool ? (op === 'Equal' ? equalShape : broadcastShape('bool')) : arithmeticShape,
    fold: binaryRoles[op],
  });
}

/** Shape rule of Add/Sub/Mul/Div: broadcast, plus the arithmetic on symbolic integer vectors (shape computations). */
function arithmeticShape(ctx: ShapeContext): InferredValue[] {
  const [out] = broadcastShape()(ctx) as [InferredValue];
  const p = symOf(ctx.inputs[0]);
  const q = symOf(ctx.inputs[1]);
  if (p && q && (p.length === q.length || p.length === 1 || q.length === 1)) {
    const n = Math.max(p.length, q.length);
    out.sym = Array.from({ length: n }, (_, i) => arith(ctx.node.opType, p[p.length === 1 ? 0 : i], q[q.length === 1 ? 0 : i]));
  }
  return [out];
}

/** Shape rule of Equal: broadcast to bool, plus element comparison of symbolic integer vectors. */
function equalShape(ctx: ShapeContext): InferredValue[] {
  const [out] = broadcastShape('bool')(ctx) as [InferredValue];
  const p = symOf(ctx.inputs[0]);
  const q = symOf(ctx.inputs[1]);
  if (p && q && (p.length === q.length || q.length === 1 || p.length === 1)) {
    const n = Math.max(p.length, q.length);
    out.sym = Array.from({ length: n }, (_, i) => {
      const u = p[p.length === 1 ? 0 : i];
      const v = q[q.length === 1 ? 0 : i];
      if (isNum(u) && isNum(v)) return u === v ? 1 : 0;
      // A dimension is never negative: a symbol equals no negative number.
      if ((typeof u === 'string' && isNum(v) && v < 0) || (typeof v === 'string' && isNum(u) && u < 0)) return 0;
      return undefined;
    });
  }
  return [out];
}

/** Shape rule of Where: broadcast of all three, the dtype of X, and selection over symbolic vectors. */
function whereShape(ctx: ShapeContext): InferredValue[] {
  const [out] = broadcastShape(undefined, 1)(ctx) as [InferredValue];
  const [c, p, q] = ctx.inputs.map(symOf);
  if (c && p && q && c.every(isNum)) {
    const n = Math.max(c.length, p.length, q.length);
    const at = (v: Dim[], i: number) => v[v.length === 1 ? 0 : i];
    out.sym = Array.from({ length: n }, (_, i) => (at(c, i) ? at(p, i) : at(q, i)));
  }
  return [out];
}

defineOnnxOp('', 'Pow', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    let y = need(ctx, 1);
    if (y.dtype !== x.dtype) y = T.cast(y, x.dtype);
    if (y.size === 1 && y.rank <= x.rank && isFloat(x.dtype)) {
      // A one-element exponent of rank ≤ x's broadcasts to x's shape: the constant-exponent fast path.
      return [T.powScalar(x, Number(y.data[0]))];
    }
    return [T.pow(x, y)];
  },
  shape: broadcastShape(),
  hostInputs: [1],
});

/** Truncation toward zero, composed from tensor ops (sign · floor(|x|)). */
function trunc(x: Tensor): Tensor {
  return T.mul(T.sign(x), T.floor(T.abs(x)));
}

defineOnnxOp('', 'Mod', {
  kernel: (ctx) => {
    const a = need(ctx, 0);
    const b = need(ctx, 1);
    const fmod = attr(ctx.node, 'fmod', 'int', 0);
    if (!fmod) {
      if (isFloat(a.dtype)) throw invalid(ctx, 'fmod=0 requires integer inputs (the ONNX spec); set fmod=1 for floats');
      return [T.mod(a, b)];
    }
    if (isFloat(a.dtype)) return [T.sub(a, T.mul(b, trunc(T.div(a, b))))];
    // Integer C fmod: the sign of the dividend; integer div already truncates.
    return [T.sub(a, T.mul(b, T.div(a, b)))];
  },
  shape: broadcastShape(),
});

const unaryOps: Record<string, (x: Tensor) => Tensor> = {
  Sqrt: T.sqrt,
  Reciprocal: T.reciprocal,
  Neg: T.neg,
  Abs: T.abs,
  Exp: T.exp,
  Log: T.log,
  Erf: T.erf,
  Tanh: T.tanh,
  Sigmoid: T.sigmoid,
  Relu: T.relu,
  Sin: T.sin,
  Cos: T.cos,
  Floor: T.floor,
  Ceil: T.ceil,
  Round: T.round,
  Sign: T.sign,
  Softplus: T.softplus,
  Not: T.logicalNot,
  HardSwish: T.hardSwish,
};
const unaryRoles: Record<string, FoldRole> = {
  Erf: 'nonlinear',
  Tanh: 'nonlinear',
  Sigmoid: 'nonlinear',
  Relu: 'nonlinear',
  Softplus: 'nonlinear',
  HardSwish: 'nonlinear',
};
for (const [op, f] of Object.entries(unaryOps))
  defineOnnxOp('', op, { kernel: (ctx) => [f(need(ctx, 0))], shape: sameShape(op === 'Not' ? 'bool' : undefined), fold: unaryRoles[op] });

/** Elementwise math without a tensor kernel, over host data (float results keep the input dtype). */
const hostUnary: Record<string, (v: number) => number> = {
  Tan: Math.tan,
  Asin: Math.asin,
  Acos: Math.acos,
  Atan: Math.atan,
  Sinh: Math.sinh,
  Cosh: Math.cosh,
  Asinh: Math.asinh,
  Acosh: Math.acosh,
  Atanh: Math.atanh,
};
for (const [op, fn] of Object.entries(hostUnary)) {
  defineOnnxOp('', op, {
    kernel: (ctx) => {
      const x = need(ctx, 0);
      if (!isFloat(x.dtype)) throw invalid(ctx, `expects a float input, got ${x.dtype}`);
      const out = new Tensor(x.shape, x.dtype);
      const src = x.data as Float32Array;
      const o = out.data as Float32Array;
      for (let i = 0; i < src.length; i++) o[i] = fn(src[i]!);
      return [out];
    },
    shape: sameShape(),
    hostInputs: 'all',
  });
}

/** Swish (opset 24): x · sigmoid(αx). */
defineOnnxOp('', 'Swish', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const alpha = attr(ctx.node, 'alpha', 'float', 1);
    return [T.mul(x, T.sigmoid(alpha === 1 ? x : T.mul(x, alpha)))];
  },
  shape: sameShape(),
});

defineOnnxOp('', 'Identity', { kernel: (ctx) => [need(ctx, 0)], shape: sameShape(), fold: 'passThrough' });

defineOnnxOp('', 'Gelu', {
  kernel: (ctx) => {
    const approx = attr(ctx.node, 'approximate', 'string', 'none');
    if (approx !== 'none' && approx !== 'tanh') throw unsupported(ctx, `approximate="${approx}"`);
    return [T.gelu(need(ctx, 0), approx)];
  },
  shape: sameShape(),
  fold: 'nonlinear',
});

defineOnnxOp('', 'LeakyRelu', {
  kernel: (ctx) => [T.leakyRelu(need(ctx, 0), attr(ctx.node, 'alpha', 'float', 0.01))],
  shape: sameShape(),
  fold: 'nonlinear',
});
defineOnnxOp('', 'Elu', {
  kernel: (ctx) => [T.elu(need(ctx, 0), attr(ctx.node, 'alpha', 'float', 1))],
  shape: sameShape(),
  fold: 'nonlinear',
});
defineOnnxOp('', 'Selu', {
  kernel: (ctx) => {
    const alpha = attr(ctx.node, 'alpha', 'float', Math.fround(1.6732632423543772));
    const gamma = attr(ctx.node, 'gamma', 'float', Math.fround(1.0507009873554805));
    return [T.mul(T.elu(need(ctx, 0), alpha), gamma)];
  },
  shape: sameShape(),
});
defineOnnxOp('', 'Celu', {
  kernel: (ctx) => {
    const alpha = attr(ctx.node, 'alpha', 'float', 1);
    const x = need(ctx, 0);
    // max(0,x) + min(0, α(exp(x/α) − 1)) = α·elu(x/α, 1)
    return [T.mul(T.elu(T.div(x, alpha), 1), alpha)];
  },
  shape: sameShape(),
});
defineOnnxOp('', 'ThresholdedRelu', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const alpha = attr(ctx.node, 'alpha', 'float', 1);
    return [T.where(T.greater(x, alpha), x, 0)];
  },
  shape: sameShape(),
});
defineOnnxOp('', 'HardSigmoid', {
  kernel: (ctx) => [T.hardSigmoid(need(ctx, 0), attr(ctx.node, 'alpha', 'float', 0.2), attr(ctx.node, 'beta', 'float', 0.5))],
  shape: sameShape(),
});
defineOnnxOp('', 'Softsign', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    return [T.div(x, T.add(T.abs(x), 1))];
  },
  shape: sameShape(),
});
defineOnnxOp('', 'Mish', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    return [T.mul(x, T.tanh(T.softplus(x)))];
  },
  shape: sameShape(),
  hostInputs: 'all',
});
defineOnnxOp('', 'PRelu', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    let slope = need(ctx, 1);
    if (slope.dtype !== x.dtype) slope = T.cast(slope, x.dtype);
    return [T.where(T.less(x, 0), T.mul(x, slope), x)];
  },
  shape: sameShape(),
});

defineOnnxOp('', 'Clip', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    let lo = Number.NEGATIVE_INFINITY;
    let hi = Number.POSITIVE_INFINITY;
    if (ctx.opset < 11) {
      lo = attr(ctx.node, 'min', 'float', -3.4028234663852886e38);
      hi = attr(ctx.node, 'max', 'float', 3.4028234663852886e38);
    }
    if (has(ctx, 1)) lo = scalarOf(ctx, need(ctx, 1), 'min');
    if (has(ctx, 2)) hi = scalarOf(ctx, need(ctx, 2), 'max');
    return [T.clip(x, lo, hi)];
  },
  shape: sameShape(),
  hostInputs: [1, 2],
});

defineOnnxOp('', 'IsNaN', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    return [T.logicalNot(T.equal(x, x))];
  },
  shape: sameShape('bool'),
  hostInputs: 'all',
});
defineOnnxOp('', 'IsInf', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const pos = attr(ctx.node, 'detect_positive', 'int', 1);
    const negv = attr(ctx.node, 'detect_negative', 'int', 1);
    const src = x.data;
    const out = new Uint8Array(x.size);
    for (let i = 0; i < out.length; i++) {
      const v = Number(src[i]);
      out[i] = (v === Number.POSITIVE_INFINITY && pos) || (v === Number.NEGATIVE_INFINITY && negv) ? 1 : 0;
    }
    return [new Tensor(x.shape, 'bool', out)];
  },
  shape: sameShape('bool'),
  hostInputs: 'all',
});

defineOnnxOp('', 'Where', {
  kernel: (ctx) => {
    let cond = need(ctx, 0);
    if (cond.dtype !== 'bool') cond = T.cast(cond, 'bool');
    return [T.where(cond, need(ctx, 1), need(ctx, 2))];
  },
  shape: whereShape,
});

// Variadic ops fold left with broadcasting.
function variadic(ctx: OpContext, f: (a: Tensor, b: Tensor) => Tensor): Tensor {
  const xs = ctx.inputs.filter((t): t is Tensor => t !== undefined);
  if (xs.length === 0) throw invalid(ctx, 'needs at least one input');
  let acc = xs[0]!;
  for (let i = 1; i < xs.length; i++) acc = f(acc, xs[i]!);
  return acc;
}
defineOnnxOp('', 'Sum', { kernel: (ctx) => [variadic(ctx, T.add)], shape: broadcastShape(), fold: 'sum' });
defineOnnxOp('', 'Max', { kernel: (ctx) => [variadic(ctx, T.maximum)], shape: broadcastShape() });
defineOnnxOp('', 'Min', { kernel: (ctx) => [variadic(ctx, T.minimum)], shape: broadcastShape() });
defineOnnxOp('', 'Mean', {
  kernel: (ctx) => {
    const n = ctx.inputs.filter((t) => t !== undefined).length;
    return [T.div(variadic(ctx, T.add), n)];
  },
  shape: broadcastShape(),
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const ELEMENTWISE_OPS = 'elementwise';
