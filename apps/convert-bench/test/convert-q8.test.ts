// `normkit convert` on q8 models in onnxruntime's dynamic-quantization form (transformers.js'
// model_quantized.onnx), made by the zoo's quantizeDynamic. With 7-bit weights every LayerNorm of the
// ViT folds, verified in normkit and in onnxruntime from the written file, and the centered weights are
// int8 rows summing to zero; with full-range int8 weights the blocked LayerNorms are kept and named.
import { join } from 'node:path';
import { loadModel, saveModel } from '@normkit/onnx';
import { buildModel, quantizeDynamic } from '@normkit/zoo';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, tempDir } from './helpers.js';

describe('normkit convert on q8 (dynamically quantized) models', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('7-bit weights: folds 5 of 5 LayerNorms of the ViT, verified in both engines; centered int8 rows sum to zero', async () => {
    const input = join(tmp.dir, 'vit-q8.onnx');
    await saveModel(quantizeDynamic(buildModel('vit', { size: 'tiny', seed: 0 }), { reduceRange: true }), input);
    const output = join(tmp.dir, 'vit-q8.rms.onnx');
    const r = await cli('convert', input, '-o', output, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rounding of storing the centered weights in the model's own precision \(quantized integers\)/);
    const res = json<{ equivalent: boolean; folded: number; verification: { engine: string; equivalent: boolean }[] }>(r);
    expect(res.equivalent).toBe(true);
    expect(res.verification.map((v) => [v.engine, v.equivalent])).toEqual([
      ['normkit-cpu', true],
      ['onnxruntime', true],
    ]);
    const written = await loadModel(output);
    const readers = new Map(written.graph.nodes.flatMap((n) => n.inputs.map((i) => [i, n.opType] as const)));
    const centered = [...written.graph.initializers].filter(([name]) => name.includes('centered') && readers.get(name) === 'MatMulInteger');
    expect(centered.length).toBeGreaterThan(0);
    for (const [name, t] of centered) {
      const [K, N] = t.shape as [number, number];
      const d = t.data as Int32Array;
      for (let k = 0; k < K; k++)
        expect(
          d.subarray(k * N, (k + 1) * N).reduce((s, v) => s + v, 0),
          `${name} row ${k}`,
        ).toBe(0);
    }
  });

  it('full-range int8 weights: the LayerNorms behind them are kept, with the reason and the fix', async () => {
    const input = join(tmp.dir, 'gpt2-q8.onnx');
    await saveModel(quantizeDynamic(buildModel('gpt2', { size: 'tiny', seed: 0 })), input);
    const r = await cli('convert', input, '-o', join(tmp.dir, 'gpt2-q8.rms.onnx'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/folded 1 of 5 LayerNorms/);
    expect(r.stdout).toMatch(/MatMulInteger\): centering its int8 weight needs values outside the type's range .*reduced range \(7 bits\)/);
  });
});
