import { describe, expect, it } from 'vitest';
import { cli, GPT2, json } from './helpers.js';

interface Inspect {
  command: string;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: string; shape: unknown[] }[];
  outputs: { name: string }[];
  nodes: number;
  opHistogram: Record<string, number>;
  parameters: number;
  layerNorms: { native: number; decomposed: number; total: number };
}
interface Analyze {
  layerNorms: { name: string; foldable: boolean; reason: string; component: number | null }[];
  summary: { total: number; foldable: number; components: number };
}

describe('normkit inspect', () => {
  it('a PyTorch 1.4 GPT-2 export: opset 11, int64 input_ids, 25 decomposed LayerNorms (third-party MANIFEST)', async () => {
    const r = await cli('inspect', GPT2, '--json');
    expect(r.code).toBe(0);
    const d = json<Inspect>(r);
    expect(d.command).toBe('inspect');
    expect(d.opsets).toEqual([{ domain: 'ai.onnx', version: 11 }]);
    expect(d.inputs).toEqual([{ name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'seq_len'] }]);
    expect(d.outputs.map((o) => o.name)).toEqual(['hidden_states']);
    expect(d.layerNorms).toMatchObject({ native: 0, decomposed: 25, total: 25 });
    // 2 ReduceMeans per decomposed LayerNorm.
    expect(d.opHistogram.ReduceMean).toBe(50);
    expect(Object.values(d.opHistogram).reduce((a, b) => a + b, 0)).toBe(d.nodes);
  });

  it('human output names the model and its LayerNorms', async () => {
    const r = await cli('inspect', 'zoo:gpt2:tiny');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^zoo:gpt2:tiny: \d+ nodes, [\d.]+k parameters/);
    expect(r.stdout).toMatch(/LayerNorms: 5 \(5 LayerNormalization nodes, 0 decomposed subgraphs\)/);
    expect(r.stdout).toMatch(/inputs:\s+input_ids int64\[1×8\]/);
  });

  it('a zoo model by name: GPT-2 tiny (2 layers) has 2·2+1 = 5 LayerNormalization nodes', async () => {
    const d = json<Inspect>(await cli('inspect', 'zoo:gpt2', '--json'));
    expect(d.layerNorms).toMatchObject({ native: 5, decomposed: 0, total: 5 });
    expect(d.opHistogram.LayerNormalization).toBe(5);
  });
});

describe('normkit analyze', () => {
  it('GPT-2: every LayerNorm foldable, one component (the residual stream couples them), with reasons', async () => {
    const r = await cli('analyze', GPT2, '--json');
    expect(r.code).toBe(0);
    const d = json<Analyze>(r);
    expect(d.summary).toEqual({ total: 25, foldable: 25, components: 1 });
    for (const l of d.layerNorms) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['name', 'foldable', 'reason', 'component']));
      expect(l.foldable).toBe(true);
      expect(l.component).toBe(0);
      expect(l.reason).toMatch(/centerable source/);
    }
  });

  it('BERT (post-LN): only the embedding LN is foldable; the others name the LN that blocks them', async () => {
    const d = json<Analyze>(await cli('analyze', 'zoo:bert', '--json'));
    expect(d.summary.total).toBe(5);
    expect(d.summary.foldable).toBe(1);
    const blocked = d.layerNorms.filter((l) => !l.foldable);
    expect(blocked).toHaveLength(4);
    for (const l of blocked) expect(l.reason).toMatch(/^blocked by "/);
  });

  it('a model without LayerNorm: zero, and says so', async () => {
    const r = await cli('analyze', 'zoo:llama');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no LayerNorm found/);
    expect(json<Analyze>(await cli('analyze', 'zoo:llama', '--json')).summary).toEqual({ total: 0, foldable: 0, components: 0 });
  });
});
