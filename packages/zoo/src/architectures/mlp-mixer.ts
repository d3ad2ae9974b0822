import type { Model } from '@normkit/graph';
import type { Architecture, BuildOptions, Cfg, ZooSize } from '../architecture.js';
import { Layers, patchEmbed } from '../layers.js';

const MIXER: Record<ZooSize, Cfg & { patch: number; image: number; tokenHidden: number; channelHidden: number; classes: number }> = {
  tiny: { layers: 2, d: 16, heads: 0, patch: 4, image: 16, tokenHidden: 8, channelHidden: 32, classes: 10 },
  small: { layers: 8, d: 512, heads: 0, patch: 16, image: 224, tokenHidden: 256, channelHidden: 2048, classes: 1000 },
  base: { layers: 12, d: 768, heads: 0, patch: 16, image: 224, tokenHidden: 384, channelHidden: 3072, classes: 1000 },
};

function build(o: Required<BuildOptions>): Model {
  const c = MIXER[o.size];
  const n = (o.imageSize / c.patch) ** 2;
  const z = new Layers('mlp_mixer', o.opset, o.seed);
  const px = z.input('pixel_values', 'float32', [o.batch, 3, o.imageSize, o.imageSize]);
  const stem = patchEmbed(z, px, 3, c.d, c.patch, 'stem');
  let h = z.op('stem', 'Transpose', [z.op('stem', 'Reshape', [stem, z.ints('stem.shape', [0, c.d, n])])], { perm: [0, 2, 1] });
  for (let l = 0; l < c.layers; l++) {
    const sc = `blocks.${l}`;
    // Token mixing: an MLP over the token axis (transpose, mix, transpose back).
    const t = z.op(sc, 'Transpose', [z.layerNorm(h, c.d, `${sc}.norm1`, 1e-6)], { perm: [0, 2, 1] });
    const mixed = z.linear(
      z.gelu(z.linear(t, n, c.tokenHidden, `${sc}.mlp_tokens.fc1`), `${sc}.mlp_tokens`),
      c.tokenHidden,
      n,
      `${sc}.mlp_tokens.fc2`,
    );
    h = z.op(sc, 'Add', [h, z.op(sc, 'Transpose', [mixed], { perm: [0, 2, 1] })]);
    h = z.op(sc, 'Add', [
      h,
      z.linear(
        z.gelu(z.linear(z.layerNorm(h, c.d, `${sc}.norm2`, 1e-6), c.d, c.channelHidden, `${sc}.mlp_channels.fc1`), `${sc}.mlp_channels`),
        c.channelHidden,
        c.d,
        `${sc}.mlp_channels.fc2`,
      ),
    ]);
  }
  const f = z.layerNorm(h, c.d, 'norm', 1e-6);
  const pooled = z.op(
    'head',
    'ReduceMean',
    o.opset >= 18 ? [f, z.ints('head.axes', [1])] : [f],
    o.opset >= 18 ? { keepdims: 0 } : { axes: [1], keepdims: 0 },
  );
  z.output(z.linear(pooled, c.d, c.classes, 'head'));
  return z.model();
}

export const mlpMixer: Architecture = {
  name: 'mlp-mixer',
  description: 'MLP-Mixer: patch conv stem, token-mixing MLP (over the token axis) and channel-mixing MLP, mean pool',
  expected: (s) => ({ layerNorms: 2 * MIXER[s].layers + 1, foldable: 1 }),
  why: 'only the first LN: the token-mixing branch is a linear map over tokens after a GELU, so its output is not zero-mean over channels',
  build,
  image: (s) => MIXER[s].image,
};
