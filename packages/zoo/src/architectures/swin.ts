import type { Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import type { Architecture, BuildOptions, ZooSize } from '../architecture.js';
import { Layers, patchEmbed } from '../layers.js';

const SWIN: Record<
  ZooSize,
  { d: number; depths: number[]; heads: number[]; window: number; patch: number; image: number; classes: number }
> = {
  tiny: { d: 16, depths: [2, 2], heads: [2, 4], window: 2, patch: 2, image: 16, classes: 10 },
  small: { d: 96, depths: [2, 2, 6, 2], heads: [3, 6, 12, 24], window: 7, patch: 4, image: 224, classes: 1000 },
  base: { d: 128, depths: [2, 2, 18, 2], heads: [4, 8, 16, 32], window: 7, patch: 4, image: 224, classes: 1000 },
};

const swinCount = (s: ZooSize) => {
  const c = SWIN[s];
  const blocks = c.depths.reduce((a, b) => a + b, 0);
  return { layerNorms: 1 + 2 * blocks + (c.depths.length - 1) + 1, foldable: 1 + 2 * (c.depths[c.depths.length - 1] as number) + 1 };
};

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

function build(o: Required<BuildOptions>): Model {
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

export const swin: Architecture = {
  name: 'swin',
  description: 'Swin-T-style: patch embed + patch norm, (shifted) window attention with relative position bias, patch merging, mean pool',
  expected: swinCount,
  why: 'patch-embed LN and the last stage: stage 1 starts from the patch-norm output; in later stages the next patch merging concatenates 4 tokens along features, which is not invariant to per-token shifts',
  build,
  image: (s) => SWIN[s].image,
};
