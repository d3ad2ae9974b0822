import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { exportModel } from '../src/export/index.js';
import {
  CNN,
  Dropout,
  Embedding,
  Flatten,
  GELU,
  IterNorm,
  LayerNorm,
  Linear,
  MLP,
  type Module,
  type NormKind,
  Sequential,
  ViT,
} from '../src/nn/index.js';
import { relDiff, runNormkit, runOrtFile, trainBriefly } from './export-helpers.js';

// The exported model, run by the normkit executor and (written by saveModel) by onnxruntime-node,
// against the module's own eval-mode forward on the same input: max |Δ| ≤ 1e-4 · max |reference|.
const TOL = 1e-4;
const NORMS: NormKind[] = ['ln', 'rms', 'cbwc', 'pln', 'lng', 'bn', 'gn', 'iternorm', 'none'];
const SHAPE = [8, 1, 8, 8];
const x = Tensor.randn([5, 1, 8, 8], 7); // another batch size than in training: the batch axis is symbolic

const builders: Record<string, (norm: NormKind) => Module> = {
  MLP: (norm) => new MLP({ norm, seed: 1, inFeatures: 64, hidden: [16, 16], groups: 4, groupSize: 4 }),
  CNN: (norm) => new CNN({ norm, seed: 2, imageSize: 8, channels: [8, 8], groups: 2, groupSize: 4 }),
  ViT: (norm) => new ViT({ norm, seed: 3, imageSize: 8, patchSize: 4, dim: 16, depth: 2, heads: 2, mlpDim: 32, groups: 2, groupSize: 4 }),
};

async function expectSameAsForward(m: Module, opts: Parameters<typeof exportModel>[1] = {}, input = x): Promise<void> {
  const ref = m.forward(input).toFlatArray();
  const model = exportModel(m, { inputShape: ['N', ...input.shape.slice(1)], ...opts });
  expect(relDiff(ref, runNormkit(model, input)), 'normkit executor').toBeLessThanOrEqual(TOL);
  expect(relDiff(ref, await runOrtFile(model, input)), 'onnxruntime-node').toBeLessThanOrEqual(TOL);
}

describe('exportModel: trained networks compute what their eval-mode forward computes', () => {
  for (const [arch, build] of Object.entries(builders))
    for (const norm of NORMS)
      it(`${arch} (${norm}) after 3 training steps`, async () => {
        await expectSameAsForward(trainBriefly(build(norm), SHAPE));
      });

  it('RMSNorm in every rmsFormat, GELU as Gelu at opset 20, a static batch size', async () => {
    const vit = trainBriefly(builders.ViT?.('cbwc') as Module, SHAPE);
    await expectSameAsForward(vit, { rmsFormat: 'decomposed' });
    await expectSameAsForward(vit, { rmsFormat: 'decomposed', opset: 18 });
    await expectSameAsForward(vit, { rmsFormat: 'onnx23', opset: 23 });
    await expectSameAsForward(vit, { opset: 20 });
    const fixed = exportModel(vit, { inputShape: [5, 1, 8, 8] });
    expect(relDiff(vit.forward(x).toFlatArray(), runNormkit(fixed, x))).toBeLessThanOrEqual(TOL);
    const gelus = (opset: number) => exportModel(vit, { opset, inputShape: ['N', 1, 8, 8] }).graph.nodes.filter((n) => n.opType === 'Gelu');
    expect(gelus(17)).toHaveLength(0);
    expect(gelus(20)).toHaveLength(2);
  });

  it('tanh GELU, Dropout left in train mode (no node), LayerNorm without affine, and an Embedding on int64 ids', async () => {
    const mlp = new Sequential(
      new Flatten(),
      new Linear(64, 12, { seed: 4 }),
      new GELU('tanh'),
      new Dropout(0.5, { seed: 1 }),
      new LayerNorm(12, { affine: false }),
      new Linear(12, 3, { seed: 5 }),
    );
    const model = exportModel(mlp.train(), { inputShape: ['N', 1, 8, 8] });
    expect(model.graph.nodes.map((n) => n.opType)).not.toContain('Dropout');
    const ref = mlp.eval().forward(x).toFlatArray();
    expect(relDiff(ref, runNormkit(model, x))).toBeLessThanOrEqual(TOL);
    await expectSameAsForward(mlp, { opset: 20 });

    const emb = new Sequential(new Embedding(11, 8, { seed: 6 }), new LayerNorm(8), new Linear(8, 4, { seed: 7 }));
    const ids = Tensor.from([1, 5, 10, 0, 3, 3], [2, 3], 'int64');
    const m = exportModel(emb, { inputShape: ['N', 3], inputDType: 'int64', inputName: 'ids' });
    expect(relDiff(emb.forward(ids).toFlatArray(), runNormkit(m, ids, 'ids'))).toBeLessThanOrEqual(TOL);
    expect(relDiff(emb.forward(ids).toFlatArray(), await runOrtFile(m, ids, 'ids'))).toBeLessThanOrEqual(TOL);
  });

  it('IterNorm applies W_run (not its transpose) per group, on rows and on conv maps', async () => {
    for (const [shape, layout] of [
      [[6, 8], 'last'],
      [[3, 8, 2, 2], 'channels'],
    ] as const) {
      const it = new IterNorm(8, { numGroups: 2, layout });
      // A non-symmetric whitening matrix (training gives a symmetric one, which would hide a transpose).
      const state = it.stateDict();
      state.runningWm = Tensor.randn([2, 4, 4], 11);
      state.runningMean = Tensor.randn([8], 12);
      state.weight = Tensor.randn([8], 13);
      state.bias = Tensor.randn([8], 14);
      it.loadStateDict(state);
      const input = Tensor.randn([...shape], 15);
      await expectSameAsForward(it.eval(), {}, input);
    }
  });

  it('names nodes after module paths and initializers after parameter paths', () => {
    const vit = builders.ViT?.('ln') as ViT;
    const g = exportModel(vit, { inputShape: ['N', 1, 8, 8] }).graph;
    const nodes = g.nodes.map((n) => n.name);
    expect(nodes).toContain('blocks.0.attn.qkv/MatMul');
    expect(nodes).toContain('blocks.1.norm2/LayerNormalization');
    expect(nodes).toContain('head/Gemm');
    expect([...g.initializers.keys()]).toEqual(expect.arrayContaining(['blocks.0.mlp.fc2.weight', 'clsToken', 'posEmbed', 'head.weight']));
    expect(g.initializers.get('blocks.0.mlp.fc2.weight')?.shape).toEqual([32, 16]); // Wᵀ for the token MatMul
    expect(g.initializers.get('head.weight')?.shape).toEqual([10, 16]); // W for Gemm(transB=1)
    expect(g.inputs.map((i) => [i.name, i.shape])).toEqual([['pixels', ['N', 1, 8, 8]]]);
    expect(g.outputs.map((o) => [o.name, o.shape])).toEqual([['logits', ['N', 10]]]);
  });

  it('exports a copy: training after the export does not change the model', () => {
    const mlp = builders.MLP?.('ln') as Module;
    const model = exportModel(mlp, { inputShape: ['N', 1, 8, 8] });
    const before = runNormkit(model, x);
    trainBriefly(mlp, SHAPE, 1);
    expect(runNormkit(model, x)).toEqual(before);
  });
});
