// Central finite differences in float64: the independent reference every gradient test of this
// package compares against (the *Backward functions in gradients.test.ts, the op definitions in
// autograd.test.ts).
import { Tensor } from '@normkit/tensor';
import { expect } from 'vitest';

/** Step of the central differences. */
export const H = 1e-5;

/** Seeded float64 inputs: `rnd` standard normal, `pos` in [0.5, ∞) (variances); each call a new seed. */
export function seededInputs(firstSeed: number) {
  let seed = firstSeed;
  const rnd = (shape: number[], opts: { mean?: number; std?: number } = {}) => Tensor.randn(shape, seed++, { dtype: 'float64', ...opts });
  const pos = (shape: number[]) => {
    const t = rnd(shape);
    const d = t.data as Float64Array;
    for (let i = 0; i < d.length; i++) d[i] = 0.5 + Math.abs(d[i] as number);
    return t;
  };
  return { rnd, pos };
}

type Out = Tensor | number;

/**
 * L = Σ w ⊙ f(inputs) (or f itself for a scalar), w a fixed random tensor of f's output shape. Compares
 * each analytic gradient (given w and the inputs) with central differences over every element of the
 * corresponding input; returns the relative error ‖g_a − g_fd‖ / ‖g_fd‖ of each input.
 */
export function gradErrors(
  f: (xs: Tensor[]) => Out,
  inputs: Tensor[],
  analytic: (w: Tensor | number, xs: Tensor[]) => (Tensor | undefined)[],
): number[] {
  const y0 = f(inputs);
  const w = typeof y0 === 'number' ? 1 : Tensor.randn([...y0.shape], 7, { dtype: 'float64' });
  const loss = (xs: Tensor[]) => {
    const y = f(xs);
    if (typeof y === 'number') return y;
    const a = y.data as Float64Array;
    const b = (w as Tensor).data as Float64Array;
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
    return s;
  };
  const grads = analytic(w, inputs);
  return inputs.map((inp, k) => {
    const g = grads[k];
    expect(g, `gradient ${k} missing`).toBeDefined();
    expect([...(g as Tensor).shape]).toEqual([...inp.shape]);
    const ga = (g as Tensor).data as Float64Array;
    let num = 0;
    let den = 0;
    for (let i = 0; i < inp.size; i++) {
      const plus = inputs.map((t, j) => (j === k ? t.clone() : t));
      const minus = inputs.map((t, j) => (j === k ? t.clone() : t));
      (plus[k]!.data as Float64Array)[i]! += H;
      (minus[k]!.data as Float64Array)[i]! -= H;
      const fd = (loss(plus) - loss(minus)) / (2 * H);
      num += ((ga[i] as number) - fd) ** 2;
      den += fd * fd;
    }
    return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-8);
  });
}

/** The worst relative error over all inputs (see `gradErrors`). */
export function gradError(
  f: (xs: Tensor[]) => Out,
  inputs: Tensor[],
  analytic: (w: Tensor | number, xs: Tensor[]) => (Tensor | undefined)[],
): number {
  return Math.max(0, ...gradErrors(f, inputs, analytic));
}
