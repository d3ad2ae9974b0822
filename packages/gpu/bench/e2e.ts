/**
 * End-to-end models for the benchmark and the zoo test: a zoo model, its LN→RMSNorm-converted
 * version when the graph package offers a fold pass, seeded inputs built from the graph's input
 * signature, and a runner for a given backend. Written against the public entries of
 * @normkit/graph (`execute`) and @normkit/zoo (`buildModel`), loaded dynamically so this package
 * keeps working while they are being written.
 */
import { type Backend, Rng, Tensor } from '@normkit/tensor';

export interface E2EModel {
  name: string;
  shape: string;
  /** Runs the model on `backend`, returning its outputs read back to the host. */
  run(backend: Backend): Map<string, Tensor>;
}

type Fn = (...a: unknown[]) => unknown;
interface ValueInfoLike {
  name: string;
  dtype?: string;
  shape?: (number | string | undefined)[];
}
interface ModelLike {
  graph: { inputs: ValueInfoLike[]; initializers: Map<string, unknown> };
  clone?: () => ModelLike;
}

/** Loads @normkit/graph and @normkit/zoo, or says why not. */
export async function loadGraphAndZoo(): Promise<{ graph: Record<string, unknown>; zoo: Record<string, unknown> } | { skipped: string }> {
  try {
    const graph = (await import('@normkit/graph' as string)) as Record<string, unknown>;
    const zoo = (await import('@normkit/zoo' as string)) as Record<string, unknown>;
    if (typeof graph.execute !== 'function') return { skipped: '@normkit/graph does not export execute() yet' };
    if (typeof zoo.buildModel !== 'function') return { skipped: '@normkit/zoo does not export buildModel() yet' };
    return { graph, zoo };
  } catch (e) {
    return { skipped: `@normkit/graph or @normkit/zoo not importable (${(e as Error).message.split('\n')[0]})` };
  }
}

function asModel(x: unknown): ModelLike {
  const r = x as { graph?: unknown; model?: unknown };
  if (r && typeof r === 'object' && 'graph' in r && (r.graph as { inputs?: unknown })?.inputs) return r as ModelLike;
  if (r && typeof r === 'object' && r.model) return asModel(r.model);
  throw new Error('buildModel returned something without a graph');
}

/** Seeded inputs for a model's graph inputs: symbolic batch dims 1, other symbolic dims `seq`. */
export function inputsFor(model: ModelLike, seq: number, seed = 1): Record<string, Tensor> {
  const init = model.graph.initializers;
  const out: Record<string, Tensor> = {};
  const rng = new Rng(seed);
  for (const vi of model.graph.inputs) {
    if (init.has(vi.name)) continue;
    const shape = (vi.shape ?? [1]).map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : seq));
    const n = shape.reduce((a, b) => a * b, 1);
    const dtype = (vi.dtype ?? 'float32') as 'float32' | 'int64' | 'int32' | 'bool';
    if (dtype === 'int64' || dtype === 'int32') {
      const isMask = /mask/i.test(vi.name);
      const isPos = /position/i.test(vi.name);
      const vals = Array.from({ length: n }, (_, i) =>
        isMask ? 1 : isPos ? i % (shape[shape.length - 1] as number) : Math.floor(rng.uniform(0, 1) * 16),
      );
      out[vi.name] = Tensor.from(vals, shape, dtype);
    } else if (dtype === 'bool') out[vi.name] = Tensor.from(new Array(n).fill(1), shape, 'bool');
    else out[vi.name] = Tensor.randn(shape, seed + 7);
  }
  return out;
}

function toMap(res: unknown): Map<string, Tensor> {
  const r = res as { outputs?: unknown };
  if (res instanceof Map) return res as Map<string, Tensor>;
  if (r && typeof r === 'object' && r.outputs && !(r.outputs instanceof Tensor)) return toMap(r.outputs);
  return new Map(Object.entries(res as Record<string, Tensor>));
}

/** The graph package's fold pass (LN → RMSNorm), if exported. */
function foldPass(graph: Record<string, unknown>): Fn | undefined {
  return typeof graph.foldLayerNorms === 'function' ? (graph.foldLayerNorms as Fn) : undefined;
}

/** Inputs from the graph package's `randomInputs` (ids within the embedding tables), symbolic batch dims 1, others `seq`. */
function feedFor(graph: Record<string, unknown>, model: ModelLike, seq: number): Record<string, Tensor> {
  if (typeof graph.randomInputs !== 'function') return inputsFor(model, seq);
  const dims: Record<string, number> = {};
  for (const vi of model.graph.inputs)
    for (const d of vi.shape ?? []) if (typeof d === 'string') dims[d] = /batch|^n$|^b$/i.test(d) ? 1 : seq;
  return (graph.randomInputs as Fn)(model, 1, dims) as Record<string, Tensor>;
}

/** Builds `names` at `size` (and their converted versions) as runnable models. */
export async function e2eModels(
  graph: Record<string, unknown>,
  zoo: Record<string, unknown>,
  size: string,
  names: string[] = ['gpt2'],
  seq = 16,
): Promise<E2EModel[]> {
  const execute = graph.execute as Fn;
  const buildModel = zoo.buildModel as Fn;
  const fold = foldPass(graph);
  const out: E2EModel[] = [];
  for (const name of names) {
    const model = asModel(await buildModel(name, { size, seqLen: seq, seed: 0 }));
    const inputs = feedFor(graph, model, seq);
    const shape = `${name} ${size}, inputs ${Object.entries(inputs)
      .map(([k, t]) => `${k}[${t.shape.join(',')}]`)
      .join(' ')}`;
    // One Executor per (model, backend), built on first use (plan and constant folding are not timed).
    const Executor = graph.Executor as (new (m: unknown, o: { backend: Backend }) => { run(i: unknown): unknown }) | undefined;
    const runner = (m: ModelLike) => {
      const built = new Map<Backend, { run(i: unknown): unknown }>();
      return (backend: Backend) => {
        let res: unknown;
        if (Executor) {
          let ex = built.get(backend);
          if (!ex) built.set(backend, (ex = new Executor(m, { backend })));
          res = ex.run(inputs);
        } else res = execute(m, inputs, { backend });
        const outs = toMap(res);
        for (const t of outs.values()) void t.data;
        return outs;
      };
    };
    out.push({ name: `${name} original`, shape, run: runner(model) });
    if (fold) {
      try {
        const folded = (await fold(model.clone ? model.clone() : model, { verify: false })) as unknown;
        const fm = asModel((folded as { model?: unknown })?.model ?? folded ?? model);
        out.push({ name: `${name} converted`, shape, run: runner(fm) });
      } catch {
        // no converted variant
      }
    }
  }
  return out;
}
