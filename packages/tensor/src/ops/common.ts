import { type GradKernels, getBackend } from '../backend.js';
import { cpuGradKernels } from '../cpu/backend.js';
import { isFloat } from '../dtype.js';
import { fmtShape, NormkitError } from '../errors.js';
import type { GradContext } from '../op-registry.js';
import { Tensor } from '../tensor.js';

// Helpers shared by the op families: argument checks and the gradient kernels to dispatch to.

/** A tensor, or a number that takes the other operand's dtype. */
export type Scalarish = Tensor | number;

/** `x` as a tensor: a number becomes a scalar of `like`'s dtype (float32 without one). */
export const asTensor = (x: Scalarish, like?: Tensor): Tensor => (typeof x === 'number' ? Tensor.scalar(x, like?.dtype ?? 'float32') : x);

/** Throws DTYPE_MISMATCH naming `op` unless every tensor is float32 or float64. */
export function requireFloat(op: string, ...xs: Tensor[]): void {
  for (const x of xs) {
    if (!isFloat(x.dtype))
      throw new NormkitError('DTYPE_MISMATCH', `${op}: expected a float tensor, got ${x.dtype} ${fmtShape(x.shape)}; cast it first`, {
        op,
        shape: x.shape,
      });
  }
}

/** Throws DTYPE_MISMATCH naming `op` unless `a` and `b` have one dtype. */
export function requireSameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype)
    throw new NormkitError(
      'DTYPE_MISMATCH',
      `${op}: dtypes differ (${a.dtype} ${fmtShape(a.shape)} vs ${b.dtype} ${fmtShape(b.shape)}); cast one of them`,
      { op, shapes: [a.shape, b.shape] },
    );
}

/** The active backend's gradient kernels, or the CPU backend's when it has none. */
export const gradKernels = (): GradKernels => getBackend().grads ?? cpuGradKernels;

/** Whether the gradient of input `k` is wanted (the tape's `needsGrad`; all are when it is absent). */
export const wants = (ctx: GradContext<unknown, unknown>, k: number): boolean => ctx.needsGrad?.[k] ?? true;
