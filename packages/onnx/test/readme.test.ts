import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runExampleFromSource } from '../../../scripts/readme-example.mjs';
import { decodeModel, encodeModel, loadModel, saveModel } from '../src/index.js';
import { TESTDATA } from './helpers.js';

// The README's first example, verbatim, against the sources, in a folder holding the `bert.onnx` and the
// ONNX test directory it names (a BERT export from optimum's test assets; ONNX's test_softmax_axis_1).
it("the README's first example runs (load, save, run an ONNX test directory)", () => {
  const r = runExampleFromSource('packages/onnx');
  expect(r.status, r.stderr).toBe(0);
  const [counts, test] = r.stdout.trim().split('\n');
  const [nodes, opset] = counts!.split(' ').map(Number);
  expect(nodes).toBeGreaterThan(50);
  expect(opset).toBe(11);
  const [ok, maxAbsDiff] = test!.split(' ');
  expect(ok).toBe('true');
  expect(Number(maxAbsDiff)).toBeLessThan(1e-6);
});

it("what the README's comments claim: saving refuses to overwrite the input, bytes round-trip", async () => {
  const d = mkdtempSync(join(tmpdir(), 'normkit-readme-'));
  try {
    copyFileSync(join(TESTDATA, 'third-party/optimum/tests/assets/onnx/model.onnx'), join(d, 'bert.onnx'));
    const model = await loadModel(join(d, 'bert.onnx'));
    await saveModel(model, join(d, 'bert-rms.onnx'));
    await expect(saveModel(model, join(d, 'bert.onnx'))).rejects.toMatchObject({ code: 'WOULD_OVERWRITE_INPUT' });
    const bytes = new Uint8Array(readFileSync(join(d, 'bert-rms.onnx')));
    const again = decodeModel(bytes, { fileName: 'model.onnx' });
    expect(Buffer.from(encodeModel(again)).equals(Buffer.from(bytes))).toBe(true);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
