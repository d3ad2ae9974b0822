import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, saveModel, tensorFromProto } from '@normkit/onnx';
import { Tensor } from '@normkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, GPT2, GPT2_DIR, json, tempDir } from './helpers.js';

const tmp = tempDir();
const original = join(tmp.dir, 'gpt2.onnx');
const converted = join(tmp.dir, 'gpt2.rms.onnx');
const perturbed = join(tmp.dir, 'gpt2.perturbed.onnx');
const session = join(tmp.dir, 'session');

beforeAll(async () => {
  copyFileSync(GPT2, original);
  const c = await cli('convert', original, '-o', converted, '--runs', '1', '--session', session);
  expect(c.code).toBe(0);
  // A model that computes something else: the last Gemm's weight (the last MLP projection, added to the
  // residual stream just before the final LayerNorm) doubled and shifted.
  const m = await loadModel(original);
  const gemm = m.graph.nodes.filter((n) => n.opType === 'Gemm').at(-1);
  const w = m.graph.initializers.get(gemm?.inputs[1] ?? '');
  if (!gemm || !w) throw new Error('test model changed: no Gemm with an initializer weight');
  const data = Float32Array.from(w.data as Float32Array, (v, i) => 2 * v + (i % 3) * 0.5);
  m.graph.initializers.set(gemm.inputs[1] as string, new Tensor(w.shape, 'float32', data));
  await saveModel(m, perturbed);
});
afterAll(tmp.cleanup);

interface Verify {
  outputs: { name: string; maxAbsDiff: number; maxRelDiff: number }[];
  equivalent: boolean;
  engines: { engine: string; equivalent: boolean }[];
}

describe('normkit verify', () => {
  it('original vs converted: equivalent in both engines (exit 0)', async () => {
    const r = await cli('verify', original, converted, '--runs', '1', '--json');
    expect(r.code).toBe(0);
    const d = json<Verify>(r);
    expect(d.equivalent).toBe(true);
    expect(d.engines.map((e) => e.engine)).toEqual(['normkit-cpu', 'onnxruntime']);
    expect(d.outputs.map((o) => o.name)).toEqual(['hidden_states']);
    expect(d.outputs[0]?.maxRelDiff).toBeLessThan(1e-5);
  });

  it('original vs a changed weight: not equivalent (exit 1)', async () => {
    const r = await cli('verify', original, perturbed, '--runs', '1', '--json');
    expect(r.code).toBe(1);
    const d = json<Verify>(r);
    expect(d.equivalent).toBe(false);
    expect(d.outputs[0]?.maxAbsDiff).toBeGreaterThan(1e-3);
  });

  it('on given inputs (a test_data_set directory)', async () => {
    const r = await cli('verify', original, converted, '--inputs', join(GPT2_DIR, 'test_data_set_0'), '--engine', 'onnxruntime', '--json');
    expect(r.code).toBe(0);
    expect(json<{ inputs: { source: string; feeds: { shape: number[] }[] } }>(r).inputs.feeds[0]?.shape).toEqual([
      ...tensorFromProto(readFileSync(join(GPT2_DIR, 'test_data_set_0/input_0.pb'))).shape,
    ]);
  });
});

describe('normkit run', () => {
  it('reproduces the stored output of the export on its stored input, in our executor and onnxruntime (1e-4)', async () => {
    const expected = tensorFromProto(readFileSync(join(GPT2_DIR, 'test_data_set_0/output_0.pb')));
    const exp = expected.data as Float32Array;
    for (const engine of ['normkit-cpu', 'onnxruntime']) {
      const r = await cli(
        'run',
        converted,
        '--inputs',
        join(GPT2_DIR, 'test_data_set_0/input_0.pb'),
        '--engine',
        engine,
        '--values',
        '--json',
      );
      expect(r.code, r.stderr).toBe(0);
      const d = json<{ outputs: { name: string; shape: number[]; values: number[] }[] }>(r);
      expect(d.outputs[0]?.shape).toEqual([...expected.shape]);
      const got = d.outputs[0]?.values ?? [];
      let worst = 0;
      for (let i = 0; i < exp.length; i++)
        worst = Math.max(worst, Math.abs((got[i] as number) - (exp[i] as number)) / Math.max(1, Math.abs(exp[i] as number)));
      expect(worst, engine).toBeLessThan(1e-4);
    }
  });
});

interface Bench {
  results: { engine: string; model: string; role: string; medianMs: number; samplesMs: number[] }[];
  ratios: { engine: string; ratio: number; speedup: number }[];
  opTypes: { engine: string; role: string; byOpType: { opType: string; ms: number }[] }[];
}

describe('normkit bench', () => {
  it('converted vs original: medians per engine and model, a ratio per engine, op types for our engine', async () => {
    const r = await cli(
      'bench',
      converted,
      '--against',
      original,
      '--engine',
      'normkit-cpu,onnxruntime',
      '--runs',
      '3',
      '--warmup',
      '1',
      '--profile-runs',
      '1',
      '--session',
      session,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const d = json<Bench>(r);
    expect(d.results.map((x) => `${x.engine}/${x.role}`).sort()).toEqual([
      'normkit-cpu/against',
      'normkit-cpu/model',
      'onnxruntime/against',
      'onnxruntime/model',
    ]);
    for (const x of d.results) {
      expect(x.samplesMs).toHaveLength(3);
      expect(x.medianMs).toBeGreaterThan(0);
    }
    expect(d.ratios.map((x) => x.engine)).toEqual(['normkit-cpu', 'onnxruntime']);
    for (const x of d.ratios) expect(x.speedup).toBeCloseTo(1 / x.ratio, 10);
    const after = d.opTypes.find((o) => o.engine === 'normkit-cpu' && o.role === 'model');
    const before = d.opTypes.find((o) => o.engine === 'normkit-cpu' && o.role === 'against');
    expect(after?.byOpType.map((o) => o.opType)).toContain('SimplifiedLayerNormalization');
    expect(before?.byOpType.map((o) => o.opType)).not.toContain('SimplifiedLayerNormalization');
    expect(d.opTypes.some((o) => o.engine === 'onnxruntime')).toBe(false);
  });

  it('the session renders as a report with every chart', async () => {
    const r = await cli('report', session, '--json');
    expect(r.code).toBe(0);
    expect(json<{ charts: string[] }>(r).charts).toEqual([
      'chart-speedup',
      'chart-median',
      'chart-optypes-normkit-cpu',
      'chart-runs',
      'chart-ops-changed',
    ]);
  });

  it('--against a model with other inputs is bad input', async () => {
    const r = await cli('bench', converted, '--against', 'zoo:vit', '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--against needs a model with the same inputs/);
  });
});
