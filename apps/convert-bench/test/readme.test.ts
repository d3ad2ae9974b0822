import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, readmeExample, shellCommands } from '../../../scripts/readme-example.mjs';
import { APP, tempDir } from './helpers.js';

// The README's first example is a command line: each `npx normkit …` line runs here as the command
// from the sources (the release rehearsal runs it through npx from the installed package).
it("the README's first example runs the whole pipeline on the built-in GPT-2", () => {
  const ex = readmeExample('apps/convert-bench');
  expect(ex?.lang).toBe('sh');
  const { dir, cleanup } = tempDir();
  try {
    for (const command of shellCommands(ex!.code)) {
      const [npx, bin, ...args] = command.split(/\s+/);
      expect([npx, bin]).toEqual(['npx', 'normkit']);
      // In a folder outside the repository, so tsx is given by path (as `--import tsx` would not resolve there).
      const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
      const r = spawnSync(process.execPath, [tsx, '--conditions=source', join(APP, 'src/cli.ts'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('5 LayerNorms, 5 foldable');
      expect(r.stdout).toMatch(/normkit-cpu\s+same outputs/);
      expect(r.stdout).toMatch(/onnxruntime\s+same outputs/);
    }
  } finally {
    cleanup();
  }
});
