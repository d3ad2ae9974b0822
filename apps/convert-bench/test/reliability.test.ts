import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnx from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, GPT2, json, TESTDATA, tempDir } from './helpers.js';

// What a new user (and a fuzzer) hit: Swin's no-op dropouts, a Hugging Face cache's symlinks, FIFOs
// where files belong, a killed convert's temp file, unbounded --runs / --dim, an unwritable output.

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => {
  const d = join(tmp.dir, `case-${n++}`);
  mkdirSync(d);
  return d;
};

/** A pid that no process has: a child that has already exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

/**
 * A Swin-like block as PyTorch 1.13 exports torchvision's Swin: MatMul → Dropout(ratio=0,
 * training_mode=true) → LayerNorm → MatMul → Dropout(ratio, training_mode=true).
 */
function swinLike(ratio = 0): Uint8Array {
  const P = onnx.onnx;
  const D = 8;
  const f32 = (name: string, dims: number[], vals: number[]) => ({
    name,
    dataType: 1,
    dims,
    rawData: new Uint8Array(new Float32Array(vals).buffer),
  });
  const wave = (count: number, s: number) => Array.from({ length: count }, (_, i) => Math.sin(i * 1.3 + s));
  return P.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'swin-like',
      node: [
        { opType: 'MatMul', input: ['x', 'W0'], output: ['h'], name: 'proj' },
        { opType: 'Dropout', input: ['h', 'zero', 'train'], output: ['hd'], name: 'attn_drop' },
        {
          opType: 'LayerNormalization',
          input: ['hd', 'g', 'b'],
          output: ['ln'],
          name: 'norm1',
          attribute: [{ name: 'axis', type: 2, i: -1 }],
        },
        { opType: 'MatMul', input: ['ln', 'W1'], output: ['y0'], name: 'mlp' },
        { opType: 'Dropout', input: ['y0', 'ratio', 'train'], output: ['y'], name: 'mlp_drop' },
      ],
      initializer: [
        f32('W0', [D, D], wave(D * D, 1)),
        f32('g', [D], wave(D, 2)),
        f32('b', [D], wave(D, 3)),
        f32('W1', [D, D], wave(D * D, 4)),
        f32('zero', [], [0]),
        f32('ratio', [], [ratio]),
        { name: 'train', dataType: 9, dims: [], rawData: new Uint8Array([1]) },
      ],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: D }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
    },
  }).finish();
}

describe('the three failures a new user hits', () => {
  it('convert folds a model with Dropout(ratio=0, training_mode=true) and both engines verify it', async () => {
    const d = fresh();
    writeFileSync(join(d, 'swin.onnx'), swinLike());
    const r = await cli('convert', join(d, 'swin.onnx'), '-o', join(d, 'out.onnx'), '--json');
    expect(r.stderr).not.toMatch(/normkit:/);
    expect(r.code).toBe(0);
    const doc = json<{ foldedLayerNorms: number; equivalent: boolean; verification: { engine: string }[] }>(r);
    expect(doc.foldedLayerNorms).toBe(1);
    expect(doc.equivalent).toBe(true);
    expect(doc.verification.map((v) => v.engine).sort()).toEqual(['normkit-cpu', 'onnxruntime']);
  });

  it('a real training-mode dropout (ratio 0.1) is still refused, naming the node and the ratio', async () => {
    const d = fresh();
    writeFileSync(join(d, 'swin.onnx'), swinLike(0.1));
    const r = await cli('convert', join(d, 'swin.onnx'), '-o', join(d, 'out.onnx'), '--engine', 'normkit-cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"mlp_drop".*training_mode=true with ratio 0\.1/);
    expect(existsSync(join(d, 'out.onnx'))).toBe(false);
  });

  it('test-onnx finds a model.onnx that is a symlink into blobs/ (a Hugging Face cache) and runs it', async () => {
    const d = fresh();
    const src = join(TESTDATA, 'onnx-ops/test_softmax_axis_1');
    mkdirSync(join(d, 'blobs'));
    mkdirSync(join(d, 'snapshots/abc123'), { recursive: true });
    writeFileSync(join(d, 'blobs/7f1e'), readFileSync(join(src, 'model.onnx')));
    symlinkSync('../../blobs/7f1e', join(d, 'snapshots/abc123/model.onnx'));
    symlinkSync(join(src, 'test_data_set_0'), join(d, 'snapshots/abc123/test_data_set_0'));
    const r = await cli('test-onnx', d, '--json');
    expect(r.code).toBe(0);
    const doc = json<{ passed: number; results: { dir: string }[] }>(r);
    expect(doc.passed).toBe(1);
    expect(doc.results[0]?.dir).toBe(join(d, 'snapshots/abc123'));
  });
});

describe('fuzz findings', () => {
  it('run --inputs with a FIFO is refused at once, not read', { timeout: 20_000 }, async () => {
    const d = fresh();
    expect(spawnSync('mkfifo', [join(d, 'input_0.pb')]).status).toBe(0);
    const r = await cli('run', GPT2, '--inputs', join(d, 'input_0.pb'), '--engine', 'normkit-cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/input_0\.pb: is a FIFO \(named pipe\), expected a regular file/);
  });

  it('a model whose external data is a directory is a clear NOT_A_FILE error, not "not an ONNX model"', async () => {
    const d = fresh();
    mkdirSync(join(d, 'w.bin'));
    const P = onnx.onnx;
    const bytes = P.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        node: [{ opType: 'Mul', input: ['x', 'w'], output: ['y'] }],
        initializer: [
          {
            name: 'w',
            dims: [4],
            dataType: 1,
            dataLocation: 1,
            externalData: [
              { key: 'location', value: 'w.bin' },
              { key: 'length', value: '16' },
            ],
          },
        ],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      },
    }).finish();
    writeFileSync(join(d, 'm.onnx'), bytes);
    const r = await cli('inspect', join(d, 'm.onnx'), '--json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/external data "w\.bin".*directory/);
    expect(r.stderr).not.toMatch(/not an ONNX model/);
  });

  it("convert removes a temp file a killed convert left beside the output, and leaves a live process's", async () => {
    const d = fresh();
    const stale = join(d, `.out.onnx.tmp-${deadPid()}-mf3k2a-x1y2z3`);
    const live = join(d, `.out.onnx.tmp-${process.pid}-mf3k2b-a1b2c3`);
    writeFileSync(stale, 'half a model');
    writeFileSync(live, 'being written');
    const r = await cli('convert', 'zoo:gpt2', '-o', join(d, 'out.onnx'), '--engine', 'normkit-cpu');
    expect(r.code).toBe(0);
    expect(readdirSync(d).sort()).toEqual([`.out.onnx.tmp-${process.pid}-mf3k2b-a1b2c3`, 'out.onnx']);
  });

  it('bounds --runs (convert, verify, bench) and says why', async () => {
    const d = fresh();
    const c = await cli('convert', 'zoo:gpt2', '-o', join(d, 'o.onnx'), '--runs', '1000000000');
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--runs must be at most 10000 \(each run is a forward pass/);
    const b = await cli('bench', 'zoo:gpt2', '--runs', '1e15');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--runs must be at most 100000/);
    const v = await cli('verify', GPT2, GPT2, '--runs', '99999999');
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/--runs must be at most 10000/);
  });

  it('a misspelled --dim names the dims that exist; a huge one is a clear error, not an internal one', async () => {
    const typo = await cli('run', GPT2, '--dim', 'seq=16', '--engine', 'normkit-cpu');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/--dim seq: the model has no input dim of that name; its named input dims are: batch_size, seq_len/);
    const huge = await cli('run', GPT2, '--dim', 'seq_len=2000000000', '--engine', 'normkit-cpu');
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/up to 16000000000 elements: over the 268435456 elements/);
    const beyond = await cli('run', GPT2, '--dim', 'seq_len=99999999999');
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toMatch(/a dimension must be at most 2147483647/);
    expect(`${typo.stderr}${huge.stderr}${beyond.stderr}`).not.toMatch(/internal error/);
  });

  it('an unwritable output is refused before any work', async () => {
    const d = fresh();
    const ro = join(d, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const rootWritesAnyway = spawnSync('sh', ['-c', `touch ${join(ro, 'x')} 2>/dev/null`]).status === 0;
    const r = await cli('convert', GPT2, '-o', join(ro, 'out.onnx'));
    chmodSync(ro, 0o755);
    if (!rootWritesAnyway) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot write there: creating a file in .*read-only fails \(EACCES\)/);
    }
    // A directory nobody can create files in, root included (Linux): refused before the fold starts.
    if (process.platform === 'linux') {
      const proc = await cli('convert', GPT2, '-o', '/proc/normkit-out.onnx');
      expect(proc.code).toBe(2);
      expect(proc.stderr).toMatch(/\/proc\/normkit-out\.onnx: cannot write there: creating a file in \/proc fails/);
      expect(proc.stderr).not.toMatch(/fold LayerNorms/);
    }
    const asDir = await cli('convert', GPT2, '-o', d);
    expect(asDir.code).toBe(2);
    expect(asDir.stderr).toMatch(/is a directory; give the path of the \.onnx file/);
  });
});
