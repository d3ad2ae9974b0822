// Layer scale (CaiT, DeiT-III, ConvNeXt): the branch is multiplied by a constant per-feature γ before
// the residual add. γ can be merged into the linear layer before it, so the LNs that read the stream
// fold; the converted model must compute what the original does (checked by running both).
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { analyzeFoldability, execute, foldLayerNorms, GraphBuilder, type Model } from '../src/index.js';

const D = 8;
const rnd = (b: GraphBuilder, name: string, shape: number[], seed: number) => b.constant(name, Tensor.randn(shape, seed, { std: 0.3 }));
const ln = (b: GraphBuilder, x: string, name: string) =>
  b.op('LayerNormalization', [x, rnd(b, `${name}.g`, [D], 7), rnd(b, `${name}.b`, [D], 8)], { axis: -1, epsilon: 1e-5 }, { name });

/** x → dense → h0; h1 = h0 + γ ⊙ (MLP(LN1(h0)) + bias); out = LN_f(h1) · head. `alsoRead` adds a second reader of the branch. */
function layerScaled(alsoRead = false): Model {
  const b = new GraphBuilder('layer-scale');
  const x = b.input('x', 'float32', [2, 3, D]);
  const h0 = b.op('MatMul', [x, rnd(b, 'w_in', [D, D], 1)], {}, { name: 'dense_in' });
  const up = b.op('Relu', [b.op('MatMul', [ln(b, h0, 'ln_1'), rnd(b, 'w_up', [D, 2 * D], 2)])]);
  const down = b.op('Add', [b.op('MatMul', [up, rnd(b, 'w_down', [2 * D, D], 3)], {}, { name: 'proj' }), rnd(b, 'b_down', [D], 4)]);
  const scaled = b.op('Mul', [down, b.constant('gamma', Tensor.from([0.1, 0.5, 1, 2, -1, 0.3, 0.7, 1.5]))], {}, { name: 'layer_scale' });
  const h1 = b.op('Add', [h0, scaled], {}, { name: 'residual' });
  b.output(b.op('MatMul', [ln(b, h1, 'ln_f'), rnd(b, 'head', [D, 5], 5)], {}, { name: 'head' }));
  if (alsoRead) b.output(b.op('Relu', [down], {}, { name: 'tap' }));
  return b.model(17);
}

describe('layer scale merged into the linear layer before it', () => {
  it('both LNs fold; the Mul is merged and removed; the converted model matches the original (1e-4)', () => {
    const m = layerScaled();
    const r = analyzeFoldability(m);
    expect(r.layerNorms.map((l) => [l.name, l.foldable])).toEqual([
      ['ln_1', true],
      ['ln_f', true],
    ]);
    expect(r.components[0]?.mergedScales.map((s) => s.node)).toEqual(['layer_scale']);
    const { model: folded, verification } = foldLayerNorms(m);
    expect(folded.graph.nodes.some((n) => n.name === 'layer_scale')).toBe(false);
    expect(folded.graph.nodes.filter((n) => n.opType === 'LayerNormalization')).toHaveLength(0);
    expect(verification?.equivalent).toBe(true);
    // Independent of the fold's own verification: run both on one input and compare.
    const feed = { x: Tensor.randn([2, 3, D], 42) };
    const want = execute(m, feed).outputs;
    const got = execute(folded, feed).outputs;
    for (const k of Object.keys(want)) {
      const a = want[k]!.toFlatArray();
      const c = got[k]!.toFlatArray();
      const scale = Math.max(...a.map(Math.abs));
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - c[i]!)).toBeLessThan(1e-4 * scale);
    }
  });

  it('a branch that is also read elsewhere cannot absorb the scale, and the reason says so', () => {
    const r = analyzeFoldability(layerScaled(true));
    const lnF = r.layerNorms.find((l) => l.name === 'ln_f');
    expect(lnF?.foldable).toBe(false);
    expect(lnF?.blockingNode).toBe('layer_scale');
    expect(lnF?.reason).toMatch(/layer scale "gamma" cannot be merged into .*also read elsewhere/);
  });
});
