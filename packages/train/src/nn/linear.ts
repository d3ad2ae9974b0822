import { centerColumns } from '@normkit/norm';
import { fmtShape, gemm, NormkitError, reshape, type Tensor } from '@normkit/tensor';
import { type InitOptions, rngOf, uniformInit } from './init.js';
import { Module, Parameter } from './module.js';

/** Options of `Linear` and `CenteredLinear`. */
export interface LinearOptions extends InitOptions {
  /** Learn an additive bias. Default true. */
  bias?: boolean;
}

/**
 * y = x·Wᵀ + b over the last axis of x (PyTorch `nn.Linear`): weight [out, in], bias [out]. Both are
 * initialised U(−1/√in, 1/√in) from the seed (weight first, then bias), PyTorch's default.
 *
 * @example
 * ```ts
 * const fc = new Linear(784, 256, { seed: 1 });
 * fc.forward(Tensor.zeros([32, 784])).shape; // [32, 256]
 * ```
 */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | undefined;

  /** `names`: what the two parameters are registered as (`CenteredLinear` stores its free V, b_v as `weightV`, `biasV`). */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
    names: [string, string] = ['weight', 'bias'],
  ) {
    super();
    const rng = rngOf(opts.seed);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param(names[0], new Parameter(uniformInit([outFeatures, inFeatures], bound, rng, opts.dtype)));
    this.bias =
      opts.bias === false ? undefined : this.param(names[1], new Parameter(uniformInit([outFeatures], bound, rng, opts.dtype), true));
  }

  /** The weight the forward pass multiplies by, [out, in]. @example fc.effectiveWeight().shape // [256, 784] */
  effectiveWeight(): Tensor {
    return this.weight.value;
  }

  /** The bias the forward pass adds, [out] (undefined without bias). @example fc.effectiveBias() */
  effectiveBias(): Tensor | undefined {
    return this.bias?.value;
  }

  /**
   * x·Wᵀ + b over the last axis: [..., in] → [..., out]; throws SHAPE_MISMATCH when the last axis is not `inFeatures`.
   * @example fc.forward(Tensor.zeros([32, 784])) // [32, 256]
   */
  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${this.constructor.name}(${this.inFeatures} → ${this.outFeatures}): input ${fmtShape(x.shape)} must end in ${this.inFeatures} features`,
        { shape: x.shape },
      );
    // One fused GEMM op, x·Wᵀ + b with W read transposed in place; tokens [..., in] run as rows.
    const rows = x.rank === 2 ? x : reshape(x, [-1, this.inFeatures]);
    const y = gemm(rows, this.effectiveWeight(), this.effectiveBias(), { transB: true });
    return x.rank === 2 ? y : reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
  }
}

/**
 * CBWC (column-based weight centering) linear layer: it learns a free V [out, in] and b_v [out]
 * (parameters `weightV`, `biasV`, initialised like `Linear`) and computes y = x·Wᵀ + b with
 * W = V − mean(V over the output axis) and b = b_v − mean(b_v), through @normkit/norm's
 * `centerColumns` op, so gradients reach V. Every column of W sums to 0 by construction, before and
 * after any optimizer step, so 1ᵀy = 0 for every x: a LayerNorm reading y equals an RMSNorm with the
 * same γ, β, ε.
 *
 * @example
 * ```ts
 * const fc = new CenteredLinear(784, 256, { seed: 1 });
 * const ln = rmsNorm(fc.forward(x)); // = layerNorm of the same activations
 * fc.effectiveWeight();              // column-centred W
 * ```
 */
export class CenteredLinear extends Linear {
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super(inFeatures, outFeatures, opts, ['weightV', 'biasV']);
  }

  /** W = V − mean(V, output axis), [out, in]: every column has zero mean. @example fc.effectiveWeight() */
  override effectiveWeight(): Tensor {
    return centerColumns(this.weight.value, 'linear');
  }

  /** b = b_v − mean(b_v). @example fc.effectiveBias() */
  override effectiveBias(): Tensor | undefined {
    return this.bias && centerColumns(this.bias.value, 'bias');
  }
}
