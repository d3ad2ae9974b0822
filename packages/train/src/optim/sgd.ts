import type { Parameter } from '../nn/module.js';
import { type BaseHyper, checkHyper, type FloatArray, type Group, Optimizer, type ParamGroup } from './optimizer.js';

/** Hyperparameters of `SGD` (PyTorch names in camelCase). */
export interface SgdHyper extends BaseHyper {
  /** Momentum factor μ (default 0: plain SGD). */
  momentum: number;
  /** Dampening τ of the momentum (default 0). */
  dampening: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
}

/**
 * Base of the optimizers that end with PyTorch's SGD-with-momentum rule (SGD, LARS): one fused pass
 * computes d = scale·(g + λw), the momentum buffer, and w ← w − lr·step.
 */
export abstract class MomentumOptimizer<H extends SgdHyper> extends Optimizer<H> {
  protected override validate(g: Group<H>): void {
    super.validate(g);
    checkHyper(this.kind, 'momentum', g.momentum, g.momentum >= 0, 'a finite number ≥ 0');
    checkHyper(this.kind, 'dampening', g.dampening, Number.isFinite(g.dampening), 'a finite number');
    checkHyper(
      this.kind,
      'nesterov',
      g.nesterov,
      !g.nesterov || (g.momentum > 0 && g.dampening === 0),
      'false unless momentum > 0 and dampening = 0',
    );
  }

  /**
   * d = scale·(g + weightDecay·w); b = d at the parameter's first update, μb + (1 − τ)d after (the
   * buffer is stored in the parameter's dtype and read back, as PyTorch does); w ← w − lr·(d + μb)
   * with Nesterov, w − lr·b without, w − lr·d when μ = 0.
   */
  protected momentumStep(w: FloatArray, g: FloatArray, group: Group<H>, index: number, weightDecay: number, scale: number): void {
    const { lr, momentum: mu, dampening, nesterov } = group;
    const n = w.length;
    if (mu === 0) {
      for (let i = 0; i < n; i++) w[i] = (w[i] as number) - lr * scale * ((g[i] as number) + weightDecay * (w[i] as number));
      return;
    }
    const fresh = !this.hasSlot('momentumBuffer', index);
    const buf = this.slot('momentumBuffer', index, w);
    const keep = 1 - dampening;
    for (let i = 0; i < n; i++) {
      const wi = w[i] as number;
      const d = scale * ((g[i] as number) + weightDecay * wi);
      buf[i] = fresh ? d : mu * (buf[i] as number) + keep * d;
      const b = buf[i] as number;
      w[i] = wi - lr * (nesterov ? d + mu * b : b);
    }
  }
}

/**
 * Stochastic gradient descent with momentum, PyTorch's `torch.optim.SGD` semantics: with
 * d = g + λw (λ = weightDecay, 0 for `noDecay` parameters), the buffer is b = d at a parameter's
 * first update and b = μb + (1 − τ)d after; the step is d + μb (Nesterov) or b, and w ← w − lr·step.
 * Defaults: lr 1e-3, momentum 0, dampening 0, weightDecay 0, nesterov false.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * ```
 */
export class SGD extends MomentumOptimizer<SgdHyper> {
  constructor(params: readonly Parameter[] | readonly ParamGroup<SgdHyper>[], opts: Partial<SgdHyper> = {}) {
    super('SGD', params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, opts, ['momentumBuffer']);
  }

  protected update(w: FloatArray, g: FloatArray, group: Group<SgdHyper>, index: number, noDecay: boolean): void {
    this.momentumStep(w, g, group, index, noDecay ? 0 : group.weightDecay, 1);
  }
}
