import * as T from '@normkit/tensor';
import { fmtShape, sizeOf, Tensor } from '@normkit/tensor';
import { attr } from '../ir.js';
import { arith, type InferredValue, normAxis, sameShape, symOf } from './dims.js';
import { defineOnnxOp, has, invalid, need, type OpContext, type ShapeContext, scalarOf, unsupported } from './registry.js';

// Ops without a tensor kernel, written over host data: TopK, CumSum, ScatterND, ScatterElements, Trilu,
// NonZero, OneHot, DepthToSpace, SpaceToDepth.

type Num = ArrayLike<number | bigint> & { [i: number]: number | bigint };

/** Reads element i as a number. */
const rd = (a: Num, i: number) => Number(a[i]);
/** Writes a number into a typed array of any dtype. */
function wr(a: Num, i: number, v: number): void {
  if (a instanceof BigInt64Array) a[i] = BigInt(Math.trunc(v));
  else (a as Float32Array)[i] = v;
}

defineOnnxOp('', 'TopK', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const k = ctx.opset < 10 ? attr(ctx.node, 'k', 'int', 1) : scalarOf(ctx, need(ctx, 1, 'K'), 'K');
    let axis = attr(ctx.node, 'axis', 'int', -1);
    if (axis < 0) axis += x.rank;
    const largest = attr(ctx.node, 'largest', 'int', 1) !== 0;
    const dim = x.shape[axis]!;
    if (k < 0 || k > dim) throw invalid(ctx, `K=${k} is out of range for axis ${axis} of ${fmtShape(x.shape)}`);
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const outShape = x.shape.map((d, i) => (i === axis ? k : d));
    const vals = new Tensor(outShape, x.dtype);
    const idxs = new Tensor(outShape, 'int64');
    const src = x.data as Num;
    const vd = vals.data as Num;
    const id = idxs.data as BigInt64Array;
    const order = new Array<number>(dim);
    const v = new Float64Array(dim);
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        for (let d = 0; d < dim; d++) {
          order[d] = d;
          v[d] = rd(src, (o * dim + d) * inner + j);
        }
        // Ties keep the lower index first (onnxruntime); NaN counts as the largest.
        order.sort((p, q) => {
          const a = v[p]!;
          const b = v[q]!;
          if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return p - q;
          if (Number.isNaN(a)) return largest ? -1 : 1;
          if (Number.isNaN(b)) return largest ? 1 : -1;
          return largest ? b - a : a - b;
        });
        for (let t = 0; t < k; t++) {
          const dst = (o * k + t) * inner + j;
          wr(vd, dst, v[order[t]!]!);
          id[dst] = BigInt(order[t]!);
        }
      }
    return [vals, idxs];
  },
  shape: topKShape,
  hostInputs: 'all',
});

defineOnnxOp('', 'CumSum', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    let axis = scalarOf(ctx, need(ctx, 1, 'axis'), 'axis');
    if (axis < 0) axis += x.rank;
    if (axis < 0 || axis >= x.rank) throw invalid(ctx, `axis out of range for ${fmtShape(x.shape)}`);
    const exclusive = attr(ctx.node, 'exclusive', 'int', 0) !== 0;
    const reverse = attr(ctx.node, 'reverse', 'int', 0) !== 0;
    const dim = x.shape[axis]!;
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const out = new Tensor(x.shape, x.dtype);
    const src = x.data as Num;
    const od = out.data as Num;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        let acc = 0;
        for (let t = 0; t < dim; t++) {
          const d = reverse ? dim - 1 - t : t;
          const i = (o * dim + d) * inner + j;
          const v = rd(src, i);
          if (exclusive) {
            wr(od, i, acc);
            acc += v;
          } else {
            acc += v;
            wr(od, i, acc);
          }
        }
      }
    return [out];
  },
  shape: sameShape(),
  hostInputs: 'all',
});

function reducer(ctx: OpContext): (a: number, b: number) => number {
  const r = attr(ctx.node, 'reduction', 'string', 'none');
  switch (r) {
    case 'none':
      return (_a, b) => b;
    case 'add':
      return (a, b) => a + b;
    case 'mul':
      return (a, b) => a * b;
    case 'max':
      return Math.max;
    case 'min':
      return Math.min;
    default:
      throw unsupported(ctx, `reduction="${r}"`);
  }
}

defineOnnxOp('', 'ScatterND', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const idx = need(ctx, 1, 'indices');
    const upd = need(ctx, 2, 'updates');
    const f = reducer(ctx);
    const out = x.clone();
    const od = out.data as Num;
    const ud = upd.data as Num;
    const id = idx.data as Num;
    const k = idx.shape[idx.rank - 1]!;
    const n = sizeOf(idx.shape.slice(0, -1));
    const sliceSize = sizeOf(x.shape.slice(k));
    const strides = x.strides;
    for (let r = 0; r < n; r++) {
      let off = 0;
      for (let d = 0; d < k; d++) {
        let v = rd(id, r * k + d);
        if (v < 0) v += x.shape[d]!;
        if (v < 0 || v >= x.shape[d]!) throw invalid(ctx, `index ${rd(id, r * k + d)} out of range for axis ${d} of ${fmtShape(x.shape)}`);
        off += v * strides[d]!;
      }
      for (let j = 0; j < sliceSize; j++) wr(od, off + j, f(rd(od, off + j), rd(ud, r * sliceSize + j)));
    }
    return [out];
  },
  shape: sameShape(),
  hostInputs: 'all',
});

defineOnnxOp('', 'ScatterElements', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const idx = need(ctx, 1, 'indices');
    const upd = need(ctx, 2, 'updates');
    let axis = attr(ctx.node, 'axis', 'int', 0);
    if (axis < 0) axis += x.rank;
    const f = reducer(ctx);
    const out = x.clone();
    const od = out.data as Num;
    const ud = upd.data as Num;
    const id = idx.data as Num;
    const is = idx.strides;
    const xs = x.strides;
    for (let i = 0; i < idx.size; i++) {
      let rem = i;
      let off = 0;
      for (let d = 0; d < idx.rank; d++) {
        const q = Math.floor(rem / is[d]!);
        rem -= q * is[d]!;
        let c = q;
        if (d === axis) {
          c = rd(id, i);
          if (c < 0) c += x.shape[axis]!;
          if (c < 0 || c >= x.shape[axis]!) throw invalid(ctx, `index ${rd(id, i)} out of range for axis ${axis} of ${fmtShape(x.shape)}`);
        }
        off += c * xs[d]!;
      }
      wr(od, off, f(rd(od, off), rd(ud, i)));
    }
    return [out];
  },
  shape: sameShape(),
  hostInputs: 'all',
});

defineOnnxOp('', 'Trilu', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const k = has(ctx, 1) ? scalarOf(ctx, need(ctx, 1), 'k') : 0;
    const upper = attr(ctx.node, 'upper', 'int', 1) !== 0;
    if (x.rank < 2) throw invalid(ctx, `input must have rank ≥ 2, got ${fmtShape(x.shape)}`);
    const rows = x.shape[x.rank - 2]!;
    const cols = x.shape[x.rank - 1]!;
    const keep = new Uint8Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) keep[i * cols + j] = upper ? (j - i >= k ? 1 : 0) : j - i <= k ? 1 : 0;
    const mask = new Tensor([rows, cols], 'bool', keep);
    return [T.where(mask, x, Tensor.zeros([], x.dtype))];
  },
  shape: sameShape(),
  hostInputs: [1],
});

defineOnnxOp('', 'NonZero', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const src = x.data as Num;
    const hits: number[] = [];
    for (let i = 0; i < x.size; i++) if (rd(src, i) !== 0) hits.push(i);
    const r = Math.max(x.rank, 1);
    const out = new Tensor([r, hits.length], 'int64');
    const od = out.data as BigInt64Array;
    const strides = x.rank === 0 ? [1] : x.strides;
    hits.forEach((flat, h) => {
      let rem = flat;
      for (let d = 0; d < r; d++) {
        const q = x.rank === 0 ? 0 : Math.floor(rem / strides[d]!);
        rem -= q * strides[d]!;
        od[d * hits.length + h] = BigInt(q);
      }
    });
    return [out];
  },
  shape: nonZeroShape,
  hostInputs: 'all',
});

defineOnnxOp('', 'OneHot', {
  kernel: (ctx) => {
    const indices = need(ctx, 0);
    const depth = scalarOf(ctx, need(ctx, 1, 'depth'), 'depth');
    const values = need(ctx, 2, 'values');
    let axis = attr(ctx.node, 'axis', 'int', -1);
    const rank = indices.rank + 1;
    if (axis < 0) axis += rank;
    const off = rd(values.data as Num, 0);
    const on = rd(values.data as Num, 1);
    const outShape = [...indices.shape.slice(0, axis), depth, ...indices.shape.slice(axis)];
    const out = Tensor.full(outShape, off, values.dtype);
    const od = out.data as Num;
    const outer = sizeOf(indices.shape.slice(0, axis));
    const inner = sizeOf(indices.shape.slice(axis));
    const id = indices.data as Num;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        let v = rd(id, o * inner + j);
        if (v < 0) v += depth;
        if (v >= 0 && v < depth) wr(od, (o * depth + v) * inner + j, on);
      }
    return [out];
  },
  shape: oneHotShape,
  hostInputs: 'all',
  grows: true,
});

defineOnnxOp('', 'DepthToSpace', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const b = attr(ctx.node, 'blocksize', 'int', 1);
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const mode = attr(ctx.node, 'mode', 'string', 'DCR');
    const c = C / (b * b);
    const t =
      mode === 'DCR'
        ? T.transpose(x.reshape([N, b, b, c, H, W]), [0, 3, 4, 1, 5, 2])
        : mode === 'CRD'
          ? T.transpose(x.reshape([N, c, b, b, H, W]), [0, 1, 4, 2, 5, 3])
          : (() => {
              throw unsupported(ctx, `mode="${mode}"`);
            })();
    return [t.reshape([N, c, H * b, W * b])];
  },
  shape: depthSpaceShape,
});

defineOnnxOp('', 'SpaceToDepth', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const b = attr(ctx.node, 'blocksize', 'int', 1);
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const t = T.transpose(x.reshape([N, C, H / b, b, W / b, b]), [0, 3, 5, 1, 2, 4]);
    return [t.reshape([N, C * b * b, H / b, W / b])];
  },
  shape: depthSpaceShape,
});

/** Shape rule of TopK. */
function topKShape(ctx: ShapeContext): InferredValue[] {
  const { node, opset, inputs: ins } = ctx;
  const x = ins[0];
  const k = opset < 10 ? attr(node, 'k', 'int') : symOf(ins[1])?.[0];
  if (!x?.shape) return [{ dtype: x?.dtype }, { dtype: 'int64' }];
  const ax = normAxis(attr(node, 'axis', 'int') ?? -1, x.shape.length);
  const shape = x.shape.map((d, i) => (i === ax ? k : d));
  return [
    { dtype: x.dtype, shape },
    { dtype: 'int64', shape },
  ];
}

/** Shape rule of NonZero. */
function nonZeroShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [{ dtype: 'int64', shape: [x?.shape ? Math.max(1, x.shape.length) : undefined, undefined] }];
}

/** Shape rule of OneHot. */
function oneHotShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const depth = symOf(ins[1])?.[0];
  if (!x?.shape) return [{ dtype: ins[2]?.dtype }];
  const r = x.shape.length + 1;
  const ax = normAxis(attr(node, 'axis', 'int') ?? -1, r);
  return [{ dtype: ins[2]?.dtype, shape: [...x.shape.slice(0, ax), depth, ...x.shape.slice(ax)] }];
}

/** Shape rule of DepthToSpace, SpaceToDepth. */
function depthSpaceShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  const b = attr(node, 'blocksize', 'int') ?? 1;
  const s = x?.shape;
  if (!s) return [{ dtype: x?.dtype }];
  if (op === 'DepthToSpace')
    return [{ dtype: x?.dtype, shape: [s[0], arith('Div', s[1], b * b), arith('Mul', s[2], b), arith('Mul', s[3], b)] }];
  return [{ dtype: x?.dtype, shape: [s[0], arith('Mul', s[1], b * b), arith('Div', s[2], b), arith('Div', s[3], b)] }];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const MISC_OPS = 'misc';
