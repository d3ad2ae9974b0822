// The fuzz driver (scripts/fuzz.ts) as a user runs it: its help, its argument checks, a tiny seeded
// campaign over the real LayerNorm fusion models (no crash, hang, OOM or escape may appear), and the
// replay of a recorded finding. The 10-minute campaign itself is run by hand (see `--help`).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { APP, tempDir } from './helpers.js';

/** Runs scripts/fuzz.ts with `args` in a child, as `npm run fuzz -- args` does. */
function fuzz(...args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(APP, 'scripts/fuzz.ts'), ...args], {
    cwd: APP,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('fuzz driver', () => {
  it('--help documents the short mode and the replay, exit 0', () => {
    const r = fuzz('--help');
    expect(r.code).toBe(0);
    for (const flag of ['--budget-s', '--limit', '--seed', '--match', '--replay', '--model', '--out']) expect(r.stdout).toContain(flag);
  });

  it('an unknown option or a non-number is refused with the usage, exit 2', () => {
    const bad = fuzz('--minuets', '1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown option --minuets');
    expect(bad.stderr).toContain('Usage:');
    expect(fuzz('--budget-s', 'soon').stderr).toContain('--budget-s wants a number');
  });

  it('a tiny seeded campaign on the fusion models: zero crashes, hangs, OOMs, escapes', () => {
    const out = join(tmp.dir, 'tiny');
    const r = fuzz('--seed', '20261206', '--match', '/fusion/', '--limit', '400', '--budget-s', '20', '--out', out);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const s = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    expect(s.seed).toBe(20261206);
    expect(s.models).toBeGreaterThan(20);
    expect(s.mutations).toBeGreaterThanOrEqual(100);
    expect(Object.values(s.outcomes as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(s.mutations);
    expect(Object.keys(s.outcomes).filter((k) => !['ok', 'typed', 'skipped'].includes(k))).toEqual([]);
    expect(s.findings).toEqual([]);
    expect(readFileSync(`${out}.md`, 'utf8')).toContain('## Findings (0');
  });

  it('replays a recorded finding by index and model (value-info dim 2^53 → typed, at analyze)', () => {
    const model = 'testdata/third-party/onnxruntime/onnxruntime/test/testdata/transform/fusion/layer_norm_with_cast_3.onnx';
    const r = fuzz('--seed', '20261206', '--replay', '3759', '--model', model);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a.mutation).toEqual({ kind: 'dims', what: 'value-info dim 2 = 9007199254740992' });
    expect(a).toMatchObject({ outcome: 'typed', stage: 'analyze', code: 'TENSOR_TOO_LARGE' });
  });
});
