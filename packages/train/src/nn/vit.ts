import { centerColumns } from '@normkit/norm';
import { add, concat, expand, fmtShape, gemm, NormkitError, reshape, slice, type Tensor, transpose } from '@normkit/tensor';
import { MultiHeadSelfAttention } from './attention.js';
import { CenteredConv2d, Conv2d } from './conv.js';
import { deriveSeed, type FloatDType, normalInit, rngOf, type Seed } from './init.js';
import { GELU } from './layers.js';
import { CenteredLinear, Linear } from './linear.js';
import { type MakeNormOptions, makeNorm } from './make-norm.js';
import type { NetworkOptions } from './mlp.js';
import { Module, Parameter } from './module.js';
import { Sequential } from './sequential.js';

/** Options of `ViT`; the defaults are "ViT-tiny" for 28×28 images. */
export interface VitOptions extends NetworkOptions {
  /** Input height = width. Default 28. */
  imageSize?: number;
  /** Input channels. Default 1. */
  inChannels?: number;
  /** Patch side (patch embedding: a Conv2d with kernel = stride = patch). Default 4. */
  patchSize?: number;
  /** Width d of the residual stream. Default 64. */
  dim?: number;
  /** Blocks. Default 4. */
  depth?: number;
  /** Attention heads. Default 4. */
  heads?: number;
  /** Hidden width of each block's MLP. Default 128. */
  mlpDim?: number;
  /** Classes. Default 10. */
  numClasses?: number;
}

/** Options of `TransformerBlock`. */
export interface TransformerBlockOptions {
  /** Seed of the block; attn and mlp derive theirs from it. */
  seed: Seed;
  /** dtype of the parameters. Default 'float32'. */
  dtype?: FloatDType;
  /** Make `attn.proj` and `mlp.fc2` (the block's writes into the residual stream) CenteredLinear. */
  centered: boolean;
  /** Kind of norm1 and norm2. */
  norm: VitOptions['norm'];
  /** Options of norm1 and norm2 (groups, dtype...). */
  normOpts: MakeNormOptions;
}

/**
 * The MLP of a transformer block: `fc1` d → hidden, GELU (erf), `fc2` hidden → d (a `CenteredLinear`
 * when it writes into a CBWC residual stream).
 * @example new TransformerMlp(64, 128, { seed: 1 }).forward(tokens)
 */
export class TransformerMlp extends Module {
  readonly fc1: Linear;
  readonly act: GELU;
  readonly fc2: Linear;

  constructor(dim: number, hidden: number, opts: { seed?: Seed; dtype?: FloatDType; centeredOut?: boolean } = {}) {
    super();
    const seed = opts.seed ?? 0;
    this.fc1 = this.child('fc1', new Linear(dim, hidden, { seed: deriveSeed(seed, 'fc1'), dtype: opts.dtype }));
    this.act = this.child('act', new GELU());
    const o2 = { seed: deriveSeed(seed, 'fc2'), dtype: opts.dtype };
    this.fc2 = this.child('fc2', opts.centeredOut ? new CenteredLinear(hidden, dim, o2) : new Linear(hidden, dim, o2));
  }

  /** Tokens [..., dim] → fc2(GELU(fc1(x))), [..., dim]. @example mlp.forward(tokens) */
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

/**
 * A pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)).
 * @example new TransformerBlock(64, 4, 128, { norm: 'ln', seed: 1 }).forward(tokens)
 */
export class TransformerBlock extends Module {
  readonly norm1: Module;
  readonly attn: MultiHeadSelfAttention;
  readonly norm2: Module;
  readonly mlp: TransformerMlp;

  constructor(dim: number, heads: number, mlpDim: number, o: TransformerBlockOptions) {
    super();
    const sub = (name: string) => ({ seed: deriveSeed(o.seed, name), dtype: o.dtype, centeredOut: o.centered });
    this.norm1 = this.child('norm1', makeNorm(o.norm, dim, o.normOpts));
    this.attn = this.child('attn', new MultiHeadSelfAttention(dim, heads, sub('attn')));
    this.norm2 = this.child('norm2', makeNorm(o.norm, dim, o.normOpts));
    this.mlp = this.child('mlp', new TransformerMlp(dim, mlpDim, sub('mlp')));
  }

  /** Tokens [B, T, dim] → h + mlp(norm2(h)) with h = x + attn(norm1(x)), [B, T, dim]. @example block.forward(tokens) */
  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.norm1.forward(x)));
    return add(h, this.mlp.forward(this.norm2.forward(h)));
  }
}

/**
 * Vision Transformer (timm layout and names): `patchEmbed` (Conv2d, kernel = stride = patch) → tokens,
 * a learned `clsToken` [1, 1, d] prepended, learned positions `posEmbed` [1, 1 + patches, d] added,
 * `depth` pre-norm `blocks`, a final `norm`, and the `head` Linear on the class token. Class token
 * and positions start N(0, 0.02²) (see `init.ts`), layers PyTorch's defaults.
 *
 * With `cbwc` every source of the residual stream is column-centred: the patch embedding
 * (`CenteredConv2d`), the class token and the positions (centred over d in the forward pass, through
 * `centerColumns`), each attention output projection `attn.proj` and each MLP `mlp.fc2`
 * (`CenteredLinear`); the stream is a sum of those, so it is zero-mean over d at every token, and
 * every norm (norm1, norm2, the final norm) is an RMSNorm with γ and β, exactly equal to the LayerNorm
 * it replaces. The equivalence holds only because every one of those sources is centred: one plain
 * source (a bias, an uncentred position table) makes the stream's mean non-zero and RMSNorm ≠ LN. The
 * qkv and fc1 layers read norm outputs and write nowhere near the stream; they stay plain.
 *
 * @example
 * ```ts
 * const vit = new ViT({ norm: 'ln', seed: 1 });                 // ViT-tiny: 28×28, patch 4, d 64, 4 blocks
 * vit.forward(Tensor.zeros([2, 1, 28, 28])).shape;              // [2, 10]
 * const cbwc = new ViT({ norm: 'cbwc', seed: 1 });              // RMSNorm + centred sources
 * ```
 */
export class ViT extends Module {
  readonly patchEmbed: Conv2d;
  readonly clsToken: Parameter;
  readonly posEmbed: Parameter;
  readonly blocks: Sequential;
  readonly norm: Module;
  readonly head: Linear;
  readonly dim: number;
  readonly patchSize: number;
  readonly centered: boolean;

  constructor(opts: VitOptions) {
    super();
    const size = opts.imageSize ?? 28;
    const p = (this.patchSize = opts.patchSize ?? 4);
    const d = (this.dim = opts.dim ?? 64);
    if (size % p !== 0) throw new NormkitError('INVALID_ARGUMENT', `ViT: patch size ${p} does not divide the image size ${size}`);
    const patches = (size / p) ** 2;
    this.centered = opts.centerSources ?? opts.norm === 'cbwc';
    const dt = opts.dtype;
    const seed = (name: string) => deriveSeed(opts.seed, name);
    const Conv = this.centered ? CenteredConv2d : Conv2d;
    this.patchEmbed = this.child('patchEmbed', new Conv(opts.inChannels ?? 1, d, p, { stride: p, seed: seed('patchEmbed'), dtype: dt }));
    this.clsToken = this.param('clsToken', new Parameter(normalInit([1, 1, d], 0.02, rngOf(seed('clsToken')), dt), true));
    this.posEmbed = this.param('posEmbed', new Parameter(normalInit([1, patches + 1, d], 0.02, rngOf(seed('posEmbed')), dt), true));
    const normOpts = { groups: opts.groups, groupSize: opts.groupSize, dtype: dt };
    const blocks = Array.from(
      { length: opts.depth ?? 4 },
      (_, i) =>
        new TransformerBlock(d, opts.heads ?? 4, opts.mlpDim ?? 128, {
          seed: seed(`blocks.${i}`),
          dtype: dt,
          centered: this.centered,
          norm: opts.norm,
          normOpts,
        }),
    );
    this.blocks = this.child('blocks', new Sequential(...blocks));
    this.norm = this.child('norm', makeNorm(opts.norm, d, normOpts));
    this.head = this.child('head', new Linear(d, opts.numClasses ?? 10, { seed: seed('head'), dtype: dt }));
  }

  /** The class token and the position table as the forward pass uses them (centred over d with CBWC). @example vit.tokenParams().pos */
  tokenParams(): { cls: Tensor; pos: Tensor } {
    const cls = this.clsToken.value;
    const pos = this.posEmbed.value;
    return this.centered ? { cls: centerColumns(cls, 'embedding'), pos: centerColumns(pos, 'embedding') } : { cls, pos };
  }

  /**
   * The patch embedding as tokens [B, patches, d]: `patchEmbed` (kernel = stride = patch, no padding)
   * computed as one GEMM of the image's patches, each flattened over (channel, row, column), by the
   * kernel flattened the same way, so the result is already token-major (no transpose of the feature
   * map). Equal to the convolution, within float32 rounding.
   * @example vit.patchTokens(Tensor.zeros([2, 1, 28, 28])).shape // [2, 49, 64]
   */
  patchTokens(x: Tensor): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    const p = this.patchSize;
    if (C !== this.patchEmbed.inChannels || H % p !== 0 || W % p !== 0)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `ViT: input ${fmtShape(x.shape)} must be [B, ${this.patchEmbed.inChannels}, H, W] with H, W multiples of ${p}`,
        {
          shape: x.shape,
        },
      );
    const [gh, gw] = [H / p, W / p];
    const patches = reshape(transpose(reshape(x, [B, C, gh, p, gw, p]), [0, 2, 4, 1, 3, 5]), [B * gh * gw, C * p * p]);
    const w = reshape(this.patchEmbed.effectiveWeight(), [this.dim, C * p * p]);
    return reshape(gemm(patches, w, this.patchEmbed.effectiveBias(), { transB: true }), [B, gh * gw, this.dim]);
  }

  /** Images [B, C, H, W] → the final-norm token states [B, 1 + patches, d]. @example vit.features(x) */
  features(x: Tensor): Tensor {
    if (x.rank !== 4)
      throw new NormkitError('SHAPE_MISMATCH', `ViT: input ${fmtShape(x.shape)} must be images [B, C, H, W]`, { shape: x.shape });
    const B = x.shape[0] as number;
    const tokens = this.patchTokens(x); // [B, patches, d]
    const { cls, pos } = this.tokenParams();
    const seq = add(concat([expand(cls, [B, 1, this.dim]), tokens], 1), pos);
    return this.norm.forward(this.blocks.forward(seq));
  }

  /**
   * Images [B, C, H, W] → class logits [B, numClasses], from the final-norm class token; throws SHAPE_MISMATCH when
   * x is not images with H, W multiples of the patch size.
   * @example vit.forward(Tensor.zeros([2, 1, 28, 28])) // [2, 10]
   */
  forward(x: Tensor): Tensor {
    const h = this.features(x);
    const B = x.shape[0] as number;
    return this.head.forward(reshape(slice(h, [0], [1], [1]), [B, this.dim]));
  }
}
