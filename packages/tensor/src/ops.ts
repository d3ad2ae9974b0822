import {
  type BinaryOp,
  type ConvOptions,
  type GemmOptions,
  getBackend,
  type LayerNormResult,
  type PoolOptions,
  type ReduceOp,
  type UnaryOp,
  type UnaryParamOp,
} from './backend.js';
import { type DType, isFloat } from './dtype.js';
import { fmtShape, NormkitError } from './errors.js';
import { defineOp, type OpDef, runOp } from './op-registry.js';
import { broadcastShapes, normalizeAxes, normalizeAxis, sizeOf } from './shape.js';
import { inferReshape, Tensor } from './tensor.js';

// Public ops: validate, then dispatch to the active backend. Each names itself in its errors.

type Scalarish = Tensor | number;
const asTensor = (x: Scalarish, like?: Tensor): Tensor => (typeof x === 'number' ? Tensor.scalar(x, like?.dtype ?? 'float32') : x);

function requireFloat(op: string, ...xs: Tensor[]): void {
  for (const x of xs) {
    if (!isFloat(x.dtype))
      throw new NormkitError('DTYPE_MISMATCH', `${op}: expected a float tensor, got ${x.dtype} ${fmtShape(x.shape)}; cast it first`, {
        op,
        shape: x.shape,
      });
  }
}

function requireSameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype)
    throw new NormkitError(
      'DTYPE_MISMATCH',
      `${op}: dtypes differ (${a.dtype} ${fmtShape(a.shape)} vs ${b.dtype} ${fmtShape(b.shape)}); cast one of them`,
      { op, shapes: [a.shape, b.shape] },
    );
}

/**
 * Sums `g` over the axes that broadcasting added or stretched, so that it has `shape` again: the
 * gradient of an input that was broadcast. @example sumToShape(Tensor.ones([2, 3]), [3]) // [2, 2, 2]
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const r = axes.length ? sum(g, axes, true) : g;
  return r.reshape(shape);
}

const BINARY_DEFS = new Map<BinaryOp, OpDef>();
const BINARY_NAMES: Partial<Record<BinaryOp, string>> = {
  min: 'minimum',
  max: 'maximum',
  and: 'logicalAnd',
  or: 'logicalOr',
  xor: 'logicalXor',
};
const binaryDef = (op: BinaryOp, grad?: OpDef['grad']) => BINARY_DEFS.set(op, defineOp({ name: BINARY_NAMES[op] ?? op, grad }));
binaryDef('add', (dy, { inputs: [a, b] }) => [sumToShape(dy, (a as Tensor).shape), sumToShape(dy, (b as Tensor).shape)]);
binaryDef('sub', (dy, { inputs: [a, b] }) => [sumToShape(dy, (a as Tensor).shape), sumToShape(neg(dy), (b as Tensor).shape)]);
binaryDef('mul', (dy, { inputs: [a, b] }) => [
  sumToShape(mul(dy, b as Tensor), (a as Tensor).shape),
  sumToShape(mul(dy, a as Tensor), (b as Tensor).shape),
]);
binaryDef('div', (dy, { inputs: [a, b], output }) => [
  sumToShape(div(dy, b as Tensor), (a as Tensor).shape),
  sumToShape(neg(div(mul(dy, output), b as Tensor)), (b as Tensor).shape),
]);
for (const op of ['pow', 'min', 'max', 'mod', 'equal', 'less', 'lessEqual', 'greater', 'greaterEqual', 'and', 'or', 'xor'] as const)
  binaryDef(op);

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

/** `cond ? a : b` elementwise, broadcasting all three. @example where(greater(x, 0), x, 0) */
export function where(cond: Tensor, a: Scalarish, b: Scalarish): Tensor {
  const ta = asTensor(a, typeof b === 'number' ? undefined : b);
  const tb = asTensor(b, ta);
  requireSameDtype('where', ta, tb);
  if (cond.dtype !== 'bool')
    throw new NormkitError('DTYPE_MISMATCH', `where: condition must be bool, got ${cond.dtype} ${fmtShape(cond.shape)}`);
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, 'where'), tb.shape, 'where');
  return getBackend().where(cond, ta, tb, shape);
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  if (op === 'not') {
    if (x.dtype !== 'bool') throw new NormkitError('DTYPE_MISMATCH', `not: expected bool, got ${x.dtype}`);
  } else if (!['neg', 'abs', 'sign', 'relu'].includes(op)) requireFloat(op, x);
  return getBackend().unary(op, x);
}

function unaryParam(name: string, p: UnaryParamOp, x: Tensor): Tensor {
  requireFloat(name, x);
  return getBackend().unaryParam(p, x);
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
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => unaryParam('leakyRelu', { op: 'leakyRelu', alpha }, x);
/** x for x ≥ 0, α(eˣ − 1) below. @example elu(x) */
export const elu = (x: Tensor, alpha = 1): Tensor => unaryParam('elu', { op: 'elu', alpha }, x);
/** ONNX HardSigmoid: max(0, min(1, αx + β)), α = 0.2, β = 0.5 by default. @example hardSigmoid(x) */
export const hardSigmoid = (x: Tensor, alpha = 0.2, beta = 0.5): Tensor => unaryParam('hardSigmoid', { op: 'hardSigmoid', alpha, beta }, x);
/** ONNX HardSwish: x · max(0, min(1, x/6 + 1/2)). @example hardSwish(Tensor.from([-3, 0, 3])) // [0, 0, 3] */
export const hardSwish = (x: Tensor): Tensor => unaryParam('hardSwish', { op: 'hardSwish' }, x);
/** Clamp to [min, max] (any numeric dtype). @example clip(x, 0, 6) // ReLU6 */
export const clip = (x: Tensor, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): Tensor => {
  if (min > max)
    throw new NormkitError('INVALID_ARGUMENT', `clip: min ${min} is greater than max ${max} for ${fmtShape(x.shape)}`, {
      op: 'clip',
      shape: x.shape,
    });
  return getBackend().unaryParam({ op: 'clip', min, max }, x);
};
/** x ** p for a constant exponent (fast path of `pow`). @example powScalar(x, 2) */
export const powScalar = (x: Tensor, exponent: number): Tensor => unaryParam('powScalar', { op: 'powScalar', exponent }, x);

function reduce(op: ReduceOp, x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const list =
    axes === undefined
      ? x.shape.map((_, i) => i)
      : normalizeAxes(typeof axes === 'number' ? [axes] : axes, x.rank, `reduce ${op}`, x.shape);
  if (list.length === 0) return x;
  if (op !== 'max' && op !== 'min' && op !== 'sum' && op !== 'prod') requireFloat(`reduce ${op}`, x);
  for (const a of list) {
    if (x.shape[a] === 0 && (op === 'max' || op === 'min'))
      throw new NormkitError('EMPTY_REDUCTION', `reduce ${op}: axis ${a} of ${fmtShape(x.shape)} is empty`);
  }
  return runOp(REDUCE_DEFS.get(op) as OpDef, [x], { axes: list, keepDims }, () => getBackend().reduce(op, x, list, keepDims));
}

/** `g` (a reduction's output gradient) with the reduced axes restored as size 1, ready to broadcast over x. */
function unreduce(g: Tensor, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  return keepDims ? g : g.reshape(x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}
type ReduceAttrs = { axes: readonly number[]; keepDims: boolean };
const REDUCE_DEFS = new Map<ReduceOp, OpDef>();
const reduceDef = (op: ReduceOp, grad?: OpDef<ReduceAttrs>['grad']) =>
  REDUCE_DEFS.set(op, defineOp({ name: op === 'l1' ? 'l1Norm' : op === 'l2' ? 'l2Norm' : op, grad }) as OpDef);
reduceDef('sum', (dy, { inputs: [x], attrs }) => [expand(unreduce(dy, x as Tensor, attrs.axes, attrs.keepDims), (x as Tensor).shape)]);
reduceDef('mean', (dy, { inputs: [x], attrs }) => {
  const t = x as Tensor;
  const n = attrs.axes.reduce((p, a) => p * (t.shape[a] as number), 1);
  return [expand(div(unreduce(dy, t, attrs.axes, attrs.keepDims), n), t.shape)];
});
for (const op of ['max', 'min', 'prod', 'l1', 'l2', 'sumSquare', 'logSumExp'] as const) reduceDef(op);

/** Sum over `axes` (all when omitted). @example sum(x, [-1], true) */
export const sum = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('sum', x, axes, keepDims);
/** Mean over `axes` (all when omitted). @example mean(x, -1, true) */
export const mean = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('mean', x, axes, keepDims);
/** Maximum over `axes` (NaN propagates; empty axes are an error). @example max(x, [1]) */
export const max = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('max', x, axes, keepDims);
/** Minimum over `axes`. @example min(x, 0) */
export const min = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('min', x, axes, keepDims);
/** Product over `axes`. @example prod(x, -1) */
export const prod = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('prod', x, axes, keepDims);
/** L2 norm √Σx² over `axes`. @example l2Norm(x, -1, true) */
export const l2Norm = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('l2', x, axes, keepDims);
/** Σ|x| over `axes` (ONNX ReduceL1). @example l1Norm(x, -1) */
export const l1Norm = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('l1', x, axes, keepDims);
/** Σx² over `axes` (ONNX ReduceSumSquare). @example sumSquare(x, -1, true) */
export const sumSquare = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('sumSquare', x, axes, keepDims);
/** log Σ eˣ over `axes`, stable (max-shifted). @example logSumExp(logits, -1) */
export const logSumExp = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('logSumExp', x, axes, keepDims);

/** Variance over `axes`; `correction` 0 = biased (LayerNorm's), 1 = unbiased. @example variance(x, -1, true) */
export function variance(x: Tensor, axes?: number | readonly number[], keepDims = false, correction = 0): Tensor {
  const mu = mean(x, axes, true);
  const d = sub(x, mu);
  const ss = sum(mul(d, d), axes, keepDims);
  const n = x.size / Math.max(mu.size, 1);
  return div(ss, Tensor.scalar(n - correction, x.dtype));
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean, selectLastIndex: boolean): Tensor {
  const a = normalizeAxis(axis, x.rank, op, x.shape);
  if (x.dtype === 'bool')
    throw new NormkitError('DTYPE_MISMATCH', `${op}: bool input ${fmtShape(x.shape)} is not supported; cast it first`, {
      op,
      shape: x.shape,
    });
  if (x.shape[a] === 0)
    throw new NormkitError('EMPTY_REDUCTION', `${op}: axis ${a} of ${fmtShape(x.shape)} is empty`, { op, shape: x.shape });
  return getBackend().argReduce(op, x, a, keepDims, selectLastIndex);
}

/** Index of the max along `axis` (int64); ties give the first index unless `selectLastIndex`. @example argmax(logits, -1, false) */
export function argmax(x: Tensor, axis = 0, keepDims = true, selectLastIndex = false): Tensor {
  return argReduce('argmax', x, axis, keepDims, selectLastIndex);
}
/** Index of the min along `axis` (int64). @example argmin(x, 0) */
export function argmin(x: Tensor, axis = 0, keepDims = true, selectLastIndex = false): Tensor {
  return argReduce('argmin', x, axis, keepDims, selectLastIndex);
}

/** Softmax along `axis` (default last). @example softmax(logits, -1) */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  return getBackend().softmax(x, normalizeAxis(axis, x.rank, 'softmax', x.shape), false);
}
/** log(softmax(x)) along `axis`, computed as x − max − log Σ e^(x−max). @example logSoftmax(logits) */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('logSoftmax', x);
  return getBackend().softmax(x, normalizeAxis(axis, x.rank, 'logSoftmax', x.shape), true);
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted and the added dim removed; batch
 * dims broadcast. @example matmul(Tensor.randn([2, 3, 4], 1), Tensor.randn([4, 5], 2)) // [2, 3, 5]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('matmul', a, b);
  requireSameDtype('matmul', a, b);
  if (a.rank === 0 || b.rank === 0)
    throw new NormkitError('SHAPE_MISMATCH', `matmul: operands must have rank ≥ 1, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const a2 = a.rank === 1 ? a.reshape([1, a.shape[0] as number]) : a;
  const b2 = b.rank === 1 ? b.reshape([b.shape[0] as number, 1]) : b;
  const k1 = a2.shape[a2.rank - 1];
  const k2 = b2.shape[b2.rank - 2];
  if (k1 !== k2)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `matmul: inner dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)} (${k1} vs ${k2})`,
      { op: 'matmul', shapes: [a.shape, b.shape] },
    );
  broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2), 'matmul (batch dims)');
  let y = getBackend().matmul(a2, b2);
  if (a.rank === 1) y = y.reshape([...y.shape.slice(0, -2), y.shape[y.rank - 1] as number]);
  if (b.rank === 1) y = y.reshape(y.shape.slice(0, -1));
  return y;
}

/** ONNX Gemm: α·op(A)·op(B) + β·C with C broadcast to [M, N]. @example gemm(a, w, bias, { transB: true }) */
export function gemm(a: Tensor, b: Tensor, c?: Tensor, opts: GemmOptions = {}): Tensor {
  requireFloat('gemm', a, b);
  const o = { alpha: opts.alpha ?? 1, beta: opts.beta ?? 1, transA: opts.transA ?? false, transB: opts.transB ?? false };
  if (a.rank !== 2 || b.rank !== 2)
    throw new NormkitError('SHAPE_MISMATCH', `gemm: A and B must be 2-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [m, k] = o.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [k2, n] = o.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (k !== k2)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `gemm: inner dimensions differ: A ${fmtShape(a.shape)}${o.transA ? 'ᵀ' : ''} · B ${fmtShape(b.shape)}${o.transB ? 'ᵀ' : ''}`,
    );
  if (c) broadcastShapes(c.shape, [m as number, n as number], 'gemm (C)');
  return getBackend().gemm(a, b, c, o);
}

/** N-d convolution (NCHW for 2-D, NCL for 1-D). `w` is [Cout, Cin/group, ...kernel]. @example conv(x, w, b, { pads: [1, 1, 1, 1] }) */
export function conv(x: Tensor, w: Tensor, bias?: Tensor, opts: ConvOptions = {}): Tensor {
  requireFloat('conv', x, w);
  const sp = x.rank - 2;
  if (sp < 1 || w.rank !== x.rank)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `conv: input ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} must both be [N, C, ...spatial] / [Cout, Cin/group, ...kernel] of the same rank ≥ 3`,
    );
  const group = opts.group ?? 1;
  const cin = x.shape[1] as number;
  const cout = w.shape[0] as number;
  if (cin !== (w.shape[1] as number) * group || cout % group !== 0) {
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `conv: input channels ${cin} do not match weight ${fmtShape(w.shape)} with group=${group} (need Cin = W[1]·group and Cout divisible by group)`,
    );
  }
  if (bias && bias.size !== cout) throw new NormkitError('SHAPE_MISMATCH', `conv: bias ${fmtShape(bias.shape)} must have ${cout} elements`);
  if (!Number.isInteger(group) || group < 1)
    throw new NormkitError('INVALID_ARGUMENT', `conv: group must be a positive integer, got ${group}`);
  const o = {
    strides: opts.strides ?? new Array(sp).fill(1),
    pads: opts.pads ?? new Array(2 * sp).fill(0),
    dilations: opts.dilations ?? new Array(sp).fill(1),
    group,
  };
  checkWindowOpts('conv', x.shape, w.shape.slice(2) as number[], o.strides, o.pads, o.dilations, false);
  return getBackend().conv(x, w, bias, o);
}
/** 1-D convolution on [N, C, L] with weight [Cout, C/group, K]. @example conv1d(x, w, b, { strides: [2] }) */
export const conv1d = (x: Tensor, w: Tensor, bias?: Tensor, opts: ConvOptions = {}) => conv(x, w, bias, opts);
/** 2-D convolution on [N, C, H, W] with weight [Cout, C/group, KH, KW]. @example conv2d(x, w, b, { pads: [1, 1, 1, 1], group: 2 }) */
export const conv2d = (x: Tensor, w: Tensor, bias?: Tensor, opts: ConvOptions = {}) => conv(x, w, bias, opts);

/** Validates strides/pads/dilations of a sliding-window op and that the output is non-empty. */
function checkWindowOpts(
  op: string,
  xShape: readonly number[],
  kSp: readonly number[],
  strides: readonly number[],
  pads: readonly number[],
  dilations: readonly number[],
  ceil: boolean,
): void {
  const sp = kSp.length;
  const bad = (name: string, v: readonly number[], n: number, min: number) =>
    v.length !== n || v.some((d) => !Number.isInteger(d) || d < min)
      ? new NormkitError(
          'INVALID_ARGUMENT',
          `${op}: ${name} [${v.join(', ')}] must be ${n} integers ≥ ${min} for input ${fmtShape(xShape)} with kernel ${fmtShape(kSp)}`,
          { op, shape: xShape },
        )
      : undefined;
  const e =
    bad('strides', strides, sp, 1) ?? bad('pads', pads, 2 * sp, 0) ?? bad('dilations', dilations, sp, 1) ?? bad('kernelShape', kSp, sp, 1);
  if (e) throw e;
  for (let i = 0; i < sp; i++) {
    const span =
      (xShape[i + 2] as number) + (pads[i] as number) + (pads[i + sp] as number) - ((kSp[i] as number) - 1) * (dilations[i] as number) - 1;
    if (span < 0 && !ceil) {
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${op}: the dilated kernel ${fmtShape(kSp)} is larger than the padded input ${fmtShape(xShape)} on spatial axis ${i}, so the output would be empty; pad the input or use a smaller kernel`,
        { op, shape: xShape },
      );
    }
  }
}

function poolOpts(op: string, x: Tensor, o: PoolOptions): Required<PoolOptions> {
  requireFloat(op, x);
  const sp = o.kernelShape.length;
  if (x.rank !== sp + 2)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `${op} (pool): input ${fmtShape(x.shape)} must be [N, C, ...${sp} spatial dims] for kernel ${fmtShape(o.kernelShape)}`,
    );
  const r = {
    kernelShape: o.kernelShape,
    strides: o.strides ?? new Array(sp).fill(1),
    pads: o.pads ?? new Array(2 * sp).fill(0),
    dilations: o.dilations ?? new Array(sp).fill(1),
    ceilMode: o.ceilMode ?? false,
    countIncludePad: o.countIncludePad ?? false,
  };
  checkWindowOpts(op, x.shape, r.kernelShape, r.strides, r.pads, r.dilations, false);
  return r;
}
/** Max pooling (ONNX MaxPool: pads, dilations, ceil mode). @example maxPool(x, { kernelShape: [2, 2], strides: [2, 2] }) */
export const maxPool = (x: Tensor, opts: PoolOptions) => getBackend().pool('max', x, poolOpts('maxPool', x, opts));
/** Average pooling (ONNX AveragePool; `countIncludePad` picks the divisor). @example avgPool(x, { kernelShape: [3, 3], pads: [1, 1, 1, 1] }) */
export const avgPool = (x: Tensor, opts: PoolOptions) => getBackend().pool('avg', x, poolOpts('avgPool', x, opts));
/** Mean over all spatial dims, keeping them as size 1. @example globalAvgPool(x) // [N, C, 1, 1] */
export const globalAvgPool = (x: Tensor) => mean(x, x.shape.map((_, i) => i).slice(2), true);
/** Max over all spatial dims, keeping them as size 1. @example globalMaxPool(x) // [N, C, 1, 1] */
export const globalMaxPool = (x: Tensor) => max(x, x.shape.map((_, i) => i).slice(2), true);

/** Permutes axes (reverses them when `perm` is omitted). @example transpose(x, [0, 2, 1]) */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  const norm = p.map((a) => normalizeAxis(a, x.rank, 'transpose', x.shape));
  if (norm.length !== x.rank || new Set(norm).size !== x.rank)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `transpose: perm [${p.join(', ')}] is not a permutation of the ${x.rank} axes of ${fmtShape(x.shape)}`,
    );
  if (norm.every((a, i) => a === i)) return x;
  return getBackend().transpose(x, norm);
}
/** Alias of `transpose` with an explicit permutation. @example permute(x, [0, 2, 1]) */
export const permute = transpose;

/** Reshape (a view); `-1` infers one dimension. @example reshape(x, [2, -1]) */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return x.reshape(inferReshape(x.shape, shape));
}

/** Concatenate along `axis`. @example concat([a, b], 0) */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new NormkitError('INVALID_ARGUMENT', 'concat: needs at least one tensor');
  const first = xs[0] as Tensor;
  const ax = normalizeAxis(axis, first.rank, 'concat', first.shape);
  for (const t of xs) {
    requireSameDtype('concat', first, t);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `concat: shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ outside axis ${ax}`,
      );
    }
  }
  if (xs.length === 1) return first;
  return getBackend().concat(xs, ax);
}

/** Split along `axis` into the given sizes (or `n` equal parts). @example split(x, [2, 2], -1) */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis(axis, x.rank, 'split', x.shape);
  const dim = x.shape[ax] as number;
  let parts: number[];
  if (typeof sizes === 'number') {
    const chunk = Math.ceil(dim / sizes);
    parts = Array.from({ length: sizes }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  } else parts = [...sizes];
  if (parts.reduce((s, v) => s + v, 0) !== dim)
    throw new NormkitError('SHAPE_MISMATCH', `split: sizes [${parts.join(', ')}] do not sum to dimension ${ax} of ${fmtShape(x.shape)}`);
  const out: Tensor[] = [];
  let start = 0;
  for (const p of parts) {
    out.push(slice(x, [start], [start + p], [ax]));
    start += p;
  }
  return out;
}

/** ONNX Slice semantics (negative indices, clamping, negative steps). @example slice(x, [0], [-1], [1], [2]) */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Tensor {
  const st = x.shape.map(() => 0);
  const sp = x.shape.map(() => 1);
  const out = [...x.shape];
  const ax = axes ?? starts.map((_, i) => i);
  if (starts.length !== ends.length || ax.length !== starts.length || (steps && steps.length !== starts.length))
    throw new NormkitError('INVALID_ARGUMENT', 'slice: starts, ends, axes and steps must have the same length');
  ax.forEach((a0, i) => {
    const a = normalizeAxis(a0, x.rank, 'slice', x.shape);
    const dim = x.shape[a] as number;
    const step = steps?.[i] ?? 1;
    if (step === 0) throw new NormkitError('INVALID_ARGUMENT', 'slice: step must not be 0');
    let s = starts[i] as number;
    let e = ends[i] as number;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      // ONNX: for negative steps the start clamps to [0, dim-1] and the end to [-1, dim-1].
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    }
    st[a] = s;
    sp[a] = step;
  });
  return getBackend().slice(x, st, sp, out);
}

/** Pad with ONNX pads layout [begin..., end...]; negative pads crop. @example pad(x, [0, 1, 0, 1]) */
export function pad(x: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge' = 'constant', value = 0): Tensor {
  if (pads.length !== 2 * x.rank)
    throw new NormkitError('INVALID_ARGUMENT', `pad: expected ${2 * x.rank} pads for ${fmtShape(x.shape)}, got ${pads.length}`);
  return getBackend().pad(x, pads, mode, value);
}

/** Gather along `axis` with (possibly negative) int indices. @example gather(table, ids, 0) */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const ax = normalizeAxis(axis, x.rank, 'gather', x.shape);
  if (indices.dtype !== 'int32' && indices.dtype !== 'int64')
    throw new NormkitError('DTYPE_MISMATCH', `gather: indices must be int32 or int64, got ${indices.dtype}`);
  const dim = x.shape[ax] as number;
  const idx = indices.data;
  for (let i = 0; i < idx.length; i++) {
    const v = Number(idx[i]);
    if (v < -dim || v >= dim)
      throw new NormkitError('INDEX_OUT_OF_RANGE', `gather: index ${v} is out of range for axis ${ax} of ${fmtShape(x.shape)}`);
  }
  return getBackend().gather(x, indices, ax);
}

/** Broadcast to `shape` (ONNX Expand: the result shape is the broadcast of both). @example expand(Tensor.from([[1], [2]]), [2, 3]) */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes(x.shape, shape, 'expand');
  if (out.length === x.rank && out.every((d, i) => d === x.shape[i])) return x;
  return getBackend().expand(x, out);
}

/** Repeat along each axis. @example tile(x, [2, 1]) */
export function tile(x: Tensor, repeats: readonly number[]): Tensor {
  if (repeats.length !== x.rank) throw new NormkitError('INVALID_ARGUMENT', `tile: ${repeats.length} repeats for rank ${x.rank}`);
  return getBackend().tile(x, repeats);
}

/** Convert to `dtype`. @example cast(ids, 'int64') */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : getBackend().cast(x, dtype);
}

/** Remove size-1 axes (all of them when `axes` is omitted). @example squeeze(Tensor.zeros([1, 3, 1])) // shape [3] */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const list = axes ? normalizeAxes(axes, x.rank, 'squeeze', x.shape) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of list)
    if (x.shape[a] !== 1) throw new NormkitError('SHAPE_MISMATCH', `squeeze: axis ${a} of ${fmtShape(x.shape)} is not 1`);
  return x.reshape(x.shape.filter((_, i) => !list.includes(i)));
}

/** Insert size-1 axes at `axes` (positions in the output). @example unsqueeze(Tensor.zeros([3]), [0]) // shape [1, 3] */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const list = normalizeAxes(axes, rank, 'unsqueeze');
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(list.includes(i) ? 1 : (x.shape[j++] as number));
  return x.reshape(out);
}

/** Flatten to 2-D at `axis` (ONNX Flatten). @example flatten(Tensor.zeros([2, 3, 4])) // shape [2, 12] */
export function flatten(x: Tensor, axis = 1): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  if (a < 0 || a > x.rank) throw new NormkitError('AXIS_OUT_OF_RANGE', `flatten: axis ${axis} out of range for ${fmtShape(x.shape)}`);
  return x.reshape([sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))]);
}

function checkNormParams(op: string, x: Tensor, axis: number, scale?: Tensor, bias?: Tensor): number {
  requireFloat(op, x);
  const a = normalizeAxis(axis, x.rank, op, x.shape);
  const normSize = sizeOf(x.shape.slice(a));
  for (const [name, p] of [
    ['scale', scale],
    ['bias', bias],
  ] as const) {
    if (p && p.size !== normSize && !(p.size === 1)) {
      // Broadcastable parameters are accepted; they must broadcast to the normalized shape.
      broadcastShapes(p.shape, x.shape.slice(a), `${op} (${name})`);
    }
  }
  return a;
}

/**
 * Checks a preallocated output of a norm kernel: a host tensor of x's shape and dtype that is x itself
 * or shares no memory with it.
 */
function checkNormOut(op: string, x: Tensor, out: Tensor): void {
  if (out.dtype !== x.dtype || out.shape.length !== x.shape.length || out.shape.some((v, i) => v !== x.shape[i]))
    throw new NormkitError(
      out.dtype !== x.dtype ? 'DTYPE_MISMATCH' : 'SHAPE_MISMATCH',
      `${op}: out is ${out.dtype} ${fmtShape(out.shape)} but the result is ${x.dtype} ${fmtShape(x.shape)}; allocate it once with Tensor.zeros(x.shape, x.dtype) and reuse it`,
      { op, shape: out.shape, expected: x.shape },
    );
  if (out.deviceStorage)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${op}: out ${fmtShape(out.shape)} lives on the ${out.deviceStorage.backend} device; pass a host tensor`,
      {
        op,
        shape: out.shape,
      },
    );
  if (out === x || !x.onHost) return;
  const o = out.data;
  const i = x.data;
  if (o.buffer === i.buffer && o !== i) {
    const oEnd = o.byteOffset + o.byteLength;
    const iEnd = i.byteOffset + i.byteLength;
    if (o.byteOffset === i.byteOffset) return; // the same elements (a reshape of x): in place
    if (o.byteOffset < iEnd && i.byteOffset < oEnd)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `${op}: out ${fmtShape(out.shape)} partly overlaps x ${fmtShape(x.shape)}; pass x itself (in place) or a separate tensor`,
        { op, shape: out.shape },
      );
  }
}

/**
 * Fused LayerNorm kernel over axes [axis, rank) (ONNX LayerNormalization), also returning the mean
 * and inverse standard deviation. `out`, a preallocated tensor of x's shape and dtype (or x itself,
 * in place), receives y, so a loop pays no allocation for it.
 *
 * @example
 * ```ts
 * layerNormKernel(x, gamma, beta, -1, 1e-5).y;
 * const y = Tensor.zeros(x.shape, x.dtype);
 * for (const step of steps) layerNormKernel(step.x, gamma, beta, -1, 1e-5, y); // y overwritten each time
 * ```
 */
export function layerNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis = -1,
  epsilon = 1e-5,
  out?: Tensor,
): LayerNormResult {
  const a = checkNormParams('layerNorm', x, axis, scale, bias);
  if (!out) return getBackend().layerNorm(x, scale, bias, a, epsilon);
  checkNormOut('layerNorm', x, out);
  const r = getBackend().layerNorm(x, scale, bias, a, epsilon, out);
  return { ...r, y: intoOut(out, r.y) };
}

/**
 * Fused RMSNorm kernel over axes [axis, rank): x / sqrt(mean(x²) + ε) · scale + bias; `out` as for
 * `layerNormKernel`.
 * @example rmsNormKernel(x, gamma, undefined, -1, 1e-6); rmsNormKernel(x, gamma, undefined, -1, 1e-6, y)
 */
export function rmsNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis = -1,
  epsilon = 1e-5,
  out?: Tensor,
): Tensor {
  const a = checkNormParams('rmsNorm', x, axis, scale, bias);
  if (!out) return getBackend().rmsNorm(x, scale, bias, a, epsilon);
  checkNormOut('rmsNorm', x, out);
  return intoOut(out, getBackend().rmsNorm(x, scale, bias, a, epsilon, out));
}

/** `out`, holding y: a backend that did not write into `out` has its result copied there. */
function intoOut(out: Tensor, y: Tensor): Tensor {
  if (y !== out) (out.data as Float32Array | Float64Array).set(y.data as Float32Array | Float64Array);
  return out;
}
