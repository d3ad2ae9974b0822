import type { Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import type { Architecture, BuildOptions, Cfg, ZooSize } from '../architecture.js';
import { Layers } from '../layers.js';

/** Sizes of the decoder-only text models (GPT-2, and the Llama- and BLOOM-style ones). */
export const TEXT: Record<ZooSize, Cfg & { vocab: number; positions: number; seq: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, vocab: 97, positions: 64, seq: 8 },
  small: { layers: 12, d: 768, heads: 12, vocab: 50257, positions: 1024, seq: 32 },
  base: { layers: 12, d: 768, heads: 12, vocab: 50257, positions: 1024, seq: 128 },
};

function build(o: Required<BuildOptions>): Model {
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

export const gpt2: Architecture = {
  name: 'gpt2',
  description: 'GPT-2: pre-LN decoder, learned positions, causal attention, LM head tied to the token embedding',
  expected: (s) => ({ layerNorms: 2 * TEXT[s].layers + 1, foldable: 2 * TEXT[s].layers + 1 }),
  why: 'the residual stream is wte + wpe + attention/MLP output projections, all centerable; only LNs read it; the tied LM head reads the weight, not the stream, and is untied',
  build,
  seq: (s) => TEXT[s].seq,
};
