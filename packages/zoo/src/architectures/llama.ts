import type { Model } from '@normkit/graph';
import type { Architecture, BuildOptions } from '../architecture.js';
import { Layers } from '../layers.js';
import { TEXT } from './gpt2.js';

function build(o: Required<BuildOptions>): Model {
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

export const llama: Architecture = {
  name: 'llama',
  description: 'Llama-style: RMSNorm (pre-norm), causal attention without biases, SwiGLU MLP, untied LM head',
  expected: () => ({ layerNorms: 0, foldable: 0 }),
  why: 'no LayerNorm: already RMSNorm',
  build,
  seq: (s) => TEXT[s].seq,
};
