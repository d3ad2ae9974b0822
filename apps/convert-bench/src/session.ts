import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentResult } from '@normkit/experiments';
import { toJson } from './context.js';
import { CliError, EXIT_BAD_INPUT } from './errors.js';
import type { BenchResult, ConvertResult } from './types.js';

/** The JSON documents of a session directory (written by `convert`/`bench`/`analyze` with `--session <dir>`). */
export interface Session {
  dir: string;
  convert?: ConvertResult;
  bench?: BenchResult;
  analyze?: unknown;
  /** Results of `normkit experiment <name> --session <dir>` (files experiment-<name>.json). */
  experiments?: ExperimentResult[];
}

/**
 * Writes `<dir>/<name>.json` atomically (temp file + rename), creating the directory.
 * @example await writeSessionFile('out/session', 'bench', benchResult);
 */
export async function writeSessionFile(
  dir: string,
  name: 'convert' | 'bench' | 'analyze' | `experiment-${string}`,
  doc: unknown,
): Promise<string> {
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
    const doc = await readJson(join(dir, `${name}.json`));
    if (doc !== undefined) (s as unknown as Record<string, unknown>)[name] = doc;
  }
  const experimentFiles = (await readdir(dir)).filter((f) => /^experiment-[\w-]+\.json$/.test(f)).sort();
  if (experimentFiles.length > 0)
    s.experiments = (await Promise.all(experimentFiles.map((f) => readJson(join(dir, f))))).filter(Boolean) as ExperimentResult[];
  if (!s.convert && !s.bench && !s.experiments) {
    throw new CliError(
      `${dir}: no convert.json, bench.json or experiment-*.json in it; run \`normkit convert ... --session ${dir}\`, \`normkit bench ... --session ${dir}\` or \`normkit experiment <name> --session ${dir}\` first`,
      EXIT_BAD_INPUT,
      'EMPTY_SESSION',
    );
  }
  return s;
}

/** A JSON file's content, or undefined when it does not exist; invalid JSON is a clear error. */
async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`${path}: not valid JSON (${(e as Error).message})`, EXIT_BAD_INPUT, 'BAD_SESSION');
  }
}
