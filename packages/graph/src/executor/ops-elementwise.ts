import * as T from '@normkit/tensor';
import { isFloat, Tensor } from '@normkit/tensor';
import { attr } from '../ir.js';
import { has, invalid, need, type OpContext, registerOp, scalarOf, unsupported } from './registry.js';

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

for (const [op, f] of Object.entries(binaryOps)) {
  registerOp('', op, (ctx) => [f(need(ctx, 0), need(ctx, 1))]);
}

registerOp('', 'Pow', (ctx) => {
  const x = need(ctx, 0);
  let y = need(ctx, 1);
  if (y.dtype !== x.dtype) y = T.cast(y, x.dtype);
  if (y.size === 1 && y.rank <= x.rank && isFloat(x.dtype)) {
    // A one-element exponent of rank ≤ x's broadcasts to x's shape: the constant-exponent fast path.
    return [T.powScalar(x, Number(y.data[0]))];
  }
  return [T.pow(x, y)];
});

/** Truncation toward zero, composed from tensor ops (sign · floor(|x|)). */
function trunc(x: Tensor): Tensor {
  return T.mul(T.sign(x), T.floor(T.abs(x)));
}

registerOp('', 'Mod', (ctx) => {
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
for (const [op, f] of Object.entries(unaryOps)) registerOp('', op, (ctx) => [f(need(ctx, 0))]);

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
  registerOp('', op, (ctx) => {
    const x = need(ctx, 0);
    if (!isFloat(x.dtype)) throw invalid(ctx, `expects a float input, got ${x.dtype}`);
    const out = new Tensor(x.shape, x.dtype);
    const src = x.data as Float32Array;
    const o = out.data as Float32Array;
    for (let i = 0; i < src.length; i++) o[i] = fn(src[i]!);
    return [out];
  });
}

/** Swish (opset 24): x · sigmoid(αx). */
registerOp('', 'Swish', (ctx) => {
  const x = need(ctx, 0);
  const alpha = attr(ctx.node, 'alpha', 'float', 1);
  return [T.mul(x, T.sigmoid(alpha === 1 ? x : T.mul(x, alpha)))];
});

registerOp('', 'Identity', (ctx) => [need(ctx, 0)]);

registerOp('', 'Gelu', (ctx) => {
  const approx = attr(ctx.node, 'approximate', 'string', 'none');
  if (approx !== 'none' && approx !== 'tanh') throw unsupported(ctx, `approximate="${approx}"`);
  return [T.gelu(need(ctx, 0), approx)];
});

registerOp('', 'LeakyRelu', (ctx) => [T.leakyRelu(need(ctx, 0), attr(ctx.node, 'alpha', 'float', 0.01))]);
registerOp('', 'Elu', (ctx) => [T.elu(need(ctx, 0), attr(ctx.node, 'alpha', 'float', 1))]);
registerOp('', 'Selu', (ctx) => {
  const alpha = attr(ctx.node, 'alpha', 'float', Math.fround(1.6732632423543772));
  const gamma = attr(ctx.node, 'gamma', 'float', Math.fround(1.0507009873554805));
  return [T.mul(T.elu(need(ctx, 0), alpha), gamma)];
});
registerOp('', 'Celu', (ctx) => {
  const alpha = attr(ctx.node, 'alpha', 'float', 1);
  const x = need(ctx, 0);
  // max(0,x) + min(0, α(exp(x/α) − 1)) = α·elu(x/α, 1)
  return [T.mul(T.elu(T.div(x, alpha), 1), alpha)];
});
registerOp('', 'ThresholdedRelu', (ctx) => {
  const x = need(ctx, 0);
  const alpha = attr(ctx.node, 'alpha', 'float', 1);
  return [T.where(T.greater(x, alpha), x, 0)];
});
registerOp('', 'HardSigmoid', (ctx) => [
  T.hardSigmoid(need(ctx, 0), attr(ctx.node, 'alpha', 'float', 0.2), attr(ctx.node, 'beta', 'float', 0.5)),
]);
registerOp('', 'Softsign', (ctx) => {
  const x = need(ctx, 0);
  return [T.div(x, T.add(T.abs(x), 1))];
});
registerOp('', 'Mish', (ctx) => {
  const x = need(ctx, 0);
  return [T.mul(x, T.tanh(T.softplus(x)))];
});
registerOp('', 'PRelu', (ctx) => {
  const x = need(ctx, 0);
  let slope = need(ctx, 1);
  if (slope.dtype !== x.dtype) slope = T.cast(slope, x.dtype);
  return [T.where(T.less(x, 0), T.mul(x, slope), x)];
});

registerOp('', 'Clip', (ctx) => {
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
});

registerOp('', 'IsNaN', (ctx) => {
  const x = need(ctx, 0);
  return [T.logicalNot(T.equal(x, x))];
});
registerOp('', 'IsInf', (ctx) => {
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
});

registerOp('', 'Where', (ctx) => {
  let cond = need(ctx, 0);
  if (cond.dtype !== 'bool') cond = T.cast(cond, 'bool');
  return [T.where(cond, need(ctx, 1), need(ctx, 2))];
});

// Variadic ops fold left with broadcasting.
function variadic(ctx: OpContext, f: (a: Tensor, b: Tensor) => Tensor): Tensor {
  const xs = ctx.inputs.filter((t): t is Tensor => t !== undefined);
  if (xs.length === 0) throw invalid(ctx, 'needs at least one input');
  let acc = xs[0]!;
  for (let i = 1; i < xs.length; i++) acc = f(acc, xs[i]!);
  return acc;
}
registerOp('', 'Sum', (ctx) => [variadic(ctx, T.add)]);
registerOp('', 'Max', (ctx) => [variadic(ctx, T.maximum)]);
registerOp('', 'Min', (ctx) => [variadic(ctx, T.minimum)]);
registerOp('', 'Mean', (ctx) => {
  const n = ctx.inputs.filter((t) => t !== undefined).length;
  return [T.div(variadic(ctx, T.add), n)];
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const ELEMENTWISE_OPS = 'elementwise';
