import type { Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import type { Architecture, BuildOptions, Cfg, ZooSize } from '../architecture.js';
import { Layers, patchEmbed } from '../layers.js';

const VIT: Record<ZooSize, Cfg & { patch: number; image: number; classes: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, patch: 4, image: 16, classes: 10 },
  small: { layers: 12, d: 384, heads: 6, patch: 16, image: 224, classes: 1000 },
  base: { layers: 12, d: 768, heads: 12, patch: 16, image: 224, classes: 1000 },
};

function build(o: Required<BuildOptions>): Model {
  const c = VIT[o.size];
  const side = o.imageSize;
  const n = (side / c.patch) ** 2;
  const z = new Layers('vit', o.opset, o.seed);
  const px = z.input('pixel_values', 'float32', [o.batch, 3, side, side]);
  const pe = patchEmbed(z, px, 3, c.d, c.patch, 'patch_embed');
  const tokens = z.op('patch_embed', 'Transpose', [z.op('patch_embed', 'Reshape', [pe, z.ints('patch_embed.shape', [0, c.d, n])])], {
    perm: [0, 2, 1],
  });
  const cls = z.op('cls', 'Expand', [z.param('cls_token', [1, 1, c.d], 0.5), z.ints('cls.shape', [o.batch, 1, c.d])]);
  let h = z.op('embed', 'Add', [z.op('embed', 'Concat', [cls, tokens], { axis: 1 }), z.param('pos_embed', [1, n + 1, c.d], 0.1)]);
  for (let l = 0; l < c.layers; l++) {
    h = z.op(`blocks.${l}`, 'Add', [
      h,
      z.attention(z.layerNorm(h, c.d, `blocks.${l}.norm1`, 1e-6), c.d, c.heads, `blocks.${l}.attn`, { batch: o.batch, seq: n + 1 }),
    ]);
    h = z.op(`blocks.${l}`, 'Add', [h, z.mlp(z.layerNorm(h, c.d, `blocks.${l}.norm2`, 1e-6), c.d, 4 * c.d, `blocks.${l}.mlp`)]);
  }
  const f = z.layerNorm(h, c.d, 'norm', 1e-6);
  const clsOut = z.op('head', 'Gather', [f, z.tensor('head.index', Tensor.scalar(0, 'int64'))], { axis: 1 });
  z.output(z.linear(clsOut, c.d, c.classes, 'head'));
  return z.model();
}

export const vit: Architecture = {
  name: 'vit',
  description: 'ViT: patch conv, cls token (Expand + Concat), learned position embedding, pre-LN blocks, cls head',
  expected: (s) => ({ layerNorms: 2 * VIT[s].layers + 1, foldable: 2 * VIT[s].layers + 1 }),
  why: 'stream = patch conv + cls + pos-emb + projections, all centerable; the head reads the final LN',
  build,
  image: (s) => VIT[s].image,
};
