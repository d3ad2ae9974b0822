import { groupNorm, layerNorm, parallelLayerNorm, rmsNorm } from '@normkit/norm';
import { fmtShape, NormkitError, reshape, Tensor, transpose } from '@normkit/tensor';
import type { FloatDType } from './init.js';
import { Module, Parameter } from './module.js';

/**
 * Where the features of a norm's input lie: 'last' — the last axis ([N, d], tokens [B, T, d]);
 * 'channels' — axis 1 of [N, C, H, W] (conv maps). A [N, C] input is the same in both.
 */
export type FeatureLayout = 'last' | 'channels';

/** Options shared by the normalisation modules. */
export interface NormModuleOptions {
  /** Added to the variance (mean square) inside the square root. Default 1e-5. */
  eps?: number;
  /** Learn γ (init 1) and β (init 0) per feature. Default true. */
  affine?: boolean;
  /** Where the features are. Default 'last'. */
  layout?: FeatureLayout;
  /** dtype of the parameters and buffers. Default 'float32'. */
  dtype?: FloatDType;
}

/**
 * Base of the normalisation modules: holds the feature count, ε, layout, and the optional γ
 * (`weight`, ones) and β (`bias`, zeros), both excluded from weight decay. A subclass normalises in
 * its `native` layout — 'last' for the per-sample norms (LN, RMSNorm, PLN), 'channels' for those
 * over [N, C, ...] (BatchNorm, GroupNorm, IterNorm) — and `forward` moves the features there: a
 * conv map goes channels-last (transpose) for a per-sample norm, which then normalises the channels at
 * each position; tokens [B, T, d] become rows [B·T, d] for a channel norm.
 */
export abstract class FeatureNorm extends Module {
  readonly weight: Parameter | undefined;
  readonly bias: Parameter | undefined;
  readonly eps: number;
  readonly layout: FeatureLayout;
  protected abstract readonly native: FeatureLayout;

  constructor(
    readonly numFeatures: number,
    opts: NormModuleOptions,
    withBias = opts.affine ?? true,
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1)
      throw new NormkitError('INVALID_ARGUMENT', `${new.target.name}: the feature count must be a positive integer, got ${numFeatures}`);
    this.eps = opts.eps ?? 1e-5;
    this.layout = opts.layout ?? 'last';
    const dt = opts.dtype ?? 'float32';
    this.weight = opts.affine === false ? undefined : this.param('weight', new Parameter(Tensor.ones([numFeatures], dt), true));
    this.bias = withBias ? this.param('bias', new Parameter(Tensor.zeros([numFeatures], dt), true)) : undefined;
  }

  /** Normalises x whose features are in the `native` layout. */
  protected abstract normalize(x: Tensor): Tensor;

  /**
   * Normalises x (rank ≥ 2) over its features — the last axis, or axis 1 with `layout: 'channels'` — and returns
   * the same shape; throws SHAPE_MISMATCH when that axis does not hold `numFeatures`.
   * @example new LayerNorm(256).forward(Tensor.randn([8, 256], 1))
   */
  forward(x: Tensor): Tensor {
    const axis = this.layout === 'channels' && x.rank > 2 ? 1 : x.rank - 1;
    if (x.rank < 2 || x.shape[axis] !== this.numFeatures)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${this.constructor.name}(${this.numFeatures}, layout '${this.layout}'): input ${fmtShape(x.shape)} must have ${this.numFeatures} features on axis ${axis} (and a batch axis)`,
        { shape: x.shape },
      );
    if (x.rank === 2 || this.layout === this.native) return this.normalize(x);
    if (this.layout === 'channels') {
      const toLast = [0, ...x.shape.slice(2).map((_, i) => i + 2), 1];
      const back = [0, x.rank - 1, ...x.shape.slice(2).map((_, i) => i + 1)];
      return transpose(this.normalize(transpose(x, toLast)), back);
    }
    return reshape(this.normalize(reshape(x, [-1, this.numFeatures])), x.shape);
  }

  protected get affineParams(): { scale: Tensor | undefined; bias: Tensor | undefined } {
    return { scale: this.weight?.value, bias: this.bias?.value };
  }
}

/**
 * LayerNorm over the features (PyTorch `nn.LayerNorm(d)`): (x − μ)/√(σ² + ε)·γ + β per sample, through
 * @normkit/norm's `layerNorm` op.
 * @example new LayerNorm(256).forward(Tensor.randn([8, 256], 1)).shape // [8, 256]
 */
export class LayerNorm extends FeatureNorm {
  protected readonly native = 'last';
  constructor(numFeatures: number, opts: NormModuleOptions = {}) {
    super(numFeatures, opts);
  }
  protected normalize(x: Tensor): Tensor {
    return layerNorm(x, { ...this.affineParams, epsilon: this.eps });
  }
}

/** Options of `RMSNorm`. */
export interface RmsNormModuleOptions extends NormModuleOptions {
  /** Learn β too (for an RMSNorm that replaces a LayerNorm, CBWC). Default false. */
  bias?: boolean;
}

/**
 * RMSNorm over the features: x/√(mean(x²) + ε)·γ (+ β with `bias: true`), through @normkit/norm's
 * `rmsNorm` op. With a zero-mean input it equals LayerNorm with the same γ, β, ε.
 * @example new RMSNorm(256, { bias: true }).forward(x)
 */
export class RMSNorm extends FeatureNorm {
  protected readonly native = 'last';
  constructor(numFeatures: number, opts: RmsNormModuleOptions = {}) {
    super(numFeatures, opts, (opts.affine ?? true) && (opts.bias ?? false));
  }
  protected normalize(x: Tensor): Tensor {
    return rmsNorm(x, { ...this.affineParams, epsilon: this.eps });
  }
}

/** Options of `PLN`. */
export interface PlnModuleOptions extends NormModuleOptions {
  /** Features per group. Default 8 (the Parallel-LN README's recommendation). */
  groupSize?: number;
  /** Alternatively the number of groups (LN-G). */
  numGroups?: number;
}

/**
 * Parallel LayerNorm (PLN): LayerNorm on each contiguous group of `groupSize` features (or of
 * `numGroups` groups), then γ, β per feature, through @normkit/norm's `parallelLayerNorm` op. One
 * group is LayerNorm; small groups make it a nonlinearity as well as a normaliser.
 * @example new PLN(256, { groupSize: 8 }).forward(x)
 */
export class PLN extends FeatureNorm {
  protected readonly native = 'last';
  readonly groupSize: number;
  constructor(numFeatures: number, opts: PlnModuleOptions = {}) {
    super(numFeatures, opts);
    const g = opts.numGroups !== undefined ? numFeatures / opts.numGroups : (opts.groupSize ?? 8);
    if (!Number.isInteger(g) || g < 1 || numFeatures % g !== 0)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `${new.target.name}(${numFeatures}): ${opts.numGroups !== undefined ? `${opts.numGroups} groups` : `group size ${g}`} does not divide the ${numFeatures} features`,
      );
    this.groupSize = g;
  }
  protected normalize(x: Tensor): Tensor {
    return parallelLayerNorm(x, { ...this.affineParams, groupSize: this.groupSize, epsilon: this.eps, axis: -1 });
  }
}

/**
 * LN-G: LayerNorm on G equal groups of the features (PLN with `numGroups` = G).
 * @example new LNG(256, 4).forward(x) // 4 groups of 64
 */
export class LNG extends PLN {
  constructor(numFeatures: number, groups: number, opts: NormModuleOptions = {}) {
    super(numFeatures, { ...opts, numGroups: groups });
  }
}

/**
 * GroupNorm (PyTorch `nn.GroupNorm(G, C)`): the channels of [N, C, ...] in G groups, each (sample,
 * group) normalised over its channels and positions, γ, β per channel; through @normkit/norm's
 * `groupNorm` op. Tokens [B, T, d] (layout 'last') are normalised per token.
 * @example new GroupNorm(4, 16, { layout: 'channels' }).forward(Tensor.randn([2, 16, 8, 8], 1))
 */
export class GroupNorm extends FeatureNorm {
  protected readonly native = 'channels';
  constructor(
    readonly numGroups: number,
    numChannels: number,
    opts: NormModuleOptions = {},
  ) {
    super(numChannels, opts);
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0)
      throw new NormkitError('INVALID_ARGUMENT', `GroupNorm: ${numGroups} groups do not divide ${numChannels} channels`);
  }
  protected normalize(x: Tensor): Tensor {
    return groupNorm(x, { ...this.affineParams, numGroups: this.numGroups, epsilon: this.eps });
  }
}
