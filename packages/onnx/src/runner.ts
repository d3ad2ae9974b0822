import type { Model } from '@normkit/graph';
import { NormkitError, type Tensor } from '@normkit/tensor';
import { loadModel } from './files.js';
import { readRegularFileSync } from './regular-file.js';
import { OpaqueTensor, tensorFromProto, tensorName } from './tensor-proto.js';

/** Runs a model on named inputs (the shape of `@normkit/graph`'s `execute`). */
export type ExecuteFn = (
  model: Model,
  inputs: Record<string, Tensor>,
  opts?: Record<string, unknown>,
) => { outputs: Record<string, Tensor> | Map<string, Tensor> } | Promise<{ outputs: Record<string, Tensor> | Map<string, Tensor> }>;

/** Computes reference outputs when a directory stores none (e.g. onnxruntime-node on the same inputs). */
export type ReferenceFn = (modelPath: string, inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

/** Options of `runTestDirectory`. */
export interface RunOptions {
  /** The executor; default `execute` from `@normkit/graph`. */
  execute?: ExecuteFn;
  /** Options passed to the executor. */
  executeOptions?: Record<string, unknown>;
  /** Relative tolerance; default 1e-3 (ONNX's backend test runner). */
  rtol?: number;
  /** Absolute tolerance; default 1e-7 (ONNX's backend test runner). */
  atol?: number;
  /** The model file in the directory; default `model.onnx`, else the only (or first) `.onnx` there. */
  model?: string;
  /** For data sets without `output_*.pb`: where expected outputs come from. Without it such sets fail. */
  reference?: ReferenceFn;
  /** For data sets without `input_*.pb`: inputs to use (e.g. seeded random). */
  makeInputs?: (model: Model) => Record<string, Tensor>;
}

/** How one output compared. */
export interface OutputResult {
  name: string;
  dataSet: string;
  ok: boolean;
  shape?: number[];
  expectedShape: number[];
  maxAbsDiff: number;
  maxRelDiff: number;
  /** Elements outside atol + rtol·|expected|. */
  mismatches: number;
  problem?: string;
}

/** What running one test directory gave. */
export interface DirectoryResult {
  dir: string;
  model: string;
  ok: boolean;
  maxAbsDiff: number;
  maxRelDiff: number;
  outputs: OutputResult[];
  /** Set when the model could not be read or run: the error's code and message. */
  error?: { code: string; message: string };
  /** Op types (domain::op for non-default domains) the model uses, for tables. */
  ops: string[];
  ms: number;
}

/**
 * The outcome of comparing `actual` with `expected` at numpy's `allclose` rule
 * |a − e| ≤ atol + rtol·|e| (NaN matches NaN, ±Inf must match exactly).
 * @example compareTensors(y, expected, 1e-3, 1e-7).ok
 */
export function compareTensors(actual: Tensor, expected: Tensor, rtol = 1e-3, atol = 1e-7): Omit<OutputResult, 'name' | 'dataSet'> {
  const expectedShape = [...expected.shape];
  const shape = [...actual.shape];
  const base = {
    expectedShape,
    shape,
    maxAbsDiff: Number.POSITIVE_INFINITY,
    maxRelDiff: Number.POSITIVE_INFINITY,
    mismatches: expected.size,
  };
  if (shape.length !== expectedShape.length || shape.some((d, i) => d !== expectedShape[i])) {
    return { ...base, ok: false, problem: `shape [${shape}] but expected [${expectedShape}]` };
  }
  if (expected instanceof OpaqueTensor || actual instanceof OpaqueTensor) {
    return { ...base, ok: false, problem: 'cannot compare tensors of types normkit does not compute with' };
  }
  const a = actual.data as ArrayLike<number | bigint>;
  const e = expected.data as ArrayLike<number | bigint>;
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  for (let i = 0; i < e.length; i++) {
    const x = Number(a[i]);
    const y = Number(e[i]);
    if (Number.isNaN(y) || Number.isNaN(x)) {
      if (!(Number.isNaN(x) && Number.isNaN(y))) {
        bad++;
        maxAbs = Number.POSITIVE_INFINITY;
      }
      continue;
    }
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) {
        bad++;
        maxAbs = Number.POSITIVE_INFINITY;
      }
      continue;
    }
    const d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    if (y !== 0 && d / Math.abs(y) > maxRel) maxRel = d / Math.abs(y);
    if (d > atol + rtol * Math.abs(y)) bad++;
  }
  return { expectedShape, shape, ok: bad === 0, maxAbsDiff: maxAbs, maxRelDiff: maxRel, mismatches: bad };
}

function opsOf(model: Model): string[] {
  const s = new Set<string>();
  const walk = (g: Model['graph']) => {
    for (const n of g.nodes) {
      s.add(n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType);
      for (const a of Object.values(n.attributes)) {
        if (a.type === 'graph') walk(a.value);
        if (a.type === 'graphs') for (const g2 of a.value) walk(g2);
      }
    }
  };
  walk(model.graph);
  return [...s].sort();
}

async function defaultExecute(): Promise<ExecuteFn> {
  const graph = (await import('@normkit/graph')) as Record<string, unknown>;
  if (typeof graph.execute !== 'function') {
    throw new NormkitError('NO_EXECUTOR', '@normkit/graph exports no `execute` yet; pass runTestDirectory an `execute` function');
  }
  return graph.execute as ExecuteFn;
}

/**
 * Runs an ONNX backend test directory: reads `model.onnx` and every `test_data_set_*` (`input_N.pb`,
 * `output_N.pb`), feeds the inputs to the executor — matched by the name stored in each `.pb` when it
 * names a graph input (exporters do not always write them in graph-input order), else by position —
 * and compares every output at ONNX's tolerances (rtol 1e-3, atol 1e-7 unless given). Never throws
 * for a failing model: the error is in the result.
 *
 * @example
 * ```ts
 * const r = await runTestDirectory('testdata/onnx-ops/test_softmax_axis_1');
 * console.log(r.ok, r.maxAbsDiff, r.error?.message);
 * ```
 */
export async function runTestDirectory(dir: string, opts: RunOptions = {}): Promise<DirectoryResult> {
  const fs = await import('node:fs');
  const nodePath = await import('node:path');
  const t0 = performance.now();
  const rtol = opts.rtol ?? 1e-3;
  const atol = opts.atol ?? 1e-7;
  const result: DirectoryResult = { dir, model: '', ok: false, maxAbsDiff: 0, maxRelDiff: 0, outputs: [], ops: [], ms: 0 };
  try {
    let modelFile = opts.model;
    if (!modelFile) {
      const onnxFiles = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.onnx'))
        .sort();
      modelFile = onnxFiles.includes('model.onnx') ? 'model.onnx' : onnxFiles[0];
      if (!modelFile) throw new NormkitError('FILE_NOT_FOUND', `${dir}: no .onnx model in this directory`, { file: dir });
    }
    const modelPath = nodePath.resolve(dir, modelFile);
    result.model = modelFile;
    const model = await loadModel(modelPath);
    result.ops = opsOf(model);
    const execute = opts.execute ?? (await defaultExecute());
    const runtimeInputs = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name)).map((v) => v.name);
    const outputNames = model.graph.outputs.map((v) => v.name);
    const sets = fs
      .readdirSync(dir)
      .filter((f) => /^test_data_set_\d+$/.test(f))
      .sort();
    if (sets.length === 0 && !opts.makeInputs) {
      throw new NormkitError('NO_TEST_DATA', `${dir}: no test_data_set_* directory and no makeInputs option`, { file: dir });
    }
    const numbered = (d: string, prefix: string) =>
      fs
        .readdirSync(d)
        .filter((f) => new RegExp(`^${prefix}_\\d+\\.pb$`).test(f))
        .sort((a, b) => Number(a.match(/\d+/)?.[0]) - Number(b.match(/\d+/)?.[0]));
    for (const set of sets.length ? sets : ['(generated)']) {
      const setDir = nodePath.join(dir, set);
      const inputs: Record<string, Tensor> = {};
      const inputFiles = sets.length ? numbered(setDir, 'input') : [];
      if (inputFiles.length === 0 && opts.makeInputs) Object.assign(inputs, opts.makeInputs(model));
      for (const [k, f] of inputFiles.entries()) {
        const file = nodePath.join(setDir, f);
        const bytes = readRegularFileSync(fs, file, 'test data');
        const stored = tensorName(bytes, file);
        const name = stored && runtimeInputs.includes(stored) ? stored : runtimeInputs[k];
        if (name === undefined) {
          throw new NormkitError(
            'TEST_DATA_MISMATCH',
            `${file}: input ${k} ("${stored}") matches no graph input (inputs: ${runtimeInputs.join(', ')})`,
            { file },
          );
        }
        inputs[name] = tensorFromProto(bytes, { fileName: file });
      }
      const expected: Record<string, Tensor> = {};
      const outputFiles = sets.length ? numbered(setDir, 'output') : [];
      for (const [k, f] of outputFiles.entries()) {
        const file = nodePath.join(setDir, f);
        const bytes = readRegularFileSync(fs, file, 'test data');
        const stored = tensorName(bytes, file);
        const name = stored && outputNames.includes(stored) ? stored : outputNames[k];
        if (name === undefined)
          throw new NormkitError('TEST_DATA_MISMATCH', `${file}: output ${k} ("${stored}") matches no graph output`, { file });
        expected[name] = tensorFromProto(bytes, { fileName: file });
      }
      if (outputFiles.length === 0) {
        if (!opts.reference) throw new NormkitError('NO_TEST_DATA', `${setDir}: no output_*.pb and no reference option`, { file: setDir });
        Object.assign(expected, await opts.reference(modelPath, inputs));
      }
      const run = await execute(model, inputs, opts.executeOptions);
      const outs = run.outputs instanceof Map ? Object.fromEntries(run.outputs) : run.outputs;
      for (const [name, exp] of Object.entries(expected)) {
        const got = outs[name];
        if (!got) {
          result.outputs.push({
            name,
            dataSet: set,
            ok: false,
            expectedShape: [...exp.shape],
            maxAbsDiff: Number.POSITIVE_INFINITY,
            maxRelDiff: Number.POSITIVE_INFINITY,
            mismatches: exp.size,
            problem: 'the executor returned no such output',
          });
          continue;
        }
        result.outputs.push({ name, dataSet: set, ...compareTensors(got, exp, rtol, atol) });
      }
    }
    result.ok = result.outputs.length > 0 && result.outputs.every((o) => o.ok);
    for (const o of result.outputs) {
      result.maxAbsDiff = Math.max(result.maxAbsDiff, o.maxAbsDiff);
      result.maxRelDiff = Math.max(result.maxRelDiff, o.maxRelDiff);
    }
  } catch (e) {
    result.ok = false;
    result.error =
      e instanceof NormkitError ? { code: e.code, message: e.message } : { code: 'CRASH', message: String((e as Error)?.stack ?? e) };
  }
  result.ms = performance.now() - t0;
  return result;
}

/**
 * Runs several test directories one after another (see `runTestDirectory`).
 * @example
 * ```ts
 * const results = await runTestDirectories(dirs);
 * console.log(results.filter((r) => r.ok).length, 'of', results.length, 'pass');
 * ```
 */
export async function runTestDirectories(dirs: string[], opts: RunOptions = {}): Promise<DirectoryResult[]> {
  const out: DirectoryResult[] = [];
  for (const d of dirs) out.push(await runTestDirectory(d, opts));
  return out;
}
