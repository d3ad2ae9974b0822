import { fileURLToPath } from 'node:url';
import { analyzeFoldability, foldLayerNorms, type Model, randomInputs, recognizeLayerNorms, verifyEquivalence } from '@normkit/graph';
import { loadModel } from '@normkit/onnx';
import { describe, expect, it } from 'vitest';
import { compare, runOrt } from './ort-helpers.js';

const TP = fileURLToPath(new URL('../../../../shared/testdata/third-party/', import.meta.url));
const FUSION = `${TP}onnxruntime/onnxruntime/test/testdata/transform/fusion/`;
const HIST = `${TP}onnxruntime-history/onnxruntime/python/tools/transformers/test_data/`;

const ops = (m: Model) => m.graph.nodes.map((n) => n.opType);

async function ortSame(a: Model, b: Model, seed = 1) {
  const feed = randomInputs(a, seed);
  const [x, y] = [await runOrt(a, feed), await runOrt(b, feed)];
  for (const o of a.graph.outputs) {
    const c = compare(x[o.name] as never, y[o.name] as never);
    expect(c.rel, o.name).toBeLessThanOrEqual(1e-5);
    expect(c.argmax, o.name).toBe(1);
  }
}

describe("onnxruntime's LayerNorm fusion test graphs", () => {
  // [file, fused kinds, ops after recognition, near-miss reason]
  const cases: [string, string[], string[] | undefined, RegExp | undefined][] = [
    ['layer_norm.onnx', ['LayerNormalization'], ['LayerNormalization'], undefined],
    ['layer_norm_fusion_scale_bias.onnx', ['LayerNormalization'], ['LayerNormalization'], undefined],
    ['layer_norm_shared_input.onnx', ['LayerNormalization', 'LayerNormalization'], ['LayerNormalization', 'LayerNormalization'], undefined],
    // Negative case upstream too: ReduceMean without axes reduces over every dimension, batch included.
    ['layer_norm_sub_dup.onnx', [], undefined, /has no axes: it reduces over every dimension/],
    // Cast to float of a float value is value preserving; onnxruntime fuses it in its training build.
    ['layer_norm_with_cast.onnx', ['LayerNormalization'], ['LayerNormalization'], undefined],
    ['layer_norm_with_cast_2.onnx', ['LayerNormalization'], ['LayerNormalization'], undefined],
    // float32 compute, float16 γ/β and output: γ, β cast to float32, the fused output cast to float16.
    ['layer_norm_with_cast_3.onnx', ['LayerNormalization'], ['Cast', 'Cast', 'LayerNormalization', 'Cast'], undefined],
    ['layer_norm_with_cast_4.onnx', ['LayerNormalization'], ['Cast', 'Cast', 'Cast', 'LayerNormalization', 'Cast'], undefined],
    ['layer_norm_t5.onnx', ['RMSNormalization'], ['SimplifiedLayerNormalization'], undefined],
    ['simplified_layer_norm_with_casts.onnx', ['RMSNormalization'], ['Cast', 'Cast', 'SimplifiedLayerNormalization', 'Cast'], undefined],
    // SkipLayerNorm tests: the LN inside is recognized in all of them (the "no_fusion"/"partial" cases are about the residual Add, which stays).
    ['skip_layer_norm_format3_no_fusion.onnx', ['LayerNormalization'], ['Add', 'LayerNormalization', 'Neg'], undefined],
    ['skip_layer_norm_format1_partial.onnx', ['LayerNormalization'], ['Add', 'Add', 'LayerNormalization', 'Neg'], undefined],
    ['skip_layer_norm_format1_graph_output.onnx', ['LayerNormalization'], ['Add', 'Add', 'LayerNormalization'], undefined],
  ];
  it.each(cases)('%s', async (file, kinds, after, reason) => {
    const m = await loadModel(FUSION + file);
    const r = recognizeLayerNorms(m);
    expect(r.fused.map((f) => f.kind)).toEqual(kinds);
    if (after) expect(ops(r.model).filter((o) => o !== 'Identity')).toEqual(after);
    if (reason) expect(r.nearMisses.map((n) => n.reason).join('\n')).toMatch(reason);
    else expect(r.nearMisses).toEqual([]);
  });

  it('recognized fp32 graphs compute the same as the originals in onnxruntime-node', async () => {
    for (const f of [
      'layer_norm.onnx',
      'layer_norm_shared_input.onnx',
      'layer_norm_with_cast.onnx',
      'layer_norm_t5.onnx',
      'skip_layer_norm_format1_partial.onnx',
    ]) {
      const m = await loadModel(FUSION + f);
      await ortSame(m, recognizeLayerNorms(m).model);
    }
  });
});

// Real 100-500 MB exports run three ways through two engines: ~15 s each alone, over 60 s when CI runs
// every package's suite at once on 2 cores.
describe('PyTorch exports: GPT-2, BERT, DistilBERT', { timeout: 240_000 }, () => {
  it('GPT-2 (PyTorch 1.4, opset 11): 25 LNs found through the dynamic Reshape plumbing, all foldable, converted models match in onnxruntime-node', async () => {
    const m = await loadModel(`${HIST}gpt2_pytorch1.4_opset11_no_past/GPT2Model.onnx`);
    const report = analyzeFoldability(recognizeLayerNorms(m).model);
    expect(report.layerNorms).toHaveLength(25);
    expect(report.layerNorms.every((l) => l.foldable)).toBe(true);
    expect(report.components).toHaveLength(1);
    // Sources: wte, wpe, and per layer the attention and MLP output projections (Gemm after a Reshape to 2-D).
    expect(report.components[0]?.sources.filter((s) => s.kind === 'embedding')).toHaveLength(2);
    expect(report.components[0]?.sources.filter((s) => s.kind === 'gemm').length).toBeGreaterThanOrEqual(4);
    for (const rmsFormat of ['onnx23', 'simplified', 'decomposed'] as const) {
      const { model: folded, report: fr } = foldLayerNorms(m, {
        rmsFormat,
        verify: rmsFormat === 'simplified',
        verifyOptions: { runs: 1 },
      });
      expect(fr.folded).toHaveLength(25);
      await ortSame(m, folded, 2);
    }
  });

  it('DistilBERT (HF tiny, SST-2 head): 5 LNs, only the embedding LN is foldable; converted matches in onnxruntime-node', async () => {
    const m = await loadModel(`${TP}optimum/tests/assets/onnx/model.onnx`);
    const report = analyzeFoldability(recognizeLayerNorms(m).model);
    expect(report.layerNorms.map((l) => l.foldable)).toEqual([true, false, false, false, false]);
    expect(report.layerNorms[1]?.reason).toMatch(/LayerNormalization\): the output of a normalization/);
    const { model: folded } = foldLayerNorms(m, { verify: true });
    await ortSame(m, folded, 3);
  });

  it('BERT SQuAD (PyTorch 1.4, opset 11): 25 LNs, post-LN → only the embedding LN is foldable', async () => {
    const m = await loadModel(`${HIST}bert_squad_pytorch1.4_opset11/BertForQuestionAnswering_0.onnx`);
    const report = analyzeFoldability(recognizeLayerNorms(m).model);
    expect(report.layerNorms).toHaveLength(25);
    expect(report.layerNorms.filter((l) => l.foldable)).toHaveLength(1);
    expect(report.layerNorms[0]?.sources).toHaveLength(3); // word, position, token-type embeddings
    // onnxruntime 1.30 refuses to load this 2020 export (a rank-0 input to Concat), so the converted model
    // is checked in our executor only.
    const { report: fr } = foldLayerNorms(m, { verify: false });
    expect(fr.folded).toHaveLength(1);
  });

  it('BERT SQuAD fp16 (PyTorch 1.4; onnxruntime 1.30 refuses the file): its float16 casts run, 1 of 25 folds, float16 weights stay float16, converted matches', async () => {
    const m = await loadModel(`${HIST}bert_squad_pytorch1.4_opset11_fp16/BertForQuestionAnswering.onnx`);
    expect(m.graph.nodes.filter((n) => n.opType === 'Cast' && n.attributes.to?.value === 10).length).toBeGreaterThan(0);
    // Its weights are float16: the centered copies are stored (rounded) as float16 too, and the
    // verification tolerance follows that rounding (8× it).
    const { report, verification } = foldLayerNorms(m, { verifyOptions: { seed: 1, runs: 1 } });
    expect(report.folded).toHaveLength(1);
    expect(report.storageRounding).toBeGreaterThan(0);
    expect(report.storageRounding).toBeLessThanOrEqual(2 ** -11);
    expect(verification?.equivalent).toBe(true);
  });

  it('BERT SQuAD converted matches the original in our executor', async () => {
    const m = await loadModel(`${HIST}bert_squad_pytorch1.4_opset11/BertForQuestionAnswering_0.onnx`);
    const { model: folded } = foldLayerNorms(m, { verify: false });
    expect(verifyEquivalence(m, folded, { seed: 1, runs: 1 }).equivalent).toBe(true);
  });
});
