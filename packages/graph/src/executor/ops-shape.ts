import * as T from '@normkit/tensor';
import { fmtShape, sizeOf, Tensor } from '@normkit/tensor';
import { narrowValue, onnxType, tagElemType } from '../elem-types.js';
import { attr, type Dim, type Node } from '../ir.js';
import { arith, axisIn, broadcast, type InferredValue, isNum, like, normAxis, numProd, reshapeTarget, symOf, unknownDims } from './dims.js';
import {
  defineOnnxOp,
  dtypeFromOnnx,
  has,
  ints,
  intVector,
  invalid,
  need,
  type OpContext,
  type ShapeContext,
  scalarOf,
  unsupported,
} from './registry.js';

// Shape and data-movement ops: Reshape, Transpose, Flatten, (Un)Squeeze, Concat, Split, Slice, Gather*,
// Shape, Size, Cast, Constant*, Expand, Range, Dropout, Pad, Tile.

const int64 = (values: readonly number[], shape: readonly number[] = [values.length]) => Tensor.from([...values], shape, 'int64');

defineOnnxOp('', 'Reshape', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const target = ctx.inputs[1] ? ints(ctx.inputs[1]) : attr(ctx.node, 'shape', 'ints');
    if (!target) throw invalid(ctx, 'the target shape is missing');
    const allowZero = attr(ctx.node, 'allowzero', 'int', 0) !== 0;
    const shape = target.map((d, i) => {
      if (d !== 0 || allowZero) return d;
      if (i >= x.rank)
        throw invalid(ctx, `target ${fmtShape(target)} copies dimension ${i} (0) but the input ${fmtShape(x.shape)} has rank ${x.rank}`);
      return x.shape[i]!;
    });
    try {
      return [T.reshape(x, shape)];
    } catch (e) {
      throw invalid(ctx, `cannot reshape ${fmtShape(x.shape)} to ${fmtShape(target)}: ${(e as Error).message}`);
    }
  },
  shape: reshapeShape,
  hostInputs: [1],
  fold: 'layout',
});

defineOnnxOp('', 'Transpose', {
  kernel: (ctx) => [T.transpose(need(ctx, 0), attr(ctx.node, 'perm', 'ints'))],
  shape: transposeShape,
  fold: 'layout',
});
defineOnnxOp('', 'Flatten', {
  kernel: (ctx) => [T.flatten(need(ctx, 0), attr(ctx.node, 'axis', 'int', 1))],
  shape: flattenShape,
  fold: 'layout',
});

/** Axes from the attribute (< 13) or the second input (≥ 13); lenient about which. */
function axesOf(ctx: OpContext, inputIndex: number): number[] | undefined {
  const a = attr(ctx.node, 'axes', 'ints');
  if (a) return a;
  const t = ctx.inputs[inputIndex];
  return t ? ints(t) : undefined;
}

defineOnnxOp('', 'Squeeze', {
  kernel: (ctx) => {
    const axes = axesOf(ctx, 1);
    return [T.squeeze(need(ctx, 0), axes && axes.length > 0 ? axes : undefined)];
  },
  shape: squeezeShape,
  hostInputs: [1],
  fold: 'layout',
});
defineOnnxOp('', 'Unsqueeze', {
  kernel: (ctx) => {
    const axes = axesOf(ctx, 1);
    if (!axes) throw invalid(ctx, 'axes are required');
    return [T.unsqueeze(need(ctx, 0), axes)];
  },
  shape: squeezeShape,
  hostInputs: [1],
  fold: 'layout',
});

/**
 * Concat. A rank-0 input among rank-1 inputs is treated as shape [1] (older runtimes accepted this and
 * PyTorch 1.4 BERT exports rely on it; the ONNX spec forbids it, onnxruntime ≥ 1.10 refuses it).
 */
defineOnnxOp('', 'Concat', {
  kernel: (ctx) => {
    let xs = ctx.inputs.filter((t): t is Tensor => t !== undefined);
    const axis = attr(ctx.node, 'axis', 'int');
    if (axis === undefined) throw invalid(ctx, 'axis is required');
    const maxRank = Math.max(...xs.map((t) => t.rank));
    if (maxRank === 1) xs = xs.map((t) => (t.rank === 0 ? t.reshape([1]) : t));
    // Empty inputs (size 0 along the axis) take no part.
    const nonEmpty = xs.filter((t) => t.size > 0);
    if (nonEmpty.length === 0) {
      const first = xs[0]!;
      const a = axis < 0 ? axis + first.rank : axis;
      const shape = [...first.shape];
      shape[a] = xs.reduce((s, t) => s + (t.shape[a] ?? 0), 0);
      return [new Tensor(shape, first.dtype)];
    }
    if (nonEmpty.length < xs.length && nonEmpty.some((t) => t.rank !== xs[0]!.rank)) throw invalid(ctx, 'inputs have different ranks');
    return [T.concat(nonEmpty, axis)];
  },
  shape: concatShape,
  fold: 'select',
});

defineOnnxOp('', 'Split', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const axis = attr(ctx.node, 'axis', 'int', 0);
    const n = ctx.node.outputs.length;
    let sizes: number[] | number = attr(ctx.node, 'split', 'ints') ?? (has(ctx, 1) ? ints(need(ctx, 1)) : n);
    const numOutputs = attr(ctx.node, 'num_outputs', 'int');
    if (numOutputs !== undefined && typeof sizes === 'number') sizes = numOutputs;
    if (typeof sizes === 'number' && numOutputs === undefined) {
      const dim = x.shape[axis < 0 ? axis + x.rank : axis]!;
      if (dim % sizes !== 0) throw invalid(ctx, `dimension ${dim} cannot be split into ${sizes} equal parts`);
    }
    return T.split(x, sizes, axis);
  },
  shape: splitShape,
  hostInputs: [1],
});

defineOnnxOp('', 'Slice', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    let starts: number[];
    let ends: number[];
    let axes: number[] | undefined;
    let steps: number[] | undefined;
    if (ctx.opset < 10 && attr(ctx.node, 'starts', 'ints')) {
      starts = attr(ctx.node, 'starts', 'ints', []);
      ends = attr(ctx.node, 'ends', 'ints', []);
      axes = attr(ctx.node, 'axes', 'ints');
    } else {
      starts = ints(need(ctx, 1, 'starts'));
      ends = ints(need(ctx, 2, 'ends'));
      axes = ctx.inputs[3] ? ints(ctx.inputs[3]) : undefined;
      steps = ctx.inputs[4] ? ints(ctx.inputs[4]) : undefined;
    }
    return [T.slice(x, starts, ends, axes, steps)];
  },
  shape: sliceShape,
  hostInputs: [1, 2, 3, 4],
  fold: 'select',
});

defineOnnxOp('', 'Gather', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const idx = need(ctx, 1, 'indices');
    // ONNX (and onnxruntime) take int32/int64 indices only; a float tensor read as indices (a weight
    // wired in the wrong place) would build an output of its size times the slice.
    if (idx.dtype !== 'int32' && idx.dtype !== 'int64')
      throw invalid(
        ctx,
        `indices "${ctx.node.inputs[1]}" must be int32 or int64, got ${idx.dtype} ${fmtShape(idx.shape)}; check what feeds input 1`,
      );
    return [T.gather(x, idx, attr(ctx.node, 'axis', 'int', 0))];
  },
  shape: gatherShape,
  fold: 'linear',
});

defineOnnxOp('', 'GatherElements', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const idx = need(ctx, 1, 'indices');
    let axis = attr(ctx.node, 'axis', 'int', 0);
    if (axis < 0) axis += x.rank;
    if (idx.rank !== x.rank) throw invalid(ctx, `indices ${fmtShape(idx.shape)} must have the rank of data ${fmtShape(x.shape)}`);
    const out = new Tensor(idx.shape, x.dtype);
    const o = out.data as Float32Array;
    const src = x.data as Float32Array;
    const id = idx.data;
    const xs = x.strides;
    const is = idx.strides;
    const dim = x.shape[axis]!;
    for (let i = 0; i < o.length; i++) {
      let rem = i;
      let off = 0;
      for (let d = 0; d < idx.rank; d++) {
        const q = Math.floor(rem / is[d]!);
        rem -= q * is[d]!;
        let k = q;
        if (d === axis) {
          k = Number(id[i]);
          if (k < 0) k += dim;
          if (k < 0 || k >= dim) throw invalid(ctx, `index ${Number(id[i])} out of range for axis ${axis} of ${fmtShape(x.shape)}`);
        }
        off += k * xs[d]!;
      }
      o[i] = src[off]!;
    }
    return [out];
  },
  shape: gatherElementsShape,
  hostInputs: 'all',
});

defineOnnxOp('', 'GatherND', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const idx = need(ctx, 1, 'indices');
    const b = attr(ctx.node, 'batch_dims', 'int', 0);
    const q = idx.rank;
    const last = idx.shape[q - 1]!;
    const batchShape = x.shape.slice(0, b);
    const nb = sizeOf(batchShape);
    const sliceShape = x.shape.slice(b + last);
    const sliceSize = sizeOf(sliceShape);
    const outShape = [...idx.shape.slice(0, q - 1), ...sliceShape];
    const out = new Tensor(outShape, x.dtype);
    const o = out.data as Float32Array;
    const src = x.data as Float32Array;
    const id = idx.data;
    const perBatchIdx = sizeOf(idx.shape.slice(b, q - 1));
    const perBatchX = sizeOf(x.shape.slice(b));
    const xs = x.shape.slice(b, b + last).map((_, k) => sizeOf(x.shape.slice(b + k + 1)));
    for (let bi = 0; bi < nb; bi++)
      for (let j = 0; j < perBatchIdx; j++) {
        const row = (bi * perBatchIdx + j) * last;
        let off = bi * perBatchX;
        for (let k = 0; k < last; k++) {
          let v = Number(id[row + k]);
          const dim = x.shape[b + k]!;
          if (v < 0) v += dim;
          if (v < 0 || v >= dim) throw invalid(ctx, `index ${Number(id[row + k])} out of range for axis ${b + k} of ${fmtShape(x.shape)}`);
          off += v * xs[k]!;
        }
        o.set(src.subarray(off, off + sliceSize), (bi * perBatchIdx + j) * sliceSize);
      }
    return [out];
  },
  shape: gatherNDShape,
  hostInputs: 'all',
});

defineOnnxOp('', 'Shape', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const r = x.rank;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const start = clamp(attr(ctx.node, 'start', 'int', 0));
    const end = clamp(attr(ctx.node, 'end', 'int', r));
    return [int64(x.shape.slice(start, Math.max(start, end)))];
  },
  shape: shapeShape,
  fold: 'shapeOnly',
});
defineOnnxOp('', 'Size', { kernel: (ctx) => [int64([need(ctx, 0).size], [])], shape: sizeShape, fold: 'shapeOnly' });

// Cast to a type held in a wider carrier (float16 → float32, int8 → int32, …) casts to the carrier and
// then gives every value the narrow type's exact value (rounded or wrapped), so an fp16 model computes
// in float32 between its casts but each cast rounds as onnxruntime's does.
defineOnnxOp('', 'Cast', {
  kernel: (ctx) => {
    const to = attr(ctx.node, 'to', 'int');
    if (to === undefined) throw invalid(ctx, 'attribute "to" is required');
    const type = onnxType(to);
    if (type?.kind === 'widened' && type.dtype) return [tagElemType(narrowed(T.cast(need(ctx, 0), type.dtype), to), to)];
    return [T.cast(need(ctx, 0), dtypeFromOnnx(ctx, to))];
  },
  shape: castShape,
  hostInputs: castHostInputs,
  fold: 'passThrough',
});

/**
 * Cast targets computed on the CPU: integer and float64 results are host dtypes, and float16 / bfloat16
 * round each value on the host (see `narrowValue`).
 */
const HOST_CASTS = new Set([2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 16]);

/** Cast reads its input on the host unless it casts to a float32/bool device type. */
function castHostInputs(node: Node): number[] {
  const to = node.attributes.to;
  return to?.type === 'int' && !HOST_CASTS.has(Number(to.value)) ? [] : [0];
}

/** `t` (in its carrier dtype) with every value narrowed to the ONNX type `code` (see `narrowValue`). */
function narrowed(t: Tensor, code: number): Tensor {
  const src = t.data;
  if (src instanceof BigInt64Array)
    return new Tensor(
      t.shape,
      t.dtype,
      BigInt64Array.from(src, (v) => BigInt(narrowValue(code, Number(v)))),
    );
  const out = src.slice();
  for (let i = 0; i < out.length; i++) out[i] = narrowValue(code, out[i] as number);
  return new Tensor(t.shape, t.dtype, out);
}
defineOnnxOp('', 'CastLike', { kernel: (ctx) => [T.cast(need(ctx, 0), need(ctx, 1).dtype)], shape: castLikeShape, hostInputs: [0] });

defineOnnxOp('', 'Constant', {
  kernel: (ctx) => {
    const a = ctx.node.attributes;
    if (a.value?.type === 'tensor') return [a.value.value];
    if (a.value_float) return [Tensor.scalar(attr(ctx.node, 'value_float', 'float', 0), 'float32')];
    if (a.value_floats) return [Tensor.from(attr(ctx.node, 'value_floats', 'floats', []), undefined, 'float32')];
    if (a.value_int) return [int64([attr(ctx.node, 'value_int', 'int', 0)], [])];
    if (a.value_ints) return [int64(attr(ctx.node, 'value_ints', 'ints', []))];
    if (a.value_string || a.value_strings) throw unsupported(ctx, 'a string constant');
    if (a.sparse_value) throw unsupported(ctx, 'a sparse constant');
    throw invalid(ctx, 'has no value attribute');
  },
});

defineOnnxOp('', 'ConstantOfShape', {
  kernel: (ctx) => {
    const shape = intVector(ctx, 0, 'shape');
    const v = ctx.node.attributes.value;
    if (!v) return [Tensor.zeros(shape, 'float32')];
    if (v.type !== 'tensor') throw invalid(ctx, 'attribute "value" must be a tensor');
    return [Tensor.full(shape, Number(v.value.data[0] ?? 0), v.value.dtype)];
  },
  shape: constantOfShapeShape,
  hostInputs: [0],
  grows: true,
});

defineOnnxOp('', 'Expand', {
  kernel: (ctx) => [T.expand(need(ctx, 0), intVector(ctx, 1, 'shape'))],
  shape: expandShape,
  hostInputs: [1],
  fold: 'layout',
  grows: true,
});
defineOnnxOp('', 'Tile', {
  kernel: (ctx) => [T.tile(need(ctx, 0), intVector(ctx, 1, 'repeats'))],
  shape: tileShape,
  hostInputs: [1],
  grows: true,
});

defineOnnxOp('', 'Range', {
  kernel: (ctx) => {
    const s = need(ctx, 0, 'start');
    const start = scalarOf(ctx, s, 'start');
    const limit = scalarOf(ctx, need(ctx, 1, 'limit'), 'limit');
    const delta = scalarOf(ctx, need(ctx, 2, 'delta'), 'delta');
    if (delta === 0) throw invalid(ctx, 'delta must not be 0');
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    const vals = new Array<number>(n);
    for (let i = 0; i < n; i++) vals[i] = start + i * delta;
    return [Tensor.from(vals, [n], s.dtype)];
  },
  shape: rangeShape,
  hostInputs: [0, 1, 2],
  grows: true,
});

// Dropout is the identity unless training_mode is true AND the ratio is above 0: a ratio of 0 drops
// nothing (torchvision's Swin exports Dropout(ratio=0, training_mode=true)). Only the random case is refused.
defineOnnxOp('', 'Dropout', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const training = ctx.inputs[2];
    if (training && training.size > 0 && Number(training.data[0]) !== 0) {
      const ratio = has(ctx, 1) ? scalarOf(ctx, need(ctx, 1), 'ratio') : 0.5;
      if (ratio !== 0) throw unsupported(ctx, `training_mode=true with ratio ${ratio} (a random mask)`);
    }
    return [x, ctx.node.outputs[1] ? Tensor.ones(x.shape, 'bool') : undefined];
  },
  shape: ({ inputs: [x] }) => [like(x), like(x, 'bool')],
  hostInputs: [1, 2],
  fold: 'passThrough',
});

defineOnnxOp('', 'Pad', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const mode = attr(ctx.node, 'mode', 'string', 'constant');
    if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge') throw unsupported(ctx, `mode="${mode}"`);
    let pads: number[];
    let value = 0;
    const padsAttr = attr(ctx.node, 'pads', 'ints') ?? attr(ctx.node, 'paddings', 'ints');
    if (padsAttr) {
      pads = padsAttr;
      value = attr(ctx.node, 'value', 'float', 0);
    } else {
      pads = ints(need(ctx, 1, 'pads'));
      if (has(ctx, 2)) value = scalarOf(ctx, need(ctx, 2), 'constant_value');
      if (ctx.inputs[3]) {
        const axes = ints(ctx.inputs[3]).map((a) => (a < 0 ? a + x.rank : a));
        const full = new Array<number>(2 * x.rank).fill(0);
        axes.forEach((a, i) => {
          full[a] = pads[i]!;
          full[a + x.rank] = pads[i + axes.length]!;
        });
        pads = full;
      }
    }
    if (pads.length !== 2 * x.rank)
      throw invalid(ctx, `pads [${pads.join(', ')}] must have ${2 * x.rank} values for input ${fmtShape(x.shape)}`);
    if (mode === 'reflect') {
      for (let i = 0; i < x.rank; i++) {
        if (Math.max(pads[i]!, pads[i + x.rank]!) >= x.shape[i]! && (pads[i]! > 0 || pads[i + x.rank]! > 0))
          throw invalid(ctx, `reflect padding ${pads[i]}/${pads[i + x.rank]} on axis ${i} needs the axis (${x.shape[i]}) to be larger`);
      }
    }
    return [T.pad(x, pads, mode, value)];
  },
  shape: padShape,
  hostInputs: [1, 2, 3],
  fold: 'select',
  grows: true,
});

/** Shape rule of Reshape. */
function reshapeShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const target = symOf(ins[1]) ?? attr(node, 'shape', 'ints');
  if (!target) return [{ dtype: x?.dtype, shape: unknownDims(ins[1]?.shape?.[0]) }];
  return [{ dtype: x?.dtype, shape: reshapeTarget(x?.shape, target, (attr(node, 'allowzero', 'int') ?? 0) !== 0), sym: symOf(x) }];
}

/** Shape rule of Transpose. */
function transposeShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  if (!x?.shape) return [{ dtype: x?.dtype }];
  const perm = attr(node, 'perm', 'ints') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]) }];
}

/** Shape rule of Flatten. */
function flattenShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  if (!x?.shape) return [{ dtype: x?.dtype, shape: [undefined, undefined] }];
  const ax = normAxis(attr(node, 'axis', 'int') ?? 1, x.shape.length);
  const prod = (ds: Dim[]) => ds.reduce<Dim>((p, d) => arith('Mul', p, d), 1);
  return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, ax)), prod(x.shape.slice(ax))] }];
}

/** Shape rule of Unsqueeze, Squeeze. */
function squeezeShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  const axes = attr(node, 'axes', 'ints') ?? symOf(ins[1])?.map(Number);
  let shape: Dim[] | undefined;
  if (x?.shape) {
    if (op === 'Unsqueeze' && axes) {
      const r = x.shape.length + axes.length;
      const ax = axes.map((v) => normAxis(v, r));
      let j = 0;
      shape = Array.from({ length: r }, (_, i) => (ax.includes(i) ? 1 : x.shape![j++]));
    } else if (op === 'Squeeze') {
      const ax = axes && axes.length > 0 ? axes.map((v) => normAxis(v, x.shape!.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      if (!axes?.length && x.shape.some((d) => !isNum(d))) shape = undefined;
      else shape = x.shape.filter((_, i) => !ax.includes(i));
    }
  }
  return [{ dtype: x?.dtype, shape, sym: symOf(x) }];
}

/** Shape rule of Concat. */
function concatShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const axis = attr(node, 'axis', 'int') ?? 0;
  const shapes = ins.map((i) => i?.shape);
  let shape: Dim[] | undefined;
  const ranked = shapes.filter((s): s is Dim[] => !!s);
  const rank = Math.max(...ranked.map((s) => s.length));
  if (ranked.length === shapes.length && ranked.length > 0) {
    const ax = axisIn(axis, rank, 'Concat');
    shape = [...(ranked.find((s) => s.length === rank) as Dim[])];
    let total: Dim = 0;
    for (const s of ranked) total = arith('Add', total, s.length === rank ? s[ax] : 1);
    shape[ax] = total;
    for (let d = 0; d < rank; d++)
      if (d !== ax) shape[d] = ranked.reduce<Dim>((acc, s) => (s.length === rank && isNum(s[d]) ? s[d] : acc), shape[d]);
  }
  const syms = ins.map(symOf);
  const out: InferredValue = { dtype: x?.dtype, shape };
  if (rank <= 1 && syms.every((s) => s)) out.sym = syms.flatMap((s) => s as Dim[]);
  return [out];
}

/** Shape rule of Split. */
function splitShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const n = node.outputs.length;
  const axis = normAxis(attr(node, 'axis', 'int') ?? 0, x?.shape?.length ?? 1);
  const sizes = attr(node, 'split', 'ints') ?? symOf(ins[1])?.map(Number);
  const dim = x?.shape?.[axis];
  return node.outputs.map((_, i) => {
    let d: Dim;
    if (sizes) d = sizes[i];
    else if (isNum(dim)) {
      const chunk = Math.ceil(dim / n);
      d = Math.max(0, Math.min(chunk, dim - i * chunk));
    }
    const shape = x?.shape ? x.shape.map((v, k) => (k === axis ? d : v)) : undefined;
    return { dtype: x?.dtype, shape };
  });
}

/** Shape rule of Slice. */
function sliceShape(ctx: ShapeContext): InferredValue[] {
  const { node, opset, inputs: ins } = ctx;
  const x = ins[0];
  const s = symOf(x);
  const starts = opset < 10 ? attr(node, 'starts', 'ints') : symOf(ins[1])?.map(Number);
  const ends = opset < 10 ? attr(node, 'ends', 'ints') : symOf(ins[2])?.map(Number);
  const axes = opset < 10 ? attr(node, 'axes', 'ints') : symOf(ins[3])?.map(Number);
  const steps = opset < 10 ? undefined : symOf(ins[4])?.map(Number);
  if (!x?.shape || !starts || !ends || starts.some(Number.isNaN) || ends.some(Number.isNaN))
    return [{ dtype: x?.dtype, shape: x?.shape ? x.shape.map(() => undefined) : undefined }];
  const shape = [...x.shape];
  const ranges: [number, number, number][] = [];
  (axes ?? starts.map((_, i) => i)).forEach((ax0, i) => {
    const ax = axisIn(ax0, shape.length, 'Slice');
    const dim = x.shape![ax];
    const step = steps?.[i] ?? 1;
    if (!isNum(dim)) {
      shape[ax] = starts[i] === 0 && ends[i]! >= 2 ** 31 - 1 && step === 1 ? dim : undefined;
      return;
    }
    let st = starts[i]!;
    let en = ends[i]!;
    if (st < 0) st += dim;
    if (en < 0) en += dim;
    if (step > 0) {
      st = Math.min(Math.max(st, 0), dim);
      en = Math.min(Math.max(en, 0), dim);
    } else {
      st = Math.min(Math.max(st, 0), dim - 1);
      en = Math.min(Math.max(en, -1), dim - 1);
    }
    shape[ax] = Math.max(0, Math.ceil((en - st) / step));
    if (ax === 0) ranges.push([st, en, step]);
  });
  const out: InferredValue = { dtype: x.dtype, shape };
  if (s && x.shape.length === 1) {
    const [st, en, step] = ranges[0] ?? [0, s.length, 1];
    const vals: Dim[] = [];
    for (let k = st; step > 0 ? k < en : k > en; k += step) vals.push(s[k]);
    out.sym = vals;
  }
  return [out];
}

/** Shape rule of Gather. */
function gatherShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const axis = normAxis(attr(node, 'axis', 'int') ?? 0, x?.shape?.length ?? 0);
  const idx = ins[1];
  const shape = x?.shape && idx?.shape ? [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] : undefined;
  const out: InferredValue = { dtype: x?.dtype, shape };
  const s = symOf(x);
  const iv = idx?.value?.toFlatArray();
  if (s && iv && axis === 0 && (x?.shape?.length ?? 0) === 1) out.sym = iv.map((k) => s[k < 0 ? k + s.length : k]);
  return [out];
}

/** Shape rule of GatherElements. */
function gatherElementsShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [{ dtype: x?.dtype, shape: ins[1]?.shape }];
}

/** Shape rule of GatherND. */
function gatherNDShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const b = attr(node, 'batch_dims', 'int') ?? 0;
  const q = ins[1]?.shape;
  const last = q?.[q.length - 1];
  if (!x?.shape || !q || !isNum(last)) return [{ dtype: x?.dtype }];
  return [{ dtype: x.dtype, shape: [...q.slice(0, -1), ...x.shape.slice(b + last)] }];
}

/** Shape rule of Shape. */
function shapeShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const r = x?.shape?.length;
  if (r === undefined || !x) return [{ dtype: 'int64', shape: [undefined] }];
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const s = clamp(attr(node, 'start', 'int') ?? 0);
  const e = clamp(attr(node, 'end', 'int') ?? r);
  const dims = (x.shape as Dim[]).slice(s, Math.max(s, e));
  return [{ dtype: 'int64', shape: [dims.length], sym: dims }];
}

/** Shape rule of Size. */
function sizeShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  const p = x?.shape ? numProd(x.shape) : undefined;
  return [{ dtype: 'int64', shape: [], sym: [p] }];
}

/** Shape rule of Cast. */
function castShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const to = onnxType(attr(node, 'to', 'int') ?? -1)?.name;
  const s = symOf(x);
  return [{ dtype: to, shape: x?.shape, sym: s && (to === 'int64' || to === 'int32') ? s : undefined }];
}

/** Shape rule of CastLike. */
function castLikeShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [{ dtype: ins[1]?.dtype, shape: x?.shape, sym: symOf(x) }];
}

/** Shape rule of ConstantOfShape. */
function constantOfShapeShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const dims = symOf(x);
  const v = node.attributes.value;
  const dtype = v?.type === 'tensor' ? v.value.dtype : 'float32';
  const out: InferredValue = {
    dtype,
    shape: dims ?? unknownDims(x?.shape?.[0]),
  };
  const n = dims ? numProd(dims) : undefined;
  if (dims && dims.length <= 1 && n !== undefined && n <= 1024 && (dtype === 'int64' || dtype === 'int32'))
    out.sym = new Array(n).fill(v?.type === 'tensor' ? Number(v.value.data[0] ?? 0) : 0);
  return [out];
}

/** Shape rule of Expand. */
function expandShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  const n = ins[1]?.shape?.[0];
  const target = symOf(ins[1]) ?? unknownDims(n);
  return [{ dtype: x?.dtype, shape: target ? broadcast([x?.shape, target]) : undefined }];
}

/** Shape rule of Tile. */
function tileShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  const reps = symOf(ins[1]);
  return [{ dtype: x?.dtype, shape: x?.shape && reps ? x.shape.map((d, i) => arith('Mul', d, reps[i])) : undefined }];
}

/** Shape rule of Range. */
function rangeShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  const [s, l, d] = [symOf(ins[0])?.[0], symOf(ins[1])?.[0], symOf(ins[2])?.[0]];
  const n = isNum(s) && isNum(l) && isNum(d) && d !== 0 ? Math.max(0, Math.ceil((l - s) / d)) : undefined;
  return [{ dtype: x?.dtype, shape: [n] }];
}

/** Shape rule of Pad. */
function padShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const pads = attr(node, 'pads', 'ints') ?? symOf(ins[1])?.map(Number);
  if (!x?.shape || !pads || ins[3]) return [{ dtype: x?.dtype, shape: x?.shape?.map(() => undefined) }];
  const r = x.shape.length;
  return [{ dtype: x.dtype, shape: x.shape.map((d, i) => arith('Add', arith('Add', d, pads[i]), pads[i + r])) }];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const SHAPE_OPS = 'shape';
