import type { Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import type { Architecture, BuildOptions } from '../architecture.js';
import { Layers } from '../layers.js';
import { TEXT } from './gpt2.js';

function alibi(z: Layers, heads: number, S: number): string {
  const out = new Float32Array(heads * S * S);
  for (let h = 0; h < heads; h++) {
    const slope = 2 ** (-8 * ((h + 1) / heads));
    for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) out[(h * S + i) * S + j] = j > i ? -1e4 : -slope * (i - j);
  }
  return z.tensor('alibi', new Tensor([heads, S, S], 'float32', out));
}

function build(o: Required<BuildOptions>): Model {
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

export const bloom: Architecture = {
  name: 'bloom',
  description: 'BLOOM-style: word embedding + embedding LN, ALiBi attention, pre-LN blocks, tied LM head',
  expected: (s) => ({ layerNorms: 2 * TEXT[s].layers + 2, foldable: 1 }),
  why: 'only the embedding LN: the residual stream starts from its output',
  build,
  seq: (s) => TEXT[s].seq,
};
