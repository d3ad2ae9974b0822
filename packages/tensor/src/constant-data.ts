import type { Tensor } from './tensor.js';

// Data promised never to change (model weights), so backends may keep layouts derived from it.

const constantData = new WeakSet<object>();

/**
 * Promises that `t`'s values will never change again, so backends may cache layouts derived from
 * them: the CPU GEMM then packs a constant right-hand matrix into its kernel's panel layout once and
 * reuses it on every call (a model's weights are copied and repacked on every product otherwise).
 * Graph executors mark initializers this way. Writing to the data afterwards gives stale products —
 * do not mark tensors a training loop updates. Returns `t`.
 * @example
 * ```ts
 * const w = markConstant(Tensor.randn([768, 3072], 1));
 * matmul(x, w); // packs w once; later products with w reuse the packed copy
 * ```
 */
export function markConstant<T extends Tensor>(t: T): T {
  if (t.onHost) constantData.add(t.data);
  return t;
}

/** Whether `data` (a tensor's host array) was marked with `markConstant`. @example isConstantData(w.data) // true after markConstant(w) */
export function isConstantData(data: object): boolean {
  return constantData.has(data);
}
