import type { Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import type { Architecture, BuildOptions, Cfg, ZooSize } from '../architecture.js';
import { Layers } from '../layers.js';

const WHISPER: Record<ZooSize, Cfg & { mels: number; frames: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, mels: 8, frames: 16 },
  small: { layers: 12, d: 768, heads: 12, mels: 80, frames: 3000 },
  base: { layers: 6, d: 512, heads: 8, mels: 80, frames: 3000 },
};

function build(o: Required<BuildOptions>): Model {
  const c = WHISPER[o.size];
  const T = o.seqLen;
  const z = new Layers('whisper_encoder', o.opset, o.seed);
  const x = z.input('input_features', 'float32', [o.batch, c.mels, T]);
  const conv = (v: string, cin: number, stride: number, scope: string) =>
    z.op(scope, 'Conv', [v, z.param(`${scope}.weight`, [c.d, cin, 3], 1 / Math.sqrt(cin * 3)), z.param(`${scope}.bias`, [c.d], 0.02)], {
      kernel_shape: [3],
      pads: [1, 1],
      strides: [stride],
    });
  let h = z.gelu(conv(x, c.mels, 1, 'conv1'), 'conv1');
  h = z.gelu(conv(h, c.d, 2, 'conv2'), 'conv2');
  const T2 = Math.floor((T - 1) / 2) + 1;
  // Sinusoidal positions (a constant added to the stream).
  const pe = new Float32Array(T2 * c.d);
  for (let t = 0; t < T2; t++)
    for (let k = 0; k < c.d / 2; k++) {
      const f = Math.exp((-Math.log(10000) * k) / (c.d / 2 - 1));
      pe[t * c.d + k] = Math.sin(t * f);
      pe[t * c.d + c.d / 2 + k] = Math.cos(t * f);
    }
  h = z.op('embed_positions', 'Add', [
    z.op('encoder', 'Transpose', [h], { perm: [0, 2, 1] }),
    z.tensor('embed_positions.weight', new Tensor([T2, c.d], 'float32', pe)),
  ]);
  for (let l = 0; l < c.layers; l++) {
    const sc = `layers.${l}`;
    h = z.op(sc, 'Add', [
      h,
      z.attention(z.layerNorm(h, c.d, `${sc}.self_attn_layer_norm`), c.d, c.heads, `${sc}.self_attn`, { batch: o.batch, seq: T2 }),
    ]);
    h = z.op(sc, 'Add', [h, z.mlp(z.layerNorm(h, c.d, `${sc}.final_layer_norm`), c.d, 4 * c.d, `${sc}`)]);
  }
  z.output(z.layerNorm(h, c.d, 'layer_norm'));
  return z.model();
}

export const whisperEncoder: Architecture = {
  name: 'whisper-encoder',
  description: 'Whisper encoder: conv1d stem with GELU, sinusoidal positions, pre-LN blocks, final LN',
  expected: (s) => ({ layerNorms: 2 * WHISPER[s].layers + 1, foldable: 0 }),
  why: 'none: the residual stream starts from GELU(conv2), a nonlinearity that cannot be centered',
  build,
  seq: (s) => (s === 'tiny' ? WHISPER[s].frames : 64),
};
