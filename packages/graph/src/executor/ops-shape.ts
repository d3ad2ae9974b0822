import * as T from '@normkit/tensor';
import { fmtShape, sizeOf, Tensor } from '@normkit/tensor';
import { narrowValue, onnxType } from '../elem-types.js';
import { attr } from '../ir.js';
import { dtypeFromOnnx, has, ints, intVector, invalid, need, type OpContext, registerOp, scalarOf, unsupported } from './registry.js';

// Shape and data-movement ops: Reshape, Transpose, Flatten, (Un)Squeeze, Concat, Split, Slice, Gather*,
// Shape, Size, Cast, Constant*, Expand, Range, Dropout, Pad, Tile.

const int64 = (values: readonly number[], shape: readonly number[] = [values.length]) => Tensor.from([...values], shape, 'int64');

registerOp('', 'Reshape', (ctx) => {
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
});

registerOp('', 'Transpose', (ctx) => [T.transpose(need(ctx, 0), attr(ctx.node, 'perm', 'ints'))]);
registerOp('', 'Flatten', (ctx) => [T.flatten(need(ctx, 0), attr(ctx.node, 'axis', 'int', 1))]);

/** Axes from the attribute (< 13) or the second input (≥ 13); lenient about which. */
function axesOf(ctx: OpContext, inputIndex: number): number[] | undefined {
  const a = attr(ctx.node, 'axes', 'ints');
  if (a) return a;
  const t = ctx.inputs[inputIndex];
  return t ? ints(t) : undefined;
}

registerOp('', 'Squeeze', (ctx) => {
  const axes = axesOf(ctx, 1);
  return [T.squeeze(need(ctx, 0), axes && axes.length > 0 ? axes : undefined)];
});
registerOp('', 'Unsqueeze', (ctx) => {
  const axes = axesOf(ctx, 1);
  if (!axes) throw invalid(ctx, 'axes are required');
  return [T.unsqueeze(need(ctx, 0), axes)];
});

/**
 * Concat. A rank-0 input among rank-1 inputs is treated as shape [1] (older runtimes accepted this and
 * PyTorch 1.4 BERT exports rely on it; the ONNX spec forbids it, onnxruntime ≥ 1.10 refuses it).
 */
registerOp('', 'Concat', (ctx) => {
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
});

registerOp('', 'Split', (ctx) => {
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
});

registerOp('', 'Slice', (ctx) => {
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
});

registerOp('', 'Gather', (ctx) => {
  const x = need(ctx, 0);
  const idx = need(ctx, 1, 'indices');
  return [T.gather(x, idx.dtype === 'int32' || idx.dtype === 'int64' ? idx : T.cast(idx, 'int64'), attr(ctx.node, 'axis', 'int', 0))];
});

registerOp('', 'GatherElements', (ctx) => {
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
});

registerOp('', 'GatherND', (ctx) => {
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
});

registerOp('', 'Shape', (ctx) => {
  const x = need(ctx, 0);
  const r = x.rank;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(attr(ctx.node, 'start', 'int', 0));
  const end = clamp(attr(ctx.node, 'end', 'int', r));
  return [int64(x.shape.slice(start, Math.max(start, end)))];
});
registerOp('', 'Size', (ctx) => [int64([need(ctx, 0).size], [])]);

// Cast to a type held in a wider carrier (float16 → float32, int8 → int32, …) casts to the carrier and
// then gives every value the narrow type's exact value (rounded or wrapped), so an fp16 model computes
// in float32 between its casts but each cast rounds as onnxruntime's does.
registerOp('', 'Cast', (ctx) => {
  const to = attr(ctx.node, 'to', 'int');
  if (to === undefined) throw invalid(ctx, 'attribute "to" is required');
  const type = onnxType(to);
  if (type?.kind === 'widened' && type.dtype) return [narrowed(T.cast(need(ctx, 0), type.dtype), to)];
  return [T.cast(need(ctx, 0), dtypeFromOnnx(ctx, to))];
});

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
registerOp('', 'CastLike', (ctx) => [T.cast(need(ctx, 0), need(ctx, 1).dtype)]);

registerOp('', 'Constant', (ctx) => {
  const a = ctx.node.attributes;
  if (a.value?.type === 'tensor') return [a.value.value];
  if (a.value_float) return [Tensor.scalar(attr(ctx.node, 'value_float', 'float', 0), 'float32')];
  if (a.value_floats) return [Tensor.from(attr(ctx.node, 'value_floats', 'floats', []), undefined, 'float32')];
  if (a.value_int) return [int64([attr(ctx.node, 'value_int', 'int', 0)], [])];
  if (a.value_ints) return [int64(attr(ctx.node, 'value_ints', 'ints', []))];
  if (a.value_string || a.value_strings) throw unsupported(ctx, 'a string constant');
  if (a.sparse_value) throw unsupported(ctx, 'a sparse constant');
  throw invalid(ctx, 'has no value attribute');
});

registerOp('', 'ConstantOfShape', (ctx) => {
  const shape = intVector(ctx, 0, 'shape');
  const v = ctx.node.attributes.value;
  if (!v) return [Tensor.zeros(shape, 'float32')];
  if (v.type !== 'tensor') throw invalid(ctx, 'attribute "value" must be a tensor');
  return [Tensor.full(shape, Number(v.value.data[0] ?? 0), v.value.dtype)];
});

registerOp('', 'Expand', (ctx) => [T.expand(need(ctx, 0), intVector(ctx, 1, 'shape'))]);
registerOp('', 'Tile', (ctx) => [T.tile(need(ctx, 0), intVector(ctx, 1, 'repeats'))]);

registerOp('', 'Range', (ctx) => {
  const s = need(ctx, 0, 'start');
  const start = scalarOf(ctx, s, 'start');
  const limit = scalarOf(ctx, need(ctx, 1, 'limit'), 'limit');
  const delta = scalarOf(ctx, need(ctx, 2, 'delta'), 'delta');
  if (delta === 0) throw invalid(ctx, 'delta must not be 0');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const vals = new Array<number>(n);
  for (let i = 0; i < n; i++) vals[i] = start + i * delta;
  return [Tensor.from(vals, [n], s.dtype)];
});

// Dropout is the identity unless training_mode is true AND the ratio is above 0: a ratio of 0 drops
// nothing (torchvision's Swin exports Dropout(ratio=0, training_mode=true)). Only the random case is refused.
registerOp('', 'Dropout', (ctx) => {
  const x = need(ctx, 0);
  const training = ctx.inputs[2];
  if (training && training.size > 0 && Number(training.data[0]) !== 0) {
    const ratio = has(ctx, 1) ? scalarOf(ctx, need(ctx, 1), 'ratio') : 0.5;
    if (ratio !== 0) throw unsupported(ctx, `training_mode=true with ratio ${ratio} (a random mask)`);
  }
  return [x, ctx.node.outputs[1] ? Tensor.ones(x.shape, 'bool') : undefined];
});

registerOp('', 'Pad', (ctx) => {
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
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const SHAPE_OPS = 'shape';
