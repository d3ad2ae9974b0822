import { centerColumns } from '@normkit/norm';
import { conv2d, fmtShape, maxPool, NormkitError, type Tensor } from '@normkit/tensor';
import { type InitOptions, rngOf, uniformInit } from './init.js';
import { Module, Parameter } from './module.js';

/** Options of `Conv2d`. */
export interface Conv2dOptions extends InitOptions {
  /** Stride (both axes, or [sh, sw]). Default 1. */
  stride?: number | [number, number];
  /** Zero padding on every side (both axes, or [ph, pw]). Default 0. */
  padding?: number | [number, number];
  /** Channel groups: in and out channels must both divide by it. Default 1. */
  groups?: number;
  /** Learn a per-channel bias. Default true. */
  bias?: boolean;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/**
 * 2-D convolution over [N, C, H, W] (PyTorch `nn.Conv2d`): weight [out, in/groups, kh, kw], bias
 * [out], both initialised U(−1/√fan_in, 1/√fan_in) with fan_in = in/groups·kh·kw (weight first, then
 * bias), PyTorch's default.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(1, 16, 3, { padding: 1, seed: 1 });
 * conv.forward(Tensor.zeros([8, 1, 28, 28])).shape; // [8, 16, 28, 28]
 * ```
 */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | undefined;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly groups: number;

  /** `names`: what the two parameters are registered as (`CenteredConv2d` stores its free V, b_v as `weightV`, `biasV`). */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    opts: Conv2dOptions = {},
    names: [string, string] = ['weight', 'bias'],
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || inChannels % this.groups !== 0 || outChannels % this.groups !== 0)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `Conv2d(${inChannels} → ${outChannels}): groups ${this.groups} must be a positive integer dividing both channel counts`,
      );
    const rng = rngOf(opts.seed);
    const fanIn = (inChannels / this.groups) * kh * kw;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.param(names[0], new Parameter(uniformInit([outChannels, inChannels / this.groups, kh, kw], bound, rng, opts.dtype)));
    this.bias =
      opts.bias === false ? undefined : this.param(names[1], new Parameter(uniformInit([outChannels], bound, rng, opts.dtype), true));
  }

  /** The kernel the forward pass uses, [out, in/groups, kh, kw]. @example conv.effectiveWeight() */
  effectiveWeight(): Tensor {
    return this.weight.value;
  }

  /** The bias the forward pass adds, [out]. @example conv.effectiveBias() */
  effectiveBias(): Tensor | undefined {
    return this.bias?.value;
  }

  /**
   * [N, in, H, W] → [N, out, H′, W′] with H′ = ⌊(H + 2·padding − kh)/stride⌋ + 1 (likewise W′); throws
   * SHAPE_MISMATCH when x is not rank 4 with `inChannels` channels.
   * @example conv.forward(Tensor.zeros([8, 1, 28, 28]))
   */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${this.constructor.name}(${this.inChannels} → ${this.outChannels}): input ${fmtShape(x.shape)} must be [N, ${this.inChannels}, H, W]`,
        { shape: x.shape },
      );
    const [ph, pw] = this.padding;
    return conv2d(x, this.effectiveWeight(), this.effectiveBias(), { strides: this.stride, pads: [ph, pw, ph, pw], group: this.groups });
  }
}

/**
 * CBWC convolution: learns a free kernel V and bias b_v (`weightV`, `biasV`, initialised like
 * `Conv2d`) and convolves with W = V − mean(V over the output channels) — for each (in-channel, kh,
 * kw) tap — and b = b_v − mean(b_v), through `centerColumns`. At every position the output channels
 * then sum to 0, so a per-position LayerNorm over channels equals RMSNorm. Only groups = 1: centring a
 * grouped kernel over all outputs would mix taps of different input channels.
 *
 * @example
 * ```ts
 * const conv = new CenteredConv2d(1, 16, 3, { padding: 1, seed: 1 });
 * ```
 */
export class CenteredConv2d extends Conv2d {
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], opts: Conv2dOptions = {}) {
    if ((opts.groups ?? 1) !== 1)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `CenteredConv2d(${inChannels} → ${outChannels}): groups must be 1 (got ${opts.groups}); a grouped kernel cannot be column-centred without becoming dense`,
      );
    super(inChannels, outChannels, kernelSize, opts, ['weightV', 'biasV']);
  }

  /** W = V − mean(V, output channels). @example conv.effectiveWeight() */
  override effectiveWeight(): Tensor {
    return centerColumns(this.weight.value, 'conv');
  }

  /** b = b_v − mean(b_v). @example conv.effectiveBias() */
  override effectiveBias(): Tensor | undefined {
    return this.bias && centerColumns(this.bias.value, 'bias');
  }
}

/**
 * Max pooling over [N, C, H, W] with a square window (stride = window by default, PyTorch `nn.MaxPool2d`).
 * @example new MaxPool2d(2).forward(Tensor.zeros([1, 16, 28, 28])).shape // [1, 16, 14, 14]
 */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
  ) {
    super();
  }

  /** [N, C, H, W] → [N, C, ⌊(H − k)/stride⌋ + 1, ⌊(W − k)/stride⌋ + 1], the max of each window. @example pool.forward(x) */
  forward(x: Tensor): Tensor {
    return maxPool(x, { kernelShape: [this.kernelSize, this.kernelSize], strides: [this.stride, this.stride] });
  }
}
