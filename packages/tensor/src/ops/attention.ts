import { getBackend } from '../backend.js';
import { attentionKernel } from '../cpu/attention.js';
import { fmtShape, NormkitError } from '../errors.js';
import { defineOp, isRecording, runOp } from '../op-registry.js';
import type { Tensor } from '../tensor.js';
import { gradKernels, requireFloat } from './common.js';

// Fused multi-head self-attention: one op (one tape entry, one backward kernel) in place of the
// reshape / transpose / matmul / softmax / matmul chain, reading the heads in place from the packed
// QKV projection.

type AttentionAttrs = { heads: number; scale: number };

const SELF_ATTENTION = defineOp<AttentionAttrs, Tensor | undefined>({
  name: 'selfAttention',
  grad: (dy, { inputs: [qkv], attrs, saved }) => [gradKernels().selfAttention(dy, qkv as Tensor, attrs.heads, attrs.scale, saved)],
});

/** Options of `selfAttention`. */
export interface SelfAttentionOptions {
  /** Multiplies the scores Q·Kᵀ before the softmax. Default 1/√(d/heads). */
  scale?: number;
}

/**
 * Multi-head self-attention over packed QKV (no mask, no dropout): `qkv` [B, T, 3·d] is the output of
 * one d → 3d projection, laid out along its last axis as [3, heads, d/heads] (Q, then K, then V; timm's
 * ViT `qkv`). Returns [B, T, d]: softmax(scale·Q_h·K_hᵀ)·V_h of every head h, heads side by side, ready
 * for the output projection. The same as reshaping to [B, T, 3, heads, d/heads], transposing each part
 * to [B, heads, T, d/heads] and running matmul / softmax / matmul, but in one op; under a gradient
 * tape the float32 kernels keep the attention probabilities for the backward pass.
 *
 * @example
 * ```ts
 * const qkv = Tensor.randn([2, 50, 3 * 64], 1);
 * selfAttention(qkv, 4).shape; // [2, 50, 64]
 * ```
 */
export function selfAttention(qkv: Tensor, heads: number, opts: SelfAttentionOptions = {}): Tensor {
  requireFloat('selfAttention', qkv);
  if (!Number.isInteger(heads) || heads < 1)
    throw new NormkitError('INVALID_ARGUMENT', `selfAttention: heads must be a positive integer, got ${heads}`, { op: 'selfAttention' });
  const last = qkv.shape[qkv.rank - 1] as number;
  if (qkv.rank !== 3 || last % (3 * heads) !== 0 || last === 0)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `selfAttention: qkv ${fmtShape(qkv.shape)} must be [B, T, 3·d] with d divisible by ${heads} heads; project the tokens with a d → 3d Linear first`,
      { op: 'selfAttention', shape: qkv.shape },
    );
  const scale = opts.scale ?? 1 / Math.sqrt(last / 3 / heads);
  if (!Number.isFinite(scale))
    throw new NormkitError('INVALID_ARGUMENT', `selfAttention: scale must be finite, got ${scale}`, { op: 'selfAttention' });
  const be = getBackend();
  const keep = isRecording(); // a gradient may follow: keep the probabilities for it
  return runOp(SELF_ATTENTION, [qkv], { heads, scale }, () => {
    const r = be.selfAttention ? be.selfAttention(qkv, heads, scale, keep) : attentionKernel(qkv, heads, scale, keep);
    return { output: r.y, saved: r.probs };
  });
}
