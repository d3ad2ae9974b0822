import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('reads a symlinked model (a Hugging Face cache) and symlinked external data that stays in the folder', async () => {
    const d = tmp();
    mkdirSync(join(d, 'blobs'));
    mkdirSync(join(d, 'snapshot'));
    writeFileSync(join(d, 'blobs', '3f2a'), externalModel('w.bin'));
    symlinkSync('../blobs/3f2a', join(d, 'snapshot', 'model.onnx'));
    writeFileSync(join(d, 'snapshot', 'real-w.bin'), f32raw([1, 2, 3, 4]));
    symlinkSync('real-w.bin', join(d, 'snapshot', 'w.bin'));
    const m = await loadModel(join(d, 'snapshot', 'model.onnx'));
    expect(m.graph.initializers.get('w')?.toArray()).toEqual([1, 2, 3, 4]);
  });

  it('still refuses symlinked external data that resolves out of the model folder, with a hint for a Hugging Face cache', async () => {
    const d = tmp();
    mkdirSync(join(d, 'blobs'));
    mkdirSync(join(d, 'snapshot'));
    writeFileSync(join(d, 'blobs', '3f2a'), externalModel('model.onnx_data'));
    writeFileSync(join(d, 'blobs', '9c1e'), f32raw([1, 2, 3, 4]));
    symlinkSync('../blobs/3f2a', join(d, 'snapshot', 'model.onnx'));
    symlinkSync('../blobs/9c1e', join(d, 'snapshot', 'model.onnx_data'));
    await expect(loadModel(join(d, 'snapshot', 'model.onnx'))).rejects.toMatchObject({
      code: 'UNSAFE_EXTERNAL_DATA',
      message: expect.stringMatching(/outside the model's folder.*Hugging Face cache.*cp -rL/),
    });
  });

  it('refuses external data that is a FIFO or a directory with NOT_A_FILE, without blocking', { timeout: 10_000 }, async () => {
    const d = tmp();
    expect(spawnSync('mkfifo', [join(d, 'fifo.bin')]).status).toBe(0);
    mkdirSync(join(d, 'dir.bin'));
    for (const [loc, kind] of [
      ['fifo.bin', 'FIFO'],
      ['dir.bin', 'directory'],
    ]) {
      writeFileSync(join(d, `${loc}.onnx`), externalModel(loc as string));
      await expect(loadModel(join(d, `${loc}.onnx`))).rejects.toMatchObject({
        code: 'NOT_A_FILE',
        message: expect.stringContaining(kind as string),
      });
    }
  });

  it('refuses a model path that is a FIFO or a directory with NOT_A_FILE, without blocking', { timeout: 10_000 }, async () => {
    const d = tmp();
    expect(spawnSync('mkfifo', [join(d, 'm.onnx')]).status).toBe(0);
    await expect(loadModel(join(d, 'm.onnx'))).rejects.toMatchObject({ code: 'NOT_A_FILE', message: expect.stringContaining('FIFO') });
    await expect(loadModel(d)).rejects.toMatchObject({ code: 'NOT_A_FILE', message: expect.stringContaining('directory') });
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

  it('removes temp files a killed writer left beside the output (dead pid), keeping a live one', async () => {
    const d = tmp();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const stale = [`.m.onnx.tmp-${dead}-mf3k2a-x1y2z3`, `.m.onnx.data.tmp-${dead}-mf3k2a-x1y2z3`];
    const live = `.m.onnx.tmp-${process.pid}-mf3k2b-a1b2c3`;
    const unrelated = `.other.onnx.tmp-${dead}-mf3k2a-x1y2z3`;
    for (const f of [...stale, live, unrelated]) writeFileSync(join(d, f), 'partial');
    await saveModel(decodeModel(externalModel('w.bin'), { externalData: () => f32raw([1, 2, 3, 4]) }), join(d, 'm.onnx'));
    expect(readdirSync(d).sort()).toEqual([live, unrelated, 'm.onnx'].sort());
  });

  it('removes its temp files when the process is interrupted while writing (SIGTERM), then ends by the signal', { timeout: 30_000 }, () => {
    const d = tmp();
    const script = join(d, 'writer.mts');
    const tempFiles = new URL('../src/temp-files.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      `import fs from 'node:fs';
import { withTempCleanup } from ${JSON.stringify(tempFiles)};
const tmp = ${JSON.stringify(join(d, '.out.onnx.tmp-1-a-b'))};
await withTempCleanup(fs, [tmp], async () => {
  fs.writeFileSync(tmp, 'half');
  process.kill(process.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 20_000));
});
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: new URL('..', import.meta.url).pathname, timeout: 25_000 });
    expect(r.signal).toBe('SIGTERM');
    expect(readdirSync(d)).toEqual(['writer.mts']);
  });

  it('reports a missing model file with FILE_NOT_FOUND', async () => {
    await expect(loadModel(join(tmp(), 'nope.onnx'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
