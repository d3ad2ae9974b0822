import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { loadOnnx, need } from '../deps.js';
import { createGpu, type EngineName } from '../engines.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED } from '../errors.js';
import { sci } from '../format.js';

/** What `normkit test-onnx` reports. */
export interface TestOnnxResult {
  command: 'test-onnx';
  engine: EngineName;
  passed: number;
  failed: number;
  results: { dir: string; ok: boolean; maxAbsDiff: number | null; error: string | null }[];
}

/** What a directory entry is, following a symlink ('other' for a dangling link, a FIFO, a socket). */
async function entryKind(dir: string, e: Dirent): Promise<'file' | 'dir' | 'other'> {
  const s = e.isSymbolicLink() ? await stat(join(dir, e.name)).catch(() => undefined) : e;
  if (s?.isFile()) return 'file';
  return s?.isDirectory() ? 'dir' : 'other';
}

/**
 * The backend-test directories under `paths`: each path that holds a `model.onnx` is one; otherwise
 * its subdirectories are searched (4 levels deep).
 * @example await findTestDirectories(['onnx/backend/test/data/node']) // a checkout of github.com/onnx/onnx
 */
export async function findTestDirectories(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  // Symlinks are followed (a Hugging Face cache stores every file as a link into blobs/); the depth
  // limit keeps a link cycle finite.
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    const model = entries.find((e) => e.name === 'model.onnx');
    if (model && (await entryKind(dir, model)) === 'file') {
      found.push(dir);
      return;
    }
    if (depth === 0) return;
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name)))
      if ((await entryKind(dir, e)) === 'dir') await walk(join(dir, e.name), depth - 1);
  };
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (!s) throw new CliError(`${p}: no such directory`, EXIT_BAD_INPUT, 'FILE_NOT_FOUND');
    if (!s.isDirectory())
      throw new CliError(
        `${p}: not a directory; give a backend-test directory (model.onnx + test_data_set_*)`,
        EXIT_BAD_INPUT,
        'NOT_A_DIRECTORY',
      );
    const before = found.length;
    await walk(p, 4);
    if (found.length === before)
      throw new CliError(
        `${p}: no model.onnx in it or below it; give a backend-test directory (model.onnx + test_data_set_*)`,
        EXIT_BAD_INPUT,
        'NO_TESTS',
      );
  }
  return found;
}

/** `normkit test-onnx <dirs...>` */
export async function testOnnxCommand(ctx: Context, paths: string[], o: { engine: EngineName; filter?: string }): Promise<number> {
  let dirs = await findTestDirectories(paths);
  if (o.filter) dirs = dirs.filter((d) => d.includes(o.filter as string));
  if (dirs.length === 0) throw new CliError(`no test directory matches --filter ${o.filter}`, EXIT_BAD_INPUT, 'NO_TESTS');
  const onnx = await loadOnnx();
  const runOne = need(onnx, '@normkit/onnx', 'runTestDirectory');
  const backend = o.engine === 'normkit-gpu' ? await createGpu() : undefined;
  const results: TestOnnxResult['results'] = [];
  const step = ctx.step(`run ${dirs.length} test director${dirs.length === 1 ? 'y' : 'ies'} in ${o.engine}`);
  for (const dir of dirs) {
    try {
      const r = await runOne(dir, backend ? { executeOptions: { backend } } : {});
      const bad = r.outputs.find((x) => !x.ok);
      const error = r.error
        ? (r.error.message.split('\n')[0] ?? r.error.code)
        : bad
          ? `output "${bad.name}" (${bad.dataSet}): ${bad.problem ?? `${bad.mismatches} elements outside tolerance, max |Δ| ${sci(bad.maxAbsDiff)}`}`
          : null;
      results.push({ dir, ok: r.ok, maxAbsDiff: Number.isFinite(r.maxAbsDiff) && !r.error ? r.maxAbsDiff : null, error });
    } catch (e) {
      results.push({ dir, ok: false, maxAbsDiff: null, error: e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e) });
    }
    step.update(results.length, dirs.length);
  }
  step.end();
  (backend as { dispose?: () => void } | undefined)?.dispose?.();
  const passed = results.filter((r) => r.ok).length;
  const doc: TestOnnxResult = { command: 'test-onnx', engine: o.engine, passed, failed: results.length - passed, results };
  ctx.emit(doc, () => {
    const lines = results.map(
      (r) =>
        `${r.ok ? 'pass' : 'FAIL'}  ${r.dir}${r.maxAbsDiff !== null ? `  max |Δ| ${sci(r.maxAbsDiff)}` : ''}${r.error ? `  — ${r.error}` : ''}`,
    );
    lines.push(`${passed} passed, ${doc.failed} failed (${o.engine})`);
    return lines.join('\n');
  });
  return doc.failed > 0 ? EXIT_CHECK_FAILED : 0;
}
