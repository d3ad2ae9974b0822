import { type DType, fmtShape, Rng, type Tensor } from '@normkit/tensor';
import { elemTypeName, onnxType } from '../elem-types.js';
import { attr, type Node } from '../ir.js';
import type { InferredValue } from './dims.js';
import { hostNumbers, tensorOf } from './host-data.js';
import { defineOnnxOp, invalid, need, type OpContext, type ShapeContext, unsupported } from './registry.js';

// Random generators: RandomNormal(Like), RandomUniform(Like), Bernoulli, Multinomial. A `seed`
// attribute gives a deterministic stream (the same values on every run, from normkit's Rng); without
// one, each run draws fresh values. None is constant-folded by shape inference.

/**
 * The node's generator: seeded from the `seed` attribute's float32 bits (so 1.5 and 1 differ), or
 * from Math.random when the node has no seed.
 */
function rngOf(node: Node): Rng {
  const seed = attr(node, 'seed', 'float');
  if (seed === undefined) return new Rng(Math.floor(Math.random() * 2 ** 32));
  const bits = new Uint32Array(new Float32Array([seed]).buffer)[0]!;
  return new Rng(bits);
}

/** The `dtype` attribute as a dtype normkit computes in (float16 is held as float32), else `fallback`. */
function dtypeAttr(ctx: OpContext, fallback: DType, allowed: readonly string[]): DType {
  const code = attr(ctx.node, 'dtype', 'int');
  if (code === undefined) {
    if (!allowed.includes(fallback)) throw invalid(ctx, `a ${fallback} input needs a dtype attribute (allowed: ${allowed.join(', ')})`);
    return fallback;
  }
  const t = onnxType(code);
  if (!t?.dtype || !allowed.includes(t.name)) throw unsupported(ctx, `dtype ${elemTypeName(code)} (allowed: ${allowed.join(', ')})`);
  return t.dtype;
}

const FLOATS = ['float32', 'float64', 'float16'] as const;

/** The output shape from the `shape` attribute (required, non-negative integers). */
function shapeAttr(ctx: OpContext): number[] {
  const s = attr(ctx.node, 'shape', 'ints');
  if (!s) throw invalid(ctx, 'the shape attribute is required');
  if (s.some((d) => !(Number.isInteger(d) && d >= 0))) throw invalid(ctx, `shape [${s.join(', ')}] must be non-negative integers`);
  return s;
}

/** n draws from `draw` as a tensor of `shape` and `dtype`. */
function drawn(shape: number[], dtype: DType, draw: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = draw();
  return tensorOf(shape, dtype, v);
}

const normal = (ctx: OpContext, shape: number[], dtype: DType) => {
  const rng = rngOf(ctx.node);
  const mean = attr(ctx.node, 'mean', 'float', 0);
  const scale = attr(ctx.node, 'scale', 'float', 1);
  return [drawn(shape, dtype, () => rng.normal(mean, scale))];
};

const uniform = (ctx: OpContext, shape: number[], dtype: DType) => {
  const rng = rngOf(ctx.node);
  const lo = attr(ctx.node, 'low', 'float', 0);
  const hi = attr(ctx.node, 'high', 'float', 1);
  if (!(hi >= lo)) throw invalid(ctx, `high (${hi}) must not be below low (${lo})`);
  return [drawn(shape, dtype, () => rng.uniform(lo, hi))];
};

/** Bernoulli: 1 with probability p (input 0, each in [0, 1]), else 0, in `dtype` (default: p's). */
function bernoulli(ctx: OpContext): Tensor[] {
  const p = need(ctx, 0);
  const dtype = dtypeAttr(ctx, p.dtype, [...FLOATS, 'int32', 'int64', 'bool', 'int8', 'int16', 'uint8', 'uint16']);
  const probs = hostNumbers(p);
  const rng = rngOf(ctx.node);
  const v = new Float64Array(probs.length);
  for (let i = 0; i < v.length; i++) {
    const q = probs[i]!;
    if (!(q >= 0 && q <= 1)) throw invalid(ctx, `probability ${q} at element ${i} is outside [0, 1]`);
    v[i] = rng.uniform() < q ? 1 : 0;
  }
  return [tensorOf(p.shape, dtype, v)];
}

/** Multinomial: `sample_size` class indices per row of unnormalized log-probabilities [batch, classes]. */
function multinomial(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0);
  if (x.rank !== 2) throw invalid(ctx, `input must be [batch_size, class_size] log-probabilities, got ${fmtShape(x.shape)}`);
  const dtype = dtypeAttr(ctx, 'int32', ['int32', 'int64']);
  const n = attr(ctx.node, 'sample_size', 'int', 1);
  if (!(Number.isInteger(n) && n >= 0)) throw invalid(ctx, `sample_size ${n} must be a non-negative integer`);
  const [B, C] = x.shape as [number, number];
  const logits = hostNumbers(x);
  const rng = rngOf(ctx.node);
  const out = new Float64Array(B * n);
  const cdf = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[b * C + c]!);
    let total = 0;
    for (let c = 0; c < C; c++) {
      total += Math.exp(logits[b * C + c]! - max);
      cdf[c] = total;
    }
    for (let s = 0; s < n; s++) {
      const u = rng.uniform() * total;
      let c = 0;
      while (c < C - 1 && cdf[c]! <= u) c++;
      out[b * n + s] = c;
    }
  }
  return [tensorOf([B, n], dtype, out)];
}

/** Shape rule of the generators: the `shape` attribute (or input 0's shape) in the `dtype` attribute's type (or `fallback`). */
const generated =
  (fromInput: boolean, fallback?: string) =>
  ({ node, inputs }: ShapeContext): InferredValue[] => {
    const code = attr(node, 'dtype', 'int');
    const dtype = code === undefined ? (fallback ?? inputs[0]?.dtype) : elemTypeName(code);
    const shape = fromInput ? inputs[0]?.shape : attr(node, 'shape', 'ints');
    return [{ dtype, shape: shape ? [...shape] : undefined }];
  };

const random = { hostInputs: 'all', constantFoldable: false } as const;
defineOnnxOp('', 'RandomNormal', {
  kernel: (ctx) => normal(ctx, shapeAttr(ctx), dtypeAttr(ctx, 'float32', FLOATS)),
  shape: generated(false, 'float32'),
  ...random,
});
defineOnnxOp('', 'RandomUniform', {
  kernel: (ctx) => uniform(ctx, shapeAttr(ctx), dtypeAttr(ctx, 'float32', FLOATS)),
  shape: generated(false, 'float32'),
  ...random,
});
defineOnnxOp('', 'RandomNormalLike', {
  kernel: (ctx) => normal(ctx, [...need(ctx, 0).shape], dtypeAttr(ctx, need(ctx, 0).dtype, FLOATS)),
  shape: generated(true),
  ...random,
});
defineOnnxOp('', 'RandomUniformLike', {
  kernel: (ctx) => uniform(ctx, [...need(ctx, 0).shape], dtypeAttr(ctx, need(ctx, 0).dtype, FLOATS)),
  shape: generated(true),
  ...random,
});
defineOnnxOp('', 'Bernoulli', { kernel: bernoulli, shape: generated(true), ...random });
defineOnnxOp('', 'Multinomial', {
  kernel: multinomial,
  shape: ({ node, inputs }) => {
    const code = attr(node, 'dtype', 'int');
    return [
      { dtype: code === undefined ? 'int32' : elemTypeName(code), shape: [inputs[0]?.shape?.[0], attr(node, 'sample_size', 'int', 1)] },
    ];
  },
  ...random,
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const RANDOM_OPS = 'random';
