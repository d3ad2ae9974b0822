// The networks' fast paths against the plain formulations they replace, in float64 (tolerance 1e-12
// relative to the largest output): ViT's patch embedding as one GEMM of patches vs the strided
// convolution + transpose; MultiHeadSelfAttention on the fused selfAttention op vs the timm chain of
// reshape / transpose / matmul / softmax.
import { conv2d, matmul, mul, reshape, slice, softmax, Tensor, transpose } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { MultiHeadSelfAttention, ViT } from '../src/index.js';

function expectClose(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.data as Float64Array;
  const y = b.data as Float64Array;
  const scale = Math.max(1e-300, ...Array.from(y, Math.abs));
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(1e-12 * scale);
}

describe('fast paths equal the formulations they replace', () => {
  for (const cbwc of [false, true])
    it(`ViT patch tokens: GEMM of patches = convolution + transpose (${cbwc ? 'CBWC' : 'plain'}, 2 channels, 12×8)`, () => {
      const vit = new ViT({
        norm: cbwc ? 'cbwc' : 'ln',
        seed: 3,
        imageSize: 12,
        inChannels: 2,
        patchSize: 4,
        dim: 8,
        depth: 1,
        heads: 2,
        dtype: 'float64',
      });
      const x = Tensor.randn([3, 2, 12, 8], 4, { dtype: 'float64' });
      const e = vit.patchEmbed;
      const fm = conv2d(x, e.effectiveWeight(), e.effectiveBias(), { strides: [4, 4] });
      expectClose(vit.patchTokens(x), transpose(reshape(fm, [3, 8, -1]), [0, 2, 1]));
    });

  it('MultiHeadSelfAttention = timm reshape/transpose/matmul/softmax chain', () => {
    const attn = new MultiHeadSelfAttention(12, 3, { seed: 5, dtype: 'float64' });
    const x = Tensor.randn([2, 7, 12], 6, { dtype: 'float64' });
    const qkv = reshape(attn.qkv.forward(x), [2, 7, 3, 3, 4]);
    const part = (i: number, perm: number[]) => transpose(reshape(slice(qkv, [i], [i + 1], [2]), [2, 7, 3, 4]), perm);
    const scores = matmul(mul(part(0, [0, 2, 1, 3]), 0.5), part(1, [0, 2, 3, 1]));
    const heads = matmul(softmax(scores, -1), part(2, [0, 2, 1, 3]));
    expectClose(attn.forward(x), attn.proj.forward(reshape(transpose(heads, [0, 2, 1, 3]), [2, 7, 12])));
  });
});
