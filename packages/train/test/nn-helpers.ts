import { mul, sum, Tensor } from '@normkit/tensor';
import { type GradCheckOptions, type GradCheckResult, gradCheck } from '../src/gradcheck.js';
import type { Module } from '../src/nn/module.js';

/** A float64 input with seeded N(0, 1) values. */
export const randn64 = (shape: number[], seed: number, std = 1) => Tensor.randn(shape, seed, { dtype: 'float64', std });

/** Replaces every parameter of `m` by seeded N(mean, std²) values (norm gains away from 1, biases away from 0). */
export function randomizeParams(m: Module, seed: number, std = 0.5): void {
  m.namedParameters().forEach(([, p], i) => {
    const r = randn64([...p.value.shape], seed + i, std);
    p.value = p.value.dtype === 'float64' ? r : Tensor.from(new Float32Array(r.data as Float64Array), [...p.value.shape]);
  });
}

/**
 * gradCheck of L = Σ m(x)·R (R a fixed random weighting, so that normalised outputs have a non-zero
 * gradient) with respect to x (when float) and every parameter of m.
 */
export function checkModule(m: Module, x: Tensor, opts: GradCheckOptions & { seed?: number } = {}): GradCheckResult {
  const y0 = m.forward(x);
  const R = randn64([...y0.shape], 1234);
  const wrt: Record<string, Tensor> = {};
  if (x.dtype === 'float64') wrt.input = x;
  for (const [n, p] of m.namedParameters()) wrt[n] = p.value;
  return gradCheck(() => sum(mul(m.forward(x), R)), wrt, { rtol: 1e-5, atol: 1e-8, ...opts });
}
