import { fmtShape, isFloat, Tensor, validateShape } from '@normkit/tensor';
import { attr } from '../ir.js';
import { axisIn, type InferredValue, isNum, symOf } from './dims.js';
import { defineOnnxOp, has, ints, invalid, need, type OpContext, type ShapeContext, unsupported } from './registry.js';

// Resize (opsets 10–19+) and Upsample: separable per-axis interpolation over host data (nearest, linear,
// cubic), every coordinate transformation mode and nearest rounding mode of the ONNX spec.

type CoordMode =
  | 'half_pixel'
  | 'half_pixel_symmetric'
  | 'pytorch_half_pixel'
  | 'align_corners'
  | 'asymmetric'
  | 'tf_half_pixel_for_nn'
  | 'tf_crop_and_resize';
type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil' | 'simple';

/** Settings of one Resize evaluation. */
export interface ResizeSpec {
  mode: 'nearest' | 'linear' | 'cubic';
  coord: CoordMode;
  nearest: NearestMode;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
  /** Output size per axis. */
  outShape: number[];
  /** Scale per axis (output / input, as given or derived from sizes). */
  scales: number[];
  /** roi [starts..., ends...] per axis (tf_crop_and_resize only). */
  roi?: number[];
}

/** Maps an output coordinate to the input coordinate along one axis. */
function toInput(spec: ResizeSpec, axis: number, x: number, inLen: number): number {
  const scale = spec.scales[axis]!;
  const outLen = spec.outShape[axis]!;
  switch (spec.coord) {
    case 'half_pixel':
      return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adj = outLen / (scale * inLen);
      const center = inLen / 2;
      const offset = center * (1 - adj);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel':
      return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return outLen === 1 ? 0 : (x * (inLen - 1)) / (outLen - 1);
    case 'asymmetric':
      return x / scale;
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    case 'tf_crop_and_resize': {
      const r = spec.roi!;
      const rank = spec.outShape.length;
      const start = r[axis]!;
      const end = r[axis + rank]!;
      return outLen > 1 ? start * (inLen - 1) + (x * (end - start) * (inLen - 1)) / (outLen - 1) : 0.5 * (start + end) * (inLen - 1);
    }
  }
}

function nearestIndex(mode: NearestMode, x: number, downsample: boolean): number {
  switch (mode) {
    case 'round_prefer_floor':
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'simple':
      // Resize-10 / Upsample: truncation when upsampling, ceil when downsampling (onnxruntime).
      return downsample ? Math.ceil(x) : Math.trunc(x);
  }
}

function cubicCoeffs(s: number, a: number): number[] {
  const w = (d: number) => {
    const t = Math.abs(d);
    if (t <= 1) return (a + 2) * t * t * t - (a + 3) * t * t + 1;
    if (t < 2) return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a;
    return 0;
  };
  return [w(s + 1), w(s), w(1 - s), w(2 - s)];
}

/** For each output index along an axis: input taps and weights (tap -1 = extrapolation value). */
function axisTaps(spec: ResizeSpec, axis: number, inLen: number): { idx: number[][]; w: number[][] } {
  const outLen = spec.outShape[axis]!;
  const idx: number[][] = [];
  const w: number[][] = [];
  const downsample = spec.scales[axis]! < 1;
  for (let o = 0; o < outLen; o++) {
    const x = toInput(spec, axis, o, inLen);
    if (spec.coord === 'tf_crop_and_resize' && (x < 0 || x > inLen - 1)) {
      idx.push([-1]);
      w.push([1]);
      continue;
    }
    if (spec.mode === 'nearest') {
      const k = Math.min(Math.max(nearestIndex(spec.nearest, x, downsample), 0), inLen - 1);
      idx.push([k]);
      w.push([1]);
    } else if (spec.mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), inLen - 1);
      const x0 = Math.floor(xc);
      const x1 = Math.min(x0 + 1, inLen - 1);
      const f = xc - x0;
      idx.push([x0, x1]);
      w.push([1 - f, f]);
    } else {
      const x0 = Math.floor(x);
      const cs = cubicCoeffs(x - x0, spec.cubicA);
      const taps = [x0 - 1, x0, x0 + 1, x0 + 2];
      if (spec.excludeOutside) {
        let total = 0;
        taps.forEach((t, i) => {
          if (t < 0 || t >= inLen) cs[i] = 0;
          total += cs[i]!;
        });
        for (let i = 0; i < 4; i++) cs[i] = total !== 0 ? cs[i]! / total : 0;
      }
      idx.push(taps.map((t) => Math.min(Math.max(t, 0), inLen - 1)));
      w.push(cs);
    }
  }
  return { idx, w };
}

/**
 * Resizes `x` (float) axis by axis: interpolation of the supported modes is separable, so successive
 * 1-D passes equal the N-D interpolation. Computes in float64, stores in x's dtype.
 *
 * @example resizeTensor(x, { mode: 'nearest', coord: 'asymmetric', nearest: 'floor', cubicA: -0.75, excludeOutside: false, extrapolation: 0, outShape: [1, 1, 4, 4], scales: [1, 1, 2, 2] })
 */
export function resizeTensor(x: Tensor, spec: ResizeSpec): Tensor {
  let shape = [...x.shape];
  let data = Float64Array.from(x.data as Float32Array);
  for (let axis = 0; axis < x.rank; axis++) {
    const inLen = shape[axis]!;
    const outLen = spec.outShape[axis]!;
    if (outLen === inLen && spec.scales[axis] === 1 && spec.coord !== 'tf_crop_and_resize') continue;
    const { idx, w } = axisTaps(spec, axis, inLen);
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const out = new Float64Array(outer * outLen * inner);
    for (let o = 0; o < outer; o++)
      for (let k = 0; k < outLen; k++) {
        const taps = idx[k]!;
        const ws = w[k]!;
        const dst = (o * outLen + k) * inner;
        if (taps[0] === -1) {
          out.fill(spec.extrapolation, dst, dst + inner);
          continue;
        }
        for (let t = 0; t < taps.length; t++) {
          const wt = ws[t]!;
          if (wt === 0) continue;
          const src = (o * inLen + taps[t]!) * inner;
          for (let j = 0; j < inner; j++) out[dst + j]! += wt * data[src + j]!;
        }
      }
    data = out;
    shape[axis] = outLen;
  }
  shape = shape.map((d, i) => spec.outShape[i] ?? d);
  const result = new Tensor(shape, x.dtype);
  (result.data as Float32Array).set(data);
  return result;
}

function resize(
  ctx: OpContext,
  x: Tensor,
  scalesIn: number[] | undefined,
  sizesIn: number[] | undefined,
  roi: number[] | undefined,
  upsample: boolean,
): Tensor {
  if (!isFloat(x.dtype)) throw unsupported(ctx, `Resize of ${x.dtype} data`);
  const rank = x.rank;
  let mode = attr(ctx.node, 'mode', 'string', 'nearest');
  if (mode === 'bilinear' || mode === 'trilinear') mode = 'linear';
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw unsupported(ctx, `mode="${mode}"`);
  if (upsample && mode === 'cubic') throw unsupported(ctx, 'mode="cubic" in Upsample');
  const legacy = upsample || ctx.opset < 11;
  const coord = (legacy ? 'asymmetric' : attr(ctx.node, 'coordinate_transformation_mode', 'string', 'half_pixel')) as CoordMode;
  const coords = [
    'half_pixel',
    'half_pixel_symmetric',
    'pytorch_half_pixel',
    'align_corners',
    'asymmetric',
    'tf_half_pixel_for_nn',
    'tf_crop_and_resize',
  ];
  if (!coords.includes(coord)) throw unsupported(ctx, `coordinate_transformation_mode="${coord}"`);
  const nearest = (legacy ? 'simple' : attr(ctx.node, 'nearest_mode', 'string', 'round_prefer_floor')) as NearestMode;
  if (!['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'simple'].includes(nearest))
    throw unsupported(ctx, `nearest_mode="${nearest}"`);
  if (attr(ctx.node, 'antialias', 'int', 0) !== 0) throw unsupported(ctx, 'antialias=1');
  const axesAttr = attr(ctx.node, 'axes', 'ints');
  const axes = (axesAttr ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
  const scales = new Array<number>(rank).fill(1);
  const outShape = [...x.shape];
  if (scalesIn && scalesIn.length > 0) {
    if (scalesIn.length !== axes.length) throw invalid(ctx, `${scalesIn.length} scales for ${axes.length} axes of ${fmtShape(x.shape)}`);
    axes.forEach((a, i) => {
      const s = Math.fround(scalesIn[i]!);
      if (!(s > 0)) throw invalid(ctx, `scale ${scalesIn[i]} must be positive`);
      scales[a] = s;
      const roiLen = coord === 'tf_crop_and_resize' && roi && roi.length === 2 * axes.length ? roi[i + axes.length]! - roi[i]! : 1;
      outShape[a] = Math.floor(x.shape[a]! * roiLen * s);
    });
  } else if (sizesIn && sizesIn.length > 0) {
    if (sizesIn.length !== axes.length) throw invalid(ctx, `${sizesIn.length} sizes for ${axes.length} axes of ${fmtShape(x.shape)}`);
    const policy = attr(ctx.node, 'keep_aspect_ratio_policy', 'string', 'stretch');
    if (policy === 'stretch') {
      axes.forEach((a, i) => {
        outShape[a] = sizesIn[i]!;
        scales[a] = sizesIn[i]! / x.shape[a]!;
      });
    } else if (policy === 'not_larger' || policy === 'not_smaller') {
      const ratios = axes.map((a, i) => sizesIn[i]! / x.shape[a]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      for (const a of axes) {
        scales[a] = s;
        outShape[a] = Math.round(s * x.shape[a]!);
      }
    } else throw unsupported(ctx, `keep_aspect_ratio_policy="${policy}"`);
  } else throw invalid(ctx, 'needs scales or sizes');
  let fullRoi: number[] | undefined;
  if (coord === 'tf_crop_and_resize') {
    if (!roi || roi.length !== 2 * axes.length) throw invalid(ctx, 'tf_crop_and_resize needs an roi input with 2 values per axis');
    fullRoi = [...new Array(rank).fill(0), ...new Array(rank).fill(1)];
    axes.forEach((a, i) => {
      fullRoi![a] = roi[i]!;
      fullRoi![a + rank] = roi[i + axes.length]!;
    });
  }
  // Resizing runs axis by axis: check every intermediate size before anything is allocated (a scale
  // read from a corrupted file can ask for billions of elements).
  const step = [...x.shape];
  for (let a = 0; a < rank; a++) {
    step[a] = outShape[a]!;
    validateShape(step, `Resize node "${ctx.node.name}" (output ${fmtShape(outShape)})`);
  }
  return resizeTensor(x, {
    mode,
    coord,
    nearest,
    cubicA: attr(ctx.node, 'cubic_coeff_a', 'float', -0.75),
    excludeOutside: attr(ctx.node, 'exclude_outside', 'int', 0) !== 0,
    extrapolation: attr(ctx.node, 'extrapolation_value', 'float', 0),
    outShape,
    scales,
    roi: fullRoi,
  });
}

const floats = (t: Tensor | undefined) => (t && t.size > 0 ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined);

defineOnnxOp('', 'Resize', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    if (ctx.opset < 11) return [resize(ctx, x, floats(need(ctx, 1, 'scales')), undefined, undefined, false)];
    const sizes = has(ctx, 3) ? ints(need(ctx, 3)) : undefined;
    return [resize(ctx, x, floats(ctx.inputs[2]), sizes, floats(ctx.inputs[1]), false)];
  },
  shape: resizeShape,
  hostInputs: 'all',
  grows: true,
});

defineOnnxOp('', 'Upsample', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const a = ctx.node.attributes.scales;
    const scales = a && (a.type === 'floats' || a.type === 'ints') ? a.value : floats(need(ctx, 1, 'scales'));
    return [resize(ctx, x, scales, undefined, undefined, true)];
  },
  shape: resizeShape,
  hostInputs: 'all',
  grows: true,
});

/** Shape rule of Resize, Upsample. */
function resizeShape(ctx: ShapeContext): InferredValue[] {
  const { node, opset, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  if (!x?.shape) return [{ dtype: x?.dtype }];
  const legacy = op === 'Upsample' || opset < 11;
  const scalesAttr = node.attributes.scales;
  const scales = scalesAttr && (scalesAttr.type === 'floats' || scalesAttr.type === 'ints') ? scalesAttr.value : symOf(ins[legacy ? 1 : 2]);
  const sizes = legacy ? undefined : symOf(ins[3]);
  const axes = (attr(node, 'axes', 'ints') ?? x.shape.map((_, i) => i)).map((v) => axisIn(v, x.shape!.length, op));
  const shape = [...x.shape];
  if (sizes && sizes.length === axes.length && (attr(node, 'keep_aspect_ratio_policy', 'string') ?? 'stretch') === 'stretch')
    axes.forEach((ax, i) => {
      shape[ax] = sizes[i];
    });
  else if (scales && scales.length === axes.length && scales.every(isNum))
    axes.forEach((ax, i) => {
      const d = shape[ax];
      shape[ax] = isNum(d) ? Math.floor(d * Math.fround(scales[i] as number)) : scales[i] === 1 ? d : undefined;
    });
  else return [{ dtype: x.dtype, shape: x.shape.map(() => undefined) }];
  return [{ dtype: x.dtype, shape }];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const RESIZE_OPS = 'resize';
