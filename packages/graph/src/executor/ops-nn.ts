import * as T from '@normkit/tensor';
import { fmtShape, sizeOf, Tensor } from '@normkit/tensor';
import { attr, type Dim } from '../ir.js';
import { arith, type InferredValue, isNum, like, matmulShape, normAxis, sameShape, symOf, windowOut } from './dims.js';
import { defineOnnxOp, has, ints, invalid, need, type OpContext, type ShapeContext, unsupported } from './registry.js';

// Linear algebra, convolution, pooling, softmax, reductions and arg-reductions.

defineOnnxOp('', 'MatMul', { kernel: (ctx) => [T.matmul(need(ctx, 0), need(ctx, 1))], shape: matMulShape, fold: 'linear', grows: true });

defineOnnxOp('', 'Gemm', {
  kernel: (ctx) => {
    let a = need(ctx, 0);
    const b = need(ctx, 1);
    const transA = attr(ctx.node, 'transA', 'int', 0) !== 0;
    const transB = attr(ctx.node, 'transB', 'int', 0) !== 0;
    // Opset < 7 Gemm and some exporters hand 1-D operands: treat them as rows (ONNX requires 2-D).
    if (a.rank !== 2) a = T.flatten(a, a.rank === 1 ? 0 : 1);
    if (b.rank !== 2) throw invalid(ctx, `B must be 2-D, got ${fmtShape(b.shape)}`);
    const c = ctx.inputs[2];
    return [
      T.gemm(a, b, c && c.size > 0 ? c : undefined, {
        alpha: attr(ctx.node, 'alpha', 'float', 1),
        beta: attr(ctx.node, 'beta', 'float', 1),
        transA,
        transB,
      }),
    ];
  },
  shape: gemmShape,
  fold: 'linear',
  grows: true,
});

/** Padding for auto_pad SAME_UPPER / SAME_LOWER / VALID, or the explicit `pads` attribute. */
export function windowPads(
  ctx: OpContext,
  inSp: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): number[] {
  const sp = inSp.length;
  const autoPad = attr(ctx.node, 'auto_pad', 'string', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = attr(ctx.node, 'pads', 'ints', new Array(2 * sp).fill(0));
    if (pads.length !== 2 * sp) throw invalid(ctx, `pads [${pads.join(', ')}] must have ${2 * sp} values`);
    return pads;
  }
  if (autoPad === 'VALID') return new Array(2 * sp).fill(0);
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw unsupported(ctx, `auto_pad="${autoPad}"`);
  const pads = new Array<number>(2 * sp).fill(0);
  for (let i = 0; i < sp; i++) {
    const out = Math.ceil(inSp[i]! / strides[i]!);
    const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - inSp[i]!);
    const small = Math.floor(total / 2);
    pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
    pads[i + sp] = total - pads[i]!;
  }
  return pads;
}

defineOnnxOp('', 'Conv', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const w = need(ctx, 1);
    const sp = x.rank - 2;
    if (sp < 1) throw invalid(ctx, `input must be [N, C, ...spatial], got ${fmtShape(x.shape)}`);
    const kernel = attr(ctx.node, 'kernel_shape', 'ints', w.shape.slice(2) as number[]);
    const strides = attr(ctx.node, 'strides', 'ints', new Array(sp).fill(1));
    const dilations = attr(ctx.node, 'dilations', 'ints', new Array(sp).fill(1));
    const pads = windowPads(ctx, x.shape.slice(2), kernel, strides, dilations);
    const b = ctx.inputs[2];
    return [T.conv(x, w, b && b.size > 0 ? b : undefined, { strides, dilations, pads, group: attr(ctx.node, 'group', 'int', 1) })];
  },
  shape: windowShape,
  fold: 'linear',
});

function pool(ctx: OpContext, kind: 'max' | 'avg'): Tensor {
  const x = need(ctx, 0);
  if (kind === 'max' && ctx.node.outputs[1]) throw unsupported(ctx, 'the Indices output of MaxPool');
  const kernel = attr(ctx.node, 'kernel_shape', 'ints');
  if (!kernel) throw invalid(ctx, 'kernel_shape is required');
  const sp = kernel.length;
  const strides = attr(ctx.node, 'strides', 'ints', new Array(sp).fill(1));
  const dilations = attr(ctx.node, 'dilations', 'ints', new Array(sp).fill(1));
  const pads = windowPads(ctx, x.shape.slice(2), kernel, strides, dilations);
  const opts = {
    kernelShape: kernel,
    strides,
    dilations,
    pads,
    ceilMode: attr(ctx.node, 'ceil_mode', 'int', 0) !== 0,
    countIncludePad: attr(ctx.node, 'count_include_pad', 'int', 0) !== 0,
  };
  return kind === 'max' ? T.maxPool(x, opts) : T.avgPool(x, opts);
}
defineOnnxOp('', 'MaxPool', { kernel: (ctx) => [pool(ctx, 'max')], shape: windowShape });
defineOnnxOp('', 'AveragePool', { kernel: (ctx) => [pool(ctx, 'avg')], shape: windowShape, fold: 'pool' });
defineOnnxOp('', 'GlobalAveragePool', { kernel: (ctx) => [T.globalAvgPool(need(ctx, 0))], shape: globalPoolShape, fold: 'pool' });
defineOnnxOp('', 'GlobalMaxPool', { kernel: (ctx) => [T.globalMaxPool(need(ctx, 0))], shape: globalPoolShape });
defineOnnxOp('', 'GlobalLpPool', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const p = attr(ctx.node, 'p', 'int', 2);
    const axes = x.shape.map((_, i) => i).slice(2);
    if (p === 2) return [T.l2Norm(x, axes, true)];
    if (p === 1) return [T.l1Norm(x, axes, true)];
    return [T.powScalar(T.sum(T.powScalar(T.abs(x), p), axes, true), 1 / p)];
  },
  shape: globalPoolShape,
});

/** Softmax-like ops: opset < 13 coerces the input to 2-D at `axis` (default 1); ≥ 13 works on one axis (default -1). */
function softmaxLike(ctx: OpContext, f: (x: Tensor, axis: number) => Tensor): Tensor {
  const x = need(ctx, 0);
  if (ctx.opset >= 13) return f(x, attr(ctx.node, 'axis', 'int', -1));
  let axis = attr(ctx.node, 'axis', 'int', 1);
  if (axis < 0) axis += x.rank;
  if (x.rank === 0) return f(x.reshape([1]), 0).reshape([]);
  const rows = sizeOf(x.shape.slice(0, axis));
  const cols = sizeOf(x.shape.slice(axis));
  return f(x.reshape([rows, cols]), 1).reshape(x.shape);
}
defineOnnxOp('', 'Softmax', { kernel: (ctx) => [softmaxLike(ctx, T.softmax)], shape: sameShape(), fold: 'nonlinear' });
defineOnnxOp('', 'LogSoftmax', { kernel: (ctx) => [softmaxLike(ctx, T.logSoftmax)], shape: sameShape() });
defineOnnxOp('', 'Hardmax', {
  kernel: (ctx) => [
    softmaxLike(ctx, (x, axis) => {
      const idx = T.argmax(x, axis, true);
      const n = x.shape[axis < 0 ? axis + x.rank : axis]!;
      const shape = x.shape.map((_, i) => (i === (axis < 0 ? axis + x.rank : axis) ? n : 1));
      const range = Tensor.arange(0, n, 1, 'int64').reshape(shape);
      return T.cast(T.equal(idx, range), x.dtype);
    }),
  ],
  shape: sameShape(),
});

// Reductions: axes from the attribute (ReduceSum < 13, others < 18) or the second input; lenient about which.
const reduceOps: Record<string, (x: Tensor, axes: number[] | undefined, keep: boolean) => Tensor> = {
  ReduceMean: T.mean,
  ReduceSum: T.sum,
  ReduceMax: T.max,
  ReduceMin: T.min,
  ReduceProd: T.prod,
  ReduceL1: T.l1Norm,
  ReduceL2: T.l2Norm,
  ReduceSumSquare: T.sumSquare,
  ReduceLogSumExp: T.logSumExp,
  ReduceLogSum: (x, axes, keep) => T.log(T.sum(x, axes, keep)),
};

/** The axes a Reduce node reduces over; `undefined` = all; `[]` = none (noop_with_empty_axes). */
export function reduceAxes(ctx: OpContext): number[] | undefined {
  const fromAttr = attr(ctx.node, 'axes', 'ints');
  if (fromAttr) return fromAttr;
  if (has(ctx, 1)) return ints(need(ctx, 1));
  return attr(ctx.node, 'noop_with_empty_axes', 'int', 0) ? [] : undefined;
}

for (const [op, f] of Object.entries(reduceOps)) {
  defineOnnxOp('', op, {
    kernel: (ctx) => reduceKernel(ctx, op, f),
    shape: reduceShape,
    hostInputs: [1],
    fold: op === 'ReduceMean' ? 'pool' : undefined,
  });
}

/** A Reduce* node: `f` over its axes (none with noop_with_empty_axes; the ONNX identities for empty axes). */
function reduceKernel(ctx: OpContext, op: string, f: (x: Tensor, axes: number[] | undefined, keep: boolean) => Tensor): Tensor[] {
  const x = need(ctx, 0);
  const keep = attr(ctx.node, 'keepdims', 'int', 1) !== 0;
  const axes = reduceAxes(ctx);
  if (axes && axes.length === 0) return [x];
  if (x.dtype === 'bool' && (op === 'ReduceMax' || op === 'ReduceMin')) return [T.cast(f(T.cast(x, 'int32'), axes, keep), 'bool')];
  const all = axes ?? x.shape.map((_, i) => i);
  // Reducing an empty axis: ONNX defines the identity values (0 for sums, 1 for products, ±inf for max/min).
  if (x.size === 0) return [emptyReduce(ctx, op, x, all, keep)];
  return [f(x, axes, keep)];
}

function emptyReduce(ctx: OpContext, op: string, x: Tensor, axes: number[], keep: boolean): Tensor {
  const norm = axes.map((a) => (a < 0 ? a + x.rank : a));
  const shape = x.shape.flatMap((d, i) => (norm.includes(i) ? (keep ? [1] : []) : [d]));
  const fill: Record<string, number> = {
    ReduceMean: Number.NaN,
    ReduceSum: 0,
    ReduceL1: 0,
    ReduceL2: 0,
    ReduceSumSquare: 0,
    ReduceProd: 1,
    ReduceMax: Number.NEGATIVE_INFINITY,
    ReduceMin: Number.POSITIVE_INFINITY,
    ReduceLogSumExp: Number.NEGATIVE_INFINITY,
    ReduceLogSum: Number.NEGATIVE_INFINITY,
  };
  const v = fill[op];
  if (v === undefined) throw invalid(ctx, 'cannot reduce an empty tensor');
  return Tensor.full(shape, v, x.dtype);
}

function argReduce(ctx: OpContext, f: typeof T.argmax): Tensor {
  const x = need(ctx, 0);
  return f(
    x,
    attr(ctx.node, 'axis', 'int', 0),
    attr(ctx.node, 'keepdims', 'int', 1) !== 0,
    attr(ctx.node, 'select_last_index', 'int', 0) !== 0,
  );
}
defineOnnxOp('', 'ArgMax', { kernel: (ctx) => [argReduce(ctx, T.argmax)], shape: argReduceShape, hostInputs: 'all' });
defineOnnxOp('', 'ArgMin', { kernel: (ctx) => [argReduce(ctx, T.argmin)], shape: argReduceShape, hostInputs: 'all' });

defineOnnxOp('', 'LRN', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const size = attr(ctx.node, 'size', 'int');
    if (!size) throw invalid(ctx, 'size is required');
    const alpha = attr(ctx.node, 'alpha', 'float', 0.0001);
    const beta = attr(ctx.node, 'beta', 'float', 0.75);
    const bias = attr(ctx.node, 'bias', 'float', 1);
    const [N, C] = x.shape as [number, number];
    const inner = sizeOf(x.shape.slice(2));
    const src = x.data as Float32Array;
    const out = new Float32Array(src.length);
    const lo = Math.floor((size - 1) / 2);
    const hi = Math.ceil((size - 1) / 2);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < inner; p++) {
          let s = 0;
          for (let k = Math.max(0, c - lo); k <= Math.min(C - 1, c + hi); k++) {
            const v = src[(n * C + k) * inner + p]!;
            s += v * v;
          }
          const i = (n * C + c) * inner + p;
          out[i] = src[i]! / (bias + (alpha / size) * s) ** beta;
        }
    return [T.cast(new Tensor(x.shape, 'float32', out), x.dtype)];
  },
  shape: sameShape(),
  hostInputs: 'all',
});

/** Shape rule of MatMul. */
function matMulShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [{ dtype: x?.dtype, shape: matmulShape(x?.shape, ins[1]?.shape) }];
}

/** Shape rule of Gemm. */
function gemmShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const A = x?.shape;
  const B = ins[1]?.shape;
  const m = A ? (attr(node, 'transA', 'int') ? A[1] : A[0]) : undefined;
  const n = B ? (attr(node, 'transB', 'int') ? B[0] : B[1]) : undefined;
  return [{ dtype: x?.dtype, shape: [m, n] }];
}

/** Shape rule of Conv, MaxPool, AveragePool. */
function windowShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  if (op === 'MaxPool' && node.outputs[1]) return [];
  const xs = x?.shape;
  const w = ins[1]?.shape;
  if (!xs) return [{ dtype: x?.dtype }];
  const sp = xs.length - 2;
  const kernel = attr(node, 'kernel_shape', 'ints') ?? (w ? (w.slice(2) as number[]) : undefined);
  if (!kernel || kernel.some((k) => !isNum(k))) return [{ dtype: x?.dtype, shape: xs.map(() => undefined) }];
  const strides = attr(node, 'strides', 'ints') ?? new Array(sp).fill(1);
  const dil = attr(node, 'dilations', 'ints') ?? new Array(sp).fill(1);
  const pads = attr(node, 'pads', 'ints') ?? new Array(2 * sp).fill(0);
  const autoPad = attr(node, 'auto_pad', 'string') ?? 'NOTSET';
  const ceil = (attr(node, 'ceil_mode', 'int') ?? 0) !== 0;
  const spatial = xs.slice(2).map((d, i) => windowOut(d, kernel[i]!, strides[i]!, pads[i]!, pads[i + sp]!, dil[i]!, ceil, autoPad));
  return [{ dtype: x?.dtype, shape: [xs[0], op === 'Conv' ? w?.[0] : xs[1], ...spatial] }];
}

/** Shape rule of GlobalAveragePool, GlobalMaxPool, GlobalLpPool. */
function globalPoolShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [{ dtype: x?.dtype, shape: x?.shape ? x.shape.map((d, i) => (i < 2 ? d : 1)) : undefined }];
}

/** Shape rule of ArgMax, ArgMin. */
function argReduceShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  if (!x?.shape) return [{ dtype: 'int64' }];
  const ax = normAxis(attr(node, 'axis', 'int') ?? 0, x.shape.length);
  const keep = (attr(node, 'keepdims', 'int') ?? 1) !== 0;
  return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i === ax ? (keep ? [1] : []) : [d])) }];
}

/** Shape rule of ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSumExp, ReduceLogSum. */
function reduceShape(ctx: ShapeContext): InferredValue[] {
  const { node, opset, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  if (!x?.shape) return [{ dtype: x?.dtype }];
  const keep = (attr(node, 'keepdims', 'int') ?? 1) !== 0;
  let axes: number[] | undefined;
  if (node.inputs[1]) {
    const s = symOf(ins[1]);
    if (!s || s.some((d) => !isNum(d))) return [{ dtype: x.dtype, shape: keep ? x.shape.map(() => undefined) : undefined }];
    axes = s as number[];
    if (axes.length === 0) axes = attr(node, 'noop_with_empty_axes', 'int') ? [] : undefined;
  } else axes = reduceAxes({ node, opset, inputs: [] });
  if (axes && axes.length === 0) return [like(x)];
  const ax = (axes ?? x.shape.map((_, i) => i)).map((v) => normAxis(v, x.shape!.length));
  const out: InferredValue = { dtype: x.dtype, shape: x.shape.flatMap((d, i) => (ax.includes(i) ? (keep ? [1] : []) : [d])) };
  // Products / sums of a symbolic shape vector (TensorFlow's Tensordot plumbing).
  const s = symOf(x);
  if (s && x.shape.length === 1 && (op === 'ReduceProd' || op === 'ReduceSum'))
    out.sym = [s.reduce<Dim>((acc, d) => arith(op === 'ReduceProd' ? 'Mul' : 'Add', acc, d), op === 'ReduceProd' ? 1 : 0)];
  return [out];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const NN_OPS = 'nn';
