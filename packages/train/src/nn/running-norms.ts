import { batchNorm, batchNormTraining, iterNorm, iterNormInference } from '@normkit/norm';
import { NormkitError, Tensor } from '@normkit/tensor';
import { FeatureNorm, type NormModuleOptions } from './norms.js';

// Norms over the batch, with running statistics: in train mode they normalise with the batch's own
// statistics and update the buffers by running ← (1 − momentum)·running + momentum·batch; in eval mode
// they use the buffers. Buffer updates are state, not part of any gradient.

/** Options of `BatchNorm` and `IterNorm`. */
export interface RunningNormOptions extends NormModuleOptions {
  /** Weight of the batch statistic in the running update. Default 0.1 (PyTorch). */
  momentum?: number;
}

/**
 * BatchNorm (PyTorch `nn.BatchNorm1d` over [N, C], `nn.BatchNorm2d` over [N, C, H, W]): per channel,
 * train mode normalises with the batch mean and biased variance and updates the buffers `runningMean`
 * (init 0) and `runningVar` (init 1, updated with the unbiased batch variance as PyTorch does); eval
 * mode normalises with the buffers. Through @normkit/norm's `batchNormTraining` / `batchNorm` ops.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm(16, { layout: 'channels' });
 * bn.forward(Tensor.randn([8, 16, 14, 14], 1)); // updates runningMean / runningVar
 * bn.eval().forward(x);                          // uses them
 * ```
 */
export class BatchNorm extends FeatureNorm {
  protected readonly native = 'channels';
  readonly momentum: number;

  constructor(numFeatures: number, opts: RunningNormOptions = {}) {
    super(numFeatures, opts);
    this.momentum = checkMomentum('BatchNorm', opts.momentum);
    const dt = opts.dtype ?? 'float32';
    this.buffer('runningMean', Tensor.zeros([numFeatures], dt));
    this.buffer('runningVar', Tensor.ones([numFeatures], dt));
  }

  /** The running mean [C]. @example bn.runningMean.toFlatArray() */
  get runningMean(): Tensor {
    return this.getBuffer('runningMean');
  }

  /** The running (unbiased) variance [C]. @example bn.runningVar.toFlatArray() */
  get runningVar(): Tensor {
    return this.getBuffer('runningVar');
  }

  protected normalize(x: Tensor): Tensor {
    const common = { ...this.affineParams, epsilon: this.eps, channelAxis: 1 };
    if (!this.training) return batchNorm(x, { ...common, runningMean: this.runningMean, runningVar: this.runningVar });
    const r = batchNormTraining(x, {
      ...common,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      momentum: this.momentum,
      unbiasedRunningVar: true,
    });
    this.buffer('runningMean', r.runningMean);
    this.buffer('runningVar', r.runningVar);
    return r.y;
  }
}

/** Options of `IterNorm`. */
export interface IterNormModuleOptions extends RunningNormOptions {
  /** Channel groups whitened separately. Default 1 (IterNorm-pytorch's `num_groups`). */
  numGroups?: number;
  /** Newton iterations. Default 5. */
  T?: number;
}

/**
 * IterNorm (Huang et al. 2019): per group of channels, centre, Σ = εI + x_c·x_cᵀ/m, T Newton steps
 * towards Σ^(−1/2), x̂ = W·x_c, then γ, β per channel. Train mode uses the batch and updates the
 * buffers `runningMean` (init 0) and `runningWm` (init I per group); eval mode applies them. Defaults
 * T = 5, ε = 1e-5, momentum 0.1, one group. Through @normkit/norm's `iterNorm` / `iterNormInference`.
 *
 * @example
 * ```ts
 * const it = new IterNorm(16, { numGroups: 2 });
 * it.forward(Tensor.randn([64, 16], 1)); // whitened, buffers updated
 * ```
 */
export class IterNorm extends FeatureNorm {
  protected readonly native = 'channels';
  readonly momentum: number;
  readonly numGroups: number;
  readonly T: number;

  constructor(numFeatures: number, opts: IterNormModuleOptions = {}) {
    super(numFeatures, { ...opts, eps: opts.eps ?? 1e-5 });
    this.momentum = checkMomentum('IterNorm', opts.momentum);
    this.numGroups = opts.numGroups ?? 1;
    this.T = opts.T ?? 5;
    if (!Number.isInteger(this.numGroups) || this.numGroups < 1 || numFeatures % this.numGroups !== 0)
      throw new NormkitError('INVALID_ARGUMENT', `IterNorm: ${this.numGroups} groups do not divide ${numFeatures} channels`);
    const d = numFeatures / this.numGroups;
    const dt = opts.dtype ?? 'float32';
    const wm = Tensor.zeros([this.numGroups, d, d], dt);
    for (let g = 0; g < this.numGroups; g++) for (let i = 0; i < d; i++) (wm.data as Float32Array)[g * d * d + i * d + i] = 1;
    this.buffer('runningMean', Tensor.zeros([numFeatures], dt));
    this.buffer('runningWm', wm);
  }

  /** The running mean [C]. @example it.runningMean */
  get runningMean(): Tensor {
    return this.getBuffer('runningMean');
  }

  /** The running whitening matrices [G, d, d]. @example it.runningWm */
  get runningWm(): Tensor {
    return this.getBuffer('runningWm');
  }

  protected normalize(x: Tensor): Tensor {
    const common = { ...this.affineParams, numGroups: this.numGroups };
    if (!this.training) return iterNormInference(x, { ...common, runningMean: this.runningMean, runningWm: this.runningWm });
    const r = iterNorm(x, {
      ...common,
      T: this.T,
      epsilon: this.eps,
      momentum: this.momentum,
      runningMean: this.runningMean,
      runningWm: this.runningWm,
    });
    this.buffer('runningMean', r.runningMean);
    this.buffer('runningWm', r.runningWm);
    return r.y;
  }
}

function checkMomentum(name: string, m: number | undefined): number {
  const v = m ?? 0.1;
  if (!(v >= 0 && v <= 1)) throw new NormkitError('INVALID_ARGUMENT', `${name}: momentum must be in [0, 1], got ${v}`);
  return v;
}
