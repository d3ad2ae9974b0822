import { analyzeFoldability, recognizeLayerNorms } from '@normkit/graph';
import { describe, expect, it } from 'vitest';
import { architectures, buildModel } from '../src/index.js';

const verdicts = (arch: string, opset: 14 | 17 | 23) => {
  const { model } = recognizeLayerNorms(buildModel(arch, { size: 'tiny', opset, seed: 3 }));
  return analyzeFoldability(model).layerNorms.map((l) => ({ name: l.name, foldable: l.foldable, blocking: l.blockingNode }));
};

describe('zoo architectures', () => {
  it('lists the nine architectures', () => {
    expect(architectures.map((a) => a.name)).toEqual([
      'gpt2',
      'bert',
      'vit',
      'swin',
      'convnext',
      'llama',
      'bloom',
      'whisper-encoder',
      'mlp-mixer',
    ]);
  });

  it.each(architectures.map((a) => a.name))(
    '%s: the analysis gives the expected verdicts, the same at opset 14 (after recognition), 17 and 23',
    (arch) => {
      const info = architectures.find((a) => a.name === arch);
      const v17 = verdicts(arch, 17);
      expect({ layerNorms: v17.length, foldable: v17.filter((v) => v.foldable).length }).toEqual(info?.expected('tiny'));
      // Opset 14 spells every LN as a decomposed subgraph; recognition must give back the same LNs and verdicts.
      expect(verdicts(arch, 14)).toEqual(v17);
      expect(verdicts(arch, 23).map((v) => v.foldable)).toEqual(v17.map((v) => v.foldable));
    },
  );

  it('opset 14 spells LN as the decomposed subgraph, 17 as LayerNormalization, 23 writes Llama RMSNorm as RMSNormalization', () => {
    const ops = (arch: string, opset: 14 | 17 | 23) => new Set(buildModel(arch, { opset }).graph.nodes.map((n) => n.opType));
    expect(ops('gpt2', 14).has('LayerNormalization')).toBe(false);
    expect(ops('gpt2', 14).has('ReduceMean')).toBe(true);
    expect(ops('gpt2', 17).has('LayerNormalization')).toBe(true);
    expect(ops('llama', 23).has('RMSNormalization')).toBe(true);
    expect(ops('llama', 17).has('RMSNormalization')).toBe(false);
  });

  it('seeds make weights reproducible and distinct', () => {
    const w = (seed: number) => buildModel('vit', { seed }).graph.initializers.get('pos_embed')?.toFlatArray().slice(0, 4);
    expect(w(1)).toEqual(w(1));
    expect(w(1)).not.toEqual(w(2));
  });

  it('GPT-2 small has the published config (12 layers, d = 768, vocab 50257, tied head) and builds fast', () => {
    const t = performance.now();
    const m = buildModel('gpt2', { size: 'small', seqLen: 8 });
    const ms = performance.now() - t;
    expect(m.graph.initializers.get('wte')?.shape).toEqual([50257, 768]);
    expect(m.graph.nodes.filter((n) => n.opType === 'LayerNormalization')).toHaveLength(25);
    const head = m.graph.nodes.find((n) => n.name === 'lm_head/Transpose');
    expect(head?.inputs).toEqual(['wte']);
    expect(ms).toBeLessThan(20_000); // a sanity bound on a shared 2-core machine, not a benchmark
    const report = analyzeFoldability(m);
    expect(report.layerNorms.filter((l) => l.foldable)).toHaveLength(25);
    expect(report.sharedWeights.map((s) => s.initializer)).toEqual(['wte']);
  });

  it('rejects unknown architectures and options with a clear error', () => {
    expect(() => buildModel('resnet')).toThrow(/unknown architecture "resnet"; known: gpt2/);
    expect(() => buildModel('gpt2', { opset: 12 as 14 })).toThrow(/opset must be 14, 17 or 23/);
  });
});
