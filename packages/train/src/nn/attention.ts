import { fmtShape, NormkitError, selfAttention, type Tensor } from '@normkit/tensor';
import { deriveSeed, type InitOptions } from './init.js';
import { CenteredLinear, Linear } from './linear.js';
import { Module } from './module.js';

/** Options of `MultiHeadSelfAttention`. */
export interface AttentionOptions extends InitOptions {
  /** Make the output projection a `CenteredLinear` (it writes into a CBWC residual stream). Default false. */
  centeredOut?: boolean;
}

/**
 * Multi-head self-attention over tokens [B, T, d] (timm's ViT `Attention`): one `qkv` Linear d → 3d,
 * heads of d_h = d/heads, softmax(Q·Kᵀ/√d_h)·V per head, heads concatenated, then the `proj` Linear
 * d → d. No mask, no dropout.
 *
 * @example
 * ```ts
 * const attn = new MultiHeadSelfAttention(64, 4, { seed: 1 });
 * attn.forward(Tensor.randn([2, 50, 64], 2)).shape; // [2, 50, 64]
 * ```
 */
export class MultiHeadSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    opts: AttentionOptions = {},
  ) {
    super();
    if (!Number.isInteger(numHeads) || numHeads < 1 || dim % numHeads !== 0)
      throw new NormkitError('INVALID_ARGUMENT', `MultiHeadSelfAttention: ${numHeads} heads do not divide the width ${dim}`);
    this.headDim = dim / numHeads;
    const seed = opts.seed ?? 0;
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, { seed: deriveSeed(seed, 'qkv'), dtype: opts.dtype }));
    const projOpts = { seed: deriveSeed(seed, 'proj'), dtype: opts.dtype };
    this.proj = this.child('proj', opts.centeredOut ? new CenteredLinear(dim, dim, projOpts) : new Linear(dim, dim, projOpts));
  }

  /** Tokens [B, T, dim] → [B, T, dim]; throws SHAPE_MISMATCH for any other shape. @example attn.forward(tokens) */
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `MultiHeadSelfAttention(${this.dim}): input ${fmtShape(x.shape)} must be tokens [B, T, ${this.dim}]`,
        {
          shape: x.shape,
        },
      );
    // One fused op reads the heads in place from the packed [B, T, 3d] projection (Q, K, V each
    // [heads, d_h]) and writes them side by side, [B, T, d], ready for proj.
    return this.proj.forward(selfAttention(this.qkv.forward(x), this.numHeads));
  }
}
