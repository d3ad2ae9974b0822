import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Model } from '@normkit/graph';
import type { Context } from './context.js';
import { loadOnnx, loadZoo, need } from './deps.js';
import { CliError, EXIT_BAD_INPUT, isNormkitError } from './errors.js';

/** A model the CLI works on, with where it came from. */
export interface OpenedModel {
  model: Model;
  /** The file, or `zoo:<arch>:<size>` for a built-in model. */
  label: string;
  /** The file path, when the model is a file. */
  path?: string;
  /** Size of the file in bytes, when it is one. */
  bytes?: number;
}

/** Options for building a zoo model in place of a file (`zoo:gpt2`, `zoo:bert:small`). */
export interface ZooSpec {
  arch: string;
  size: string;
  opset?: number;
  seed?: number;
}

/**
 * Parses `zoo:<arch>[:<size>]` (a built-in model accepted wherever a file is), or returns undefined.
 * @example parseZooSpec('zoo:gpt2') // { arch: 'gpt2', size: 'tiny' }
 */
export function parseZooSpec(spec: string): ZooSpec | undefined {
  const m = /^zoo:([a-z0-9-]+)(?::(tiny|small|base))?$/i.exec(spec);
  if (!m) return undefined;
  return { arch: (m[1] as string).toLowerCase(), size: (m[2] ?? 'tiny').toLowerCase() };
}

/**
 * Opens a model: an .onnx file, or `zoo:<arch>[:size]`. Bad input becomes one clear `CliError` naming
 * the file: missing, a directory, empty, or not an ONNX model.
 *
 * @example
 * ```ts
 * const { model, label } = await openModel('gpt2.onnx');
 * ```
 */
export async function openModel(spec: string, opts: { seed?: number; opset?: number; ctx?: Context } = {}): Promise<OpenedModel> {
  const zoo = parseZooSpec(spec);
  if (zoo) {
    // Building a small/base zoo model (124M parameters for GPT-2 small) takes seconds: show it.
    const step = zoo.size !== 'tiny' ? opts.ctx?.step(`build ${spec}`) : undefined;
    const model = await buildZooModel({
      ...zoo,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.opset ? { opset: opts.opset } : {}),
    });
    step?.end();
    return { model, label: `zoo:${zoo.arch}:${zoo.size}` };
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(spec);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${spec}: no such file`, EXIT_BAD_INPUT, 'FILE_NOT_FOUND');
    throw new CliError(`${spec}: cannot read it (${code ?? String(e)})`, EXIT_BAD_INPUT, 'FILE_UNREADABLE');
  }
  if (info.isDirectory()) throw new CliError(`${spec}: is a directory, expected an .onnx file`, EXIT_BAD_INPUT, 'NOT_A_FILE');
  if (info.size === 0) throw new CliError(`${spec}: not an ONNX model (the file is empty)`, EXIT_BAD_INPUT, 'NOT_ONNX');
  const onnx = await loadOnnx();
  const loadModel = need(onnx, '@normkit/onnx', 'loadModel');
  let model: Model;
  const step =
    info.size > 16 * 1024 * 1024 ? opts.ctx?.step(`read ${spec} (${Math.round(Number(info.size) / 1024 / 1024)} MiB)`) : undefined;
  try {
    model = await loadModel(spec);
  } catch (e) {
    opts.ctx?.closeStep(' failed');
    throw asInputError(e, spec);
  }
  step?.end();
  return { model, label: spec, path: spec, bytes: Number(info.size) };
}

/**
 * Bytes the model's initializers take in memory (float32 for float16 weights): about what onnxruntime
 * holds, and what the executor holds when it keeps the weights.
 * @example weightBytes((await openModel('gpt2.onnx')).model) // 497_759_232
 */
export function weightBytes(m: Model): number {
  const bytes: Record<string, number> = { float32: 4, float64: 8, int32: 4, int64: 8, bool: 1 };
  let n = 0;
  for (const t of m.graph.initializers.values()) n += t.size * (bytes[t.dtype] ?? 4);
  return n;
}

/** Builds a zoo model. */
export async function buildZooModel(spec: ZooSpec): Promise<Model> {
  const zoo = await loadZoo();
  const build = need(zoo, '@normkit/zoo', 'buildModel');
  const archs = listArchitectures(zoo);
  if (archs.length > 0 && !archs.some((a) => a.name === spec.arch)) {
    throw new CliError(
      `unknown architecture "${spec.arch}" (choose from ${archs.map((a) => a.name).join(', ')})`,
      EXIT_BAD_INPUT,
      'UNKNOWN_ARCH',
    );
  }
  try {
    return build(spec.arch, { size: spec.size as 'tiny', ...(spec.opset ? { opset: spec.opset as 17 } : {}), seed: spec.seed ?? 0 });
  } catch (e) {
    throw asInputError(e, `zoo:${spec.arch}:${spec.size}`);
  }
}

/** A zoo architecture as the CLI lists it. */
export interface ZooArchitecture {
  name: string;
  description: string;
  sizes: string[];
  /** What the foldability analysis is expected to find, per size. */
  expected: Record<string, { layerNorms: number; foldable: number }>;
  why: string;
}

/** The zoo's architectures with their expected foldability per size. */
export function listArchitectures(zoo: {
  architectures: readonly {
    name: string;
    description: string;
    why: string;
    expected: (s: 'tiny' | 'small' | 'base') => { layerNorms: number; foldable: number };
  }[];
}): ZooArchitecture[] {
  const sizes = ['tiny', 'small', 'base'] as const;
  return zoo.architectures.map((a) => ({
    name: a.name,
    description: a.description,
    sizes: [...sizes],
    expected: Object.fromEntries(sizes.map((s) => [s, a.expected(s)])),
    why: a.why,
  }));
}

/** A load/decode failure as one line naming the file. */
export function asInputError(e: unknown, file: string): CliError {
  if (e instanceof CliError) return e;
  if (isNormkitError(e)) {
    // Name the file as the user wrote it (packages report absolute paths).
    const abs = resolve(file);
    const own = abs !== file ? e.message.split(abs).join(file) : e.message;
    const msg = own.includes(file) ? own : `${file}: ${own}`;
    return new CliError(msg, EXIT_BAD_INPUT, e.code, { cause: e });
  }
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return new CliError(`${file}: not an ONNX model (${msg})`, EXIT_BAD_INPUT, 'NOT_ONNX', { cause: e });
}

/**
 * Reads a regular file's bytes with the CLI's error messages. A FIFO, socket or device is refused
 * before it is opened (reading a FIFO would wait forever for a writer).
 * @example const bytes = await readBytes('test_data_set_0/input_0.pb');
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  const readRegularFile = need(await loadOnnx(), '@normkit/onnx', 'readRegularFile');
  try {
    return await readRegularFile(path);
  } catch (e) {
    const code = isNormkitError(e) ? e.code : (e as NodeJS.ErrnoException).code;
    const kind = isNormkitError(e) ? String(e.details.kind ?? '') : '';
    if (code === 'FILE_NOT_FOUND') throw new CliError(`${path}: no such file`, EXIT_BAD_INPUT, 'FILE_NOT_FOUND');
    if (code === 'NOT_A_FILE') throw new CliError(`${path}: is ${kind}, expected a regular file`, EXIT_BAD_INPUT, 'NOT_A_FILE');
    throw new CliError(
      `${path}: cannot read it (${isNormkitError(e) ? e.message : (code ?? String(e))})`,
      EXIT_BAD_INPUT,
      'FILE_UNREADABLE',
    );
  }
}
