import { type ConvOptions, type GemmOptions, getBackend, type PoolOptions } from '../backend.js';
import { fmtShape, NormkitError } from '../errors.js';
import { defineOp, runOp } from '../op-registry.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { gradKernels, requireFloat, requireSameDtype, wants } from './common.js';
import { mul } from './elementwise.js';
import { max, mean, sum, sumToShape } from './reduce.js';

// Products and sliding windows: matmul, gemm, conv, pools. Their gradients run on the backend's GEMM
// with transpose flags (no transposed copies) wherever the operands are 2-D or share one weight matrix.

const NO_TRANS = { alpha: 1, beta: 0, transA: false, transB: false };
/** The last two axes of `t` swapped (a copy). */
const swapLast = (t: Tensor) =>
  getBackend().transpose(
    t,
    [...t.shape.keys()].map((i) => (i < t.rank - 2 ? i : 2 * t.rank - 3 - i)),
  );

/** p · qᵀ for p [..., M, N] and q [..., K, N]: one GEMM with transB when q is a matrix. */
function productNT(p: Tensor, q: Tensor): Tensor {
  if (q.rank > 2) return getBackend().matmul(p, swapLast(q));
  const n = q.shape[1] as number;
  const r = getBackend().gemm(p.reshape([p.size / Math.max(n, 1), n]), q, undefined, { ...NO_TRANS, transB: true });
  return r.reshape([...p.shape.slice(0, -1), q.shape[0] as number]);
}

/**
 * pᵀ · q for p [..., M, K] and q [..., M, N], summed to `target` (the shape of the operand it is the
 * gradient of): a matrix target takes the whole batch as one GEMM with transA.
 */
function productTN(p: Tensor, q: Tensor, target: readonly number[]): Tensor {
  if (target.length > 2) return sumToShape(getBackend().matmul(swapLast(p), q), target);
  const k = p.shape[p.rank - 1] as number;
  const n = q.shape[q.rank - 1] as number;
  const p2 = p.rank > 2 ? p.reshape([p.size / Math.max(k, 1), k]) : p;
  return getBackend().gemm(p2, q.reshape([q.size / Math.max(n, 1), n]), undefined, { ...NO_TRANS, transA: true });
}

/** The shapes matmul's operands take for the backend: a 1-D a becomes a row, a 1-D b a column. */
const promotedShapes = (a: Tensor, b: Tensor): [readonly number[], readonly number[]] => [
  a.rank === 1 ? [1, a.shape[0] as number] : a.shape,
  b.rank === 1 ? [b.shape[0] as number, 1] : b.shape,
];
/** matmul's operands reshaped to `promotedShapes`. */
const promote = (a: Tensor, b: Tensor): [Tensor, Tensor] => {
  const [sa, sb] = promotedShapes(a, b);
  return [a.rank === 1 ? a.reshape(sa) : a, b.rank === 1 ? b.reshape(sb) : b];
};

const MATMUL = defineOp({
  name: 'matmul',
  grad: (dy, ctx) => {
    const [ta, tb] = ctx.inputs as [Tensor, Tensor];
    const [a2, b2] = promote(ta, tb);
    const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2), 'matmul');
    const dy2 = dy.reshape([...batch, a2.shape[a2.rank - 2] as number, b2.shape[b2.rank - 1] as number]);
    // When b2 is a matrix, a2 carries the whole batch: both products are then single GEMMs.
    const da = wants(ctx, 0) ? sumToShape(productNT(dy2, b2), a2.shape).reshape(ta.shape) : undefined;
    const db = wants(ctx, 1) ? productTN(a2, dy2, b2.shape).reshape(tb.shape) : undefined;
    return [da, db];
  },
});

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted and the added dim removed; batch
 * dims broadcast. @example matmul(Tensor.randn([2, 3, 4], 1), Tensor.randn([4, 5], 2)) // [2, 3, 5]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('matmul', a, b);
  requireSameDtype('matmul', a, b);
  if (a.rank === 0 || b.rank === 0)
    throw new NormkitError('SHAPE_MISMATCH', `matmul: operands must have rank ≥ 1, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [sa, sb] = promotedShapes(a, b);
  const k1 = sa[sa.length - 1];
  const k2 = sb[sb.length - 2];
  if (k1 !== k2)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `matmul: inner dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)} (${k1} vs ${k2})`,
      { op: 'matmul', shapes: [a.shape, b.shape] },
    );
  broadcastShapes(sa.slice(0, -2), sb.slice(0, -2), 'matmul (batch dims)');
  return runOp(MATMUL, [a, b], undefined, () => {
    let y = getBackend().matmul(...promote(a, b));
    if (a.rank === 1) y = y.reshape([...y.shape.slice(0, -2), y.shape[y.rank - 1] as number]);
    if (b.rank === 1) y = y.reshape(y.shape.slice(0, -1));
    return y;
  });
}

/**
 * Gemm's gradients as GEMMs with transpose flags: with y = α·op(A)·op(B) + β·C,
 * dA = α·dy·op(B)ᵀ (transposed back when transA), dB = α·op(A)ᵀ·dy (likewise), dC = β·dy summed to C.
 */
const GEMM = defineOp<Required<GemmOptions>>({
  name: 'gemm',
  grad: (dy, ctx) => {
    const be = getBackend();
    const [ta, tb, c] = ctx.inputs as [Tensor, Tensor, Tensor | undefined];
    const o = ctx.attrs;
    const g = { alpha: o.alpha, beta: 0 };
    const dA = () =>
      o.transA
        ? be.gemm(tb, dy, undefined, { ...g, transA: o.transB, transB: true })
        : be.gemm(dy, tb, undefined, { ...g, transA: false, transB: !o.transB });
    const dB = () =>
      o.transB
        ? be.gemm(dy, ta, undefined, { ...g, transA: true, transB: o.transA })
        : be.gemm(ta, dy, undefined, { ...g, transA: !o.transA, transB: false });
    const dC = c && wants(ctx, 2) ? sumToShape(o.beta === 1 ? dy : mul(dy, o.beta), c.shape) : undefined;
    return [wants(ctx, 0) ? dA() : undefined, wants(ctx, 1) ? dB() : undefined, dC];
  },
});

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
  return runOp(GEMM, [a, b, c], o, () => getBackend().gemm(a, b, c, o));
}

const CONV = defineOp<Required<ConvOptions>>({
  name: 'conv',
  grad: (dy, ctx) => {
    const [x, w, bias] = ctx.inputs;
    const { dx, dw } = gradKernels().conv(dy, x as Tensor, w as Tensor, ctx.attrs, { dx: wants(ctx, 0), dw: wants(ctx, 1) });
    const db =
      bias && wants(ctx, 2)
        ? sum(
            dy,
            [0, ...dy.shape.keys()].filter((i) => i !== 1),
          ).reshape(bias.shape)
        : undefined;
    return [dx, dw, db];
  },
});

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
  return runOp(CONV, [x, w, bias], o, () => getBackend().conv(x, w, bias, o));
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
const POOL_DEFS = {
  max: defineOp<Required<PoolOptions>>({
    name: 'maxPool',
    grad: (dy, { inputs: [x], attrs }) => [gradKernels().pool('max', dy, x as Tensor, attrs)],
  }),
  avg: defineOp<Required<PoolOptions>>({
    name: 'avgPool',
    grad: (dy, { inputs: [x], attrs }) => [gradKernels().pool('avg', dy, x as Tensor, attrs)],
  }),
};
function pool(kind: 'max' | 'avg', x: Tensor, opts: PoolOptions): Tensor {
  const o = poolOpts(kind === 'max' ? 'maxPool' : 'avgPool', x, opts);
  return runOp(POOL_DEFS[kind], [x], o, () => getBackend().pool(kind, x, o));
}
/** Max pooling (ONNX MaxPool: pads, dilations, ceil mode). @example maxPool(x, { kernelShape: [2, 2], strides: [2, 2] }) */
export const maxPool = (x: Tensor, opts: PoolOptions) => pool('max', x, opts);
/** Average pooling (ONNX AveragePool; `countIncludePad` picks the divisor). @example avgPool(x, { kernelShape: [3, 3], pads: [1, 1, 1, 1] }) */
export const avgPool = (x: Tensor, opts: PoolOptions) => pool('avg', x, opts);
/** Mean over all spatial dims, keeping them as size 1. @example globalAvgPool(x) // [N, C, 1, 1] */
export const globalAvgPool = (x: Tensor) => mean(x, x.shape.map((_, i) => i).slice(2), true);
/** Max over all spatial dims, keeping them as size 1. @example globalMaxPool(x) // [N, C, 1, 1] */
export const globalMaxPool = (x: Tensor) => max(x, x.shape.map((_, i) => i).slice(2), true);
