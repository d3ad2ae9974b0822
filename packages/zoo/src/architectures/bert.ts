import type { Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import type { Architecture, BuildOptions, Cfg, ZooSize } from '../architecture.js';
import { Layers } from '../layers.js';

const BERT: Record<ZooSize, Cfg & { vocab: number; positions: number; seq: number }> = {
  tiny: { layers: 2, d: 32, heads: 4, vocab: 97, positions: 64, seq: 8 },
  small: { layers: 4, d: 512, heads: 8, vocab: 30522, positions: 512, seq: 32 },
  base: { layers: 12, d: 768, heads: 12, vocab: 30522, positions: 512, seq: 128 },
};

function build(o: Required<BuildOptions>): Model {
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

export const bert: Architecture = {
  name: 'bert',
  description: 'BERT: post-LN encoder, word + position + token-type embeddings with an embedding LN, pooler and classifier',
  expected: (s) => ({ layerNorms: 2 * BERT[s].layers + 1, foldable: 1 }),
  why: 'only the embedding LN: every block LN reads the previous LN output (post-LN) plus a sublayer',
  build,
  seq: (s) => BERT[s].seq,
};
