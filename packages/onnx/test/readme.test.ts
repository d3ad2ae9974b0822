import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeModel, encodeModel, loadModel, saveModel } from '../src/index.js';
import { TESTDATA } from './helpers.js';

it('the README example runs (load, save beside it, refuse to overwrite the input, decode/encode bytes)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'normkit-readme-'));
  try {
    copyFileSync(join(TESTDATA, 'third-party/optimum/tests/assets/onnx/model.onnx'), join(d, 'bert.onnx'));
    const model = await loadModel(join(d, 'bert.onnx'));
    expect(model.graph.nodes.length).toBeGreaterThan(50);
    expect(model.opset()).toBeGreaterThan(10);
    await saveModel(model, join(d, 'bert-rms.onnx'));
    await expect(saveModel(model, join(d, 'bert.onnx'))).rejects.toMatchObject({ code: 'WOULD_OVERWRITE_INPUT' });
    const bytes = new Uint8Array(readFileSync(join(d, 'bert-rms.onnx')));
    const again = decodeModel(bytes, { fileName: 'model.onnx' });
    expect(Buffer.from(encodeModel(again)).equals(Buffer.from(bytes))).toBe(true);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
