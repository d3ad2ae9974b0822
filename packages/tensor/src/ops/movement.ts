import { getBackend } from '../backend.js';
import { type DType, isFloat } from '../dtype.js';
import { fmtShape, NormkitError } from '../errors.js';
import { defineOp, runOp } from '../op-registry.js';
import { broadcastShapes, normalizeAxes, normalizeAxis, sizeOf } from '../shape.js';
import { inferReshape, reshapeGrad, type Tensor } from '../tensor.js';
import { gradKernels, requireSameDtype } from './common.js';
import { sum, sumToShape } from './reduce.js';

// Ops that move or copy elements. `reshape` is defined where it lives, as the `Tensor.reshape` method;
// squeeze, unsqueeze and flatten are reshapes under their own names, with its gradient.

const TRANSPOSE = defineOp<{ perm: readonly number[] }>({
  name: 'transpose',
  grad: (dy, { attrs: { perm } }) => [
    transpose(
      dy,
      perm.map((_, i) => perm.indexOf(i)),
    ),
  ],
});

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
  return runOp(TRANSPOSE, [x], { perm: norm }, () => getBackend().transpose(x, norm));
}
/** Alias of `transpose` with an explicit permutation. @example permute(x, [0, 2, 1]) */
export const permute = transpose;

/** Reshape (a view); `-1` infers one dimension. @example reshape(x, [2, -1]) */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return x.reshape(inferReshape(x.shape, shape));
}

const CONCAT = defineOp<{ axis: number }>({
  name: 'concat',
  grad: (dy, { inputs, attrs: { axis } }) => {
    let start = 0;
    return inputs.map((t) => {
      const n = (t as Tensor).shape[axis] as number;
      start += n;
      return slice(dy, [start - n], [start], [axis]);
    });
  },
});

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
  return runOp(CONCAT, xs, { axis: ax }, () => getBackend().concat(xs, ax));
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

/** The starts and steps per axis that the backend's slice got (negative indices resolved, clamped). */
type SliceAttrs = { starts: readonly number[]; steps: readonly number[] };
const SLICE = defineOp<SliceAttrs>({
  name: 'slice',
  grad: (dy, { inputs: [x], attrs }) => [gradKernels().slice(dy, (x as Tensor).shape, attrs.starts, attrs.steps)],
});

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
  return runOp(SLICE, [x], { starts: st, steps: sp }, () => getBackend().slice(x, st, sp, out));
}

type PadAttrs = { pads: readonly number[]; mode: 'constant' | 'reflect' | 'edge' };
const PAD = defineOp<PadAttrs>({
  name: 'pad',
  // Constant padding: the gradient is dy cropped back (negative pads crop, and a crop's gradient pads).
  grad: (dy, { inputs: [x], attrs: { pads, mode } }) => [
    mode === 'constant'
      ? getBackend().pad(
          dy,
          pads.map((p) => -p),
          'constant',
          0,
        )
      : gradKernels().pad(dy, (x as Tensor).shape, pads, mode),
  ],
});

/** Pad with ONNX pads layout [begin..., end...]; negative pads crop. @example pad(x, [0, 1, 0, 1]) */
export function pad(x: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge' = 'constant', value = 0): Tensor {
  if (pads.length !== 2 * x.rank)
    throw new NormkitError('INVALID_ARGUMENT', `pad: expected ${2 * x.rank} pads for ${fmtShape(x.shape)}, got ${pads.length}`);
  return runOp(PAD, [x], { pads, mode }, () => getBackend().pad(x, pads, mode, value));
}

/** The embedding gradient: dy scatter-added into zeros of the table; the indices get none. */
const GATHER = defineOp<{ axis: number }>({
  name: 'gather',
  grad: (dy, { inputs: [x, indices], attrs }) => [gradKernels().gather(dy, indices as Tensor, (x as Tensor).shape, attrs.axis), undefined],
});

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
  return runOp(GATHER, [x, indices], { axis: ax }, () => getBackend().gather(x, indices, ax));
}

const EXPAND = defineOp({ name: 'expand', grad: (dy, { inputs: [x] }) => [sumToShape(dy, (x as Tensor).shape)] });

/** Broadcast to `shape` (ONNX Expand: the result shape is the broadcast of both). @example expand(Tensor.from([[1], [2]]), [2, 3]) */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes(x.shape, shape, 'expand');
  if (out.length === x.rank && out.every((d, i) => d === x.shape[i])) return x;
  return runOp(EXPAND, [x], { shape: out }, () => getBackend().expand(x, out));
}

// Tile's output viewed as [r0, d0, r1, d1, ...] holds one copy of x per (r0, r1, ...): sum the copies.
const TILE = defineOp<{ repeats: readonly number[] }>({
  name: 'tile',
  grad: (dy, { inputs: [x], attrs: { repeats } }) => {
    const shape = (x as Tensor).shape;
    if (shape.length === 0) return [dy];
    const view = dy.reshape(shape.flatMap((d, i) => [repeats[i] as number, d]));
    return [
      sum(
        view,
        shape.map((_, i) => 2 * i),
      ).reshape(shape),
    ];
  },
});

/** Repeat along each axis. @example tile(x, [2, 1]) */
export function tile(x: Tensor, repeats: readonly number[]): Tensor {
  if (repeats.length !== x.rank) throw new NormkitError('INVALID_ARGUMENT', `tile: ${repeats.length} repeats for rank ${x.rank}`);
  return runOp(TILE, [x], { repeats }, () => getBackend().tile(x, repeats));
}

/** Between float dtypes the gradient is cast back; integer and bool ends carry none. */
const CAST = defineOp<{ dtype: DType }>({
  name: 'cast',
  grad: (dy, { inputs: [x] }) => {
    const from = (x as Tensor).dtype;
    return [isFloat(from) ? cast(dy, from) : undefined];
  },
});

/** Convert to `dtype`. @example cast(ids, 'int64') */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : runOp(CAST, [x], { dtype }, () => getBackend().cast(x, dtype));
}

const SQUEEZE = defineOp({ name: 'squeeze', grad: reshapeGrad });
const UNSQUEEZE = defineOp({ name: 'unsqueeze', grad: reshapeGrad });
const FLATTEN = defineOp({ name: 'flatten', grad: reshapeGrad });

/** Remove size-1 axes (all of them when `axes` is omitted). @example squeeze(Tensor.zeros([1, 3, 1])) // shape [3] */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const list = axes ? normalizeAxes(axes, x.rank, 'squeeze', x.shape) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of list)
    if (x.shape[a] !== 1) throw new NormkitError('SHAPE_MISMATCH', `squeeze: axis ${a} of ${fmtShape(x.shape)} is not 1`);
  return runOp(SQUEEZE, [x], { axes: list }, () => x.reshape(x.shape.filter((_, i) => !list.includes(i))));
}

/** Insert size-1 axes at `axes` (positions in the output). @example unsqueeze(Tensor.zeros([3]), [0]) // shape [1, 3] */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const list = normalizeAxes(axes, rank, 'unsqueeze');
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(list.includes(i) ? 1 : (x.shape[j++] as number));
  return runOp(UNSQUEEZE, [x], { axes: list }, () => x.reshape(out));
}

/** Flatten to 2-D at `axis` (ONNX Flatten). @example flatten(Tensor.zeros([2, 3, 4])) // shape [2, 12] */
export function flatten(x: Tensor, axis = 1): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  if (a < 0 || a > x.rank) throw new NormkitError('AXIS_OUT_OF_RANGE', `flatten: axis ${axis} out of range for ${fmtShape(x.shape)}`);
  return runOp(FLATTEN, [x], { axis: a }, () => x.reshape([sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))]));
}
