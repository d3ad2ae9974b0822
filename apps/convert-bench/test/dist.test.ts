import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP } from './helpers.js';

// `npm run build` (turbo builds the packages first) must give a working `normkit` bin. This runs the
// built dist/cli.js the way npm's bin link does; it is skipped, saying why, when nothing is built.
const cli = join(APP, 'dist/cli.js');
const deps = ['tensor', 'graph', 'onnx', 'zoo'].map((p) => join(APP, '../../packages', p, 'dist/index.js'));
const missing = [cli, ...deps].filter((f) => !existsSync(f));
if (missing.length > 0) console.warn(`dist.test.ts: SKIPPED, not built: ${missing.join(', ')} (run npm run build at the repo root)`);

describe.skipIf(missing.length > 0)('the built bin (dist/cli.js)', () => {
  it('starts with a shebang and runs a command', () => {
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const v = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(APP, 'package.json'), 'utf8')).version);
    const r = spawnSync(process.execPath, [cli, 'analyze', 'zoo:gpt2', '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).summary).toEqual({ total: 5, foldable: 5, components: 1 });
  });
});
