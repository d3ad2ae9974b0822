import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, spawnCli, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);

interface Pipeline {
  command: string;
  session: string;
  model: { arch: string; original: string; converted: string | null };
  analyze: { total: number; foldable: number };
  convert: { foldedLayerNorms: number; equivalent: boolean; verification: { engine: string; equivalent: boolean }[] };
  bench: { ratios: { engine: string; speedup: number }[] } | null;
  report: string | null;
}

describe('normkit (no command): the whole pipeline on the built-in GPT-2', () => {
  it('build → analyze → convert → verify in both engines → bench → report, all in the session directory', async () => {
    const session = join(tmp.dir, 'demo');
    const r = await cli('--json', '--session', session, '--runs', '3', '--warmup', '1');
    expect(r.code, r.stderr).toBe(0);
    const d = json<Pipeline>(r);
    expect(d.command).toBe('pipeline');
    expect(d.model.arch).toBe('gpt2');
    // GPT-2 tiny: 2 layers → 2·2 + 1 = 5 LayerNorms, all foldable (pre-LN residual stream).
    expect(d.analyze).toMatchObject({ total: 5, foldable: 5 });
    expect(d.convert.foldedLayerNorms).toBe(5);
    expect(d.convert.equivalent).toBe(true);
    expect(d.convert.verification.map((v) => v.engine)).toEqual(['normkit-cpu', 'onnxruntime']);
    // normkit-gpu joins by default only where gpu.js has a graphics device.
    expect(d.bench?.ratios.map((x) => x.engine)).toEqual(expect.arrayContaining(['normkit-cpu', 'onnxruntime']));
    expect(readdirSync(session).sort()).toEqual([
      'analyze.json',
      'bench.json',
      'convert.json',
      'gpt2-tiny.onnx',
      'gpt2-tiny.rms.onnx',
      'report.html',
    ]);
    expect(d.report).toBe(join(session, 'report.html'));
  });

  it('as a process, human output: a summary with the speed-up table, progress on stderr', () => {
    const session = join(tmp.dir, 'human');
    const r = spawnCli(['--session', session, '--runs', '3', '--warmup', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 analyze\s+5 LayerNorms, 5 foldable/);
    expect(r.stdout).toMatch(/normkit-cpu\s+[\d.]+\s+[\d.]+\s+[\d.]+×/);
    expect(r.stdout).toMatch(/5 report\s+.*report\.html/);
    expect(r.stderr).toMatch(/verify in onnxruntime …/);
    expect(existsSync(join(session, 'report.html'))).toBe(true);
  });
});
