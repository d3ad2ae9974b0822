import type { Model } from '@normkit/graph';
import { type Backend, Tensor } from '@normkit/tensor';
import { loadGpu, loadGraph, loadOnnx, loadOrt, need } from './deps.js';
import { CliError, EXIT_BAD_INPUT } from './errors.js';
import type { Feeds } from './inputs.js';

/** The engines `bench`, `verify` and `run` can use. */
export const ENGINES = ['normkit-cpu', 'normkit-gpu', 'onnxruntime'] as const;
/** One of `ENGINES`: `normkit-cpu`, `normkit-gpu` or `onnxruntime`. */
export type EngineName = (typeof ENGINES)[number];

/** Time spent in one op type during one run. */
export interface OpTypeTime {
  opType: string;
  ms: number;
  /** How many nodes of this type ran. */
  count: number;
}

/** A model loaded into an engine, ready to run repeatedly. */
export interface Runner {
  /** The engine that loaded the model. */
  readonly engine: EngineName;
  /** What the engine runs on (`CPU backend`, `gpu.js webgl2 (ANGLE ...)`, `onnxruntime 1.30 CPU, 1 thread`). */
  readonly description: string;
  /**
   * Runs the model once on `feeds` and resolves to its outputs by name, read back to the host. The normkit engines
   * reject with the executor's error; onnxruntime with a `CliError` when an input is missing, has a dtype it cannot
   * take, or the run fails.
   */
  run(feeds: Feeds): Promise<Record<string, Tensor>>;
  /** A run with the executor's per-node profile, summed per op type (our engines only). */
  runProfiled?(feeds: Feeds): Promise<{ outputs: Record<string, Tensor>; byOpType: OpTypeTime[] }>;
  /** Frees the engine's session (onnxruntime); a no-op for the normkit engines. Call it once, after the last run. */
  dispose(): Promise<void>;
}

/** A model for an engine: the IR, and where it came from (onnxruntime loads the file, or the encoded bytes). */
export interface ModelSource {
  model: Model;
  /** The .onnx file, when the model is one (onnxruntime resolves external data next to it). */
  path?: string;
}

/**
 * Parses `--engine a,b` into engine names, with a usage error for an unknown one.
 * @example parseEngines('normkit-cpu,onnxruntime') // ['normkit-cpu', 'onnxruntime']
 */
export function parseEngines(value: string | undefined, fallback: readonly EngineName[]): EngineName[] {
  if (value === undefined) return [...fallback];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new CliError('--engine needs at least one engine', EXIT_BAD_INPUT, 'BAD_USAGE');
  for (const n of names) {
    if (!(ENGINES as readonly string[]).includes(n)) {
      throw new CliError(`unknown engine "${n}" (choose from ${ENGINES.join(', ')})`, EXIT_BAD_INPUT, 'BAD_USAGE');
    }
  }
  return [...new Set(names)] as EngineName[];
}

/**
 * Loads a model into an engine.
 *
 * @example
 * ```ts
 * const r = await createRunner('onnxruntime', { model, path: 'model.onnx' });
 * const outputs = await r.run(feeds);
 * await r.dispose();
 * ```
 */
export async function createRunner(engine: EngineName, src: ModelSource, opts: { gpuBackend?: Backend } = {}): Promise<Runner> {
  if (engine === 'onnxruntime') return createOrtRunner(src);
  let backend: Backend | undefined;
  let description = 'normkit executor, CPU backend';
  if (engine === 'normkit-gpu') {
    backend = opts.gpuBackend ?? (await createGpu());
    const d = (backend as unknown as { describe?: () => { mode: string; renderer?: string; onDevice?: boolean } }).describe?.();
    description = `normkit executor, gpu.js ${d?.mode ?? ''}${d?.renderer ? ` (${d.renderer})` : ''}${d && !d.onDevice ? ' — no graphics device here, gpu.js runs on the CPU' : ''}`;
  }
  return createNormkitRunner(engine, src.model, backend, description);
}

/**
 * The default engines of `bench` and the pipeline: normkit-cpu and onnxruntime, plus normkit-gpu when
 * gpu.js has a graphics device here (in its webasm/cpu fallback it only measures gpu.js on the CPU).
 * @example await defaultEngines() // ['normkit-cpu', 'onnxruntime'] on a machine without a GPU
 */
export async function defaultEngines(): Promise<EngineName[]> {
  const engines: EngineName[] = ['normkit-cpu', 'onnxruntime'];
  try {
    const gpu = await loadGpu();
    await (gpu as { initWebGpu?: () => Promise<unknown> }).initWebGpu?.();
    if (gpu.DEVICE_MODES.has(gpu.pickMode('auto').mode)) engines.splice(1, 0, 'normkit-gpu');
  } catch {
    // no @normkit/gpu, or gpu.js cannot probe: CPU engines only
  }
  return engines;
}

/** A gpu.js backend (one per process is enough: kernels are cached per shape). */
export async function createGpu(): Promise<Backend> {
  const gpu = await loadGpu();
  try {
    // WebGPU first where it works (a browser's navigator.gpu, or Dawn in Node); runs go through runAsync.
    await (gpu as { initWebGpu?: () => Promise<unknown> }).initWebGpu?.();
    return need(gpu, '@normkit/gpu', 'createGpuBackend')() as unknown as Backend;
  } catch (e) {
    throw new CliError(
      `normkit-gpu is not available here: ${e instanceof Error ? e.message : String(e)}`,
      EXIT_BAD_INPUT,
      'ENGINE_UNAVAILABLE',
      { cause: e },
    );
  }
}

async function createNormkitRunner(engine: EngineName, model: Model, backend: Backend | undefined, description: string): Promise<Runner> {
  const graph = await loadGraph();
  const Executor = need(graph, '@normkit/graph', 'Executor');
  // Built once: topological order, constant folding, the release plan; then run many times. The
  // executor keeps weights read on demand (a model loaded from a file) once read when they fit in a
  // quarter of the memory (repeated runs then read no file, as onnxruntime's) and streams bigger ones.
  const executor = new Executor(model, backend ? { backend } : {});
  // runAsync awaits only where values cross to the host (WebGPU reads back asynchronously).
  const run = (feeds: Feeds, profile: boolean) => executor.runAsync(feeds, { profile });
  return {
    engine,
    description,
    async run(feeds) {
      return readOutputs((await run(feeds, false)).outputs, backend);
    },
    async runProfiled(feeds) {
      const r = await run(feeds, true);
      return { outputs: readOutputs(r.outputs, backend), byOpType: profileByOpType(r.profile) };
    },
    async dispose() {},
  };
}

function readOutputs(outputs: Record<string, Tensor>, backend: Backend | undefined): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(outputs)) out[k] = backend?.read && !t.onHost ? backend.read(t) : t;
  return out;
}

/**
 * Op-type times from an executor profile (`profile.byOpType`, or summed from `profile.nodes`), slowest first.
 * @example profileByOpType(executor.run(feeds, { profile: true }).profile)
 */
export function profileByOpType(profile: unknown): OpTypeTime[] {
  if (!profile || typeof profile !== 'object') return [];
  const p = profile as {
    byOpType?: { opType: string; domain?: string; ms: number; count: number }[];
    nodes?: { opType: string; ms: number }[];
  };
  const acc = new Map<string, OpTypeTime>();
  if (p.byOpType) {
    for (const o of p.byOpType) {
      const opType = o.domain && o.domain !== 'ai.onnx' ? `${o.domain}.${o.opType}` : o.opType;
      const cur = acc.get(opType) ?? { opType, ms: 0, count: 0 };
      cur.ms += o.ms;
      cur.count += o.count;
      acc.set(opType, cur);
    }
  } else {
    for (const n of p.nodes ?? []) {
      const cur = acc.get(n.opType) ?? { opType: n.opType, ms: 0, count: 0 };
      cur.ms += n.ms;
      cur.count += 1;
      acc.set(n.opType, cur);
    }
  }
  return [...acc.values()].sort((a, b) => b.ms - a.ms);
}

const ORT_DTYPES: Record<string, string> = { float32: 'float32', float64: 'float64', int32: 'int32', int64: 'int64', bool: 'bool' };

async function createOrtRunner(src: ModelSource): Promise<Runner> {
  const ort = await loadOrt();
  const opts = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential' as const,
    graphOptimizationLevel: 'all' as const,
    logSeverityLevel: 3 as const,
  };
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    if (src.path) session = await ort.InferenceSession.create(src.path, opts);
    else {
      const onnx = await loadOnnx();
      // A model past protobuf's 2 GiB limit throws MODEL_TOO_LARGE here: it must be loaded from its files.
      const bytes = need(onnx, '@normkit/onnx', 'encodeModel')(src.model) as Uint8Array;
      session = await ort.InferenceSession.create(bytes, opts);
    }
  } catch (e) {
    // onnxruntime repeats the path ("Load model from <path> failed:..."); keep only its reason.
    const msg = (e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)).replace(/^Load model from .*? failed:\s*/, '');
    throw new CliError(`${src.path ?? 'model'}: onnxruntime refused the model: ${msg}`, EXIT_BAD_INPUT, 'ORT_REFUSED', { cause: e });
  }
  // float16 inputs and outputs cross as float16 bits; normkit holds them as float32.
  const graph = await loadGraph();
  const toHalf = need(graph, '@normkit/graph', 'floatToHalf') as (v: number) => number;
  const fromHalf = need(graph, '@normkit/graph', 'halfToFloat') as (h: number) => number;
  const halfInputs = new Set(src.model.graph.inputs.filter((v) => v.elemType === 'float16').map((v) => v.name));
  const version = (ort as unknown as { env?: { versions?: { common?: string } } }).env?.versions?.common ?? '';
  return {
    engine: 'onnxruntime',
    description: `onnxruntime-node ${version} CPU, 1 thread`.replace('  ', ' '),
    async run(feeds) {
      const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const name of session.inputNames) {
        const t = feeds[name];
        if (!t) throw new CliError(`onnxruntime: no value for input "${name}"`, EXIT_BAD_INPUT, 'MISSING_INPUT');
        const type = ORT_DTYPES[t.dtype];
        if (!type)
          throw new CliError(`onnxruntime: input "${name}" has dtype ${t.dtype}, which the CLI cannot pass`, EXIT_BAD_INPUT, 'BAD_INPUT');
        ortFeeds[name] =
          halfInputs.has(name) && t.dtype === 'float32'
            ? new ort.Tensor('float16', Uint16Array.from(t.data as Float32Array, toHalf), [...t.shape])
            : new ort.Tensor(type as 'float32', t.data as Float32Array, [...t.shape]);
      }
      let res: Record<string, InstanceType<typeof ort.Tensor>>;
      try {
        res = (await session.run(ortFeeds)) as Record<string, InstanceType<typeof ort.Tensor>>;
      } catch (e) {
        throw new CliError(
          `${src.path ?? 'model'}: onnxruntime failed to run it: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
          EXIT_BAD_INPUT,
          'ORT_FAILED',
          { cause: e },
        );
      }
      const out: Record<string, Tensor> = {};
      for (const name of session.outputNames) {
        const o = res[name];
        if (o)
          out[name] =
            o.type === 'float16'
              ? new Tensor(o.dims.map(Number), 'float32', Float32Array.from(o.data as Uint16Array, fromHalf))
              : fromOrt(o.type, o.data, o.dims);
      }
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}

function fromOrt(type: string, data: unknown, dims: readonly number[]): Tensor {
  const shape = dims.map(Number);
  switch (type) {
    case 'float32':
      return new Tensor(shape, 'float32', data as Float32Array);
    case 'float64':
      return new Tensor(shape, 'float64', data as Float64Array);
    case 'int32':
      return new Tensor(shape, 'int32', data as Int32Array);
    case 'int64':
      return new Tensor(shape, 'int64', data as BigInt64Array);
    case 'bool':
      return new Tensor(shape, 'bool', Uint8Array.from(data as ArrayLike<number>));
    default:
      return new Tensor(shape, 'float32', Float32Array.from(data as ArrayLike<number>, Number));
  }
}
