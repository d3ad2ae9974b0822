import { groupNorm, instanceNorm, meanVarianceNormalization } from '@normkit/norm';
import * as T from '@normkit/tensor';
import { fmtShape, isFloat, sizeOf, Tensor } from '@normkit/tensor';
import { attr, type Node } from '../ir.js';
import { broadcast, type InferredValue, like, normAxis, sameShape } from './dims.js';
import { defineOnnxOp, invalid, need, type OpContext, type ShapeContext, unsupported } from './registry.js';

// Normalization ops: BatchNorm (inference), LayerNorm, RMSNorm, GroupNorm, InstanceNorm, MVN, LpNorm,
// and ORT's com.microsoft LayerNorm variants.

const opt = (t: Tensor | undefined): Tensor | undefined => (t && t.size > 0 ? t : undefined);

/** Reshapes a per-channel parameter [C] so it broadcasts against [N, C, ...spatial]. */
function perChannel(ctx: OpContext, p: Tensor, x: Tensor, what: string): Tensor {
  const C = x.shape[1] ?? 1;
  if (p.size === C) return p.reshape([C, ...new Array(Math.max(0, x.rank - 2)).fill(1)]);
  // BatchNormalization with spatial=0 (opset < 9): one parameter per activation.
  if (p.size === sizeOf(x.shape.slice(1))) return p.reshape(x.shape.slice(1));
  throw invalid(ctx, `${what} ${fmtShape(p.shape)} does not match the ${C} channels of input ${fmtShape(x.shape)}`);
}

/**
 * y = x·a + b with one a and b per channel of x [N, C, ...spatial]: computed as a depthwise 1×1
 * convolution (one pass, a kernel every backend has) instead of two broadcasting passes.
 */
function channelAffine(x: Tensor, a: Tensor, b: Tensor): Tensor {
  const C = x.shape[1] ?? 1;
  if (x.rank >= 3 && isFloat(x.dtype) && a.size === C && b.size === C) {
    const w = T.cast(a, x.dtype).reshape([C, 1, ...new Array(x.rank - 2).fill(1)]);
    return T.conv(x, w, T.cast(b, x.dtype).reshape([C]), { group: C });
  }
  return T.add(T.mul(x, a), b);
}

defineOnnxOp('', 'BatchNormalization', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const eps = attr(ctx.node, 'epsilon', 'float', 1e-5);
    if (attr(ctx.node, 'training_mode', 'int', 0) !== 0) return batchNormTraining(ctx, x, eps);
    const scale = perChannel(ctx, need(ctx, 1, 'scale'), x, 'scale');
    const bias = perChannel(ctx, need(ctx, 2, 'B'), x, 'B');
    const mean = need(ctx, 3, 'mean');
    const variance = need(ctx, 4, 'var');
    const a = T.mul(scale, T.rsqrt(T.add(perChannel(ctx, variance, x, 'var'), eps)));
    const b = T.sub(bias, T.mul(perChannel(ctx, mean, x, 'mean'), a));
    // Outputs 1-2 (running mean/var) are the inputs unchanged in inference mode.
    return [channelAffine(x, a, b), mean, variance];
  },
  shape: ({ inputs }) => [like(inputs[0]), { ...inputs[3] }, { ...inputs[4] }],
  fold: 'normalization',
});

/**
 * BatchNormalization with training_mode=1 (opset ≥ 14): normalizes with the batch statistics (biased
 * variance) and returns running_mean = mean·m + batch_mean·(1−m), running_var likewise.
 */
function batchNormTraining(ctx: OpContext, x: Tensor, eps: number): Tensor[] {
  const momentum = attr(ctx.node, 'momentum', 'float', 0.9);
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const mu = T.mean(x, axes, true);
  const d = T.sub(x, mu);
  const v = T.mean(T.mul(d, d), axes, true);
  const scale = perChannel(ctx, need(ctx, 1, 'scale'), x, 'scale');
  const bias = perChannel(ctx, need(ctx, 2, 'B'), x, 'B');
  const y = T.add(T.mul(T.mul(d, T.rsqrt(T.add(v, eps))), scale), bias);
  const C = x.shape[1] ?? 1;
  const runMean = T.add(T.mul(need(ctx, 3, 'mean'), momentum), T.mul(mu.reshape([C]), 1 - momentum));
  const runVar = T.add(T.mul(need(ctx, 4, 'var'), momentum), T.mul(v.reshape([C]), 1 - momentum));
  return [y, runMean, runVar];
}

/** Casts LN statistics to the stash type (1 = float32, 11 = float64). */
function stash(ctx: OpContext, t: Tensor): Tensor {
  const s = attr(ctx.node, 'stash_type', 'int', 1);
  if (s === 1) return T.cast(t, 'float32');
  if (s === 11) return T.cast(t, 'float64');
  throw unsupported(ctx, `stash_type=${s}`);
}

/**
 * Whether a scale/bias fits the normalized block [axis, rank) (then the fused kernel applies it);
 * otherwise it broadcasts against the whole input, as in the ONNX function body and onnxruntime.
 */
function fitsBlock(p: Tensor | undefined, blockRank: number, block: readonly number[]): boolean {
  if (!p) return true;
  const lead = p.rank - blockRank;
  if (lead > 0 && p.shape.slice(0, lead).some((d) => d !== 1)) return false;
  const tail = p.shape.slice(Math.max(0, lead));
  return tail.every((d, i) => d === 1 || d === block[block.length - tail.length + i]);
}

/** LN / RMSNorm with scale and bias applied by the fused kernel when they fit the block, else by broadcasting ops. */
function normAffine(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis: number,
  kernel: (x: Tensor, s: Tensor | undefined, b: Tensor | undefined) => Tensor,
): Tensor {
  const block = x.shape.slice(axis < 0 ? axis + x.rank : axis);
  // Leading 1-dims beyond the block's rank are dropped so the kernel sees a block-shaped parameter.
  const squeezeLead = (p: Tensor | undefined) => (p && p.rank > block.length ? p.reshape(p.shape.slice(p.rank - block.length)) : p);
  if (fitsBlock(scale, block.length, block) && fitsBlock(bias, block.length, block))
    return kernel(x, squeezeLead(scale), squeezeLead(bias));
  let y = kernel(x, undefined, undefined);
  if (scale) y = T.mul(y, scale);
  if (bias) y = T.add(y, bias);
  return y;
}

defineOnnxOp('', 'LayerNormalization', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const axis = attr(ctx.node, 'axis', 'int', -1);
    const eps = attr(ctx.node, 'epsilon', 'float', 1e-5);
    let stats: { mean: Tensor; invStdDev: Tensor } | undefined;
    const y = normAffine(x, opt(ctx.inputs[1]), opt(ctx.inputs[2]), axis, (v, s, b) => {
      const r = T.layerNormKernel(v, s, b, axis, eps);
      stats = r;
      return r.y;
    });
    const r = stats!;
    return [y, ctx.node.outputs[1] ? stash(ctx, r.mean) : undefined, ctx.node.outputs[2] ? stash(ctx, r.invStdDev) : undefined];
  },
  shape: layerNormalizationShape,
  fold: 'normalization',
});

defineOnnxOp('', 'RMSNormalization', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const axis = attr(ctx.node, 'axis', 'int', -1);
    const eps = attr(ctx.node, 'epsilon', 'float', 1e-5);
    return [normAffine(x, opt(ctx.inputs[1]), undefined, axis, (v, s, b) => T.rmsNormKernel(v, s, b, axis, eps))];
  },
  shape: sameShape(),
  fold: 'normalization',
});

/** 1/sqrt(mean(x², axes ≥ axis) + ε), keeping dims (ORT's inv_std_var output). */
function invRms(x: Tensor, axis: number, eps: number): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  const axes = x.shape.map((_, i) => i).filter((i) => i >= a);
  return T.rsqrt(T.add(T.div(T.sumSquare(x, axes, true), sizeOf(x.shape.slice(a))), eps));
}

function simplifiedLayerNorm(ctx: OpContext): (Tensor | undefined)[] {
  const x = need(ctx, 0);
  const axis = attr(ctx.node, 'axis', 'int', -1);
  const eps = attr(ctx.node, 'epsilon', 'float', 1e-5);
  const y = normAffine(x, opt(ctx.inputs[1]), undefined, axis, (v, s, b) => T.rmsNormKernel(v, s, b, axis, eps));
  return [y, ctx.node.outputs[1] ? stash(ctx, invRms(x, axis, eps)) : undefined];
}
// onnxruntime accepts SimplifiedLayerNormalization in the default domain as well as com.microsoft.
for (const domain of ['', 'com.microsoft'])
  defineOnnxOp(domain, 'SimplifiedLayerNormalization', {
    kernel: simplifiedLayerNorm,
    shape: simplifiedLayerNormalizationShape,
    fold: 'normalization',
  });

/** ORT SkipLayerNormalization: s = input + skip (+ bias); y = LN(s)·γ + β over the last axis. Outputs y, mean, inv_std_var, s. */
defineOnnxOp('com.microsoft', 'SkipLayerNormalization', {
  kernel: (ctx) => {
    const eps = attr(ctx.node, 'epsilon', 'float', 1e-12);
    let s = T.add(need(ctx, 0), need(ctx, 1, 'skip'));
    const bias = opt(ctx.inputs[4]);
    if (bias) s = T.add(s, bias);
    const r = T.layerNormKernel(s, need(ctx, 2, 'gamma'), opt(ctx.inputs[3]), -1, eps);
    return [
      r.y,
      ctx.node.outputs[1] ? T.cast(r.mean, 'float32') : undefined,
      ctx.node.outputs[2] ? T.cast(r.invStdDev, 'float32') : undefined,
      s,
    ];
  },
  shape: skipNormShape,
  fold: 'normalization',
});

/** ORT SkipSimplifiedLayerNormalization: s = input + skip (+ bias); y = RMSNorm(s)·γ. Outputs y, mean (unused), inv_std_var, s. */
defineOnnxOp('com.microsoft', 'SkipSimplifiedLayerNormalization', {
  kernel: (ctx) => {
    const eps = attr(ctx.node, 'epsilon', 'float', 1e-12);
    let s = T.add(need(ctx, 0), need(ctx, 1, 'skip'));
    const bias = opt(ctx.inputs[3]);
    if (bias) s = T.add(s, bias);
    const y = T.rmsNormKernel(s, need(ctx, 2, 'gamma'), undefined, -1, eps);
    if (ctx.node.outputs[1]) throw unsupported(ctx, 'the mean output of SkipSimplifiedLayerNormalization');
    return [y, undefined, ctx.node.outputs[2] ? invRms(s, -1, eps) : undefined, s];
  },
  shape: skipNormShape,
  fold: 'normalization',
});

/**
 * ORT EmbedLayerNormalization: LN(word[ids] + position[pos] + segment[seg])·γ + β over the hidden axis,
 * plus mask_index (int32 per batch: the number of mask ones, 0 without a mask) and the optional sum.
 */
defineOnnxOp('com.microsoft', 'EmbedLayerNormalization', {
  kernel: (ctx) => {
    const ids = need(ctx, 0, 'input_ids');
    const eps = attr(ctx.node, 'epsilon', 'float', 1e-12);
    if (attr(ctx.node, 'mask_index_type', 'int', 1) !== 1) throw unsupported(ctx, 'mask_index_type other than 1');
    if (ids.rank !== 2) throw invalid(ctx, `input_ids must be [batch, sequence], got ${fmtShape(ids.shape)}`);
    const [B, S] = ids.shape as [number, number];
    let sum = T.gather(need(ctx, 2, 'word_embedding'), ids, 0);
    const posIds = opt(ctx.inputs[8]) ?? T.expand(Tensor.arange(0, S, 1, 'int64').reshape([1, S]), [B, S]);
    sum = T.add(
      sum,
      T.gather(need(ctx, 3, 'position_embedding'), posIds.rank === 2 && posIds.shape[0] === 1 ? T.expand(posIds, [B, S]) : posIds, 0),
    );
    const seg = opt(ctx.inputs[1]);
    const segTable = opt(ctx.inputs[4]);
    if (seg && segTable) sum = T.add(sum, T.gather(segTable, seg, 0));
    const y = T.layerNormKernel(sum, need(ctx, 5, 'gamma'), opt(ctx.inputs[6]), -1, eps).y;
    const mask = opt(ctx.inputs[7]);
    const maskIndex = mask ? T.cast(T.sum(T.cast(mask, 'int64'), [1], false), 'int32') : Tensor.zeros([B], 'int32');
    return [y, maskIndex, sum];
  },
  shape: embedLayerNormalizationShape,
});

// GroupNorm, InstanceNorm and MVN are @normkit/norm's operators; the kernels here only read the node.
defineOnnxOp('', 'GroupNormalization', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const G = attr(ctx.node, 'num_groups', 'int');
    if (!G) throw invalid(ctx, 'num_groups is required');
    const C = x.shape[1] ?? 0;
    if (x.rank < 2 || C % G !== 0) throw invalid(ctx, `channels of ${fmtShape(x.shape)} are not divisible by num_groups=${G}`);
    const scale = need(ctx, 1, 'scale');
    // Opset 18 (deprecated) takes one scale/bias per group; opset 21 one per channel.
    const affine = ctx.opset < 21 && scale.size === G && G !== C ? 'group' : 'channel';
    const epsilon = attr(ctx.node, 'epsilon', 'float', 1e-5);
    return [groupNorm(x, { numGroups: G, scale, bias: need(ctx, 2, 'bias'), epsilon, affine })];
  },
  shape: sameShape(),
  fold: 'normalization',
});

defineOnnxOp('', 'InstanceNormalization', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    if (x.rank < 3) throw invalid(ctx, `input must be [N, C, ...spatial], got ${fmtShape(x.shape)}`);
    const epsilon = attr(ctx.node, 'epsilon', 'float', 1e-5);
    return [instanceNorm(x, { scale: need(ctx, 1, 'scale'), bias: need(ctx, 2, 'B'), epsilon })];
  },
  shape: sameShape(),
  fold: 'normalization',
});

defineOnnxOp('', 'MeanVarianceNormalization', {
  kernel: (ctx) => [meanVarianceNormalization(need(ctx, 0), { axes: attr(ctx.node, 'axes', 'ints', [0, 2, 3]) })],
  shape: sameShape(),
});

defineOnnxOp('', 'LpNormalization', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const axis = attr(ctx.node, 'axis', 'int', -1);
    const p = attr(ctx.node, 'p', 'int', 2);
    if (p !== 1 && p !== 2) throw unsupported(ctx, `p=${p}`);
    const norm = p === 2 ? T.l2Norm(x, [axis], true) : T.l1Norm(x, [axis], true);
    return [T.div(x, norm)];
  },
  shape: sameShape(),
});

/** Shape rule of LayerNormalization. */
function layerNormalizationShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const r = x?.shape?.length;
  const ax = r === undefined ? 0 : normAxis(attr(node, 'axis', 'int') ?? -1, r);
  const stat = x?.shape ? x.shape.map((d, i) => (i < ax ? d : 1)) : undefined;
  const st = (attr(node, 'stash_type', 'int') ?? 1) === 11 ? 'float64' : 'float32';
  return [like(x), { dtype: st, shape: stat }, { dtype: st, shape: stat }];
}

/** Shape rule of SimplifiedLayerNormalization. */
function simplifiedLayerNormalizationShape({ node, inputs }: ShapeContext): InferredValue[] {
  return simplifiedStats(node, inputs[0]);
}

/** Shape rule of SkipLayerNormalization, SkipSimplifiedLayerNormalization. */
function skipNormShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  const s = broadcast([x?.shape, ins[1]?.shape]);
  const stat = s ? [...s.slice(0, -1), 1] : undefined;
  return [
    { dtype: x?.dtype, shape: s },
    { dtype: 'float32', shape: stat },
    { dtype: 'float32', shape: stat },
    { dtype: x?.dtype, shape: s },
  ];
}

/** Shape rule of EmbedLayerNormalization. */
function embedLayerNormalizationShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  const ids = x?.shape;
  const hidden = ins[2]?.shape?.[1];
  const sh = ids ? [ids[0], ids[1], hidden] : undefined;
  return [
    { dtype: ins[2]?.dtype, shape: sh },
    { dtype: 'int32', shape: ids ? [ids[0]] : undefined },
    { dtype: ins[2]?.dtype, shape: sh },
  ];
}

/** The shapes of an RMS norm (SimplifiedLayerNormalization): Y like X, and the inverse std over the normalized axes. */
function simplifiedStats(node: Node, x: InferredValue | undefined): InferredValue[] {
  const r = x?.shape?.length;
  const ax = r === undefined ? 0 : normAxis(attr(node, 'axis', 'int', -1), r);
  const stat = x?.shape ? x.shape.map((d, i) => (i < ax ? d : 1)) : undefined;
  return [
    { dtype: x?.dtype, shape: x?.shape },
    { dtype: 'float32', shape: stat },
  ];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const NORM_OPS = 'norm';
