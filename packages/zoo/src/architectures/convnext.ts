import type { Model } from '@normkit/graph';
import type { Architecture, BuildOptions, ZooSize } from '../architecture.js';
import { Layers, patchEmbed } from '../layers.js';

const CONVNEXT: Record<ZooSize, { depths: number[]; dims: number[]; image: number; classes: number }> = {
  tiny: { depths: [1, 1], dims: [8, 16], image: 16, classes: 10 },
  small: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768], image: 224, classes: 1000 },
  base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024], image: 224, classes: 1000 },
};

function build(o: Required<BuildOptions>): Model {
  const c = CONVNEXT[o.size];
  const z = new Layers('convnext', o.opset, o.seed);
  const px = z.input('pixel_values', 'float32', [o.batch, 3, o.imageSize, o.imageSize]);
  // Channels-first LayerNorm as timm's LayerNorm2d: permute to NHWC, LN over C, permute back.
  const ln2d = (x: string, d: number, scope: string) =>
    z.op(scope, 'Transpose', [z.layerNorm(z.op(scope, 'Transpose', [x], { perm: [0, 2, 3, 1] }), d, scope, 1e-6)], { perm: [0, 3, 1, 2] });
  let h = ln2d(patchEmbed(z, px, 3, c.dims[0] as number, 4, 'stem.0'), c.dims[0] as number, 'stem.1');
  for (let s = 0; s < c.depths.length; s++) {
    const d = c.dims[s] as number;
    if (s > 0) {
      const prev = c.dims[s - 1] as number;
      const sc = `stages.${s}.downsample`;
      const w = z.param(`${sc}.1.weight`, [d, prev, 2, 2], 1 / Math.sqrt(prev * 4));
      h = z.op(sc, 'Conv', [ln2d(h, prev, `${sc}.0`), w, z.param(`${sc}.1.bias`, [d], 0.02)], { kernel_shape: [2, 2], strides: [2, 2] });
    }
    for (let k = 0; k < (c.depths[s] as number); k++) {
      const sc = `stages.${s}.blocks.${k}`;
      const dw = z.op(sc, 'Conv', [h, z.param(`${sc}.conv_dw.weight`, [d, 1, 7, 7], 1 / 7), z.param(`${sc}.conv_dw.bias`, [d], 0.02)], {
        kernel_shape: [7, 7],
        pads: [3, 3, 3, 3],
        group: d,
      });
      let x = z.layerNorm(z.op(sc, 'Transpose', [dw], { perm: [0, 2, 3, 1] }), d, `${sc}.norm`, 1e-6);
      x = z.linear(z.gelu(z.linear(x, d, 4 * d, `${sc}.mlp.fc1`), sc), 4 * d, d, `${sc}.mlp.fc2`);
      x = z.op(sc, 'Mul', [x, z.param(`${sc}.gamma`, [d], 0.1, 0.5)]);
      h = z.op(sc, 'Add', [h, z.op(sc, 'Transpose', [x], { perm: [0, 3, 1, 2] })]);
    }
  }
  const last = c.dims[c.dims.length - 1] as number;
  const pooled = z.op('head', 'Flatten', [z.op('head', 'GlobalAveragePool', [h])], { axis: 1 });
  z.output(z.linear(z.layerNorm(pooled, last, 'head.norm', 1e-6), last, c.classes, 'head.fc'));
  return z.model();
}

export const convnext: Architecture = {
  name: 'convnext',
  description:
    'ConvNeXt: 4×4 stem + channels-first LN, blocks of 7×7 depthwise conv → LN → MLP → layer scale, downsample LN + 2×2 conv, head LN',
  expected: (s) => ({
    layerNorms: 1 + CONVNEXT[s].depths.reduce((a, b) => a + b, 0) + (CONVNEXT[s].depths.length - 1) + 1,
    foldable: 1,
  }),
  why: "only the stem LN: block LNs follow a depthwise conv, downsample LNs read a stream that starts at a LN output, and the last stage's stream is read by depthwise convs (the layer scales themselves merge into fc2)",
  build,
  image: (s) => CONVNEXT[s].image,
};
