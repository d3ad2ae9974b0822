import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Model } from '@normkit/graph';
import type { Tensor } from '@normkit/tensor';
import { loadOnnx, need } from './deps.js';
import { CliError, EXIT_BAD_INPUT, isNormkitError } from './errors.js';
import type { Feeds } from './inputs.js';
import { readBytes } from './models.js';

/**
 * Reads input tensors given as a `test_data_set_*` directory or as `input_*.pb` files (TensorProto).
 * Tensors are matched to the model's inputs by their stored name, else by position.
 *
 * @example
 * ```ts
 * const feeds = await readFeeds(model, ['gpt2/test_data_set_0']);
 * ```
 */
export async function readFeeds(model: Model, paths: readonly string[]): Promise<Feeds> {
  const files: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (!s) throw new CliError(`${p}: no such file or directory`, EXIT_BAD_INPUT, 'FILE_NOT_FOUND');
    if (s.isDirectory()) {
      const pbs = (await readdir(p)).filter((f) => /^input_\d+\.pb$/.test(f)).sort((a, b) => num(a) - num(b));
      if (pbs.length === 0) throw new CliError(`${p}: no input_N.pb files in this directory`, EXIT_BAD_INPUT, 'NO_INPUTS');
      files.push(...pbs.map((f) => join(p, f)));
    } else files.push(p);
  }
  const onnx = await loadOnnx();
  const fromProto = need(onnx, '@normkit/onnx', 'tensorFromProto');
  const nameOf = need(onnx, '@normkit/onnx', 'tensorName');
  const runtime = model.graph.runtimeInputs().map((v) => v.name);
  const feeds: Feeds = {};
  for (let i = 0; i < files.length; i++) {
    const f = files[i] as string;
    const bytes = await readBytes(f);
    let t: Tensor;
    let name: string;
    try {
      t = fromProto(bytes);
      name = nameOf(bytes, f);
    } catch (e) {
      throw new CliError(
        `${f}: not an ONNX TensorProto (${isNormkitError(e) || e instanceof Error ? e.message : String(e)})`,
        EXIT_BAD_INPUT,
        'NOT_TENSOR',
      );
    }
    const target = name && runtime.includes(name) ? name : runtime[i];
    if (!target)
      throw new CliError(
        `${f}: the model has only ${runtime.length} inputs (${runtime.join(', ')}); this is input ${i}`,
        EXIT_BAD_INPUT,
        'TOO_MANY_INPUTS',
      );
    feeds[target] = t;
  }
  const missing = runtime.filter((n) => !feeds[n]);
  if (missing.length > 0)
    throw new CliError(
      `${paths.join(' ')}: no value for the model input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      EXIT_BAD_INPUT,
      'MISSING_INPUT',
    );
  return feeds;
}

function num(f: string): number {
  return Number(/(\d+)/.exec(basename(f))?.[1] ?? 0);
}
