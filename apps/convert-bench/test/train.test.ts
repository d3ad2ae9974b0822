import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, tempDir } from './helpers.js';

// `normkit train` end to end on the real Fashion-MNIST (Debian's dataset-fashion-mnist), on the first
// 2000 training images so that it runs in seconds.
const DATA = '/usr/share/datasets/fashion-mnist';
const haveData = existsSync(DATA);
if (!haveData) console.warn(`train.test: ${DATA} is missing (apt-get install dataset-fashion-mnist); skipping`);

interface TrainDoc {
  command: string;
  arch: string;
  norm: string;
  steps: number;
  testAccuracy: number;
  trainLoss: number[];
  samplesPerSecond: number;
  seconds: number;
  exported?: string;
  exportedInit?: string;
  checkpoint?: string;
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe.skipIf(!haveData)('normkit train', () => {
  const onnx = join(tmp.dir, 'mlp.onnx');
  const init = join(tmp.dir, 'mlp-init.onnx');
  const ckpt = join(tmp.dir, 'mlp.nkc');
  let doc: TrainDoc;

  it('trains the LN MLP on 2000 images, reports accuracy and exports ONNX that onnxruntime runs', async () => {
    const r = await cli('train', '--limit', '2000', '--epochs', '2', '--export', onnx, '--export-init', init, '--save', ckpt, '--json');
    expect(r.code, r.stderr).toBe(0);
    doc = json<TrainDoc>(r);
    expect(doc).toMatchObject({ command: 'train', arch: 'mlp', norm: 'ln', steps: 32, exported: onnx, exportedInit: init });
    expect(doc.trainLoss).toHaveLength(2);
    expect(doc.trainLoss[1]).toBeLessThan(doc.trainLoss[0] as number); // it learns
    // 2000 images, 2 epochs: well above chance (10%); PyTorch reaches about 75% in this setting.
    expect(doc.testAccuracy).toBeGreaterThan(0.65);
    expect(r.stderr).toMatch(/epoch 1 step \d+\/32 loss [\d.]+ \d+ samples\/s ETA/);
    const session = await ort.InferenceSession.create(onnx);
    expect(session.inputNames).toEqual(['pixels']);
    expect(session.outputNames).toEqual(['logits']);
    const out = await session.run({ pixels: new ort.Tensor('float32', new Float32Array(3 * 784).fill(0.5), [3, 1, 28, 28]) });
    expect(out.logits?.dims).toEqual([3, 10]);
  });

  it('exports an LN MLP whose LayerNorms are all foldable (normkit analyze)', async () => {
    const r = await cli('analyze', onnx, '--json');
    expect(r.code, r.stderr).toBe(0);
    const a = json<{ summary: { total: number; foldable: number } }>(r);
    expect(a.summary).toMatchObject({ total: 2, foldable: 2 });
  });

  it('resumes from its checkpoint and refuses one of another architecture', async () => {
    const more = await cli('train', '--limit', '2000', '--epochs', '3', '--resume', ckpt, '--json');
    expect(more.code, more.stderr).toBe(0);
    expect(json<TrainDoc>(more).steps).toBe(48);
    const other = await cli('train', '--arch', 'mlp', '--norm', 'rms', '--limit', '2000', '--resume', ckpt, '--json');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/norm/);
  });

  it('stops on a non-finite loss with the step and a hint, writing no checkpoint', async () => {
    const bad = join(tmp.dir, 'nan.nkc');
    const r = await cli('train', '--limit', '512', '--lr', '1e30', '--optimizer', 'sgd', '--save', bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/step \d+/);
    expect(r.stderr).toMatch(/learning rate|lr/i);
    expect(existsSync(bad)).toBe(false);
  });

  it('names the directory and the files it needs when the data is missing, and rejects bad options', async () => {
    const missing = await cli('train', '--data', join(tmp.dir, 'nowhere'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nowhere/);
    expect(missing.stderr).toMatch(/train-images-idx3-ubyte/);
    expect((await cli('train', '--shuffle', 'maybe')).code).toBe(2);
    expect((await cli('train', '--arch', 'resnet')).code).toBe(2);
  });
});
