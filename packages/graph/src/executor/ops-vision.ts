import { fmtShape, sizeOf, type Tensor } from '@normkit/tensor';
import { attr, type Dim } from '../ir.js';
import { arith, type InferredValue, isNum, symOf } from './dims.js';
import { hostNumbers, tensorOf } from './host-data.js';
import { defineOnnxOp, has, intVector, invalid, need, type OpContext, type ShapeContext, scalarOf, unsupported } from './registry.js';

// Detection and sampling ops, written as host loops: NonMaxSuppression, RoiAlign, GridSample,
// MaxUnpool, Col2Im. They follow onnxruntime's CPU kernels where the spec leaves room.

/** Row-major strides of a shape. */
const stridesOf = (shape: readonly number[]) => shape.map((_, i) => sizeOf(shape.slice(i + 1)));

/** Calls `f` with every multi-index of `shape`, in row-major order. */
function eachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------- NonMaxSuppression

/** A box as [xmin, ymin, xmax, ymax] from corner ([y1, x1, y2, x2], either order) or center ([xc, yc, w, h]) form. */
function boxAt(b: Float64Array, i: number, center: boolean): [number, number, number, number] {
  const [p, q, r, s] = [b[4 * i]!, b[4 * i + 1]!, b[4 * i + 2]!, b[4 * i + 3]!];
  if (center) return [p - r / 2, q - s / 2, p + r / 2, q + s / 2];
  return [Math.min(q, s), Math.min(p, r), Math.max(q, s), Math.max(p, r)];
}

/** Whether box a overlaps box b by more than `threshold` (intersection over union; empty boxes never suppress). */
function overlaps(a: number[], b: number[], threshold: number): boolean {
  const w = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!);
  const h = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!);
  if (w <= 0 || h <= 0) return false;
  const inter = w * h;
  const areaA = (a[2]! - a[0]!) * (a[3]! - a[1]!);
  const areaB = (b[2]! - b[0]!) * (b[3]! - b[1]!);
  const union = areaA + areaB - inter;
  if (areaA <= 0 || areaB <= 0 || union <= 0) return false;
  return inter / union > threshold;
}

/**
 * NonMaxSuppression: per batch and class, boxes by descending score (above score_threshold when
 * given), greedily kept unless one already kept overlaps it by more than iou_threshold; at most
 * max_output_boxes_per_class each. Output [selected, 3] int64 rows (batch, class, box).
 */
function nonMaxSuppression(ctx: OpContext): Tensor[] {
  const boxesT = need(ctx, 0, 'boxes');
  const scoresT = need(ctx, 1, 'scores');
  if (boxesT.rank !== 3 || boxesT.shape[2] !== 4 || scoresT.rank !== 3)
    throw invalid(
      ctx,
      `boxes must be [batch, boxes, 4] and scores [batch, classes, boxes], got ${fmtShape(boxesT.shape)} and ${fmtShape(scoresT.shape)}`,
    );
  const [B, nBoxes] = boxesT.shape as [number, number];
  const C = scoresT.shape[1]!;
  if (scoresT.shape[0] !== B || scoresT.shape[2] !== nBoxes)
    throw invalid(ctx, `scores ${fmtShape(scoresT.shape)} do not match boxes ${fmtShape(boxesT.shape)}`);
  const maxOut = has(ctx, 2) ? Math.max(0, scalarOf(ctx, need(ctx, 2), 'max_output_boxes_per_class')) : 0;
  const iou = has(ctx, 3) ? scalarOf(ctx, need(ctx, 3), 'iou_threshold') : 0;
  if (!(iou >= 0 && iou <= 1)) throw invalid(ctx, `iou_threshold ${iou} must be in [0, 1]`);
  const scoreMin = has(ctx, 4) ? scalarOf(ctx, need(ctx, 4), 'score_threshold') : undefined;
  const center = attr(ctx.node, 'center_point_box', 'int', 0) === 1;
  const boxes = hostNumbers(boxesT);
  const scores = hostNumbers(scoresT);
  const rows: number[] = [];
  for (let b = 0; b < B && maxOut > 0; b++)
    for (let c = 0; c < C; c++) {
      const base = (b * C + c) * nBoxes;
      const order: number[] = [];
      for (let i = 0; i < nBoxes; i++) if (scoreMin === undefined || scores[base + i]! > scoreMin) order.push(i);
      order.sort((p, q) => scores[base + q]! - scores[base + p]! || p - q);
      const kept: number[][] = [];
      for (const i of order) {
        if (kept.length >= maxOut) break;
        const box = boxAt(boxes, b * nBoxes + i, center);
        if (kept.some((k) => overlaps(k, box, iou))) continue;
        kept.push(box);
        rows.push(b, c, i);
      }
    }
  return [tensorOf([rows.length / 3, 3], 'int64', rows)];
}

// ---------------------------------------------------------------- RoiAlign

/** Bilinear sample points of one bin: (flat offsets, weights) of the four neighbours, zero weights outside the map. */
function roiSample(y: number, x: number, H: number, W: number): [number[], number[]] {
  if (y < -1 || y > H || x < -1 || x > W)
    return [
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ];
  y = Math.max(y, 0);
  x = Math.max(x, 0);
  let y0 = Math.trunc(y);
  let x0 = Math.trunc(x);
  let y1 = y0 + 1;
  let x1 = x0 + 1;
  if (y0 >= H - 1) {
    y0 = y1 = H - 1;
    y = y0;
  }
  if (x0 >= W - 1) {
    x0 = x1 = W - 1;
    x = x0;
  }
  const ly = y - y0;
  const lx = x - x0;
  return [
    [y0 * W + x0, y0 * W + x1, y1 * W + x0, y1 * W + x1],
    [(1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx],
  ];
}

/**
 * RoiAlign: each roi [x1, y1, x2, y2] of image batch_indices[r], scaled by spatial_scale, pooled to
 * output_height × output_width bins of sampling_ratio² (or adaptive) bilinear samples, averaged or
 * maxed. coordinate_transformation_mode 'half_pixel' (opset 16 default) shifts by −0.5; opset 10 and
 * 'output_half_pixel' do not, and widen rois to at least 1 pixel. Max mode takes, like onnxruntime,
 * the largest weighted neighbour of each sample.
 */
function roiAlign(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'X');
  const roisT = need(ctx, 1, 'rois');
  const idxT = need(ctx, 2, 'batch_indices');
  if (x.rank !== 4) throw invalid(ctx, `X must be [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (roisT.rank !== 2 || roisT.shape[1] !== 4 || idxT.rank !== 1 || idxT.shape[0] !== roisT.shape[0])
    throw invalid(ctx, `rois must be [num_rois, 4] and batch_indices [num_rois], got ${fmtShape(roisT.shape)} and ${fmtShape(idxT.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const mode = attr(ctx.node, 'mode', 'string', 'avg');
  if (mode !== 'avg' && mode !== 'max') throw unsupported(ctx, `mode "${mode}"`);
  const ctm = attr(ctx.node, 'coordinate_transformation_mode', 'string', ctx.opset >= 16 ? 'half_pixel' : 'output_half_pixel');
  if (ctm !== 'half_pixel' && ctm !== 'output_half_pixel') throw unsupported(ctx, `coordinate_transformation_mode "${ctm}"`);
  const halfPixel = ctm === 'half_pixel';
  const oh = attr(ctx.node, 'output_height', 'int', 1);
  const ow = attr(ctx.node, 'output_width', 'int', 1);
  const ratio = attr(ctx.node, 'sampling_ratio', 'int', 0);
  const scale = attr(ctx.node, 'spatial_scale', 'float', 1);
  const R = roisT.shape[0]!;
  const rois = hostNumbers(roisT);
  const bi = hostNumbers(idxT);
  const data = hostNumbers(x);
  const out = new Float64Array(R * C * oh * ow);
  const off = halfPixel ? 0.5 : 0;
  for (let r = 0; r < R; r++) {
    const n = bi[r]!;
    if (!(Number.isInteger(n) && n >= 0 && n < N)) throw invalid(ctx, `batch_indices[${r}] = ${n} is outside [0, ${N})`);
    const [sw, sh, ew, eh] = [0, 1, 2, 3].map((k) => rois[4 * r + k]! * scale - off) as [number, number, number, number];
    let rw = ew - sw;
    let rh = eh - sh;
    if (!halfPixel) {
      rw = Math.max(rw, 1);
      rh = Math.max(rh, 1);
    }
    const bh = rh / oh;
    const bw = rw / ow;
    const gh = ratio > 0 ? ratio : Math.ceil(rh / oh);
    const gw = ratio > 0 ? ratio : Math.ceil(rw / ow);
    const count = Math.max(gh * gw, 1);
    for (let c = 0; c < C; c++) {
      const img = (n * C + c) * H * W;
      for (let ph = 0; ph < oh; ph++)
        for (let pw = 0; pw < ow; pw++) {
          let acc = mode === 'avg' ? 0 : -Infinity;
          for (let iy = 0; iy < gh; iy++)
            for (let ix = 0; ix < gw; ix++) {
              const yy = sh + ph * bh + ((iy + 0.5) * bh) / gh;
              const xx = sw + pw * bw + ((ix + 0.5) * bw) / gw;
              const [pos, w] = roiSample(yy, xx, H, W);
              if (mode === 'avg') for (let k = 0; k < 4; k++) acc += w[k]! * data[img + pos[k]!]!;
              else for (let k = 0; k < 4; k++) acc = Math.max(acc, w[k]! * data[img + pos[k]!]!);
            }
          out[((r * C + c) * oh + ph) * ow + pw] = mode === 'avg' ? acc / count : gh * gw === 0 ? 0 : acc;
        }
    }
  }
  return [tensorOf([R, C, oh, ow], x.dtype, out)];
}

// ---------------------------------------------------------------- GridSample

/** Reflects x into [lo, hi] (repeatedly, as onnxruntime does). */
function reflect(x: number, lo: number, hi: number): number {
  const range = hi - lo;
  if (x < lo) {
    const d = lo - x;
    const k = Math.trunc(d / range);
    const r = d - k * range;
    return k % 2 === 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const d = x - hi;
    const k = Math.trunc(d / range);
    const r = d - k * range;
    return k % 2 === 0 ? hi - r : lo + r;
  }
  return x;
}

/** Round half to even (C's nearbyint in the default rounding mode). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Keys' cubic convolution weights (α = −0.75) for a sample at fraction t past the second of four taps. */
function cubicWeights(t: number): number[] {
  const a = -0.75;
  const w = (d: number) => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

const GRID_MODES: Record<string, 'linear' | 'nearest' | 'cubic'> = {
  bilinear: 'linear',
  linear: 'linear',
  nearest: 'nearest',
  bicubic: 'cubic',
  cubic: 'cubic',
};

/**
 * GridSample: samples X [N, C, *spatial] at the normalized locations of grid [N, *out, k] (x first),
 * with linear, nearest (half to even) or cubic (Keys, α = −0.75; 2-D only) interpolation and zeros,
 * border or reflection padding; align_corners maps ±1 to the corner pixels' centres.
 */
function gridSample(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'X');
  const grid = need(ctx, 1, 'grid');
  const k = x.rank - 2;
  if (k < 2 || grid.rank !== x.rank || grid.shape[x.rank - 1] !== k || grid.shape[0] !== x.shape[0])
    throw invalid(
      ctx,
      `X must be [N, C, *spatial] (2 or more spatial dims) and grid [N, *out, ${k}], got ${fmtShape(x.shape)} and ${fmtShape(grid.shape)}`,
    );
  const modeName = attr(ctx.node, 'mode', 'string', ctx.opset >= 20 ? 'linear' : 'bilinear');
  const mode = GRID_MODES[modeName];
  if (!mode) throw unsupported(ctx, `mode "${modeName}"`);
  if (mode === 'cubic' && k !== 2) throw unsupported(ctx, `cubic mode on ${k} spatial dims (only 2)`);
  const pad = attr(ctx.node, 'padding_mode', 'string', 'zeros');
  if (pad !== 'zeros' && pad !== 'border' && pad !== 'reflection') throw unsupported(ctx, `padding_mode "${pad}"`);
  const align = attr(ctx.node, 'align_corners', 'int', 0) !== 0;
  const [N, C] = x.shape as [number, number];
  const inDims = x.shape.slice(2);
  const outDims = grid.shape.slice(1, -1);
  const inStr = stridesOf(inDims);
  const plane = sizeOf(inDims);
  const nOut = sizeOf(outDims);
  const data = hostNumbers(x);
  const g = hostNumbers(grid);
  const out = new Float64Array(N * C * nOut);
  const lo = inDims.map(() => (align ? 0 : -0.5));
  const hi = inDims.map((L) => (align ? L - 1 : L - 0.5));
  /** Flat offset of an integer location after padding, or -1 (a zero). */
  const offsetOf = (loc: number[]): number => {
    let o = 0;
    for (let d = 0; d < k; d++) {
      let p = loc[d]!;
      const L = inDims[d]!;
      if (pad === 'zeros') {
        if (p < 0 || p >= L) return -1;
      } else if (pad === 'border') p = Math.min(Math.max(p, 0), L - 1);
      else p = Math.trunc(reflect(p, lo[d]!, hi[d]!));
      o += p * inStr[d]!;
    }
    return o;
  };
  const taps = mode === 'cubic' ? 4 : mode === 'linear' ? 2 : 1;
  const tapShape = new Array<number>(k).fill(taps);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < nOut; p++) {
      // Spatial dim d reads grid component k-1-d (x is the last spatial dim).
      const pos = inDims.map((L, d) => {
        const v = g[(n * nOut + p) * k + (k - 1 - d)]!;
        return align ? ((v + 1) / 2) * (L - 1) : ((v + 1) * L - 1) / 2;
      });
      const starts: number[] = [];
      const weights: number[][] = [];
      for (let d = 0; d < k; d++) {
        const f = Math.floor(pos[d]!);
        if (mode === 'nearest') {
          starts.push(roundEven(pos[d]!));
          weights.push([1]);
        } else if (mode === 'linear') {
          starts.push(f);
          weights.push([f + 1 - pos[d]!, pos[d]! - f]);
        } else {
          starts.push(f - 1);
          weights.push(cubicWeights(pos[d]! - f));
        }
      }
      const taps: [number, number][] = [];
      eachIndex(tapShape, (t) => {
        let w = 1;
        for (let d = 0; d < k; d++) w *= weights[d]![t[d]!]!;
        taps.push([offsetOf(t.map((ti, d) => starts[d]! + ti)), w]);
      });
      for (let c = 0; c < C; c++) {
        const img = (n * C + c) * plane;
        let acc = 0;
        for (const [o, w] of taps) if (o >= 0) acc += w * data[img + o]!;
        out[(n * C + c) * nOut + p] = acc;
      }
    }
  return [tensorOf([N, C, ...outDims], x.dtype, out)];
}

// ---------------------------------------------------------------- MaxUnpool, Col2Im

/** Spatial attribute `name` (one per spatial dim), or `fill` each. */
function perDim(ctx: OpContext, name: string, k: number, fill: number): number[] {
  const v = attr(ctx.node, name, 'ints', new Array<number>(name === 'pads' ? 2 * k : k).fill(fill));
  if (v.length !== (name === 'pads' ? 2 * k : k)) throw invalid(ctx, `${name} has ${v.length} values for ${k} spatial dims`);
  return v;
}

/** MaxUnpool's default output size per spatial dim: (in − 1)·stride + kernel − pads. */
function unpooledDims(node: OpContext['node'], spatial: Dim[]): Dim[] {
  const k = spatial.length;
  const kernel = attr(node, 'kernel_shape', 'ints', []);
  const strides = attr(node, 'strides', 'ints', new Array<number>(k).fill(1));
  const pads = attr(node, 'pads', 'ints', new Array<number>(2 * k).fill(0));
  return spatial.map((d, i) =>
    arith('Sub', arith('Add', arith('Mul', arith('Sub', d, 1), strides[i] ?? 1), kernel[i] ?? 1), (pads[i] ?? 0) + (pads[i + k] ?? 0)),
  );
}

/**
 * MaxUnpool: zeros of the unpooled shape (or output_shape) with X's values written at the flat
 * indices I (as MaxPool's second output gives them, over the whole tensor).
 */
function maxUnpool(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'X');
  const idx = hostNumbers(need(ctx, 1, 'I'));
  if (x.rank < 3) throw invalid(ctx, `X must be [N, C, *spatial], got ${fmtShape(x.shape)}`);
  if (!attr(ctx.node, 'kernel_shape', 'ints')) throw invalid(ctx, 'kernel_shape is required');
  if (idx.length !== x.size) throw invalid(ctx, `I has ${idx.length} indices for ${x.size} values`);
  const shape = has(ctx, 2)
    ? intVector(ctx, 2, 'output_shape')
    : [x.shape[0]!, x.shape[1]!, ...(unpooledDims(ctx.node, x.shape.slice(2)) as number[])];
  if (shape.length !== x.rank) throw invalid(ctx, `output_shape [${shape.join(', ')}] must have rank ${x.rank}`);
  const size = sizeOf(shape);
  const out = new Float64Array(size);
  const v = hostNumbers(x);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    if (!(j >= 0 && j < size)) throw invalid(ctx, `I[${i}] = ${j} is outside the output's ${size} elements`);
    out[j] = v[i]!;
  }
  return [tensorOf(shape, x.dtype, out)];
}

/**
 * Col2Im: sums the columns of input [N, C·∏block, L] back into images [N, C, *image_shape] (the
 * inverse of im2col), with strides, dilations and pads.
 */
function col2Im(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'input');
  const image = intVector(ctx, 1, 'image_shape');
  const block = intVector(ctx, 2, 'block_shape');
  const k = image.length;
  if (block.length !== k || x.rank !== 3)
    throw invalid(
      ctx,
      `input must be [N, C·∏block, L] with image_shape and block_shape of one length, got ${fmtShape(x.shape)}, [${image}], [${block}]`,
    );
  const strides = perDim(ctx, 'strides', k, 1);
  const dil = perDim(ctx, 'dilations', k, 1);
  const pads = perDim(ctx, 'pads', k, 0);
  const kSize = sizeOf(block);
  const [N, CK, L] = x.shape as [number, number, number];
  if (kSize === 0 || CK % kSize !== 0) throw invalid(ctx, `input's dim 1 (${CK}) is not a multiple of ∏block_shape (${kSize})`);
  const C = CK / kSize;
  const cols = image.map((s, d) => Math.floor((s + pads[d]! + pads[d + k]! - dil[d]! * (block[d]! - 1) - 1) / strides[d]!) + 1);
  if (sizeOf(cols) !== L) throw invalid(ctx, `input has ${L} columns but image_shape, block_shape and the attributes give ${sizeOf(cols)}`);
  const imgStr = stridesOf(image);
  const plane = sizeOf(image);
  const v = hostNumbers(x);
  const out = new Float64Array(N * C * plane);
  let b = 0;
  eachIndex(block, (kb) => {
    let l = 0;
    eachIndex(cols, (col) => {
      let o = 0;
      for (let d = 0; d < k; d++) {
        const p = col[d]! * strides[d]! - pads[d]! + kb[d]! * dil[d]!;
        if (p < 0 || p >= image[d]!) return void l++;
        o += p * imgStr[d]!;
      }
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const at = (n * C + c) * plane + o;
          out[at] = out[at]! + v[(n * CK + c * kSize + b) * L + l]!;
        }
      l++;
    });
    b++;
  });
  return [tensorOf([N, C, ...image], x.dtype, out)];
}

// ---------------------------------------------------------------- definitions

const vision = { hostInputs: 'all' } as const;
defineOnnxOp('', 'NonMaxSuppression', { kernel: nonMaxSuppression, shape: () => [{ dtype: 'int64', shape: [undefined, 3] }], ...vision });
defineOnnxOp('', 'RoiAlign', {
  kernel: roiAlign,
  shape: ({ node, inputs }) => [
    {
      dtype: inputs[0]?.dtype,
      shape: [inputs[1]?.shape?.[0], inputs[0]?.shape?.[1], attr(node, 'output_height', 'int', 1), attr(node, 'output_width', 'int', 1)],
    },
  ],
  ...vision,
});
defineOnnxOp('', 'GridSample', {
  kernel: gridSample,
  shape: ({ inputs }) => {
    const [xs, gs] = [inputs[0]?.shape, inputs[1]?.shape];
    return [{ dtype: inputs[0]?.dtype, shape: xs && gs ? [xs[0], xs[1], ...gs.slice(1, -1)] : undefined }];
  },
  ...vision,
});
defineOnnxOp('', 'MaxUnpool', {
  kernel: maxUnpool,
  shape: ({ node, inputs }): InferredValue[] => {
    const xs = inputs[0]?.shape;
    const given = node.inputs[2] ? symOf(inputs[2]) : undefined;
    const shape = node.inputs[2] ? given : xs && [xs[0], xs[1], ...unpooledDims(node, xs.slice(2))];
    return [{ dtype: inputs[0]?.dtype, shape }];
  },
  ...vision,
});
defineOnnxOp('', 'Col2Im', {
  kernel: col2Im,
  shape: ({ inputs }: ShapeContext) => {
    const xs = inputs[0]?.shape;
    const image = symOf(inputs[1]);
    const block = symOf(inputs[2]);
    const kSize = block?.every(isNum) ? sizeOf(block as number[]) : undefined;
    const C = xs && isNum(xs[1]) && kSize ? xs[1] / kSize : undefined;
    return [{ dtype: inputs[0]?.dtype, shape: image ? [xs?.[0], C, ...image] : undefined }];
  },
  ...vision,
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const VISION_OPS = 'vision';
