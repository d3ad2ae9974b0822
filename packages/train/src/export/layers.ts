import type { Dim } from '@normkit/graph';
import { NormkitError, transpose } from '@normkit/tensor';
import type { Conv2d, MaxPool2d } from '../nn/conv.js';
import type { Embedding } from '../nn/embedding.js';
import type { GELU } from '../nn/layers.js';
import type { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import type { Sequential } from '../nn/sequential.js';
import { type ExportContext, fmtDims, join, type Value, where } from './context.js';

// Exporters of the layers that are not norms: each takes the module, its path and the input value and
// returns the output value, writing eval-mode ONNX nodes named after the path.

/** Throws SHAPE_MISMATCH unless `x` has `size` on `axis` (and at least `rank` axes). */
export function expectDim(m: Module, path: string, x: Value, axis: number, size: number, rank = axis + 1): void {
  if (x.shape.length < rank || x.shape[axis] !== size)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `exportModel: ${where(m, path)} reads ${fmtDims(x.shape)} but needs ${size} on axis ${axis}${rank > 1 ? ` of a rank-${rank}+ input` : ''}`,
      { path, shape: x.shape },
    );
}

/**
 * Linear (and CenteredLinear, with its effective centred W, b): `Gemm(transB=1)` on [N, in], and
 * `MatMul(Wᵀ) + Add(b)` on tokens [..., in] (PyTorch's export). Initializers `<path>.weight` ([out, in]
 * for Gemm, Wᵀ [in, out] for MatMul) and `<path>.bias`.
 */
export function exportLinear(ctx: ExportContext, m: Linear, path: string, x: Value): Value {
  const r = x.shape.length;
  expectDim(m, path, x, r - 1, m.inFeatures, 1);
  const w = m.effectiveWeight();
  const b = m.effectiveBias();
  const out: Dim[] = [...x.shape.slice(0, -1), m.outFeatures];
  if (r === 2) {
    const inputs = [x.name, ctx.constant(join(path, 'weight'), w), ...(b ? [ctx.constant(join(path, 'bias'), b)] : [])];
    return ctx.op(path, 'Gemm', inputs, out, { transB: 1 });
  }
  const y = ctx.op(path, 'MatMul', [x.name, ctx.constant(join(path, 'weight'), transpose(w, [1, 0]))], out);
  return b ? ctx.op(path, 'Add', [y.name, ctx.constant(join(path, 'bias'), b)], out) : y;
}

/** Conv2d (and CenteredConv2d, effective kernel): `Conv` with kernel_shape, strides, pads, group. */
export function exportConv2d(ctx: ExportContext, m: Conv2d, path: string, x: Value): Value {
  expectDim(m, path, x, 1, m.inChannels, 4);
  const w = m.effectiveWeight();
  const b = m.effectiveBias();
  const [kh, kw] = w.shape.slice(2) as [number, number];
  const [sh, sw] = m.stride;
  const [ph, pw] = m.padding;
  const [n, , h, wd] = x.shape;
  const out: Dim[] = [n, m.outChannels, spatial(h, kh, sh, ph), spatial(wd, kw, sw, pw)];
  const inputs = [x.name, ctx.constant(join(path, 'weight'), w), ...(b ? [ctx.constant(join(path, 'bias'), b)] : [])];
  return ctx.op(path, 'Conv', inputs, out, { kernel_shape: [kh, kw], strides: [sh, sw], pads: [ph, pw, ph, pw], group: m.groups });
}

/** MaxPool2d: `MaxPool` with a square window. */
export function exportMaxPool2d(ctx: ExportContext, m: MaxPool2d, path: string, x: Value): Value {
  const k = m.kernelSize;
  const s = m.stride;
  const [n, c, h, w] = x.shape;
  return ctx.op(path, 'MaxPool', [x.name], [n, c, spatial(h, k, s, 0), spatial(w, k, s, 0)], { kernel_shape: [k, k], strides: [s, s] });
}

const spatial = (d: Dim, k: number, s: number, p: number): Dim => (typeof d === 'number' ? Math.floor((d + 2 * p - k) / s) + 1 : d);

/** ReLU: `Relu`. */
export function exportReLU(ctx: ExportContext, _m: Module, path: string, x: Value): Value {
  return ctx.op(path, 'Relu', [x.name], x.shape);
}

/**
 * GELU: `Gelu` at opset ≥ 20; below, the erf form x·½(1 + erf(x/√2)) as Div, Erf, Add, Mul, Mul
 * (PyTorch's export), or for `approximate: 'tanh'` ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 */
export function exportGELU(ctx: ExportContext, m: GELU, path: string, x: Value): Value {
  if (ctx.settings.opset >= 20) return ctx.op(path, 'Gelu', [x.name], x.shape, { approximate: m.approximate });
  const op = (type: string, a: string, b: string) => ctx.op(path, type, [a, b], x.shape).name;
  const c = (name: string, v: number) => ctx.scalar(join(path, name), v);
  let inner: string;
  if (m.approximate === 'tanh') {
    const cube = op('Pow', x.name, c('three', 3));
    const arg = op('Mul', op('Add', x.name, op('Mul', cube, c('coeff', 0.044715))), c('sqrt_2_over_pi', Math.sqrt(2 / Math.PI)));
    inner = ctx.op(path, 'Tanh', [arg], x.shape).name;
  } else inner = ctx.op(path, 'Erf', [op('Div', x.name, c('sqrt2', Math.SQRT2))], x.shape).name;
  return ctx.op(path, 'Mul', [op('Mul', x.name, op('Add', inner, c('one', 1))), c('half', 0.5)], x.shape);
}

/** Identity and Dropout (eval mode): no node. */
export function exportPassThrough(_ctx: ExportContext, _m: Module, _path: string, x: Value): Value {
  return x;
}

/** Flatten: `Flatten(axis=1)` (nothing on a 2-D input). */
export function exportFlatten(ctx: ExportContext, _m: Module, path: string, x: Value): Value {
  if (x.shape.length === 2) return x;
  const size = (x.shape.slice(1) as number[]).reduce((a, b) => a * b, 1); // only the batch axis may be symbolic
  return ctx.op(path, 'Flatten', [x.name], [x.shape[0], size], { axis: 1 });
}

/** Embedding: `Gather(<path>.weight, ids)`; the graph input must be integer (`inputDType`). */
export function exportEmbedding(ctx: ExportContext, m: Embedding, path: string, x: Value): Value {
  return ctx.op(path, 'Gather', [ctx.constant(join(path, 'weight'), m.weight.value), x.name], [...x.shape, m.embeddingDim], { axis: 0 });
}

/** Sequential (and MLP, CNN): its children in order, at `<path>.<i>`. */
export function exportSequential(ctx: ExportContext, m: Sequential, path: string, x: Value): Value {
  return m.layers.reduce((v, layer, i) => ctx.module(layer, join(path, String(i)), v), x);
}
