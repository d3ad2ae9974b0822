import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toJson } from './context.js';
import { CliError, EXIT_BAD_INPUT } from './errors.js';
import type { BenchResult, ConvertResult } from './types.js';

/** The JSON documents of a session directory (written by `convert`/`bench`/`analyze` with `--session <dir>`). */
export interface Session {
  dir: string;
  convert?: ConvertResult;
  bench?: BenchResult;
  analyze?: unknown;
}

/**
 * Writes `<dir>/<name>.json` atomically (temp file + rename), creating the directory.
 * @example await writeSessionFile('out/session', 'bench', benchResult);
 */
export async function writeSessionFile(dir: string, name: 'convert' | 'bench' | 'analyze', doc: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${toJson(doc)}\n`);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new CliError(
      `${path}: cannot write the session file (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      EXIT_BAD_INPUT,
      'SESSION_WRITE',
    );
  }
  return path;
}

/**
 * Reads a session directory. Throws a clear error when it is missing or holds neither convert.json nor bench.json.
 * @example const s = await readSession('out/session'); s.bench?.ratios
 */
export async function readSession(dir: string): Promise<Session> {
  try {
    if (!(await stat(dir)).isDirectory())
      throw new CliError(`${dir}: not a directory; give the directory passed to --session`, EXIT_BAD_INPUT, 'NOT_A_DIRECTORY');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${dir}: no such directory`, EXIT_BAD_INPUT, 'FILE_NOT_FOUND');
  }
  const s: Session = { dir };
  for (const name of ['convert', 'bench', 'analyze'] as const) {
    const path = join(dir, `${name}.json`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    try {
      (s as unknown as Record<string, unknown>)[name] = JSON.parse(text);
    } catch (e) {
      throw new CliError(`${path}: not valid JSON (${(e as Error).message})`, EXIT_BAD_INPUT, 'BAD_SESSION');
    }
  }
  if (!s.convert && !s.bench) {
    throw new CliError(
      `${dir}: no convert.json or bench.json in it; run \`normkit convert ... --session ${dir}\` and \`normkit bench ... --session ${dir}\` first`,
      EXIT_BAD_INPUT,
      'EMPTY_SESSION',
    );
  }
  return s;
}
