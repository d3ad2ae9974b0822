import { existsSync } from 'node:fs';
import { analyzeFoldability, foldLayerNorms, type Model, type RmsFormat } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR, loadFashionMnist, type MnistData } from '../src/data/index.js';
import { exportModel } from '../src/export/index.js';
import { CNN, MLP, type Module, ViT } from '../src/nn/index.js';
import { argmaxRows, type BatchOf, randomBatches, relDiff, runNormkit, runOrtFile, trainBriefly } from './export-helpers.js';

// Trained LN networks, exported, are what the foldability analysis expects (every LN foldable); folded
// into RMSNorm they compute the same logits on real Fashion-MNIST test images. CBWC networks exported
// with their RMSNorms written as LayerNorms compute the same logits as exported as they are.

const HAS_DATA = existsSync(FASHION_MNIST_DIR);
const SKIP = HAS_DATA ? '' : ` (skipped: Fashion-MNIST is not installed at ${FASHION_MNIST_DIR}; apt-get install dataset-fashion-mnist)`;
const data: MnistData | undefined = HAS_DATA ? loadFashionMnist() : undefined;
const SHAPE = ['N', 1, 28, 28];

/** Batches of 32 Fashion-MNIST training images (random images when the data set is missing). */
const trainBatches: BatchOf = data
  ? (step) => data.train.batch(Array.from({ length: 32 }, (_, i) => ((step * 32 + i) * 37) % data.train.size))
  : randomBatches([32, 1, 28, 28]);
/** The first 256 test images (real data only). */
const testImages = (): Tensor => (data as MnistData).test.batch(Array.from({ length: 256 }, (_, i) => i)).x;

const trainedMlp = (norm: 'ln' | 'cbwc', extra = {}) =>
  trainBriefly(new MLP({ norm, seed: 1, hidden: [32, 32], ...extra }), trainBatches, 5);
const trainedVit = (norm: 'ln' | 'cbwc', extra = {}) =>
  trainBriefly(new ViT({ norm, seed: 2, patchSize: 7, dim: 16, depth: 2, heads: 2, mlpDim: 32, ...extra }), trainBatches, 5);

function verdicts(model: Model): { name: string; foldable: boolean; reason: string }[] {
  return analyzeFoldability(model).layerNorms.map(({ name, foldable, reason }) => ({ name, foldable, reason }));
}

describe('foldability of exported LN networks', () => {
  const mlp = exportModel(trainedMlp('ln'), { inputShape: SHAPE });
  const vit = exportModel(trainedVit('ln'), { inputShape: SHAPE });

  it('MLP (ln): both LayerNorms are foldable (each reads a Gemm source, read only by itself)', () => {
    const v = verdicts(mlp);
    expect(v.map((l) => l.name)).toEqual(['2/LayerNormalization', '5/LayerNormalization']);
    for (const l of v) expect(l.foldable, l.reason).toBe(true);
  });

  it('ViT (ln): all 2·depth + 1 LayerNorms are foldable, one component over the residual stream', () => {
    const report = analyzeFoldability(vit);
    expect(report.layerNorms).toHaveLength(5);
    for (const l of report.layerNorms) expect(l.foldable, l.reason).toBe(true);
    expect(report.components).toHaveLength(1);
    const sources = report.components[0]?.sources.map((s) => s.id) ?? [];
    expect(sources).toEqual(expect.arrayContaining(['patchEmbed/Conv', 'const:clsToken@clsToken/Expand', 'const:posEmbed@posEmbed/Add']));
    expect(sources).toEqual(expect.arrayContaining(['blocks.1.attn.proj/MatMul', 'blocks.1.mlp.fc2/MatMul']));
  });

  it('CNN (ln over the channels at each position): both LayerNorms are foldable (Conv → Transpose → LN)', () => {
    const cnn = exportModel(new CNN({ norm: 'ln', seed: 3, channels: [8, 8] }), { inputShape: SHAPE });
    for (const l of verdicts(cnn)) expect(l.foldable, l.reason).toBe(true);
  });

  it('PLN / LN-G / GroupNorm: the Reshape into groups blocks the analysis (it tracks one whole normalized axis)', () => {
    for (const norm of ['pln', 'lng'] as const) {
      const v = verdicts(exportModel(new MLP({ norm, seed: 4, hidden: [16], groups: 4, groupSize: 4 }), { inputShape: SHAPE }));
      expect(v).toHaveLength(1);
      expect(v[0]?.foldable).toBe(false);
      expect(v[0]?.reason).toMatch(/cannot track the normalized axis through Reshape: shapes \[\?, 16\] → \[\?, 4, 4\]/);
    }
  });

  for (const format of ['simplified', 'decomposed', 'onnx23'] as RmsFormat[])
    it.skipIf(!HAS_DATA)(`foldLayerNorms (${format}) keeps the logits and the argmax on 256 Fashion-MNIST test images${SKIP}`, async () => {
      const x = testImages();
      for (const [model, count] of [
        [mlp, 2],
        [vit, 5],
      ] as const) {
        const { model: folded, report, verification } = foldLayerNorms(model.clone(), { rmsFormat: format });
        expect(report.folded).toHaveLength(count);
        expect(verification?.equivalent).toBe(true);
        expect(folded.graph.nodes.some((n) => n.opType === 'LayerNormalization')).toBe(false);
        const before = runNormkit(model, x);
        for (const after of [runNormkit(folded, x), await runOrtFile(folded, x)]) {
          expect(relDiff(before, after)).toBeLessThanOrEqual(1e-5);
          expect(argmaxRows(after, 10)).toEqual(argmaxRows(before, 10));
        }
      }
    });
});

describe("CBWC: RMSNorm written as LayerNorm (normAs: 'ln') computes the same", () => {
  /** Relative difference of the logits of `m` exported as is and with every RMSNorm as LayerNormalization. */
  function rmsVsLn(m: Module, x: Tensor): number {
    const asRms = exportModel(m, { inputShape: SHAPE });
    const asLn = exportModel(m, { inputShape: SHAPE, normAs: 'ln' });
    expect(asLn.graph.nodes.some((n) => n.opType === 'SimplifiedLayerNormalization')).toBe(false);
    expect(asLn.graph.nodes.filter((n) => n.opType === 'LayerNormalization')).toHaveLength(
      asRms.graph.nodes.filter((n) => n.opType === 'SimplifiedLayerNormalization').length,
    );
    return relDiff(runNormkit(asRms, x), runNormkit(asLn, x));
  }
  const inputs = (): Tensor[] => [Tensor.randn([16, 1, 28, 28], 9), ...(HAS_DATA ? [testImages()] : [])];

  it('MLP and CNN: every norm reads a centred layer, so the logits agree to 1e-5', () => {
    const cnn = trainBriefly(new CNN({ norm: 'cbwc', seed: 5, channels: [8, 8] }), trainBatches, 2);
    for (const m of [trainedMlp('cbwc'), cnn]) for (const x of inputs()) expect(rmsVsLn(m, x)).toBeLessThanOrEqual(1e-5);
  });

  it('ViT: exact (1e-5) when every residual source is centred (patch conv, class token, positions, attn.proj, mlp.fc2)', () => {
    const vit = trainedVit('cbwc');
    for (const x of inputs()) expect(rmsVsLn(vit, x)).toBeLessThanOrEqual(1e-5);
    // The LN form of a centred network is foldable everywhere, as it should be.
    for (const l of verdicts(exportModel(vit, { inputShape: SHAPE, normAs: 'ln' }))) expect(l.foldable, l.reason).toBe(true);
  });

  it('ViT: not exact when the residual sources are plain (centerSources: false): the stream has a non-zero mean', () => {
    const vit = trainedVit('cbwc', { centerSources: false });
    const diffs = inputs().map((x) => rmsVsLn(vit, x));
    for (const d of diffs) expect(d).toBeGreaterThan(1e-3);
  });
});
