import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/program.js';

/** The app's root directory. */
export const APP = fileURLToPath(new URL('..', import.meta.url));

/** Shared test data beside the repo (see docs/CONTRIBUTING.md). */
export const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));

/** PyTorch 1.4 GPT-2 export (25 decomposed LayerNorms) with an input and onnxruntime's output. */
export const GPT2_DIR = join(
  TESTDATA,
  'third-party/onnxruntime-history/onnxruntime/python/tools/transformers/test_data/gpt2_pytorch1.4_opset11_no_past',
);
export const GPT2 = join(GPT2_DIR, 'GPT2Model.onnx');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the commander program in-process (fast), capturing stdout and stderr. */
export async function cli(...args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), stderrIsTTY: false });
  return { code, stdout, stderr };
}

/** Runs `src/cli.ts` as a child process (`node --conditions=source --import tsx`), as a user would run the command. */
export function spawnCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliRun {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(APP, 'src/cli.ts'), ...args], {
    cwd: opts.cwd ?? APP,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Parses stdout as exactly one JSON document (throws otherwise). */
export function json<T = Record<string, unknown>>(r: CliRun): T {
  return JSON.parse(r.stdout) as T;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'normkit-cli-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
