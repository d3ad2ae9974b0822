import * as T from '@normkit/tensor';
import type { Tensor } from '@normkit/tensor';
import { attr } from '../ir.js';
import { need, registerOp } from './registry.js';

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

export const MICROSOFT_OPS = 'com.microsoft';
