// quantizeDynamic (onnxruntime's quantize_dynamic form, transformers.js' model_quantized.onnx): the
// structure it writes, its int8 weights against the rounding formula, and the q8 models run by our
// executor against onnxruntime-node (7-bit weights, which onnxruntime's AVX2 kernel sums exactly) and
// against the float model (within what 8-bit weights and activations lose).
import { Executor, foldLayerNorms, GraphBuilder, randomInputs, tagElemType, taggedElemType } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { architectures, buildModel, quantizeDynamic } from '../src/index.js';
import { compare, runOrt } from './ort-helpers.js';

describe('quantizeDynamic', () => {
  it('rewrites every MatMul with a 2-D float weight as DynamicQuantizeLinear, MatMulInteger, Cast and Mul; leaves the input model alone', () => {
    const m = buildModel('bert', { size: 'tiny', seed: 1 });
    const before = m.graph.nodes.length;
    const weighted = m.graph.nodes.filter((n) => n.opType === 'MatMul' && m.graph.initializers.get(n.inputs[1] as string)?.rank === 2);
    const q = quantizeDynamic(m);
    expect(m.graph.nodes.length).toBe(before);
    const count = (op: string) => q.graph.nodes.filter((n) => n.opType === op).length;
    expect(count('MatMulInteger')).toBe(weighted.length);
    expect(count('Cast')).toBeGreaterThanOrEqual(weighted.length);
    // Q, K and V read one input: one DynamicQuantizeLinear per distinct input.
    expect(count('DynamicQuantizeLinear')).toBe(new Set(weighted.map((n) => n.inputs[0])).size);
    for (const n of weighted) expect(q.graph.initializers.has(n.inputs[1] as string)).toBe(false);
  });

  for (const reduceRange of [false, true])
    it(`int8 weights ${reduceRange ? 'in [-64, 63]' : 'in [-128, 127]'}: q = round(w / scale), |q·scale − w| ≤ scale / 2`, () => {
      const m = buildModel('gpt2', { size: 'tiny', seed: 2 });
      const q = quantizeDynamic(m, { reduceRange });
      const [lo, hi] = reduceRange ? [-64, 63] : [-128, 127];
      for (const n of m.graph.nodes.filter((x) => x.opType === 'MatMul' && m.graph.initializers.has(x.inputs[1] as string))) {
        const w = m.graph.initializers.get(n.inputs[1] as string) as Tensor;
        const mi = q.graph.nodes.find((x) => x.opType === 'MatMulInteger' && x.name.startsWith(n.name)) as { inputs: string[] };
        const wq = q.graph.initializers.get(mi.inputs[1] as string) as Tensor;
        const scaleName = q.graph.nodes.find((x) => x.opType === 'Mul' && x.inputs[0]?.endsWith('_scale') && x.name.startsWith(n.name))
          ?.inputs[1] as string;
        const scale = (q.graph.initializers.get(scaleName) as Tensor).data[0] as number;
        expect(taggedElemType(wq)).toBe(3);
        let absMax = 0;
        for (const v of w.data as Float32Array) absMax = Math.max(absMax, Math.abs(v));
        expect(scale).toBeCloseTo((absMax * 2) / (hi - lo), 6);
        const wd = w.data as Float32Array;
        (wq.data as Int32Array).forEach((v, i) => {
          expect(v).toBeGreaterThanOrEqual(lo);
          expect(v).toBeLessThanOrEqual(hi);
          expect(Math.abs(v * scale - (wd[i] as number))).toBeLessThanOrEqual(scale / 2 + 1e-7);
        });
      }
    });

  it('the executor runs MatMulInteger + Cast + Mul as one MatMulIntegerToFloat step, bit for bit the unfused chain (full-range weights, K up to 4·d)', () => {
    const q8 = quantizeDynamic(buildModel('gpt2', { size: 'tiny', seed: 4 }));
    const feed = randomInputs(q8, 5);
    const fused = new Executor(q8).run(feed, { profile: true });
    const plain = new Executor(q8, { fuse: false }).run(feed).outputs;
    const steps = fused.profile?.nodes.map((n) => n.opType) ?? [];
    expect(steps.filter((o) => o === 'MatMulIntegerToFloat')).toHaveLength(
      q8.graph.nodes.filter((n) => n.opType === 'MatMulInteger').length,
    );
    expect(steps).not.toContain('MatMulInteger');
    for (const o of q8.graph.outputs)
      expect(Array.from(fused.outputs[o.name]?.data as Float32Array)).toEqual(Array.from(plain[o.name]?.data as Float32Array));
  });

  for (const a of architectures)
    it(`${a.name} q8 (7-bit weights): our executor = onnxruntime-node within 1e-5; the float model within 10%`, async () => {
      const model = buildModel(a.name, { size: 'tiny', seed: 3 });
      const q8 = quantizeDynamic(model, { reduceRange: true });
      const feed = randomInputs(model, 7);
      const ours = new Executor(q8).run(feed).outputs;
      const float = new Executor(model).run(feed).outputs;
      const ref = await runOrt(q8, feed);
      for (const o of model.graph.outputs) {
        const t = ours[o.name] as Tensor;
        const got = { data: t.data as Float32Array, dims: t.shape };
        expect(compare(ref[o.name] as never, got).rel, `${o.name}: vs onnxruntime`).toBeLessThanOrEqual(1e-5);
        const f = float[o.name] as Tensor;
        expect(compare({ data: f.data as Float32Array, dims: f.shape }, got).rel, `${o.name}: vs the float model`).toBeLessThanOrEqual(0.1);
      }
    });

  it("folds the LayerNorms of a q8 ViT (7-bit weights): centered integer rows sum to zero; onnxruntime-node runs the result within the fold's tolerance", async () => {
    const q8 = quantizeDynamic(buildModel('vit', { size: 'tiny', seed: 0 }), { reduceRange: true });
    const { model: out, report, verification } = foldLayerNorms(q8);
    expect(report.folded).toHaveLength(5);
    expect(verification?.equivalent).toBe(true);
    const integerRows = report.centered.filter((c) => out.graph.nodes.find((n) => n.name === c.reader)?.opType === 'MatMulInteger');
    expect(integerRows.length).toBeGreaterThan(0);
    for (const c of integerRows) {
      const t = out.graph.initializers.get(c.into) as Tensor; // zero point 0: the rows themselves
      const [K, N] = t.shape as [number, number];
      for (let k = 0; k < K; k++) {
        let sum = 0;
        for (let j = 0; j < N; j++) sum += t.data[k * N + j] as number;
        expect(sum, `${c.into} row ${k}`).toBe(0);
      }
      expect(taggedElemType(t)).toBe(3);
    }
    const feed = randomInputs(q8, 9);
    const [a, b] = [await runOrt(q8, feed), await runOrt(out, feed)];
    for (const o of q8.graph.outputs) {
      const c = compare(a[o.name] as never, b[o.name] as never);
      expect(c.rel).toBeLessThanOrEqual(verification?.tolerance as number);
      expect(c.argmax).toBe(1);
    }
  });

  it('leaves the LayerNorms behind full-range int8 weights, saying to quantize with a reduced range', () => {
    const { report } = foldLayerNorms(quantizeDynamic(buildModel('vit', { size: 'tiny', seed: 0 })));
    expect(report.folded.length).toBeLessThan(5);
    expect(report.skipped.map((s) => s.reason).join('\n')).toMatch(/outside the type's range .*reduced range \(7 bits\)/);
  });

  it('a per-column weight zero point: each centered row less the zero points sums to zero, and the fold verifies', () => {
    const [K, N] = [12, 16];
    const b = new GraphBuilder('q8-per-column');
    const x = b.input('x', 'float32', [3, K]);
    const [xq, xs, xz] = b.opN('DynamicQuantizeLinear', [x], 3);
    const q = Array.from({ length: K * N }, (_, i) => ((i * 37) % 100) - 50);
    const zps = Array.from({ length: N }, (_, j) => (j % 5) - 2);
    const w = b.constant('w', tagElemType(Tensor.from(q, [K, N], 'int32'), 3));
    const wz = b.constant('wz', tagElemType(Tensor.from(zps, [N], 'int32'), 3));
    const y = b.op('Mul', [
      b.op('Cast', [b.op('MatMulInteger', [xq as string, w, xz as string, wz])], { to: 1 }),
      b.op('Mul', [xs as string, b.constant('ws', Tensor.scalar(0.02))]),
    ]);
    const ln = b.op('LayerNormalization', [y, b.constant('g', Tensor.ones([N])), b.constant('be', Tensor.zeros([N]))], { axis: -1 });
    b.output(ln, 'float32', [3, N]);
    const { model, report, verification } = foldLayerNorms(b.model(17));
    expect(report.folded).toHaveLength(1);
    expect(verification?.equivalent).toBe(true);
    const c = report.centered.find((r) => r.param === 'w');
    const t = model.graph.initializers.get(c?.into as string) as Tensor;
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let j = 0; j < N; j++) sum += (t.data[k * N + j] as number) - (zps[j] as number);
      expect(sum, `row ${k}`).toBe(0);
    }
  });
});
