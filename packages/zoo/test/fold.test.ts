import { foldLayerNorms, type Model, randomInputs } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { architectures, buildModel } from '../src/index.js';
import { compare, runOrt } from './ort-helpers.js';

const FORMATS = ['onnx23', 'simplified', 'decomposed'] as const;

async function ortMatches(original: Model, converted: Model, seed: number) {
  for (const s of [seed]) {
    const feed = randomInputs(original, s);
    const [a, b] = [await runOrt(original, feed), await runOrt(converted, feed)];
    for (const o of original.graph.outputs) {
      const c = compare(a[o.name] as never, b[o.name] as never);
      expect(c.rel, `${o.name} relative difference`).toBeLessThanOrEqual(1e-5);
      expect(c.argmax, `${o.name} argmax agreement`).toBe(1);
    }
  }
}

describe('fold every zoo model (tiny), three export forms, checked in onnxruntime-node and our executor', () => {
  for (const a of architectures)
    for (const rmsFormat of FORMATS)
      it(`${a.name} → ${rmsFormat}`, async () => {
        const model = buildModel(a.name, { size: 'tiny', opset: 17, seed: 11 });
        // verify: our executor runs original and converted on seeded inputs; fold throws VERIFICATION_FAILED
        // unless every output is within 1e-5 (relative to its scale) with identical argmax.
        const { model: folded, report, verification } = foldLayerNorms(model, { rmsFormat, verify: true, tolerance: 1e-5 });
        expect(verification?.equivalent).toBe(true);
        for (const o of verification?.outputs ?? []) expect(o.argmaxAgreement).toBe(1);
        expect(report.folded.length).toBe(a.expected('tiny').foldable);
        const ops = folded.graph.nodes.map((n) => n.opType);
        if (report.folded.length > 0) {
          if (rmsFormat === 'onnx23') {
            expect(ops).toContain('RMSNormalization');
            expect(folded.opset('')).toBe(23);
          } else if (rmsFormat === 'simplified') expect(ops).toContain('SimplifiedLayerNormalization');
          else expect(ops.filter((o) => o === 'Sqrt').length).toBeGreaterThanOrEqual(report.folded.length);
        }
        expect(ops.filter((o) => o === 'LayerNormalization')).toHaveLength(a.expected('tiny').layerNorms - a.expected('tiny').foldable);
        await ortMatches(model, folded, 5);
      });

  it('opset 14 models (decomposed LN in, recognized, folded) match too, with the opset raised to 23 for onnx23', async () => {
    for (const name of ['gpt2', 'vit', 'swin']) {
      const model = buildModel(name, { size: 'tiny', opset: 14, seed: 2 });
      const { model: folded, report } = foldLayerNorms(model, { rmsFormat: 'onnx23', verify: true });
      expect(report.opset?.from).toBe(14);
      // Swin's mean pool is a ReduceMean with an axes attribute: an input from opset 18.
      if (name === 'swin') expect(report.opset?.converted).toEqual(['avgpool/ReduceMean (ReduceMean: axes attribute → input)']);
      await ortMatches(model, folded, 9);
    }
  });

  it('GPT-2 unties the embedding from the LM head: the head keeps the original table', () => {
    const model = buildModel('gpt2', { size: 'tiny', seed: 4 });
    const { model: folded, report } = foldLayerNorms(model, { verify: false });
    expect(report.untied.map((u) => u.initializer)).toEqual(['wte']);
    const gather = folded.graph.nodes.find((n) => n.name === 'embed.wte/Gather');
    const head = folded.graph.nodes.find((n) => n.name === 'lm_head/Transpose');
    expect(gather?.inputs[0]).toBe('wte_centered');
    expect(head?.inputs[0]).toBe('wte');
    // Every row of the centered table sums to zero (float32 rounding).
    const t = folded.graph.initializers.get('wte_centered');
    const d = t?.shape[1] as number;
    const data = t?.data as Float32Array;
    for (let r = 0; r < 5; r++) expect(Math.abs(data.slice(r * d, (r + 1) * d).reduce((x, y) => x + y, 0))).toBeLessThan(1e-5);
  });

  it('refuses a conversion that changes the outputs (VERIFICATION_FAILED) unless forced', () => {
    const model = buildModel('vit', { size: 'tiny', seed: 1 });
    // An executor that reports a different argmax for the converted model stands in for a broken conversion.
    let calls = 0;
    const execute = (m: Model) => {
      calls++;
      return { [m.graph.outputs[0]?.name as string]: new Tensor([1, 2], 'float32', new Float32Array(m === model ? [1, 0] : [0, 1])) };
    };
    expect(() => foldLayerNorms(model, { verifyOptions: { execute, runs: 1 } })).toThrow(/VERIFICATION|differs from the original/);
    const forced = foldLayerNorms(model, { force: true, verifyOptions: { execute, runs: 1 } });
    expect(forced.verification?.equivalent).toBe(false);
    expect(forced.verification?.outputs[0]?.argmaxAgreement).toBe(0);
    expect(calls).toBeGreaterThan(0);
  });
});
