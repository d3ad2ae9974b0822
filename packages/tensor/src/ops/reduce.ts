import { getBackend, type ReduceOp } from '../backend.js';
import { fmtShape, NormkitError } from '../errors.js';
import { defineOp, type GradFn, type OpDef, runOp } from '../op-registry.js';
import { normalizeAxes, normalizeAxis } from '../shape.js';
import { Tensor } from '../tensor.js';
import { gradKernels, requireFloat } from './common.js';
import { div, equal, exp, greater, mul, sign, sub, where } from './elementwise.js';
import { cast, expand } from './movement.js';

// Reductions over axes, arg-reductions and softmax, each with its definition and gradient.

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

type ReduceAttrs = { axes: readonly number[]; keepDims: boolean };
/** A reduction's gradient from x, dy and y, each of the latter with the reduced axes kept as size 1. */
type ReduceGrad = (x: Tensor, dy: Tensor, y: Tensor, attrs: ReduceAttrs) => Tensor;
const REDUCE_DEFS = new Map<ReduceOp, OpDef>();
const reduceDef = (op: ReduceOp, g: ReduceGrad) => {
  const grad: GradFn<ReduceAttrs> = (dy, { inputs: [x], output, attrs }) => {
    const t = x as Tensor;
    const kept = t.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
    return [g(t, attrs.keepDims ? dy : dy.reshape(kept), attrs.keepDims ? output : output.reshape(kept), attrs)];
  };
  REDUCE_DEFS.set(op, defineOp({ name: op === 'l1' ? 'l1Norm' : op === 'l2' ? 'l2Norm' : op, grad }) as OpDef);
};
reduceDef('sum', (x, dy) => expand(dy, x.shape));
reduceDef('mean', (x, dy, _, { axes }) => {
  const n = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
  return expand(div(dy, n), x.shape);
});
// max/min: dy split evenly among the elements equal to the extremum (as torch.amax).
const extremumGrad: ReduceGrad = (x, dy, y, { axes }) => {
  const hit = cast(equal(x, y), x.dtype);
  return mul(hit, div(dy, sum(hit, axes, true)));
};
reduceDef('max', extremumGrad);
reduceDef('min', extremumGrad);
reduceDef('prod', (x, dy, _, { axes }) => gradKernels().prod(dy, x, axes));
reduceDef('l1', (x, dy) => mul(sign(x), dy));
reduceDef('l2', (x, dy, y) => mul(x, where(greater(y, 0), div(dy, y), 0))); // 0 where the norm is 0
reduceDef('sumSquare', (x, dy) => mul(x, mul(dy, 2)));
reduceDef('logSumExp', (x, dy, y) => mul(exp(sub(x, y)), dy));

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

const ARG_DEFS = { argmax: defineOp({ name: 'argmax' }), argmin: defineOp({ name: 'argmin' }) };

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean, selectLastIndex: boolean): Tensor {
  const a = normalizeAxis(axis, x.rank, op, x.shape);
  if (x.dtype === 'bool')
    throw new NormkitError('DTYPE_MISMATCH', `${op}: bool input ${fmtShape(x.shape)} is not supported; cast it first`, {
      op,
      shape: x.shape,
    });
  if (x.shape[a] === 0)
    throw new NormkitError('EMPTY_REDUCTION', `${op}: axis ${a} of ${fmtShape(x.shape)} is empty`, { op, shape: x.shape });
  return runOp(ARG_DEFS[op], [x], { axis: a, keepDims, selectLastIndex }, () =>
    getBackend().argReduce(op, x, a, keepDims, selectLastIndex),
  );
}

/** Index of the max along `axis` (int64); ties give the first index unless `selectLastIndex`. @example argmax(logits, -1, false) */
export function argmax(x: Tensor, axis = 0, keepDims = true, selectLastIndex = false): Tensor {
  return argReduce('argmax', x, axis, keepDims, selectLastIndex);
}
/** Index of the min along `axis` (int64). @example argmin(x, 0) */
export function argmin(x: Tensor, axis = 0, keepDims = true, selectLastIndex = false): Tensor {
  return argReduce('argmin', x, axis, keepDims, selectLastIndex);
}

type SoftmaxAttrs = { axis: number };
const SOFTMAX = defineOp<SoftmaxAttrs>({
  name: 'softmax',
  grad: (dy, { output, attrs }) => [gradKernels().softmax(dy, output, attrs.axis, false)],
});
const LOG_SOFTMAX = defineOp<SoftmaxAttrs>({
  name: 'logSoftmax',
  grad: (dy, { output, attrs }) => [gradKernels().softmax(dy, output, attrs.axis, true)],
});

/** Softmax along `axis` (default last). @example softmax(logits, -1) */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  const a = normalizeAxis(axis, x.rank, 'softmax', x.shape);
  return runOp(SOFTMAX, [x], { axis: a }, () => getBackend().softmax(x, a, false));
}
/** log(softmax(x)) along `axis`, computed as x − max − log Σ e^(x−max). @example logSoftmax(logits) */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('logSoftmax', x);
  const a = normalizeAxis(axis, x.rank, 'logSoftmax', x.shape);
  return runOp(LOG_SOFTMAX, [x], { axis: a }, () => getBackend().softmax(x, a, true));
}
