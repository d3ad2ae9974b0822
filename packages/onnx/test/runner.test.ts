import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { add, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { compareTensors, type ExecuteFn, loadModel, runTestDirectory, tensorName } from '../src/index.js';
import { TESTDATA } from './helpers.js';
import { ortExecute } from './ort.js';

const HIST = join(TESTDATA, 'third-party/onnxruntime-history/onnxruntime/python/tools/transformers/test_data');

describe('compareTensors', () => {
  it('applies |a − e| ≤ atol + rtol·|e| and reports the worst differences', () => {
    const e = Tensor.from([1, 100, 0, Number.NaN]);
    const r = compareTensors(Tensor.from([1.0005, 100.2, 5e-8, Number.NaN]), e, 1e-3, 1e-7);
    expect(r.ok).toBe(false);
    expect(r.mismatches).toBe(1); // 100.2 is 2e-3 off
    expect(r.maxAbsDiff).toBeCloseTo(0.2, 4);
    expect(r.maxRelDiff).toBeCloseTo(2e-3, 6);
    expect(compareTensors(Tensor.from([1, 2]), Tensor.from([[1, 2]])).problem).toContain('shape');
  });
});

describe('runTestDirectory (driven by onnxruntime-node as a stand-in executor)', () => {
  it('passes a directory whose stored outputs onnxruntime reproduces', async () => {
    const r = await runTestDirectory(join(TESTDATA, 'onnx-ops/test_softmax_axis_1'), { execute: ortExecute });
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.ops).toEqual(['Softmax']);
    expect(r.maxAbsDiff).toBeLessThan(1e-6);
  });

  it('matches inputs by the names in the .pb files (keras2onnx BERT stores them out of graph-input order)', async () => {
    const dir = join(HIST, 'bert_squad_tensorflow2.1_keras2onnx_opset11');
    const graphOrder = (await loadModel(join(dir, 'TFBertForQuestionAnswering.onnx'))).graph.runtimeInputs().map((v) => v.name);
    const fileOrder = [0, 1, 2].map((i) => tensorName(readFileSync(join(dir, `test_data_set_0/input_${i}.pb`))));
    expect(fileOrder).not.toEqual(graphOrder); // positional matching would feed the mask as token ids
    expect([...fileOrder].sort()).toEqual([...graphOrder].sort());
    const r = await runTestDirectory(dir, { execute: ortExecute });
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.maxRelDiff).toBeLessThan(1e-4);
  });

  it('reports a wrong executor as a failure with the size of the error', async () => {
    const wrong: ExecuteFn = async (m, inputs) => {
      const { outputs } = await ortExecute(m, inputs);
      for (const k of Object.keys(outputs)) outputs[k] = add(outputs[k] as Tensor, 0.01);
      return { outputs };
    };
    const r = await runTestDirectory(join(TESTDATA, 'onnx-ops/test_softmax_axis_1'), { execute: wrong });
    expect(r.ok).toBe(false);
    expect(r.maxAbsDiff).toBeCloseTo(0.01, 5);
    expect(r.outputs[0]?.mismatches).toBeGreaterThan(0);
  });

  it('turns an executor error into a result, not a throw', async () => {
    const r = await runTestDirectory(join(TESTDATA, 'onnx-ops/test_softmax_axis_1'), {
      execute: () => {
        throw Object.assign(new Error('boom'));
      },
    });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('CRASH');
    const missing = await runTestDirectory(join(TESTDATA, 'no-such-dir'), { execute: ortExecute });
    expect(missing.ok).toBe(false);
  });
});

describe('the conformance suite is passable', () => {
  it('onnxruntime-node, fed models rewritten by our encoder, passes every suite directory but the PyTorch BERT it refuses', {
    timeout: 120_000,
  }, async () => {
    const { suite, abs } = await import('../scripts/suite.js');
    const failing: string[] = [];
    const entries = suite();
    for (const e of entries) {
      const r = await runTestDirectory(abs(e.dir), { ...e.options, execute: ortExecute });
      if (!r.ok) failing.push(`${e.dir.split('/').pop()}: ${r.error?.message.split('\n')[0] ?? 'outputs differ'}`);
    }
    expect(entries.length).toBeGreaterThan(180);
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatch(/bert_squad_pytorch1.4_opset11: .*Concat.*rank/);
  });
});
