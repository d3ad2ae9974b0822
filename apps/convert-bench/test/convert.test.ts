import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tensorFromProto } from '@normkit/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, GPT2, GPT2_DIR, json, spawnCli, tempDir } from './helpers.js';

interface Convert {
  command: string;
  input: string;
  output: string | null;
  written: boolean;
  layerNorms: number;
  foldedLayerNorms: number;
  maxAbsDiff: number;
  maxRelDiff: number;
  argmaxAgreement: number;
  equivalent: boolean;
  verification: { engine: string; equivalent: boolean; outputs: { name: string; maxAbsDiff: number }[] }[];
  analysis: { name: string; foldable: boolean; reason: string; component: number | null }[];
}

const tmp = tempDir();
const input = join(tmp.dir, 'gpt2.onnx'); // a writable copy, so "refuses to overwrite" is really the CLI refusing
const output = join(tmp.dir, 'gpt2.rms.onnx');
const tiny = join(tmp.dir, 'gpt2-tiny.onnx'); // the zoo's GPT-2 tiny: fast, for the failure paths
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
let inputHash = '';
let result: Convert;

beforeAll(async () => {
  copyFileSync(GPT2, input);
  inputHash = sha(input);
  expect((await cli('zoo', 'gpt2', '-o', tiny, '-q')).code).toBe(0);
  const r = await cli('convert', input, '-o', output, '--json');
  expect(r.stderr).not.toMatch(/normkit: /); // progress only, no error or warning
  expect(r.code).toBe(0);
  result = json<Convert>(r);
});
afterAll(tmp.cleanup);

const entries = (dir: string) => readdirSync(dir).sort();

describe('normkit convert (PyTorch GPT-2 export, 25 decomposed LayerNorms)', () => {
  it('folds all 25, verified equal in our executor and onnxruntime', () => {
    expect(result).toMatchObject({
      command: 'convert',
      input,
      output,
      written: true,
      layerNorms: 25,
      foldedLayerNorms: 25,
      equivalent: true,
    });
    expect(result.verification.map((v) => v.engine)).toEqual(['normkit-cpu', 'onnxruntime']);
    expect(result.verification.every((v) => v.equivalent)).toBe(true);
    expect(result.maxAbsDiff).toBeLessThan(1e-4);
    expect(result.maxRelDiff).toBeLessThan(1e-5);
    expect(result.argmaxAgreement).toBe(1);
    expect(result.analysis).toHaveLength(25);
    expect(existsSync(output)).toBe(true);
    expect(sha(input)).toBe(inputHash);
  });

  it('the written model reproduces the exporter’s stored output in onnxruntime (independent reference, 1e-4)', async () => {
    const x = tensorFromProto(readFileSync(join(GPT2_DIR, 'test_data_set_0/input_0.pb')));
    const expected = tensorFromProto(readFileSync(join(GPT2_DIR, 'test_data_set_0/output_0.pb')));
    const session = await ort.InferenceSession.create(output, { intraOpNumThreads: 1 });
    const out = await session.run({ input_ids: new ort.Tensor('int64', x.data as BigInt64Array, [...x.shape]) });
    await session.release();
    const got = out.hidden_states?.data as Float32Array;
    const exp = expected.data as Float32Array;
    expect(got.length).toBe(exp.length);
    let worst = 0;
    for (let i = 0; i < exp.length; i++)
      worst = Math.max(worst, Math.abs((got[i] as number) - (exp[i] as number)) / Math.max(1, Math.abs(exp[i] as number)));
    expect(worst).toBeLessThan(1e-4);
    // And no LayerNorm subgraph is left: it now has RMSNorms.
    const inspect = json<{ opHistogram: Record<string, number>; layerNorms: { total: number; rmsNorms: number } }>(
      await cli('inspect', output, '--json'),
    );
    expect(inspect.layerNorms.total).toBe(0);
    expect(inspect.opHistogram.SimplifiedLayerNormalization).toBe(25);
  });

  it('refuses to overwrite its input: same path, another spelling of it, a symlink to it', async () => {
    const alias = join(tmp.dir, 'sub', '..', 'gpt2.onnx');
    mkdirSync(join(tmp.dir, 'sub'), { recursive: true });
    const link = join(tmp.dir, 'link.onnx');
    symlinkSync(input, link);
    for (const out of [input, alias, link]) {
      const before = entries(tmp.dir);
      const r = await cli('convert', input, '-o', out);
      expect(r.code, out).toBe(2);
      expect(r.stderr).toBe(`normkit: ${out}: refusing to overwrite the input model; choose another output path\n`);
      expect(sha(input)).toBe(inputHash);
      expect(entries(tmp.dir)).toEqual(before);
    }
  });

  it('a model with no LayerNorm: exit 2, one line, nothing written, no temp files', async () => {
    const before = entries(tmp.dir);
    const r = await cli('convert', 'zoo:llama', '-o', join(tmp.dir, 'llama.onnx'));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('normkit:'))).toEqual([
      'normkit: zoo:llama:tiny: no LayerNorm to fold (no LayerNormalization node and no decomposed LayerNorm subgraph)',
    ]);
    expect(entries(tmp.dir)).toEqual(before);
  });

  it('LayerNorms but none foldable: exit 2, names the first blocked one and why', async () => {
    const r = await cli('convert', 'zoo:whisper-encoder', '-o', join(tmp.dir, 'w.onnx'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /normkit: zoo:whisper-encoder:tiny: no LayerNorm to fold: none of its 5 LayerNorms is foldable \(first: ".*": blocked by/,
    );
  });

  it('a failed verification writes nothing (exit 1) unless --force (exit 0, warning)', async () => {
    // Tolerance 0: folding changes float32 rounding, so the outputs differ in the last bits.
    const strict = join(tmp.dir, 'strict.onnx');
    const before = entries(tmp.dir);
    const r = await cli('convert', tiny, '-o', strict, '--tolerance', '0', '--engine', 'normkit-cpu', '--json');
    expect(r.code).toBe(1);
    expect(json<Convert>(r).maxAbsDiff).toBeGreaterThan(0);
    expect(json<Convert>(r)).toMatchObject({ equivalent: false, written: false, foldedLayerNorms: 5 });
    expect(r.stderr).toMatch(
      new RegExp(
        `normkit: ${strict.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not written: the converted model's outputs differ .*use --force`,
      ),
    );
    expect(entries(tmp.dir)).toEqual(before);
    const f = await cli('convert', tiny, '-o', strict, '--tolerance', '0', '--engine', 'normkit-cpu', '--force', '--json');
    expect(f.code).toBe(0);
    expect(json<Convert>(f)).toMatchObject({ equivalent: false, written: true });
    expect(f.stderr).toMatch(/written with --force although verification failed/);
    expect(existsSync(strict)).toBe(true);
  });

  it('an output directory that does not exist, or an output that is a directory: exit 2, no temp files', async () => {
    const r = await cli('convert', tiny, '-o', join(tmp.dir, 'missing', 'x.onnx'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/x\.onnx: cannot write there: directory .*missing does not exist/);
    const dirOut = join(tmp.dir, 'adir');
    mkdirSync(dirOut);
    const before = entries(tmp.dir);
    const d = await cli('convert', tiny, '-o', dirOut, '--engine', 'normkit-cpu');
    expect(d.code).toBe(2);
    expect(d.stderr.split('\n').filter((l) => l.startsWith('normkit:'))).toHaveLength(1);
    expect(entries(tmp.dir)).toEqual(before);
    expect(entries(dirOut)).toEqual([]);
  });

  it('as a process with --json: stdout is exactly one JSON document, progress goes to stderr', () => {
    const out = join(tmp.dir, 'proc.onnx');
    const r = spawnCli(['convert', tiny, '-o', out, '--json', '--rms-format', 'decomposed']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Convert & { rmsFormat: string };
    expect(doc.rmsFormat).toBe('decomposed');
    expect(doc.foldedLayerNorms).toBe(5);
    expect(r.stdout.trim().startsWith('{') && r.stdout.trim().endsWith('}')).toBe(true);
    expect(r.stderr).toMatch(/fold LayerNorms …/);
  });
});
