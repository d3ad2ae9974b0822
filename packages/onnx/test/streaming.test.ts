import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Executor,
  foldLayerNorms,
  GraphBuilder,
  isLazy,
  type LazyTensor,
  type Model,
  onnxTypeCode,
  randomInputs,
  tagElemType,
  taggedElemType,
} from '@normkit/graph';
import { Rng, Tensor } from '@normkit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { readCompact } from '../src/compact.js';
import { encodeModel, LAZY_MIN_BYTES, loadModel, saveModel } from '../src/index.js';
import { TESTDATA } from './helpers.js';

const INT8 = onnxTypeCode('int8') as number;
const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'normkit-stream-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** x → MatMul(W [64×512], 128 KiB) → + b → LN → MatMul(W2 [512×256], 512 KiB) → y. */
function model(): Model {
  const b = new GraphBuilder('s');
  const x = b.input('x', 'float32', [2, 64]);
  const h = b.op('Add', [b.op('MatMul', [x, b.constant('W', Tensor.randn([64, 512], 1))]), b.constant('b', Tensor.randn([512], 2))]);
  const n = b.op('LayerNormalization', [h, b.constant('g', Tensor.randn([512], 3)), b.constant('beta', Tensor.randn([512], 4))], {
    axis: -1,
  });
  b.output(b.op('MatMul', [n, b.constant('W2', Tensor.randn([512, 256], 5))], {}, { output: 'y' }));
  return b.model(17);
}

describe('streamed models (loadModel / saveModel)', () => {
  it('gives big tensors as unread LazyTensors, from external data and from the model file, with the values of a full read', async () => {
    const d = tmp();
    await saveModel(model(), join(d, 'ext.onnx'), { externalDataThreshold: 1024 });
    await saveModel(model(), join(d, 'inline.onnx'));
    for (const f of ['ext.onnx', 'inline.onnx']) {
      const m = await loadModel(join(d, f));
      const full = await loadModel(join(d, f), { stream: false });
      const w = m.graph.initializers.get('W') as LazyTensor;
      expect(isLazy(w), f).toBe(true);
      expect(w.loaded).toBe(false);
      expect(isLazy(m.graph.initializers.get('b')), 'a 2 KiB bias is read at once').toBe(false);
      expect(isLazy(full.graph.initializers.get('W'))).toBe(false);
      for (const k of ['W', 'W2'])
        expect(Array.from(m.graph.initializers.get(k)?.data as Float32Array), `${f} ${k}`).toEqual(
          Array.from(full.graph.initializers.get(k)?.data as Float32Array),
        );
    }
  });

  it('a streamed model converts and saves with each weight read on demand, giving the same file as a full read', async () => {
    const d = tmp();
    await saveModel(model(), join(d, 'in.onnx'), { externalDataThreshold: 1024 });
    const streamed = await loadModel(join(d, 'in.onnx'));
    const full = await loadModel(join(d, 'in.onnx'), { stream: false });
    const a = foldLayerNorms(streamed, { verify: false }).model;
    const b = foldLayerNorms(full, { verify: false }).model;
    for (const t of a.graph.initializers.values()) if (isLazy(t)) expect(t.loaded).toBe(false);
    await saveModel(a, join(d, 'a.onnx'));
    await saveModel(b, join(d, 'b.onnx'), { externalDataThreshold: 1024 });
    // Streamed input saves with external data by default (the input's layout), one tensor at a time.
    expect(readdirSync(d).sort()).toEqual(['a.onnx', 'a.onnx.data', 'b.onnx', 'b.onnx.data', 'in.onnx', 'in.onnx.data']);
    expect(readFileSync(join(d, 'a.onnx.data')).equals(readFileSync(join(d, 'b.onnx.data')))).toBe(true);
    for (const t of a.graph.initializers.values()) if (isLazy(t)) expect(t.loaded, 'released after writing').toBe(false);
    const feed = randomInputs(b, 3);
    const want = new Executor(b).run(feed).outputs.y?.data as Float32Array;
    expect(Array.from(new Executor(await loadModel(join(d, 'a.onnx'))).run(feed).outputs.y?.data as Float32Array)).toEqual(
      Array.from(want),
    );
  });

  it('a streamed single-file model saves as one file, each weight read as it is written: the bytes of a full read', async () => {
    const d = tmp();
    await saveModel(model(), join(d, 'in.onnx'));
    const m = await loadModel(join(d, 'in.onnx'));
    await saveModel(m, join(d, 'streamed.onnx'));
    await saveModel(await loadModel(join(d, 'in.onnx'), { stream: false }), join(d, 'full.onnx'));
    expect(readdirSync(d).sort()).toEqual(['full.onnx', 'in.onnx', 'streamed.onnx']);
    expect(readFileSync(join(d, 'streamed.onnx')).equals(readFileSync(join(d, 'full.onnx')))).toBe(true);
    expect(readFileSync(join(d, 'streamed.onnx')).equals(readFileSync(join(d, 'in.onnx')))).toBe(true);
    const w = m.graph.initializers.get('W') as LazyTensor;
    expect(w.loaded).toBe(false);
    expect(w.loads).toBe(1);
  });

  it('a big int8 weight (DequantizeLinear) streams, keeps its narrow type, and runs as a full read does', async () => {
    const d = tmp();
    const [rows, cols] = [256, 512]; // 128 Ki int8 values: 128 KiB raw, read on demand
    const r = new Rng(7);
    const q = tagElemType(
      Tensor.from(
        Array.from({ length: rows * cols }, () => r.int(255) - 127),
        [rows, cols],
        'int32',
      ),
      INT8,
    );
    const b = new GraphBuilder('q');
    const w = b.op('DequantizeLinear', [
      b.constant('Wq', q),
      b.constant('s', Tensor.scalar(0.01)),
      b.constant('z', tagElemType(Tensor.scalar(0, 'int32'), INT8)),
    ]);
    b.output(b.op('MatMul', [b.input('x', 'float32', [2, rows]), w], {}, { output: 'y' }));
    await saveModel(b.model(17), join(d, 'q.onnx'), { externalDataThreshold: 1024 });
    const streamed = await loadModel(join(d, 'q.onnx'));
    const full = await loadModel(join(d, 'q.onnx'), { stream: false });
    const wq = streamed.graph.initializers.get('Wq') as LazyTensor;
    expect(isLazy(wq)).toBe(true);
    expect(taggedElemType(wq)).toBe(INT8);
    const x = { x: Tensor.randn([2, rows], 3) };
    expect(Array.from(new Executor(streamed, { streamWeights: true }).run(x).outputs.y?.data as Float32Array)).toEqual(
      Array.from(new Executor(full).run(x).outputs.y?.data as Float32Array),
    );
    expect(wq.loaded).toBe(false);
  });

  it('a single-file model is scanned without its big raw_data (held: the graph and small tensors), and a malformed one is still INVALID_ONNX', async () => {
    const d = tmp();
    const p = join(d, 'one.onnx');
    await saveModel(model(), p);
    const fd = openSync(p, 'r');
    const compact = readCompact(await import('node:fs'), fd, statSync(p).size, LAZY_MIN_BYTES);
    closeSync(fd);
    // W (128 KiB) and W2 (512 KiB) stay in the file; the biases and LN parameters (2 KiB each) are read.
    expect(compact?.ranges.map((r) => r.length)).toEqual([64 * 512 * 4, 512 * 256 * 4]);
    expect(compact?.bytes.length).toBeLessThan(20_000);
    expect(statSync(p).size).toBeGreaterThan(650_000);
    writeFileSync(join(d, 'cut.onnx'), readFileSync(p).subarray(0, 300_000));
    await expect(loadModel(join(d, 'cut.onnx'))).rejects.toMatchObject({ code: 'INVALID_ONNX' });
  });

  it('real exports load streamed (scanned, weights on demand) into the same model as a full read', async () => {
    const files = [
      'third-party/optimum/tests/assets/onnx/model.onnx',
      'third-party/onnxruntime/onnxruntime/test/python/transformers/test_data/models/gpt2_embedlayer_one_attn_exp.onnx',
    ];
    for (const f of files) {
      const streamed = await loadModel(join(TESTDATA, f));
      const lazy = [...streamed.graph.initializers.values()].filter(isLazy);
      expect(lazy.length, f).toBeGreaterThan(0);
      const full = encodeModel(await loadModel(join(TESTDATA, f), { stream: false }));
      expect(Buffer.from(encodeModel(streamed)).equals(Buffer.from(full)), f).toBe(true);
      for (const t of lazy) expect(t.loaded, f).toBe(false);
    }
  });

  it('check runs on the written files before they are moved into place; when it throws nothing is written', async () => {
    const d = tmp();
    const m = await loadModel(await saveAndPath(d));
    let seen: string[] = [];
    await expect(
      saveModel(m, join(d, 'out.onnx'), {
        check: async (p) => {
          seen = readdirSync(join(p, '..')).sort();
          expect((await loadModel(p)).graph.initializers.size).toBe(m.graph.initializers.size);
          throw new Error('not equivalent');
        },
      }),
    ).rejects.toThrow('not equivalent');
    expect(seen).toEqual(['out.onnx', 'out.onnx.data']);
    expect(readdirSync(d).sort()).toEqual(['in.onnx', 'in.onnx.data']);
    await saveModel(m, join(d, 'out.onnx'), { check: async () => {} });
    expect(readdirSync(d).sort()).toEqual(['in.onnx', 'in.onnx.data', 'out.onnx', 'out.onnx.data']);
  });

  it('a temp folder a killed writer left is removed on the next save; a data file changed after loading is FILE_CHANGED', async () => {
    const d = tmp();
    const stale = join(d, '.out.onnx.tmp-999999-mf3k2a-x1y2z3');
    mkdirSync(stale);
    writeFileSync(join(stale, 'out.onnx.data'), 'half');
    const m = await loadModel(await saveAndPath(d));
    await saveModel(m, join(d, 'out.onnx'));
    expect(readdirSync(d).sort()).toEqual(['in.onnx', 'in.onnx.data', 'out.onnx', 'out.onnx.data']);
    truncateSync(join(d, 'in.onnx.data'), 1000);
    expect(() => m.graph.initializers.get('W2')?.data).toThrow(expect.objectContaining({ code: 'FILE_CHANGED' }));
    // Saved over its own files (overwrite: true), a streamed model reads its tensors first and keeps them:
    // it still has its values after the files are replaced (whose offsets may differ).
    const again = await loadModel(join(d, 'out.onnx'));
    const w2 = again.graph.initializers.get('W2') as LazyTensor;
    const before = Array.from(w2.data as Float32Array);
    w2.release();
    await saveModel(again, join(d, 'out.onnx'), { overwrite: true });
    expect(w2.loaded).toBe(true);
    expect(Array.from(w2.data as Float32Array)).toEqual(before);
    expect(Array.from((await loadModel(join(d, 'out.onnx'))).graph.initializers.get('W2')?.data as Float32Array)).toEqual(before);
  });
});

async function saveAndPath(d: string): Promise<string> {
  const p = join(d, 'in.onnx');
  await saveModel(model(), p, { externalDataThreshold: 1024 });
  return p;
}
