import type { Parameter } from '../nn/module.js';
import { type BaseHyper, checkHyper, type FloatArray, type Group, Optimizer, type ParamGroup } from './optimizer.js';

/** Hyperparameters of `AdamW`. */
export interface AdamWHyper extends BaseHyper {
  /** β1, decay of the first moment (default 0.9). */
  beta1: number;
  /** β2, decay of the second moment (default 0.999). */
  beta2: number;
  /** ε added to the denominator (default 1e-8). */
  eps: number;
}

/**
 * Adam with decoupled weight decay, PyTorch's `torch.optim.AdamW` semantics. At a parameter's t-th
 * update: w ← w·(1 − lr·λ) (λ = weightDecay, 0 for `noDecay` parameters); m ← β1·m + (1 − β1)·g;
 * v ← β2·v + (1 − β2)·g²; w ← w − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε). The moments are
 * stored in the parameter's dtype. Defaults: lr 1e-3, β1 0.9, β2 0.999, ε 1e-8, weightDecay 1e-2.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.05 });
 * ```
 */
export class AdamW extends Optimizer<AdamWHyper> {
  constructor(params: readonly Parameter[] | readonly ParamGroup<AdamWHyper>[], opts: Partial<AdamWHyper> = {}) {
    super('AdamW', params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 }, opts, ['expAvg', 'expAvgSq']);
  }

  protected override validate(g: Group<AdamWHyper>): void {
    super.validate(g);
    checkHyper(this.kind, 'beta1', g.beta1, g.beta1 >= 0 && g.beta1 < 1, 'in [0, 1)');
    checkHyper(this.kind, 'beta2', g.beta2, g.beta2 >= 0 && g.beta2 < 1, 'in [0, 1)');
    checkHyper(this.kind, 'eps', g.eps, g.eps >= 0, 'a finite number ≥ 0');
  }

  protected update(w: FloatArray, g: FloatArray, group: Group<AdamWHyper>, index: number, noDecay: boolean): void {
    const { lr, beta1, beta2, eps } = group;
    const t = this.paramSteps[index] as number;
    const m = this.slot('expAvg', index, w);
    const v = this.slot('expAvgSq', index, w);
    const decay = 1 - lr * (noDecay ? 0 : group.weightDecay);
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    const n = w.length;
    for (let i = 0; i < n; i++) {
      const gi = g[i] as number;
      m[i] = beta1 * (m[i] as number) + (1 - beta1) * gi;
      v[i] = beta2 * (v[i] as number) + (1 - beta2) * gi * gi;
      w[i] = (w[i] as number) * decay - (stepSize * (m[i] as number)) / (Math.sqrt(v[i] as number) / bc2Sqrt + eps);
    }
  }
}
