import * as T from '@normkit/tensor';
import { fmtShape, Tensor } from '@normkit/tensor';
import { attr } from '../ir.js';
import { invalid, need, registerOp, unsupported } from './registry.js';

// onnxruntime's com.microsoft activation ops (the norm ones are in ops-norm.ts).

const withBias = (x: Tensor, b: Tensor | undefined) => (b && b.size > 0 ? T.add(x, b) : x);

/** FastGelu: tanh-approximated GELU of X (+ bias). */
registerOp('com.microsoft', 'FastGelu', (ctx) => [T.gelu(withBias(need(ctx, 0), ctx.inputs[1]), 'tanh')]);
/** BiasGelu: exact (erf) GELU of A + B. */
registerOp('com.microsoft', 'BiasGelu', (ctx) => [T.gelu(T.add(need(ctx, 0), need(ctx, 1, 'bias')))]);
/** Gelu (com.microsoft): exact (erf) GELU. */
registerOp('com.microsoft', 'Gelu', (ctx) => [T.gelu(need(ctx, 0))]);
/** QuickGelu: x · sigmoid(αx), α = 1.702 by default. */
registerOp('com.microsoft', 'QuickGelu', (ctx) => {
  const x = need(ctx, 0);
  return [T.mul(x, T.sigmoid(T.mul(x, attr(ctx.node, 'alpha', 'float', 1.702))))];
});
/** GemmFastGelu: FastGelu(A·B + bias). */
registerOp('com.microsoft', 'GemmFastGelu', (ctx) => [T.gelu(withBias(T.matmul(need(ctx, 0), need(ctx, 1)), ctx.inputs[2]), 'tanh')]);
/** BiasAdd: X + bias + skip. */
registerOp('com.microsoft', 'BiasAdd', (ctx) => [T.add(T.add(need(ctx, 0), need(ctx, 1)), need(ctx, 2))]);
/** FusedMatMul: alpha · op(A) · op(B) with optional transposes of the last two axes. */
registerOp('com.microsoft', 'FusedMatMul', (ctx) => {
  let a = need(ctx, 0);
  let b = need(ctx, 1);
  const swap = (t: Tensor) => T.transpose(t, [...t.shape.map((_, i) => i).slice(0, -2), t.rank - 1, t.rank - 2]);
  if (attr(ctx.node, 'transA', 'int', 0)) a = swap(a);
  if (attr(ctx.node, 'transB', 'int', 0)) b = swap(b);
  const alpha = attr(ctx.node, 'alpha', 'float', 1);
  const y = T.matmul(a, b);
  return [alpha === 1 ? y : T.mul(y, alpha)];
});


/**
 * com.microsoft Attention (BERT/GPT-2 fused self-attention): QKV = input·W + b split by
 * qkv_hidden_sizes, heads of size H/num_heads, optional past (K, V concatenated before the new ones),
 * scores·scale + mask + attention_bias, softmax, ·V. Masks: 1-D key lengths ([B] end or [2B] end and
 * start), 2-D [B, T] / 3-D [B, S, T] raw 0/1 masks, 4-D [B, 1, M, M] (Megatron); masked positions and
 * (unidirectional) future positions get `mask_filter_value` added, as in onnxruntime.
 */
registerOp('com.microsoft', 'Attention', (ctx) => {
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
  if (hq !== hk || hq % heads !== 0 || hv % heads !== 0) throw invalid(ctx, `qkv_hidden_sizes [${sizes.join(', ')}] do not split into ${heads} heads`);
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
  const Tn = P + S;
  const headSize = hq / heads;
  const scale = attr(ctx.node, 'scale', 'float', 1 / Math.sqrt(headSize));
  let scores = T.mul(T.matmul(q, T.transpose(k, [0, 1, 3, 2])), scale);
  const filter = attr(ctx.node, 'mask_filter_value', 'float', -10000);
  const mask = new Float32Array(B * S * Tn);
  const maskIndex = ctx.inputs[3];
  if (maskIndex && maskIndex.size > 0) {
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
          } else throw invalid(ctx, `mask_index of rank ${maskIndex.rank} is not supported`);
          if (!keep) mask[(b * S + i) * Tn + j] = filter;
        }
  }
  if (attr(ctx.node, 'unidirectional', 'int', 0))
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) for (let j = P + i + 1; j < Tn; j++) mask[(b * S + i) * Tn + j] = filter;
  scores = T.add(scores, T.cast(new Tensor([B, 1, S, Tn], 'float32', mask), scores.dtype));
  const attnBias = ctx.inputs[5];
  if (attnBias && attnBias.size > 0) scores = T.add(scores, attnBias);
  const probs = T.softmax(scores, -1);
  const out = T.transpose(T.matmul(probs, v), [0, 2, 1, 3]).reshape([B, S, hv]);
  const present = ctx.node.outputs[1] ? T.concat([T.unsqueeze(k, [0]), T.unsqueeze(v, [0])], 0) : undefined;
  return [out, present];
});

export const MICROSOFT_OPS = 'com.microsoft';
