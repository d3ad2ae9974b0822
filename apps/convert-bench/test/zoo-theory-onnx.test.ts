import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, TESTDATA, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('normkit zoo', () => {
  it('--list names the nine architectures of the issue', async () => {
    const d = json<{ architectures: { name: string; expected: Record<string, { layerNorms: number }> }[] }>(
      await cli('zoo', '--list', '--json'),
    );
    expect(d.architectures.map((a) => a.name).sort()).toEqual([
      'bert',
      'bloom',
      'convnext',
      'gpt2',
      'llama',
      'mlp-mixer',
      'swin',
      'vit',
      'whisper-encoder',
    ]);
    // GPT-2 small is the published configuration: 12 layers → 25 LayerNorms.
    expect(d.architectures.find((a) => a.name === 'gpt2')?.expected.small?.layerNorms).toBe(25);
  });

  it('exports a model that inspect reads back (opset 14: decomposed LayerNorms)', async () => {
    const out = join(tmp.dir, 'vit.onnx');
    const r = await cli('zoo', 'vit', '--opset', '14', '-o', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ output: string; opset: number }>(r)).toMatchObject({ output: out, opset: 14 });
    expect(existsSync(out)).toBe(true);
    const i = json<{ opsets: { version: number }[]; layerNorms: { native: number; decomposed: number } }>(
      await cli('inspect', out, '--json'),
    );
    expect(i.opsets[0]?.version).toBe(14);
    expect(i.layerNorms.native).toBe(0);
    expect(i.layerNorms.decomposed).toBe(5);
  });

  it('needs -o (exit 2)', async () => {
    const r = await cli('zoo', 'gpt2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give the output file: normkit zoo gpt2 -o gpt2.onnx/);
  });
});

describe('normkit test-onnx', () => {
  const ops = join(TESTDATA, 'onnx-ops');
  it('runs backend-test directories and reports pass/fail per directory', async () => {
    const r = await cli('test-onnx', ops, '--filter', 'layer', '--json');
    const d = json<{
      passed: number;
      failed: number;
      results: { dir: string; ok: boolean; maxAbsDiff: number | null; error: string | null }[];
    }>(r);
    expect(d.results.length).toBeGreaterThan(0);
    expect(d.passed + d.failed).toBe(d.results.length);
    for (const x of d.results) expect(Object.keys(x).sort()).toEqual(['dir', 'error', 'maxAbsDiff', 'ok']);
    expect(r.code).toBe(d.failed > 0 ? 1 : 0);
  });

  it('a path without tests is bad input', async () => {
    const r = await cli('test-onnx', tmp.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no model.onnx in it or below it/);
  });
});

describe('normkit theory', () => {
  it('pln-width: L = 1, ε = 0.05 on [0, 1] needs ⌈1/(2·0.05)⌉ − 1 = 9 steps of 2 PLN neurons = 18, and the built network is within ε', async () => {
    const r = await cli('theory', 'pln-width', '--lipschitz', '1', '--epsilon', '0.05', '--json');
    expect(r.code, r.stderr).toBe(0);
    const d = json<{ calculator: string; input: { lipschitz: number }; result: { width: number; supError: number; verified: boolean } }>(r);
    expect(d.calculator).toBe('pln-width');
    expect(d.result.width).toBe(18);
    expect(d.result.verified).toBe(true);
    expect(d.result.supError).toBeLessThanOrEqual(0.05);
  });

  it('lnnet: 3 neurons per layer classify 16 random labelled points exactly', async () => {
    const r = await cli('theory', 'lnnet', '--points', '16', '--dim', '2', '--seed', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    const d = json<{ result: { depth: number; width: number; accuracy: number } }>(r);
    expect(d.result.width).toBe(3);
    expect(d.result.accuracy).toBe(1);
    expect(d.result.depth).toBeLessThanOrEqual(15);
  });

  it('fold-identity: LN(Wx+b) = RMSNorm(W′x+b′) to float64 rounding; the other calculators answer', async () => {
    const d = json<{ result: { residual: number; verified: boolean } }>(
      await cli('theory', 'fold-identity', '--rows', '16', '--cols', '8', '--json'),
    );
    expect(d.result.verified).toBe(true);
    expect(d.result.residual).toBeLessThan(1e-12);
    // INTL: β = 0.01·(log2 256 − 3) = 0.05.
    expect(json<{ result: { beta: number } }>(await cli('theory', 'intl-beta', '--n', '256', '--json')).result.beta).toBeCloseTo(0.05, 12);
    const sh = json<{ result: { shattered: boolean; points: number; labellings: number } }>(
      await cli('theory', 'shatter', '--depth', '3', '--json'),
    ).result;
    expect(sh.shattered).toBe(true);
    expect(sh.points).toBeGreaterThanOrEqual(4); // at least depth + 1 points, every labelling realised
    expect(sh.labellings).toBe(2 ** sh.points);
    const it = json<{ result: { iterations: number; error: number } }>(
      await cli('theory', 'iternorm', '--condition-number', '3', '--json'),
    );
    expect(it.result.error).toBeLessThanOrEqual(1e-3);
    const g = await cli('theory', 'group-nonlinearity', '--groups', '2,4', '--json');
    expect(Object.keys(json<{ result: { byGroupSize: Record<string, number> } }>(g).result.byGroupSize)).toEqual(['g=2', 'g=4']);
  });

  it('bad arguments are bad usage (exit 2)', async () => {
    expect((await cli('theory', 'pln-width', '--lipschitz', '1')).code).toBe(2); // --epsilon is required
    expect((await cli('theory', 'pln-width', '--lipschitz', 'x', '--epsilon', '0.1')).stderr).toMatch(/--lipschitz must be a number/);
    expect((await cli('theory')).code).toBe(2);
    expect((await cli('theory', 'group-nonlinearity', '--groups', '3')).stderr).toBe('normkit: --groups: 3 does not divide --width 16\n');
  });
});
