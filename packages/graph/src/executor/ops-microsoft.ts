import * as T from '@normkit/tensor';
import { fmtShape, Tensor } from '@normkit/tensor';
import { attr } from '../ir.js';
import { arith, broadcast, type InferredValue, isNum, like, matmulShape } from './dims.js';
import { defineOnnxOp, invalid, need, type OpContext, type ShapeContext, unsupported } from './registry.js';

// onnxruntime's com.microsoft activation ops (the norm ones are in ops-norm.ts).

const withBias = (x: Tensor, b: Tensor | undefined) => (b && b.size > 0 ? T.add(x, b) : x);

/** FastGelu: tanh-approximated GELU of X (+ bias). */
defineOnnxOp('com.microsoft', 'FastGelu', {
  kernel: (ctx) => [T.gelu(withBias(need(ctx, 0), ctx.inputs[1]), 'tanh')],
  shape: geluShape,
  fold: 'nonlinear',
});
/** BiasGelu: exact (erf) GELU of A + B. */
defineOnnxOp('com.microsoft', 'BiasGelu', {
  kernel: (ctx) => [T.gelu(T.add(need(ctx, 0), need(ctx, 1, 'bias')))],
  shape: biasAddShape,
  fold: 'nonlinear',
});
/** Gelu (com.microsoft): exact (erf) GELU. */
defineOnnxOp('com.microsoft', 'Gelu', { kernel: (ctx) => [T.gelu(need(ctx, 0))], shape: geluShape, fold: 'nonlinear' });
/** QuickGelu: x · sigmoid(αx), α = 1.702 by default. */
defineOnnxOp('com.microsoft', 'QuickGelu', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    return [T.mul(x, T.sigmoid(T.mul(x, attr(ctx.node, 'alpha', 'float', 1.702))))];
  },
  shape: geluShape,
});
/** GemmFastGelu: FastGelu(A·B + bias). */
defineOnnxOp('com.microsoft', 'GemmFastGelu', {
  kernel: (ctx) => [T.gelu(withBias(T.matmul(need(ctx, 0), need(ctx, 1)), ctx.inputs[2]), 'tanh')],
  shape: fusedMatMulShape,
});
/** BiasAdd: X + bias + skip. */
defineOnnxOp('com.microsoft', 'BiasAdd', {
  kernel: (ctx) => [T.add(T.add(need(ctx, 0), need(ctx, 1)), need(ctx, 2))],
  shape: biasAddShape,
});
/** FusedMatMul: alpha · op(A) · op(B) with optional transposes of the last two axes. */
defineOnnxOp('com.microsoft', 'FusedMatMul', {
  kernel: (ctx) => {
    let a = need(ctx, 0);
    let b = need(ctx, 1);
    if (attr(ctx.node, 'transBatchA', 'int', 0) || attr(ctx.node, 'transBatchB', 'int', 0))
      throw unsupported(ctx, 'transBatchA/transBatchB');
    const swap = (t: Tensor) => T.transpose(t, [...t.shape.map((_, i) => i).slice(0, -2), t.rank - 1, t.rank - 2]);
    if (attr(ctx.node, 'transA', 'int', 0)) a = swap(a);
    if (attr(ctx.node, 'transB', 'int', 0)) b = swap(b);
    const alpha = attr(ctx.node, 'alpha', 'float', 1);
    const y = T.matmul(a, b);
    return [alpha === 1 ? y : T.mul(y, alpha)];
  },
  shape: fusedMatMulShape,
});

/**
 * com.microsoft Attention (BERT/GPT-2 fused self-attention): QKV = input·W + b split by
 * qkv_hidden_sizes, heads of size H/num_heads, optional past (K, V concatenated before the new ones),
 * scores·scale + mask + attention_bias, softmax, ·V. Masks: 1-D key lengths ([B] end or [2B] end and
 * start), 2-D [B, T] / 3-D [B, S, T] raw 0/1 masks, 4-D [B, 1, M, M] (Megatron); masked positions and
 * (unidirectional) future positions get `mask_filter_value` added, as in onnxruntime.
 */
defineOnnxOp('com.microsoft', 'Attention', {
  kernel: (ctx) => {
    const x = need(ctx, 0);
    const w = need(ctx, 1, 'weights');
    const heads = attr(ctx.node, 'num_heads', 'int');
    if (!heads) throw invalid(ctx, 'num_heads is required');
    if (attr(ctx.node, 'do_rotary', 'int', 0)) throw unsupported(ctx, 'do_rotary=1');
    if (ctx.inputs[6] || ctx.node.inputs[6]) throw unsupported(ctx, 'past_sequence_length (shared past buffer)');
    if (x.rank !== 3) throw invalid(ctx, `input must be [batch, sequence, hidden], got ${fmtShape(x.shape)}`);
    const [B, S] = x.shape as [number, number];
    const total = w.shape[1]!;
    const sizes = attr(ctx.node, 'qkv_hidden_sizes', 'ints', [total / 3, total / 3, total / 3]);
    const [hq, hk, hv] = sizes as [number, number, number];
    if (hq !== hk || hq % heads !== 0 || hv % heads !== 0)
      throw invalid(ctx, `qkv_hidden_sizes [${sizes.join(', ')}] do not split into ${heads} heads`);
    let qkv = T.matmul(x, w);
    const bias = ctx.inputs[2];
    if (bias && bias.size > 0) qkv = T.add(qkv, bias);
    const [q0, k0, v0] = T.split(qkv, [hq, hk, hv], 2) as [Tensor, Tensor, Tensor];
    const toHeads = (t: Tensor, h: number) => T.transpose(t.reshape([B, S, heads, h / heads]), [0, 2, 1, 3]);
    const q = toHeads(q0, hq);
    let k = toHeads(k0, hk);
    let v = toHeads(v0, hv);
    const past = ctx.inputs[4];
    let P = 0;
    if (past && past.size > 0) {
      const [pk, pv] = T.split(past, 2, 0) as [Tensor, Tensor];
      P = past.shape[3]!;
      k = T.concat([pk.reshape(past.shape.slice(1)), k], 2);
      v = T.concat([pv.reshape(past.shape.slice(1)), v], 2);
    }
    const out = attend(ctx, q, k, v, ctx.inputs[3], ctx.inputs[5], P);
    const present = ctx.node.outputs[1] ? T.concat([T.unsqueeze(k, [0]), T.unsqueeze(v, [0])], 0) : undefined;
    return [out, present];
  },
  shape: attentionShape,
});

/**
 * Scaled dot-product attention over heads: q [B, N, S, h], k [B, N, T, h], v [B, N, T, hv] → [B, S, N·hv].
 * Adds `mask_filter_value` at masked keys (mask: [B] / [2B] key lengths, [B, T] / [B, S, T] 0/1 masks,
 * [B, 1, M, M] Megatron) and at future keys when `unidirectional`, plus an attention bias.
 */
function attend(
  ctx: OpContext,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  maskIndex: Tensor | undefined,
  attnBias: Tensor | undefined,
  P: number,
): Tensor {
  const [B, N, S, h] = q.shape as [number, number, number, number];
  const Tn = k.shape[2]!;
  const hv = v.shape[3]!;
  const scale = attr(ctx.node, 'scale', 'float', 1 / Math.sqrt(h));
  let scores = T.mul(T.matmul(q, T.transpose(k, [0, 1, 3, 2])), scale);
  const filter = attr(ctx.node, 'mask_filter_value', 'float', -10000);
  const mask = new Float32Array(B * S * Tn);
  if (maskIndex && maskIndex.size > 0) {
    if (maskIndex.rank === 1 && maskIndex.size !== B && maskIndex.size !== 2 * B)
      throw unsupported(ctx, `a 1-D mask of ${maskIndex.size} values for batch ${B}`);
    const m = maskIndex.data;
    const at = (i: number) => Number(m[i]);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < S; i++)
        for (let j = 0; j < Tn; j++) {
          let keep: boolean;
          if (maskIndex.rank === 1) {
            const end = at(b);
            const start = maskIndex.shape[0] === 2 * B ? at(B + b) : 0;
            keep = j < end && j >= start;
          } else if (maskIndex.rank === 2) keep = at(b * Tn + j) > 0;
          else if (maskIndex.rank === 3) keep = at((b * S + i) * Tn + j) > 0;
          else if (maskIndex.rank === 4) {
            const M = maskIndex.shape[3]!;
            keep = at((b * maskIndex.shape[2]! + P + i) * M + j) > 0;
          } else throw invalid(ctx, `a mask of rank ${maskIndex.rank} is not supported`);
          if (!keep) mask[(b * S + i) * Tn + j] = filter;
        }
  }
  if (attr(ctx.node, 'unidirectional', 'int', 0))
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) for (let j = P + i + 1; j < Tn; j++) mask[(b * S + i) * Tn + j] = filter;
  scores = T.add(scores, T.cast(new Tensor([B, 1, S, Tn], 'float32', mask), scores.dtype));
  if (attnBias && attnBias.size > 0) scores = T.add(scores, attnBias);
  const probs = T.softmax(scores, -1);
  return T.transpose(T.matmul(probs, v), [0, 2, 1, 3]).reshape([B, S, N * hv]);
}

/**
 * com.microsoft MultiHeadAttention with separate 3-D query [B, S, D], key [B, L, D] and value [B, L, Dv]
 * (+ bias [D + D + Dv], key_padding_mask, attention_bias, past_key/past_value [B, N, P, h]). Outputs
 * the attention, present_key and present_value. Packed QKV / KV forms are refused.
 */
defineOnnxOp('com.microsoft', 'MultiHeadAttention', {
  kernel: (ctx) => {
    const q0 = need(ctx, 0, 'query');
    const heads = attr(ctx.node, 'num_heads', 'int');
    if (!heads) throw invalid(ctx, 'num_heads is required');
    const k0 = ctx.inputs[1];
    const v0 = ctx.inputs[2];
    if (q0.rank !== 3 || !k0 || !v0 || k0.rank !== 3 || v0.rank !== 3)
      throw unsupported(ctx, 'packed or 4-D query/key/value (only separate 3-D inputs)');
    if (ctx.node.inputs.length > 8 && ctx.node.inputs.slice(8).some((n) => n))
      throw unsupported(ctx, 'past_sequence_length / cache_indirection inputs');
    const [B, S, D] = q0.shape as [number, number, number];
    const L = k0.shape[1]!;
    const Dv = v0.shape[2]!;
    let q = q0;
    let k = k0;
    let v = v0;
    const bias = ctx.inputs[3];
    if (bias && bias.size > 0) {
      const [bq, bk, bv] = T.split(bias, [D, k0.shape[2]!, Dv], 0) as [Tensor, Tensor, Tensor];
      q = T.add(q, bq);
      k = T.add(k, bk);
      v = T.add(v, bv);
    }
    const toHeads = (t: Tensor, n: number, d: number) => T.transpose(t.reshape([B, n, heads, d / heads]), [0, 2, 1, 3]);
    let kh = toHeads(k, L, k0.shape[2]!);
    let vh = toHeads(v, L, Dv);
    const pk = ctx.inputs[6];
    const pv = ctx.inputs[7];
    let P = 0;
    if (pk && pv && pk.size > 0) {
      P = pk.shape[2]!;
      kh = T.concat([pk, kh], 2);
      vh = T.concat([pv, vh], 2);
    }
    const out = attend(ctx, toHeads(q, S, D), kh, vh, ctx.inputs[4], ctx.inputs[5], P);
    return [out, kh, vh];
  },
  shape: multiHeadAttentionShape,
});

/** Shape rule of FastGelu, QuickGelu, Gelu. */
function geluShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [like(x)];
}

/** Shape rule of BiasGelu, BiasAdd. */
function biasAddShape(ctx: ShapeContext): InferredValue[] {
  const { inputs: ins } = ctx;
  const x = ins[0];
  return [{ dtype: x?.dtype, shape: broadcast(ins.map((i) => i?.shape)) }];
}

/** Shape rule of GemmFastGelu, FusedMatMul. */
function fusedMatMulShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  return [{ dtype: x?.dtype, shape: matmulShape(x?.shape, ins[1]?.shape, op === 'FusedMatMul' ? node : undefined) }];
}

/** Shape rule of Attention. */
function attentionShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const heads = attr(node, 'num_heads', 'int', 1);
  const total = ins[1]?.shape?.[1];
  const sizes = attr(node, 'qkv_hidden_sizes', 'ints') ?? (isNum(total) ? [total / 3, total / 3, total / 3] : undefined);
  const s = x?.shape;
  const past = ins[4]?.shape;
  const tot = past ? arith('Add', past[3], s?.[1]) : s?.[1];
  return [
    { dtype: x?.dtype, shape: s ? [s[0], s[1], sizes?.[2]] : undefined },
    { dtype: x?.dtype, shape: s ? [2, s[0], heads, tot, sizes ? sizes[0]! / heads : undefined] : undefined },
  ];
}

/** Shape rule of MultiHeadAttention. */
function multiHeadAttentionShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const heads = attr(node, 'num_heads', 'int', 1);
  const q = x?.shape;
  const k = ins[1]?.shape;
  const v = ins[2]?.shape;
  const past = ins[6]?.shape;
  const L = past ? arith('Add', past[2], k?.[1]) : k?.[1];
  const dk = k?.[2];
  const dv = v?.[2];
  return [
    { dtype: x?.dtype, shape: q && v ? [q[0], q[1], dv] : undefined },
    { dtype: x?.dtype, shape: q ? [q[0], heads, L, isNum(dk) ? dk / heads : undefined] : undefined },
    { dtype: x?.dtype, shape: q ? [q[0], heads, L, isNum(dv) ? dv / heads : undefined] : undefined },
  ];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const MICROSOFT_OPS = 'com.microsoft';
