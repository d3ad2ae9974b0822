import type { Model } from '@normkit/graph';
import { NormkitError, Tensor } from '@normkit/tensor';
import { Layers } from './layers.js';

export type ZooSize = 'tiny' | 'small' | 'base';
export type ZooOpset = 14 | 17 | 23;

export interface BuildOptions {
  size?: ZooSize;
  /** 14: decomposed LayerNorm subgraphs; 17+: LayerNormalization nodes; 23: RMSNormalization for Llama. Default 17. */
  opset?: ZooOpset;
  /** Seed of every weight (default 0). */
  seed?: number;
  /** Batch size of the graph inputs (default 1). */
  batch?: number;
  /** Sequence length (text models) or number of frames (Whisper); default per size. */
  seqLen?: number;
  /** Image side (vision models); default per size. */
  imageSize?: number;
}

export interface ArchitectureInfo {
  name: string;
  description: string;
  /** What the exact foldability analysis should say, as a function of the size's config. */
  expected: (size: ZooSize) => { layerNorms: number; foldable: number };
  /** Why, in words. */
  why: string;
}

interface Cfg {
  layers: number;
  d: number;
  heads: number;
}

const TEXT: Record<ZooSize, Cfg & { vocab: number; positions: number; seq: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, vocab: 97, positions: 64, seq: 8 },
  small: { layers: 12, d: 768, heads: 12, vocab: 50257, positions: 1024, seq: 32 },
  base: { layers: 12, d: 768, heads: 12, vocab: 50257, positions: 1024, seq: 128 },
};
const BERT: Record<ZooSize, Cfg & { vocab: number; positions: number; seq: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, vocab: 97, positions: 64, seq: 8 },
  small: { layers: 4, d: 512, heads: 8, vocab: 30522, positions: 512, seq: 32 },
  base: { layers: 12, d: 768, heads: 12, vocab: 30522, positions: 512, seq: 128 },
};
const VIT: Record<ZooSize, Cfg & { patch: number; image: number; classes: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, patch: 4, image: 16, classes: 10 },
  small: { layers: 12, d: 384, heads: 6, patch: 16, image: 224, classes: 1000 },
  base: { layers: 12, d: 768, heads: 12, patch: 16, image: 224, classes: 1000 },
};
const SWIN: Record<
  ZooSize,
  { d: number; depths: number[]; heads: number[]; window: number; patch: number; image: number; classes: number }
> = {
  tiny: { d: 16, depths: [2, 2], heads: [2, 4], window: 2, patch: 2, image: 16, classes: 10 },
  small: { d: 96, depths: [2, 2, 6, 2], heads: [3, 6, 12, 24], window: 7, patch: 4, image: 224, classes: 1000 },
  base: { d: 128, depths: [2, 2, 18, 2], heads: [4, 8, 16, 32], window: 7, patch: 4, image: 224, classes: 1000 },
};
const CONVNEXT: Record<ZooSize, { depths: number[]; dims: number[]; image: number; classes: number }> = {
  tiny: { depths: [1, 1], dims: [8, 16], image: 16, classes: 10 },
  small: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768], image: 224, classes: 1000 },
  base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024], image: 224, classes: 1000 },
};
const WHISPER: Record<ZooSize, Cfg & { mels: number; frames: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, mels: 8, frames: 16 },
  small: { layers: 12, d: 768, heads: 12, mels: 80, frames: 3000 },
  base: { layers: 6, d: 512, heads: 8, mels: 80, frames: 3000 },
};
const MIXER: Record<ZooSize, Cfg & { patch: number; image: number; tokenHidden: number; channelHidden: number; classes: number }> = {
  tiny: { layers: 2, d: 16, heads: 0, patch: 4, image: 16, tokenHidden: 8, channelHidden: 32, classes: 10 },
  small: { layers: 8, d: 512, heads: 0, patch: 16, image: 224, tokenHidden: 256, channelHidden: 2048, classes: 1000 },
  base: { layers: 12, d: 768, heads: 0, patch: 16, image: 224, tokenHidden: 384, channelHidden: 3072, classes: 1000 },
};

function gpt2(o: Required<BuildOptions>): Model {
  const c = TEXT[o.size];
  const S = o.seqLen;
  const z = new Layers('gpt2', o.opset, o.seed);
  const ids = z.input('input_ids', 'int64', [o.batch, S]);
  const wte = z.param('wte', [c.vocab, c.d], 0.5);
  const wpe = z.param('wpe', [c.positions, c.d], 0.1);
  const pos = z.tensor(
    'position_ids',
    Tensor.from(
      Array.from({ length: S }, (_, i) => i),
      [S],
      'int64',
    ),
  );
  let h = z.op('embed', 'Add', [z.op('embed.wte', 'Gather', [wte, ids]), z.op('embed.wpe', 'Gather', [wpe, pos])]);
  const mask = z.causalMask('causal_mask', S);
  for (let l = 0; l < c.layers; l++) {
    const a = z.attention(z.layerNorm(h, c.d, `h.${l}.ln_1`), c.d, c.heads, `h.${l}.attn`, { bias: mask, batch: o.batch, seq: S });
    h = z.op(`h.${l}`, 'Add', [h, a]);
    h = z.op(`h.${l}`, 'Add', [h, z.mlp(z.layerNorm(h, c.d, `h.${l}.ln_2`), c.d, 4 * c.d, `h.${l}.mlp`)]);
  }
  const f = z.layerNorm(h, c.d, 'ln_f');
  // Tied LM head: logits = ln_f(h) · wteᵀ (the same initializer as the token embedding).
  const logits = z.op('lm_head', 'MatMul', [f, z.op('lm_head', 'Transpose', [wte], { perm: [1, 0] })]);
  z.output(logits);
  return z.model();
}

function bert(o: Required<BuildOptions>): Model {
  const c = BERT[o.size];
  const S = o.seqLen;
  const z = new Layers('bert', o.opset, o.seed);
  const ids = z.input('input_ids', 'int64', [o.batch, S]);
  const types = z.input('token_type_ids', 'int64', [o.batch, S]);
  const pos = z.tensor(
    'position_ids',
    Tensor.from(
      Array.from({ length: S }, (_, i) => i),
      [S],
      'int64',
    ),
  );
  let e = z.op('embeddings', 'Add', [
    z.op('embeddings.word', 'Gather', [z.param('embeddings.word_embeddings', [c.vocab, c.d], 0.5), ids]),
    z.op('embeddings.position', 'Gather', [z.param('embeddings.position_embeddings', [c.positions, c.d], 0.1), pos]),
  ]);
  e = z.op('embeddings', 'Add', [
    e,
    z.op('embeddings.type', 'Gather', [z.param('embeddings.token_type_embeddings', [2, c.d], 0.1), types]),
  ]);
  let h = z.layerNorm(e, c.d, 'embeddings.LayerNorm', 1e-12);
  for (let l = 0; l < c.layers; l++) {
    const a = z.attention(h, c.d, c.heads, `encoder.layer.${l}.attention`, { batch: o.batch, seq: S });
    h = z.layerNorm(z.op(`encoder.layer.${l}`, 'Add', [a, h]), c.d, `encoder.layer.${l}.attention.LayerNorm`, 1e-12);
    const m = z.mlp(h, c.d, 4 * c.d, `encoder.layer.${l}.mlp`);
    h = z.layerNorm(z.op(`encoder.layer.${l}`, 'Add', [m, h]), c.d, `encoder.layer.${l}.output.LayerNorm`, 1e-12);
  }
  const cls = z.op('pooler', 'Gather', [h, z.tensor('pooler.index', Tensor.scalar(0, 'int64'))], { axis: 1 });
  const pooled = z.op('pooler', 'Tanh', [z.linear(cls, c.d, c.d, 'pooler.dense')]);
  z.output(z.linear(pooled, c.d, 2, 'classifier'));
  return z.model();
}

function patchEmbed(z: Layers, x: string, cin: number, d: number, patch: number, scope: string): string {
  const w = z.param(`${scope}.weight`, [d, cin, patch, patch], 1 / Math.sqrt(cin * patch * patch));
  return z.op(scope, 'Conv', [x, w, z.param(`${scope}.bias`, [d], 0.02)], { kernel_shape: [patch, patch], strides: [patch, patch] });
}

function vit(o: Required<BuildOptions>): Model {
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

/** Relative position bias + shift mask for Swin window attention, shape [nW, heads, w², w²] (constants). */
function swinBias(z: Layers, scope: string, heads: number, w: number, side: number, shift: number): string {
  const nW = (side / w) ** 2;
  const t = w * w;
  const table = Tensor.randn([(2 * w - 1) ** 2, heads], z.seed * 31 + side * 7 + heads + shift, { std: 0.1 }).toFlatArray();
  const out = new Float32Array(nW * heads * t * t);
  const region = (y: number, x: number) => {
    const ry = shift === 0 ? 0 : y < side - w ? 0 : y < side - shift ? 1 : 2;
    const rx = shift === 0 ? 0 : x < side - w ? 0 : x < side - shift ? 1 : 2;
    return ry * 3 + rx;
  };
  for (let win = 0; win < nW; win++) {
    const wy = Math.floor(win / (side / w));
    const wx = win % (side / w);
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < t; i++)
        for (let j = 0; j < t; j++) {
          const [yi, xi, yj, xj] = [Math.floor(i / w), i % w, Math.floor(j / w), j % w];
          const rel = (yi - yj + w - 1) * (2 * w - 1) + (xi - xj + w - 1);
          let v = table[rel * heads + h] as number;
          if (region(wy * w + yi, wx * w + xi) !== region(wy * w + yj, wx * w + xj)) v -= 100;
          out[((win * heads + h) * t + i) * t + j] = v;
        }
  }
  return z.tensor(`${scope}.bias_and_mask`, new Tensor([nW, heads, t, t], 'float32', out));
}

/** Rolls x [B, H, W, C] by `s` along axes 1 and 2 (torch.roll(x, (s, s), (1, 2))) with Slice + Concat. */
function roll(z: Layers, x: string, s: number, side: number, scope: string): string {
  let y = x;
  for (const axis of [1, 2]) {
    const k = ((s % side) + side) % side;
    if (k === 0) continue;
    const a = z.op(scope, 'Slice', [
      y,
      z.ints(`${scope}.s${axis}a0`, [side - k]),
      z.ints(`${scope}.s${axis}a1`, [side]),
      z.ints(`${scope}.s${axis}ax`, [axis]),
    ]);
    const b = z.op(scope, 'Slice', [
      y,
      z.ints(`${scope}.s${axis}b0`, [0]),
      z.ints(`${scope}.s${axis}b1`, [side - k]),
      z.ints(`${scope}.s${axis}bx`, [axis]),
    ]);
    y = z.op(scope, 'Concat', [a, b], { axis });
  }
  return y;
}

function swin(o: Required<BuildOptions>): Model {
  const c = SWIN[o.size];
  const B = o.batch;
  const z = new Layers('swin', o.opset, o.seed);
  const px = z.input('pixel_values', 'float32', [B, 3, o.imageSize, o.imageSize]);
  let side = o.imageSize / c.patch;
  let d = c.d;
  const pe = patchEmbed(z, px, 3, d, c.patch, 'patch_embed.proj');
  let h = z.op('patch_embed', 'Transpose', [z.op('patch_embed', 'Reshape', [pe, z.ints('patch_embed.shape', [0, d, side * side])])], {
    perm: [0, 2, 1],
  });
  h = z.layerNorm(h, d, 'patch_embed.norm');
  for (let s = 0; s < c.depths.length; s++) {
    const heads = c.heads[s] as number;
    const w = Math.min(c.window, side);
    const nW = (side / w) ** 2;
    for (let k = 0; k < (c.depths[s] as number); k++) {
      const sc = `layers.${s}.blocks.${k}`;
      const shift = k % 2 === 1 && side > w ? Math.floor(w / 2) : 0;
      let x = z.op(sc, 'Reshape', [z.layerNorm(h, d, `${sc}.norm1`), z.ints(`${sc}.grid`, [B, side, side, d])]);
      if (shift) x = roll(z, x, -shift, side, `${sc}.roll`);
      // Window partition: [B, H, W, C] → [B·nW, w², C].
      x = z.op(sc, 'Reshape', [x, z.ints(`${sc}.win6`, [B, side / w, w, side / w, w, d])]);
      x = z.op(sc, 'Transpose', [x], { perm: [0, 1, 3, 2, 4, 5] });
      x = z.op(sc, 'Reshape', [x, z.ints(`${sc}.win3`, [B * nW, w * w, d])]);
      // Bias [nW, heads, t, t] broadcast over the batch: reshape attention logits to [B, nW, heads, t, t].
      const bias = swinBias(z, sc, heads, w, side, shift);
      const biasB = z.op(sc, 'Reshape', [
        z.op(sc, 'Expand', [bias, z.ints(`${sc}.bexp`, [B, nW, heads, w * w, w * w])]),
        z.ints(`${sc}.bflat`, [B * nW, heads, w * w, w * w]),
      ]);
      x = z.attention(x, d, heads, `${sc}.attn`, { bias: biasB, batch: B * nW, seq: w * w });
      // Window reverse.
      x = z.op(sc, 'Reshape', [x, z.ints(`${sc}.rev6`, [B, side / w, side / w, w, w, d])]);
      x = z.op(sc, 'Transpose', [x], { perm: [0, 1, 3, 2, 4, 5] });
      x = z.op(sc, 'Reshape', [x, z.ints(`${sc}.grid2`, [B, side, side, d])]);
      if (shift) x = roll(z, x, shift, side, `${sc}.unroll`);
      h = z.op(sc, 'Add', [h, z.op(sc, 'Reshape', [x, z.ints(`${sc}.tokens`, [B, side * side, d])])]);
      h = z.op(sc, 'Add', [h, z.mlp(z.layerNorm(h, d, `${sc}.norm2`), d, 4 * d, `${sc}.mlp`)]);
    }
    if (s < c.depths.length - 1) {
      // Patch merging: the four 2×2 neighbours concatenated along features, LN(4C), Linear 4C → 2C.
      const sc = `layers.${s}.downsample`;
      const grid = z.op(sc, 'Reshape', [h, z.ints(`${sc}.grid`, [B, side, side, d])]);
      const part = (y0: number, x0: number) =>
        z.op(sc, 'Slice', [
          grid,
          z.ints(`${sc}.st${y0}${x0}`, [y0, x0]),
          z.ints(`${sc}.en${y0}${x0}`, [side, side]),
          z.ints(`${sc}.ax${y0}${x0}`, [1, 2]),
          z.ints(`${sc}.sp${y0}${x0}`, [2, 2]),
        ]);
      const cat = z.op(sc, 'Concat', [part(0, 0), part(1, 0), part(0, 1), part(1, 1)], { axis: -1 });
      side /= 2;
      const flat = z.op(sc, 'Reshape', [cat, z.ints(`${sc}.tokens`, [B, side * side, 4 * d])]);
      h = z.linear(z.layerNorm(flat, 4 * d, `${sc}.norm`), 4 * d, 2 * d, `${sc}.reduction`, false);
      d *= 2;
    }
  }
  const f = z.layerNorm(h, d, 'norm');
  const pooled = z.op(
    'avgpool',
    'ReduceMean',
    o.opset >= 18 ? [f, z.ints('avgpool.axes', [1])] : [f],
    o.opset >= 18 ? { keepdims: 0 } : { axes: [1], keepdims: 0 },
  );
  z.output(z.linear(pooled, d, c.classes, 'head'));
  return z.model();
}

function convnext(o: Required<BuildOptions>): Model {
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

function llama(o: Required<BuildOptions>): Model {
  const c = TEXT[o.size];
  const S = o.seqLen;
  const z = new Layers('llama', o.opset, o.seed);
  const ids = z.input('input_ids', 'int64', [o.batch, S]);
  let h = z.op('embed_tokens', 'Gather', [z.param('embed_tokens.weight', [c.vocab, c.d], 0.5), ids]);
  const mask = z.causalMask('causal_mask', S);
  const ff = Math.round((8 * c.d) / 3 / 8) * 8;
  for (let l = 0; l < c.layers; l++) {
    const sc = `layers.${l}`;
    h = z.op(sc, 'Add', [
      h,
      z.attention(z.rmsNorm(h, c.d, `${sc}.input_layernorm`), c.d, c.heads, `${sc}.self_attn`, {
        bias: mask,
        qkvBias: false,
        batch: o.batch,
        seq: S,
      }),
    ]);
    const x = z.rmsNorm(h, c.d, `${sc}.post_attention_layernorm`);
    const gate = z.silu(z.linear(x, c.d, ff, `${sc}.mlp.gate_proj`, false), `${sc}.mlp`);
    const up = z.linear(x, c.d, ff, `${sc}.mlp.up_proj`, false);
    h = z.op(sc, 'Add', [h, z.linear(z.op(`${sc}.mlp`, 'Mul', [gate, up]), ff, c.d, `${sc}.mlp.down_proj`, false)]);
  }
  z.output(z.linear(z.rmsNorm(h, c.d, 'norm'), c.d, c.vocab, 'lm_head', false));
  return z.model();
}

/** ALiBi slopes × relative distance + causal mask, [heads, S, S]. */
function alibi(z: Layers, heads: number, S: number): string {
  const out = new Float32Array(heads * S * S);
  for (let h = 0; h < heads; h++) {
    const slope = 2 ** (-8 * ((h + 1) / heads));
    for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) out[(h * S + i) * S + j] = j > i ? -1e4 : -slope * (i - j);
  }
  return z.tensor('alibi', new Tensor([heads, S, S], 'float32', out));
}

function bloom(o: Required<BuildOptions>): Model {
  const c = TEXT[o.size];
  const S = o.seqLen;
  const z = new Layers('bloom', o.opset, o.seed);
  const ids = z.input('input_ids', 'int64', [o.batch, S]);
  const wte = z.param('word_embeddings.weight', [c.vocab, c.d], 0.5);
  let h = z.layerNorm(z.op('word_embeddings', 'Gather', [wte, ids]), c.d, 'word_embeddings_layernorm');
  const bias = alibi(z, c.heads, S);
  for (let l = 0; l < c.layers; l++) {
    const sc = `h.${l}`;
    h = z.op(sc, 'Add', [
      h,
      z.attention(z.layerNorm(h, c.d, `${sc}.input_layernorm`), c.d, c.heads, `${sc}.self_attention`, { bias, batch: o.batch, seq: S }),
    ]);
    h = z.op(sc, 'Add', [h, z.mlp(z.layerNorm(h, c.d, `${sc}.post_attention_layernorm`), c.d, 4 * c.d, `${sc}.mlp`)]);
  }
  const f = z.layerNorm(h, c.d, 'ln_f');
  z.output(z.op('lm_head', 'MatMul', [f, z.op('lm_head', 'Transpose', [wte], { perm: [1, 0] })]));
  return z.model();
}

function whisperEncoder(o: Required<BuildOptions>): Model {
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

function mlpMixer(o: Required<BuildOptions>): Model {
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

type Builder = (o: Required<BuildOptions>) => Model;

const BUILDERS: Record<string, { build: Builder; seq?: (s: ZooSize) => number; image?: (s: ZooSize) => number }> = {
  gpt2: { build: gpt2, seq: (s) => TEXT[s].seq },
  bert: { build: bert, seq: (s) => BERT[s].seq },
  vit: { build: vit, image: (s) => VIT[s].image },
  swin: { build: swin, image: (s) => SWIN[s].image },
  convnext: { build: convnext, image: (s) => CONVNEXT[s].image },
  llama: { build: llama, seq: (s) => TEXT[s].seq },
  bloom: { build: bloom, seq: (s) => TEXT[s].seq },
  'whisper-encoder': { build: whisperEncoder, seq: (s) => (s === 'tiny' ? WHISPER[s].frames : 64) },
  'mlp-mixer': { build: mlpMixer, image: (s) => MIXER[s].image },
};

const swinCount = (s: ZooSize) => {
  const c = SWIN[s];
  const blocks = c.depths.reduce((a, b) => a + b, 0);
  return { layerNorms: 1 + 2 * blocks + (c.depths.length - 1) + 1, foldable: 1 + 2 * (c.depths[c.depths.length - 1] as number) + 1 };
};

/**
 * The zoo's architectures with what the exact foldability analysis is expected to say about them.
 *
 * @example
 * ```ts
 * architectures.find((a) => a.name === 'gpt2')?.expected('small'); // { layerNorms: 25, foldable: 25 }
 * ```
 */
export const architectures: ArchitectureInfo[] = [
  {
    name: 'gpt2',
    description: 'GPT-2: pre-LN decoder, learned positions, causal attention, LM head tied to the token embedding',
    expected: (s) => ({ layerNorms: 2 * TEXT[s].layers + 1, foldable: 2 * TEXT[s].layers + 1 }),
    why: 'the residual stream is wte + wpe + attention/MLP output projections, all centerable; only LNs read it; the tied LM head reads the weight, not the stream, and is untied',
  },
  {
    name: 'bert',
    description: 'BERT: post-LN encoder, word + position + token-type embeddings with an embedding LN, pooler and classifier',
    expected: (s) => ({ layerNorms: 2 * BERT[s].layers + 1, foldable: 1 }),
    why: 'only the embedding LN: every block LN reads the previous LN output (post-LN) plus a sublayer',
  },
  {
    name: 'vit',
    description: 'ViT: patch conv, cls token (Expand + Concat), learned position embedding, pre-LN blocks, cls head',
    expected: (s) => ({ layerNorms: 2 * VIT[s].layers + 1, foldable: 2 * VIT[s].layers + 1 }),
    why: 'stream = patch conv + cls + pos-emb + projections, all centerable; the head reads the final LN',
  },
  {
    name: 'swin',
    description: 'Swin-T-style: patch embed + patch norm, (shifted) window attention with relative position bias, patch merging, mean pool',
    expected: swinCount,
    why: 'patch-embed LN and the last stage: stage 1 starts from the patch-norm output; in later stages the next patch merging concatenates 4 tokens along features, which is not invariant to per-token shifts',
  },
  {
    name: 'convnext',
    description:
      'ConvNeXt: 4×4 stem + channels-first LN, blocks of 7×7 depthwise conv → LN → MLP → layer scale, downsample LN + 2×2 conv, head LN',
    expected: (s) => ({
      layerNorms: 1 + CONVNEXT[s].depths.reduce((a, b) => a + b, 0) + (CONVNEXT[s].depths.length - 1) + 1,
      foldable: 1,
    }),
    why: "only the stem LN: block LNs follow a depthwise conv, downsample LNs read a stream that starts at a LN output, and the last stage's stream is read by depthwise convs (the layer scales themselves merge into fc2)",
  },
  {
    name: 'llama',
    description: 'Llama-style: RMSNorm (pre-norm), causal attention without biases, SwiGLU MLP, untied LM head',
    expected: () => ({ layerNorms: 0, foldable: 0 }),
    why: 'no LayerNorm: already RMSNorm',
  },
  {
    name: 'bloom',
    description: 'BLOOM-style: word embedding + embedding LN, ALiBi attention, pre-LN blocks, tied LM head',
    expected: (s) => ({ layerNorms: 2 * TEXT[s].layers + 2, foldable: 1 }),
    why: 'only the embedding LN: the residual stream starts from its output',
  },
  {
    name: 'whisper-encoder',
    description: 'Whisper encoder: conv1d stem with GELU, sinusoidal positions, pre-LN blocks, final LN',
    expected: (s) => ({ layerNorms: 2 * WHISPER[s].layers + 1, foldable: 0 }),
    why: 'none: the residual stream starts from GELU(conv2), a nonlinearity that cannot be centered',
  },
  {
    name: 'mlp-mixer',
    description: 'MLP-Mixer: patch conv stem, token-mixing MLP (over the token axis) and channel-mixing MLP, mean pool',
    expected: (s) => ({ layerNorms: 2 * MIXER[s].layers + 1, foldable: 1 }),
    why: 'only the first LN: the token-mixing branch is a linear map over tokens after a GELU, so its output is not zero-mean over channels',
  },
];

/**
 * Builds a zoo architecture as a normkit Model with seeded weights. `opset` 14 writes LayerNorms as
 * the decomposed subgraph older exporters emit; 17+ writes `LayerNormalization` nodes.
 *
 * @example
 * ```ts
 * const m = buildModel('gpt2', { size: 'tiny', opset: 17, seed: 1 });
 * m.graph.nodes.filter((n) => n.opType === 'LayerNormalization').length; // 5
 * ```
 */
export function buildModel(arch: string, opts: BuildOptions = {}): Model {
  const b = BUILDERS[arch];
  if (!b)
    throw new NormkitError(
      'UNKNOWN_ARCHITECTURE',
      `buildModel: unknown architecture "${arch}"; known: ${Object.keys(BUILDERS).join(', ')}`,
    );
  const size = opts.size ?? 'tiny';
  if (!['tiny', 'small', 'base'].includes(size))
    throw new NormkitError('INVALID_ARGUMENT', `buildModel: size must be tiny, small or base, got ${size}`);
  const opset = opts.opset ?? 17;
  if (![14, 17, 23].includes(opset)) throw new NormkitError('INVALID_ARGUMENT', `buildModel: opset must be 14, 17 or 23, got ${opset}`);
  const full: Required<BuildOptions> = {
    size,
    opset,
    seed: opts.seed ?? 0,
    batch: opts.batch ?? 1,
    seqLen: opts.seqLen ?? b.seq?.(size) ?? 0,
    imageSize: opts.imageSize ?? b.image?.(size) ?? 0,
  };
  const m = b.build(full);
  m.producerName = 'normkit-zoo';
  m.docString = `${arch} (${size}, opset ${opset}, seed ${full.seed})`;
  return m;
}
