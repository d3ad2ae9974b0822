import { Tensor } from '@normkit/tensor';
import type { MultiHeadSelfAttention } from '../nn/attention.js';
import type { TransformerBlock, TransformerMlp, ViT } from '../nn/vit.js';
import { type ExportContext, join, type Value } from './context.js';
import { expectDim } from './layers.js';

// Exporters of the transformer modules, written as PyTorch's exporter writes timm's ViT.

/**
 * Self-attention on [B, T, d]: qkv (MatMul + Add) → Reshape [B, T, 3, H, dₕ] → Transpose to
 * [3, B, H, T, dₕ] → Gather q, k, v → Mul(q, 1/√dₕ) → MatMul(q, Transpose(k)) → Softmax → MatMul(·, v)
 * → Transpose → Reshape [B, T, d] → proj.
 */
export function exportAttention(ctx: ExportContext, m: MultiHeadSelfAttention, path: string, x: Value): Value {
  expectDim(m, path, x, 2, m.dim, 3);
  const [b, t] = x.shape;
  const h = m.numHeads;
  const dh = m.headDim;
  const qkv = ctx.reshape(path, ctx.module(m.qkv, join(path, 'qkv'), x), [b, t, 3, h, dh]);
  const heads = ctx.transpose(path, qkv, [2, 0, 3, 1, 4]);
  const part = (i: number) =>
    ctx.op(path, 'Gather', [heads.name, ctx.b.constant(join(path, `index${i}`), Tensor.scalar(i, 'int64'))], [b, h, t, dh], { axis: 0 });
  const q = ctx.op(path, 'Mul', [part(0).name, ctx.scalar(join(path, 'scale'), 1 / Math.sqrt(dh))], [b, h, t, dh]);
  const kT = ctx.transpose(path, part(1), [0, 1, 3, 2]);
  const v = part(2);
  const probs = ctx.op(path, 'Softmax', [ctx.op(path, 'MatMul', [q.name, kT.name], [b, h, t, t]).name], [b, h, t, t], { axis: -1 });
  const o = ctx.transpose(path, ctx.op(path, 'MatMul', [probs.name, v.name], [b, h, t, dh]), [0, 2, 1, 3]);
  return ctx.module(m.proj, join(path, 'proj'), ctx.reshape(path, o, [b, t, m.dim]));
}

/** A block's MLP: fc1 → act → fc2. */
export function exportTransformerMlp(ctx: ExportContext, m: TransformerMlp, path: string, x: Value): Value {
  const h = ctx.module(m.fc1, join(path, 'fc1'), x);
  return ctx.module(m.fc2, join(path, 'fc2'), ctx.module(m.act, join(path, 'act'), h));
}

/** Pre-norm block: Add(x, attn(norm1(x))), then Add(h, mlp(norm2(h))). */
export function exportTransformerBlock(ctx: ExportContext, m: TransformerBlock, path: string, x: Value): Value {
  const a = ctx.module(m.attn, join(path, 'attn'), ctx.module(m.norm1, join(path, 'norm1'), x));
  const h = ctx.op(path, 'Add', [x.name, a.name], x.shape);
  const f = ctx.module(m.mlp, join(path, 'mlp'), ctx.module(m.norm2, join(path, 'norm2'), h));
  return ctx.op(path, 'Add', [h.name, f.name], x.shape);
}

/**
 * ViT: patchEmbed Conv → Reshape [B, d, P] → Transpose → Concat(Expand(`clsToken`), tokens) →
 * Add(`posEmbed`) → blocks → norm → Gather token 0 → head (Gemm). The class token and positions are
 * written as the forward pass uses them (centred over d with CBWC); the batch size of the Expand comes
 * from `Shape(input)` when the batch axis is symbolic.
 */
export function exportViT(ctx: ExportContext, m: ViT, path: string, x: Value): Value {
  const fm = ctx.module(m.patchEmbed, join(path, 'patchEmbed'), x);
  const [b, d, ph, pw] = fm.shape as [string | number, number, number, number];
  const patches = ph * pw;
  const tokens = ctx.transpose(join(path, 'patchEmbed'), ctx.reshape(join(path, 'patchEmbed'), fm, [b, d, patches]), [0, 2, 1]);
  const { cls, pos } = m.tokenParams();
  const clsPath = join(path, 'clsToken');
  const batch =
    typeof b === 'number'
      ? ctx.ints(`${clsPath}.shape`, [b, 1, d])
      : ctx.op(
          clsPath,
          'Concat',
          [ctx.op(clsPath, 'Shape', [x.name], [1], { start: 0, end: 1 }).name, ctx.ints(`${clsPath}.tail`, [1, d])],
          [3],
          {
            axis: 0,
          },
        ).name;
  const clsB = ctx.op(clsPath, 'Expand', [ctx.constant(clsPath, cls), batch], [b, 1, d]);
  const seq = ctx.op(join(path, 'embed'), 'Concat', [clsB.name, tokens.name], [b, 1 + patches, d], { axis: 1 });
  const posPath = join(path, 'posEmbed');
  const embedded = ctx.op(posPath, 'Add', [seq.name, ctx.constant(posPath, pos)], seq.shape);
  const feats = ctx.module(m.norm, join(path, 'norm'), ctx.module(m.blocks, join(path, 'blocks'), embedded));
  const headPath = join(path, 'head');
  const first = ctx.op(headPath, 'Gather', [feats.name, ctx.b.constant(`${headPath}.index`, Tensor.scalar(0, 'int64'))], [b, d], {
    axis: 1,
  });
  return ctx.module(m.head, headPath, first);
}
