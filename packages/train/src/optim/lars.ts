import type { Parameter } from '../nn/module.js';
import { checkHyper, type FloatArray, type Group, type ParamGroup } from './optimizer.js';
import { MomentumOptimizer, type SgdHyper } from './sgd.js';

/** Hyperparameters of `LARS`. */
export interface LarsHyper extends SgdHyper {
  /** Trust coefficient η (default 1e-3). */
  eta: number;
}

/**
 * Layer-wise adaptive rate scaling (You et al. 2017) as the SimCLR / Barlow Twins / INTL code bases
 * use it. For each parameter that is not `noDecay`: d = (g + λw)·q with the trust ratio
 * q = η·‖w‖ / (‖g‖ + λ·‖w‖) when ‖w‖ > 0 and ‖g‖ > 0, else q = 1. `noDecay` parameters (biases,
 * norm gains) get neither decay nor adaptation: d = g. Then SGD momentum as in `SGD` (buffer b = d at
 * the first update, b = μb + (1 − τ)d after, Nesterov optional) and w ← w − lr·b.
 * Defaults: lr 0.1, momentum 0.9, dampening 0, weightDecay 0, eta 1e-3, nesterov false.
 *
 * @example
 * ```ts
 * const opt = new LARS(model.parameters(), { lr: 0.3, weightDecay: 1e-6 }); // biases: new Parameter(b, true)
 * ```
 */
export class LARS extends MomentumOptimizer<LarsHyper> {
  constructor(params: readonly Parameter[] | readonly ParamGroup<LarsHyper>[], opts: Partial<LarsHyper> = {}) {
    super('LARS', params, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, eta: 1e-3 }, opts, ['momentumBuffer']);
  }

  protected override validate(g: Group<LarsHyper>): void {
    super.validate(g);
    checkHyper(this.kind, 'eta', g.eta, g.eta > 0, 'a finite number > 0');
  }

  protected update(w: FloatArray, g: FloatArray, group: Group<LarsHyper>, index: number, noDecay: boolean): void {
    if (noDecay) {
      this.momentumStep(w, g, group, index, 0, 1);
      return;
    }
    this.momentumStep(w, g, group, index, group.weightDecay, trustRatio(w, g, group.eta, group.weightDecay));
  }
}

/**
 * LARS's layer-wise trust ratio η·‖w‖ / (‖g‖ + λ·‖w‖), or 1 when either norm is 0 (norms summed in
 * float64).
 * @example trustRatio(new Float32Array([3, 4]), new Float32Array([0, 1]), 1e-3, 0) // 0.005
 */
export function trustRatio(w: FloatArray, g: FloatArray, eta: number, weightDecay: number): number {
  let ww = 0;
  let gg = 0;
  for (let i = 0; i < w.length; i++) {
    const wi = w[i] as number;
    const gi = g[i] as number;
    ww += wi * wi;
    gg += gi * gi;
  }
  const wn = Math.sqrt(ww);
  const gn = Math.sqrt(gg);
  return wn > 0 && gn > 0 ? (eta * wn) / (gn + weightDecay * wn) : 1;
}
