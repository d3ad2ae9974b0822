import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, loadModel, saveModel } from '../src/index.js';
import { canon, TESTDATA } from './helpers.js';
import { sameOutputs } from './ort.js';
import { f32raw, model, node, P, vi } from './proto.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'normkit-onnx-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** y = x * w with w stored in an external file at `location` (written by onnx-proto, independent of our writer). */
function externalModel(location: string, offset = 0): Uint8Array {
  return model({
    node: [node('Mul', ['x', 'w'], ['y'])],
    initializer: [
      {
        name: 'w',
        dims: [4],
        dataType: 1,
        dataLocation: 1,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: '16' },
        ],
      },
    ],
    input: [vi('x', 1, [4])],
    output: [vi('y', 1, [4])],
  });
}

describe('external data', () => {
  it('reads external data from inside the model folder (with an offset)', async () => {
    const d = tmp();
    writeFileSync(join(d, 'weights.bin'), new Uint8Array([...new Uint8Array(8), ...f32raw([1, 2, 3, 4])]));
    writeFileSync(join(d, 'm.onnx'), externalModel('weights.bin', 8));
    const m = await loadModel(join(d, 'm.onnx'));
    expect(m.graph.initializers.get('w')?.toArray()).toEqual([1, 2, 3, 4]);
  });

  it('decodeModel reads external data through an injected reader, and refuses without one', () => {
    const bytes = externalModel('w.bin');
    const m = decodeModel(bytes, { externalData: (loc) => (loc === 'w.bin' ? f32raw([5, 6, 7, 8]) : new Uint8Array()) });
    expect(m.graph.initializers.get('w')?.toArray()).toEqual([5, 6, 7, 8]);
    expect(() => decodeModel(bytes)).toThrow(expect.objectContaining({ code: 'EXTERNAL_DATA_UNAVAILABLE' }));
  });

  it.each([['../outside.bin'], ['sub/../../outside.bin'], ['..\\outside.bin']])('refuses a location that goes up: %s', async (loc) => {
    const d = tmp();
    writeFileSync(join(d, 'm.onnx'), externalModel(loc));
    await expect(loadModel(join(d, 'm.onnx'))).rejects.toMatchObject({
      code: 'UNSAFE_EXTERNAL_DATA',
      message: expect.stringContaining('..'),
    });
    expect(() => decodeModel(externalModel(loc), { externalData: () => f32raw([1, 2, 3, 4]) })).toThrow(
      expect.objectContaining({ code: 'UNSAFE_EXTERNAL_DATA' }),
    );
  });

  it.each([['/etc/passwd'], ['C:\\weights.bin'], ['\\\\server\\share\\w.bin']])('refuses an absolute location: %s', async (loc) => {
    const d = tmp();
    writeFileSync(join(d, 'm.onnx'), externalModel(loc));
    await expect(loadModel(join(d, 'm.onnx'))).rejects.toMatchObject({
      code: 'UNSAFE_EXTERNAL_DATA',
      message: expect.stringContaining('absolute'),
    });
  });

  it('refuses a symlink that leads out of the model folder', async () => {
    const outside = tmp();
    writeFileSync(join(outside, 'secret.bin'), f32raw([1, 2, 3, 4]));
    const d = tmp();
    symlinkSync(join(outside, 'secret.bin'), join(d, 'w.bin'));
    writeFileSync(join(d, 'm.onnx'), externalModel('w.bin'));
    await expect(loadModel(join(d, 'm.onnx'))).rejects.toMatchObject({
      code: 'UNSAFE_EXTERNAL_DATA',
      message: expect.stringContaining('outside'),
    });
  });

  it('names a missing or short external file', async () => {
    const d = tmp();
    writeFileSync(join(d, 'm.onnx'), externalModel('missing.bin'));
    await expect(loadModel(join(d, 'm.onnx'))).rejects.toMatchObject({ code: 'EXTERNAL_DATA_MISSING' });
    writeFileSync(join(d, 'short.bin'), new Uint8Array(4));
    writeFileSync(join(d, 'm2.onnx'), externalModel('short.bin'));
    await expect(loadModel(join(d, 'm2.onnx'))).rejects.toMatchObject({ code: 'CORRUPT_TENSOR' });
  });
});

describe('saveModel', () => {
  const bert = join(TESTDATA, 'third-party/optimum/tests/assets/onnx/model.onnx');

  it('writes external data beside the model; onnxruntime reads it and computes the same outputs', async () => {
    const d = tmp();
    const m = await loadModel(bert);
    await saveModel(m, join(d, 'ext.onnx'), { externalDataThreshold: 1024 });
    expect(readdirSync(d).sort()).toEqual(['ext.onnx', 'ext.onnx.data']);
    expect(readFileSync(join(d, 'ext.onnx')).length).toBeLessThan(readFileSync(bert).length / 2);
    const p = P.ModelProto.decode(readFileSync(join(d, 'ext.onnx')));
    expect(p.graph?.initializer?.some((t) => t.dataLocation === 1)).toBe(true);
    const back = await loadModel(join(d, 'ext.onnx'));
    const values = (mm: Model) =>
      [...mm.graph.initializers].map(([k, t]) => [k, t.dtype, [...t.shape], (canon(t) as { hash: string }).hash]);
    expect(values(back)).toEqual(values(m));
    // onnxruntime loads the external data by path and gives bit-identical outputs.
    const opts = { intraOpNumThreads: 1, logSeverityLevel: 4 as const };
    const a = await ort.InferenceSession.create(bert, opts);
    const b = await ort.InferenceSession.create(join(d, 'ext.onnx'), opts);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of a.inputNames) feeds[name] = new ort.Tensor('int64', BigInt64Array.from([101n, 7592n, 2088n, 102n]), [1, 4]);
    expect(sameOutputs(await a.run(feeds), await b.run(feeds))).toBe('');
  });

  it('moves tensors to external data by itself when the model would pass the protobuf limit', async () => {
    const d = tmp();
    const g = new Graph('big');
    g.initializers.set('w', Tensor.randn([64, 64], 1));
    g.addNode({ opType: 'Identity', inputs: ['w'], outputs: ['y'] });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [64, 64] });
    // Pretend the limit is 10 kB (a real test of 2 GiB would need 2 GiB of memory).
    await saveModel(new Model(g), join(d, 'big.onnx'), { maxProtoBytes: 10_000 });
    expect(existsSync(join(d, 'big.onnx.data'))).toBe(true);
    const back = await loadModel(join(d, 'big.onnx'));
    expect(canon(back.graph.initializers.get('w'))).toMatchObject({ hash: (canon(g.initializers.get('w')) as { hash: string }).hash });
  });

  it('refuses to overwrite the file the model came from, unless told to; leaves no temp files', async () => {
    const d = tmp();
    writeFileSync(join(d, 'in.onnx'), readFileSync(bert));
    const m = await loadModel(join(d, 'in.onnx'));
    await expect(saveModel(m, join(d, 'in.onnx'))).rejects.toMatchObject({ code: 'WOULD_OVERWRITE_INPUT' });
    await expect(saveModel(m.clone(), join(d, '.', 'in.onnx'))).rejects.toMatchObject({ code: 'WOULD_OVERWRITE_INPUT' });
    await saveModel(m, join(d, 'in.onnx'), { overwrite: true });
    await saveModel(m, join(d, 'out.onnx'));
    expect(readdirSync(d).sort()).toEqual(['in.onnx', 'out.onnx']);
    expect(Buffer.compare(readFileSync(join(d, 'in.onnx')), readFileSync(join(d, 'out.onnx')))).toBe(0);
  });

  it('never leaves a half-written file when writing fails', async () => {
    const d = tmp();
    writeFileSync(join(d, 'keep.onnx'), 'old contents');
    const g = new Graph('bad');
    g.addNode({ opType: 'Foo', inputs: [], outputs: ['y'], attributes: { a: { type: 'raw', value: 42 } } });
    await expect(saveModel(new Model(g), join(d, 'keep.onnx'))).rejects.toMatchObject({ code: 'UNSUPPORTED_ATTRIBUTE' });
    expect(readFileSync(join(d, 'keep.onnx'), 'utf8')).toBe('old contents');
    await expect(saveModel(new Model(g), join(d, 'no-such-dir', 'x.onnx'))).rejects.toMatchObject({ code: 'UNSUPPORTED_ATTRIBUTE' });
    expect(readdirSync(d)).toEqual(['keep.onnx']);
  });

  it('reports a missing model file with FILE_NOT_FOUND', async () => {
    await expect(loadModel(join(tmp(), 'nope.onnx'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
