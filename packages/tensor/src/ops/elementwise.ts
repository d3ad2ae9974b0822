import { type BinaryOp, getBackend, type UnaryOp, type UnaryParamOp } from '../backend.js';
import { fmtShape, NormkitError } from '../errors.js';
import { defineOp, type GradFn, type OpDef, runOp } from '../op-registry.js';
import { broadcastShapes } from '../shape.js';
import { Tensor } from '../tensor.js';
import { asTensor, gradKernels, requireFloat, requireSameDtype, type Scalarish } from './common.js';
import { sumToShape } from './reduce.js';

// Elementwise ops: binary with broadcasting, where, unary and parameterised unary. Each op's definition
// (name = the public function's, gradient) sits beside the function that validates and dispatches it.

const BINARY_DEFS = new Map<BinaryOp, OpDef>();
const BINARY_NAMES: Partial<Record<BinaryOp, string>> = {
  min: 'minimum',
  max: 'maximum',
  and: 'logicalAnd',
  or: 'logicalOr',
  xor: 'logicalXor',
};
const binaryDef = (op: BinaryOp, grad?: GradFn) => BINARY_DEFS.set(op, defineOp({ name: BINARY_NAMES[op] ?? op, grad }));
const shapeOf = (t: Tensor | undefined) => (t as Tensor).shape;
binaryDef('add', (dy, { inputs: [a, b] }) => [sumToShape(dy, shapeOf(a)), sumToShape(dy, shapeOf(b))]);
binaryDef('sub', (dy, { inputs: [a, b] }) => [sumToShape(dy, shapeOf(a)), sumToShape(neg(dy), shapeOf(b))]);
binaryDef('mul', (dy, { inputs: [a, b] }) => [sumToShape(mul(dy, b as Tensor), shapeOf(a)), sumToShape(mul(dy, a as Tensor), shapeOf(b))]);
binaryDef('div', (dy, { inputs: [a, b], output }) => [
  sumToShape(div(dy, b as Tensor), shapeOf(a)),
  sumToShape(neg(div(mul(dy, output), b as Tensor)), shapeOf(b)),
]);
// d(aᵇ)/da = b·aᵇ⁻¹ (0 where b = 0, as PyTorch); d(aᵇ)/db = aᵇ·ln a where a > 0, else 0.
binaryDef('pow', (dy, { inputs: [a, b], output }) => {
  const ta = a as Tensor;
  const tb = b as Tensor;
  const da = where(equal(tb, 0), 0, mul(tb, pow(ta, sub(tb, 1))));
  const db = where(greater(ta, 0), mul(output, log(ta)), 0);
  return [sumToShape(mul(dy, da), ta.shape), sumToShape(mul(dy, db), tb.shape)];
});
// The gradient goes to the selected operand; on ties each gets half: w = (sign(a − b) + 1) / 2 for max.
const extremumGrad =
  (op: 'min' | 'max'): GradFn =>
  (dy, { inputs: [a, b] }) => {
    const ta = a as Tensor;
    const tb = b as Tensor;
    const ga = mul(dy, mul(add(sign(op === 'max' ? sub(ta, tb) : sub(tb, ta)), 1), 0.5));
    return [sumToShape(ga, ta.shape), sumToShape(sub(dy, ga), tb.shape)];
  };
binaryDef('min', extremumGrad('min'));
binaryDef('max', extremumGrad('max'));
for (const op of ['mod', 'equal', 'less', 'lessEqual', 'greater', 'greaterEqual', 'and', 'or', 'xor'] as const) binaryDef(op);

function binary(op: BinaryOp, a: Scalarish, b: Scalarish): Tensor {
  const ta = asTensor(a, typeof b === 'number' ? undefined : b);
  const tb = asTensor(b, ta);
  requireSameDtype(op, ta, tb);
  return runOp(BINARY_DEFS.get(op) as OpDef, [ta, tb], undefined, () =>
    getBackend().binary(op, ta, tb, broadcastShapes(ta.shape, tb.shape, op)),
  );
}

/** Elementwise a + b with NumPy broadcasting; a number operand takes the other's dtype. @example add(x, 1); add(x, bias) */
export const add = (a: Scalarish, b: Scalarish): Tensor => binary('add', a, b);
/** Elementwise a − b with broadcasting. @example sub(x, mean(x, -1, true)) */
export const sub = (a: Scalarish, b: Scalarish): Tensor => binary('sub', a, b);
/** Elementwise a · b with broadcasting. @example mul(x, gamma) */
export const mul = (a: Scalarish, b: Scalarish): Tensor => binary('mul', a, b);
/** Elementwise a / b (integer dtypes truncate toward zero, as ONNX Div). @example div(x, 2) */
export const div = (a: Scalarish, b: Scalarish): Tensor => binary('div', a, b);
/** Elementwise a ** b with broadcasting. @example pow(x, 2) */
export const pow = (a: Scalarish, b: Scalarish): Tensor => binary('pow', a, b);
/** Elementwise minimum (NaN wins, as ONNX Min). @example minimum(x, 6) */
export const minimum = (a: Scalarish, b: Scalarish): Tensor => binary('min', a, b);
/** Elementwise maximum (NaN wins, as ONNX Max). @example maximum(x, 0) */
export const maximum = (a: Scalarish, b: Scalarish): Tensor => binary('max', a, b);
/** Remainder with the sign of the divisor (ONNX Mod, fmod = 0). @example mod(Tensor.from([-7]), 3) // [2] */
export const mod = (a: Scalarish, b: Scalarish): Tensor => binary('mod', a, b);
/** a == b elementwise, as a bool tensor. @example equal(ids, 0) */
export const equal = (a: Scalarish, b: Scalarish): Tensor => binary('equal', a, b);
/** a < b elementwise (bool). @example less(x, 0) */
export const less = (a: Scalarish, b: Scalarish): Tensor => binary('less', a, b);
/** a <= b elementwise (bool). @example lessEqual(x, 1) */
export const lessEqual = (a: Scalarish, b: Scalarish): Tensor => binary('lessEqual', a, b);
/** a > b elementwise (bool). @example greater(x, 0) */
export const greater = (a: Scalarish, b: Scalarish): Tensor => binary('greater', a, b);
/** a >= b elementwise (bool). @example greaterEqual(x, 0) */
export const greaterEqual = (a: Scalarish, b: Scalarish): Tensor => binary('greaterEqual', a, b);
/** Logical and of bool tensors, broadcasting. @example logicalAnd(greater(x, 0), less(x, 1)) */
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => binary('and', a, b);
/** Logical or of bool tensors. @example logicalOr(m1, m2) */
export const logicalOr = (a: Tensor, b: Tensor): Tensor => binary('or', a, b);
/** Logical exclusive or of bool tensors. @example logicalXor(m1, m2) */
export const logicalXor = (a: Tensor, b: Tensor): Tensor => binary('xor', a, b);

const WHERE = defineOp({
  name: 'where',
  grad: (dy, { inputs: [cond, a, b] }) => {
    const c = cond as Tensor;
    return [undefined, sumToShape(where(c, dy, 0), shapeOf(a)), sumToShape(where(c, 0, dy), shapeOf(b))];
  },
});

/** `cond ? a : b` elementwise, broadcasting all three. @example where(greater(x, 0), x, 0) */
export function where(cond: Tensor, a: Scalarish, b: Scalarish): Tensor {
  const ta = asTensor(a, typeof b === 'number' ? undefined : b);
  const tb = asTensor(b, ta);
  requireSameDtype('where', ta, tb);
  if (cond.dtype !== 'bool')
    throw new NormkitError('DTYPE_MISMATCH', `where: condition must be bool, got ${cond.dtype} ${fmtShape(cond.shape)}`);
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, 'where'), tb.shape, 'where');
  return runOp(WHERE, [cond, ta, tb], undefined, () => getBackend().where(cond, ta, tb, shape));
}

/** The backend op a unary op ran as: its gradient kernel reads it. */
type UnaryAttrs = { op: UnaryOp | UnaryParamOp };
const unaryGrad: GradFn<UnaryAttrs> = (dy, { inputs: [x], output, attrs }) => [gradKernels().unary(attrs.op, x as Tensor, output, dy)];
const zeroGrad: GradFn = (dy, { inputs: [x] }) => [Tensor.zeros(shapeOf(x), dy.dtype)];
const UNARY_DEFS = new Map<string, OpDef<UnaryAttrs>>();
const DIFFERENTIABLE_UNARY = [
  'neg',
  'abs',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'reciprocal',
  'erf',
  'tanh',
  'sigmoid',
  'relu',
  'gelu',
  'silu',
  'softplus',
  'sin',
  'cos',
  'leakyRelu',
  'elu',
  'hardSigmoid',
  'hardSwish',
  'clip',
  'powScalar',
];
for (const name of DIFFERENTIABLE_UNARY) UNARY_DEFS.set(name, defineOp({ name, grad: unaryGrad }));
for (const name of ['floor', 'ceil', 'round', 'sign']) UNARY_DEFS.set(name, defineOp({ name, grad: zeroGrad }));
UNARY_DEFS.set('logicalNot', defineOp({ name: 'logicalNot' }));
const UNARY_NAMES: Partial<Record<UnaryOp, string>> = { not: 'logicalNot', geluTanh: 'gelu' };

function unary(op: UnaryOp, x: Tensor): Tensor {
  if (op === 'not') {
    if (x.dtype !== 'bool') throw new NormkitError('DTYPE_MISMATCH', `not: expected bool, got ${x.dtype}`);
  } else if (!['neg', 'abs', 'sign', 'relu'].includes(op)) requireFloat(op, x);
  return runOp(UNARY_DEFS.get(UNARY_NAMES[op] ?? op) as OpDef<UnaryAttrs>, [x], { op }, () => getBackend().unary(op, x));
}

function unaryParam(p: UnaryParamOp, x: Tensor): Tensor {
  if (p.op !== 'clip') requireFloat(p.op, x); // clip takes any numeric dtype
  return runOp(UNARY_DEFS.get(p.op) as OpDef<UnaryAttrs>, [x], { op: p }, () => getBackend().unaryParam(p, x));
}

/** −x (float and int dtypes). @example neg(Tensor.from([1, -2])) // [-1, 2] */
export const neg = (x: Tensor): Tensor => unary('neg', x);
/** |x| (float and int dtypes). @example abs(Tensor.from([-3])) // [3] */
export const abs = (x: Tensor): Tensor => unary('abs', x);
/** eˣ. @example exp(Tensor.from([0])) // [1] */
export const exp = (x: Tensor): Tensor => unary('exp', x);
/** Natural logarithm. @example log(Tensor.from([1])) // [0] */
export const log = (x: Tensor): Tensor => unary('log', x);
/** Square root (NaN below 0). @example sqrt(Tensor.from([4])) // [2] */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** 1/√x. @example rsqrt(Tensor.from([4])) // [0.5] */
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
/** 1/x. @example reciprocal(Tensor.from([4])) // [0.25] */
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
/** Gauss error function (|error| < 1.2e-7). @example erf(Tensor.from([1])) // [0.8427] */
export const erf = (x: Tensor): Tensor => unary('erf', x);
/** Hyperbolic tangent. @example tanh(Tensor.from([0])) // [0] */
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
/** 1/(1+e⁻ˣ), computed without overflow for large |x|. @example sigmoid(Tensor.from([0])) // [0.5] */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** max(x, 0) (float and int dtypes). @example relu(Tensor.from([-1, 2])) // [0, 2] */
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** GELU: x·Φ(x) exactly (erf), or its tanh approximation with `'tanh'`. @example gelu(x); gelu(x, 'tanh') */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
/** SiLU / swish: x·sigmoid(x). @example silu(x) */
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** log(1 + eˣ), linear above 20. @example softplus(Tensor.from([0])) // [0.6931] */
export const softplus = (x: Tensor): Tensor => unary('softplus', x);
/** Sine. @example sin(x) */
export const sin = (x: Tensor): Tensor => unary('sin', x);
/** Cosine. @example cos(x) */
export const cos = (x: Tensor): Tensor => unary('cos', x);
/** Round down. @example floor(Tensor.from([1.5])) // [1] */
export const floor = (x: Tensor): Tensor => unary('floor', x);
/** Round up. @example ceil(Tensor.from([1.5])) // [2] */
export const ceil = (x: Tensor): Tensor => unary('ceil', x);
/** Round half to even (ONNX Round). @example round(Tensor.from([0.5, 1.5])) // [0, 2] */
export const round = (x: Tensor): Tensor => unary('round', x);
/** −1, 0 or 1 (float and int dtypes). @example sign(Tensor.from([-2, 0, 3])) // [-1, 0, 1] */
export const sign = (x: Tensor): Tensor => unary('sign', x);
/** Logical not of a bool tensor. @example logicalNot(mask) */
export const logicalNot = (x: Tensor): Tensor => unary('not', x);
/** x for x ≥ 0, αx below. @example leakyRelu(x, 0.1) */
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => unaryParam({ op: 'leakyRelu', alpha }, x);
/** x for x ≥ 0, α(eˣ − 1) below. @example elu(x) */
export const elu = (x: Tensor, alpha = 1): Tensor => unaryParam({ op: 'elu', alpha }, x);
/** ONNX HardSigmoid: max(0, min(1, αx + β)), α = 0.2, β = 0.5 by default. @example hardSigmoid(x) */
export const hardSigmoid = (x: Tensor, alpha = 0.2, beta = 0.5): Tensor => unaryParam({ op: 'hardSigmoid', alpha, beta }, x);
/** ONNX HardSwish: x · max(0, min(1, x/6 + 1/2)). @example hardSwish(Tensor.from([-3, 0, 3])) // [0, 0, 3] */
export const hardSwish = (x: Tensor): Tensor => unaryParam({ op: 'hardSwish' }, x);
/** Clamp to [min, max] (any numeric dtype). @example clip(x, 0, 6) // ReLU6 */
export const clip = (x: Tensor, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): Tensor => {
  if (min > max)
    throw new NormkitError('INVALID_ARGUMENT', `clip: min ${min} is greater than max ${max} for ${fmtShape(x.shape)}`, {
      op: 'clip',
      shape: x.shape,
    });
  return unaryParam({ op: 'clip', min, max }, x);
};
/** x ** p for a constant exponent (fast path of `pow`). @example powScalar(x, 2) */
export const powScalar = (x: Tensor, exponent: number): Tensor => unaryParam({ op: 'powScalar', exponent }, x);
