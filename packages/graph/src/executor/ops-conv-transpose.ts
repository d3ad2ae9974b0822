import { fmtShape, NormkitError, sizeOf, Tensor, validateShape } from '@normkit/tensor';
import { attr, type Node } from '../ir.js';
import { type InferredValue, isNum } from './dims.js';
import { defineOnnxOp, invalid, need, type OpContext, type ShapeContext, unsupported } from './registry.js';

// ConvTranspose (the gradient of Conv, used for learned upsampling: PaddleOCR's text detector, U-Nets,
// GAN generators). Every input pixel scatters `x · W` into a kernel-sized window of the output.

/** The resolved geometry of a ConvTranspose: per spatial axis, and the output shape. */
export interface ConvTransposeGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin_0, begin_1, …, end_0, end_1, …] as in the `pads` attribute. */
  pads: number[];
  outputPadding: number[];
  /** Output spatial dims. */
  spatial: number[];
}

/** Reads an ints attribute of `n` values (default `fill`), refusing another length. */
function spatialInts(ctx: { node: Node }, name: string, n: number, fill: number, onError: (m: string) => Error): number[] {
  const v = attr(ctx.node, name, 'ints', new Array(n).fill(fill));
  if (v.length !== n) throw onError(`${name} [${v.join(', ')}] must have ${n} values (one per spatial axis)`);
  return v;
}

/**
 * Output size and padding of a ConvTranspose from its attributes (ONNX ConvTranspose-11+): an explicit
 * `output_shape` or `auto_pad` SAME_* fixes the output size and the padding follows from it (odd padding
 * goes to the end for SAME_UPPER, to the start otherwise); else `pads` give the padding and
 * out = stride·(in − 1) + output_padding + (k − 1)·dilation + 1 − pad_begin − pad_end.
 *
 * @example
 * ```ts
 * // node: ConvTranspose strides=[2, 2] on x [1, 4, 5, 5], W [4, 8, 3, 3]
 * convTransposeGeometry(node, [5, 5], [3, 3]).spatial; // [11, 11]
 * ```
 */
export function convTransposeGeometry(
  node: Node,
  inSp: readonly number[],
  weightSp: readonly number[],
  onError: (m: string) => Error = (m) =>
    new NormkitError('INVALID_NODE', `node "${node.name}" (ConvTranspose): ${m}`, { node: node.name, op: 'ConvTranspose' }),
): ConvTransposeGeometry {
  const sp = inSp.length;
  const ctx = { node };
  const kernel = attr(node, 'kernel_shape', 'ints', [...weightSp]);
  if (kernel.length !== sp) throw onError(`kernel_shape [${kernel.join(', ')}] must have ${sp} values (one per spatial axis)`);
  const strides = spatialInts(ctx, 'strides', sp, 1, onError);
  const dilations = spatialInts(ctx, 'dilations', sp, 1, onError);
  const outputPadding = spatialInts(ctx, 'output_padding', sp, 0, onError);
  for (const [name, vals, min] of [
    ['kernel_shape', kernel, 1],
    ['strides', strides, 1],
    ['dilations', dilations, 1],
    ['output_padding', outputPadding, 0],
  ] as const)
    if (vals.some((v) => !Number.isInteger(v) || v < min)) throw onError(`${name} [${vals.join(', ')}] must be integers ≥ ${min}`);
  const autoPad = attr(node, 'auto_pad', 'string', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad))
    throw onError(`auto_pad="${autoPad}" is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  const full = (i: number) => strides[i]! * (inSp[i]! - 1) + outputPadding[i]! + (kernel[i]! - 1) * dilations[i]! + 1;
  let target = attr(node, 'output_shape', 'ints');
  if (target && target.length === sp + 2) target = target.slice(2); // some exporters give N and C too
  if (target && target.length !== sp) throw onError(`output_shape [${target.join(', ')}] must have ${sp} values (the spatial dims)`);
  if (!target && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) target = inSp.map((d, i) => d * strides[i]!);
  let pads: number[];
  if (target) {
    pads = new Array<number>(2 * sp).fill(0);
    for (let i = 0; i < sp; i++) {
      const total = Math.max(0, full(i) - target[i]!);
      const half = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? half : total - half;
      pads[i + sp] = total - pads[i]!;
    }
  } else if (autoPad === 'VALID') pads = new Array<number>(2 * sp).fill(0);
  else {
    pads = spatialInts(ctx, 'pads', 2 * sp, 0, onError);
    if (pads.some((p) => !Number.isInteger(p) || p < 0)) throw onError(`pads [${pads.join(', ')}] must be non-negative integers`);
  }
  const spatial = target ? [...target] : inSp.map((_, i) => full(i) - pads[i]! - pads[i + sp]!);
  if (spatial.some((d) => d < 0))
    throw onError(`the output would have negative size ${fmtShape(spatial)}: the pads are larger than the output`);
  return { kernel, strides, dilations, pads, outputPadding, spatial };
}

/** For every (input position, kernel position) pair, the flat output position it writes (-1 = outside). */
function scatterTable(inSp: readonly number[], g: ConvTransposeGeometry): Int32Array {
  const sp = inSp.length;
  const inSize = sizeOf(inSp);
  const kSize = sizeOf(g.kernel);
  const table = new Int32Array(inSize * kSize);
  const inIdx = new Array<number>(sp).fill(0);
  for (let p = 0; p < inSize; p++) {
    const kIdx = new Array<number>(sp).fill(0);
    for (let k = 0; k < kSize; k++) {
      let flat = 0;
      for (let d = 0; d < sp; d++) {
        const o = inIdx[d]! * g.strides[d]! - g.pads[d]! + kIdx[d]! * g.dilations[d]!;
        if (o < 0 || o >= g.spatial[d]!) {
          flat = -1;
          break;
        }
        flat = flat * g.spatial[d]! + o;
      }
      table[p * kSize + k] = flat;
      for (let d = sp - 1; d >= 0 && ++kIdx[d]! === g.kernel[d]; d--) kIdx[d] = 0;
    }
    for (let d = sp - 1; d >= 0 && ++inIdx[d]! === inSp[d]; d--) inIdx[d] = 0;
  }
  return table;
}

/** Checks the operands of a ConvTranspose and returns [N, C_in, C_out per group, groups]. */
function checkOperands(ctx: OpContext, x: Tensor, w: Tensor, b: Tensor | undefined): [number, number, number, number] {
  const group = attr(ctx.node, 'group', 'int', 1);
  if (x.rank < 3) throw invalid(ctx, `input must be [N, C, ...spatial], got ${fmtShape(x.shape)}`);
  if (w.rank !== x.rank) throw invalid(ctx, `weight ${fmtShape(w.shape)} must have the rank of the input ${fmtShape(x.shape)}`);
  if (!Number.isInteger(group) || group < 1 || x.shape[1]! % group !== 0)
    throw invalid(ctx, `group=${group} must be a positive divisor of the input channels (${x.shape[1]})`);
  if (w.shape[0] !== x.shape[1])
    throw invalid(ctx, `weight ${fmtShape(w.shape)} must have ${x.shape[1]} input channels (dim 0), as the input ${fmtShape(x.shape)}`);
  const cOutG = w.shape[1]!;
  if (b && (b.rank !== 1 || b.shape[0] !== cOutG * group))
    throw invalid(ctx, `bias ${fmtShape(b.shape)} must be [${cOutG * group}] (the output channels)`);
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw unsupported(ctx, `element type ${x.dtype}`);
  return [x.shape[0]!, x.shape[1]!, cOutG, group];
}

/**
 * ConvTranspose over any number of spatial axes, with strides, pads, output_padding, output_shape,
 * dilations, group and auto_pad; accumulates in float64.
 */
function convTranspose(ctx: OpContext): Tensor {
  const x = need(ctx, 0, 'X');
  const w = need(ctx, 1, 'W');
  const b = ctx.inputs[2] && ctx.inputs[2].size > 0 ? ctx.inputs[2] : undefined;
  const [N, cIn, cOutG, group] = checkOperands(ctx, x, w, b);
  const inSp = x.shape.slice(2);
  const g = convTransposeGeometry(ctx.node, inSp, w.shape.slice(2), (m) => invalid(ctx, m));
  const kernelMatches = w.shape.slice(2).every((d, i) => d === g.kernel[i]);
  if (!kernelMatches) throw invalid(ctx, `kernel_shape [${g.kernel.join(', ')}] does not match the weight ${fmtShape(w.shape)}`);
  const cOut = cOutG * group;
  const cInG = cIn / group;
  const out = new Tensor([N, cOut, ...g.spatial], x.dtype);
  const inSize = sizeOf(inSp);
  const outSize = sizeOf(g.spatial);
  const kSize = sizeOf(g.kernel);
  validateShape([inSize, kSize], `ConvTranspose node "${ctx.node.name}" (input positions × kernel positions)`);
  const table = scatterTable(inSp, g);
  const xs = x.data as Float32Array | Float64Array;
  const ws = x.dtype === w.dtype ? (w.data as Float32Array | Float64Array) : Float64Array.from(w.data as ArrayLike<number>, Number);
  const acc = new Float64Array(outSize);
  const od = out.data as Float32Array | Float64Array;
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < cOut; oc++) {
      const grp = Math.floor(oc / cOutG);
      const ocg = oc - grp * cOutG;
      acc.fill(b ? Number(b.data[oc]) : 0);
      for (let icg = 0; icg < cInG; icg++) {
        const ic = grp * cInG + icg;
        const xBase = (n * cIn + ic) * inSize;
        const wBase = (ic * cOutG + ocg) * kSize;
        for (let p = 0; p < inSize; p++) {
          const xv = xs[xBase + p]!;
          const t = p * kSize;
          for (let k = 0; k < kSize; k++) {
            const o = table[t + k]!;
            if (o >= 0) acc[o]! += xv * ws[wBase + k]!;
          }
        }
      }
      od.set(acc, (n * cOut + oc) * outSize);
    }
  return out;
}

defineOnnxOp('', 'ConvTranspose', { kernel: (ctx) => [convTranspose(ctx)], shape: convTransposeShape, hostInputs: 'all' });

/** Shape rule of ConvTranspose. */
function convTransposeShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const xs = x?.shape;
  const w = ins[1]?.shape;
  if (!xs) return [{ dtype: x?.dtype }];
  const cOut = isNum(w?.[1]) ? w[1] * (attr(node, 'group', 'int') ?? 1) : undefined;
  const inSp = xs.slice(2);
  const wSp = w?.slice(2);
  if (!inSp.every(isNum) || !wSp?.every(isNum)) return [{ dtype: x?.dtype, shape: [xs[0], cOut, ...inSp.map(() => undefined)] }];
  return [{ dtype: x?.dtype, shape: [xs[0], cOut, ...convTransposeGeometry(node, inSp, wSp).spatial] }];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const CONV_TRANSPOSE_OPS = 'conv-transpose';
