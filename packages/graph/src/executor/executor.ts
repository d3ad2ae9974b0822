import { type Backend, type DeviceStorage, fmtShape, getBackend, NormkitError, type Tensor, withBackend } from '@normkit/tensor';
import { type Dim, Graph, Model, type Node, subgraphsOf } from '../ir.js';
import { ops } from './ops.js';
import { kernelFor, type OpKernel, registerOp, unsupported } from './registry.js';

/** Options of `execute` and `Executor.run`. */
export interface RunOptions {
  /** Record the time of every node (and the sum per op type). */
  profile?: boolean;
  /** Backend to run on (default: the one the Executor was built with, else the active backend). */
  backend?: Backend;
  /** Values to return (default: the graph outputs). Any value name of the graph may be asked for. */
  outputs?: string[];
}

/** Options of the `Executor` constructor. */
export interface ExecutorOptions {
  /** Backend for constant folding and runs (default: the active backend at each call). */
  backend?: Backend;
  /** Default-domain opset when given a bare `Graph` (default 17); a `Model` carries its own. */
  opset?: number;
  /** Fold nodes whose inputs are all constant once, at construction (default true). */
  foldConstants?: boolean;
  /** Names a subgraph reads from its enclosing graph; they are passed to `run` like inputs. */
  outerScope?: string[];
}

/** Time of one node in a profiled run. */
export interface NodeProfile {
  name: string;
  opType: string;
  domain: string;
  /** Wall time in milliseconds (dispatch time on asynchronous device backends). */
  ms: number;
  outputShapes: number[][];
}

/** Time summed per op type. */
export interface OpTypeProfile {
  opType: string;
  domain: string;
  ms: number;
  count: number;
}

/** Per-node and per-op-type times of one run, slowest op type first. */
export interface Profile {
  nodes: NodeProfile[];
  byOpType: OpTypeProfile[];
  totalMs: number;
}

export interface ExecuteResult {
  outputs: Record<string, Tensor>;
  profile?: Profile;
}

interface Step {
  node: Node;
  kernel: OpKernel;
  opset: number;
  /** Values whose last reader is this step (released after it). */
  release: string[];
}

/** Ops that must not be folded at construction (random, or stateful). */
const NO_FOLD = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/**
 * Runs a model (or graph) many times: built once (topological order, constant folding of initializers
 * and Constant nodes, a plan with the last reader of every value), then `run` on named inputs.
 * Intermediate tensors are released (`dispose()`) right after their last reader.
 *
 * Opset-dependent semantics follow `model.opset('')` (for a bare Graph: `opts.opset`, default 17).
 * An op outside the supported set throws `UNSUPPORTED_OP` naming the op, node, domain and opset.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('g');
 * b.output(b.op('Relu', [b.input('x', 'float32', [2])]));
 * const ex = new Executor(b.model(17));
 * ex.run({ x: Tensor.from([-1, 2]) }).outputs; // { Relu_0_out: [0, 2] }
 * ```
 */
export class Executor {
  readonly graph: Graph;
  readonly model: Model | undefined;
  private readonly backend: Backend | undefined;
  private readonly defaultOpset: number;
  private readonly order: Node[];
  /** Initializers, Constant-node outputs and folded values. */
  private readonly constants = new Map<string, Tensor>();
  /** Initializers that graph inputs may override. */
  private readonly overridable = new Set<string>();
  private readonly folded = new Set<Node>();
  private readonly plans = new Map<string, Step[]>();
  private readonly producers: Map<string, Node>;
  private readonly outer: Set<string>;
  private readonly opts: ExecutorOptions;
  /** Whether initializers that are also graph inputs are folded as their stored defaults. */
  private readonly assumeDefaults: boolean;
  /** For runs that feed such an initializer: the same model without folding. */
  private unfolded: Executor | undefined;

  constructor(model: Model | Graph, opts: ExecutorOptions = {}) {
    if (ops.length === 0) throw new NormkitError('INTERNAL', 'executor ops are not loaded');
    this.model = model instanceof Model ? model : undefined;
    const graph = model instanceof Model ? model.graph : model;
    if (!(graph instanceof Graph)) throw new NormkitError('INVALID_ARGUMENT', 'Executor: expected a Model or a Graph');
    this.opts = opts;
    this.assumeDefaults = opts.foldConstants !== false;
    this.outer = new Set(opts.outerScope ?? []);
    if (this.outer.size > 0) {
      // A subgraph: make its outer names known to the topological sort without touching the caller's graph.
      const g = graph.clone();
      for (const n of this.outer) g.outerScope.add(n);
      this.graph = g;
    } else this.graph = graph;
    this.backend = opts.backend;
    this.defaultOpset = opts.opset ?? 17;
    this.order = this.graph.topologicalOrder();
    this.producers = this.graph.producers();
    const inputNames = new Set(this.graph.inputs.map((v) => v.name));
    for (const [k, t] of this.graph.initializers) {
      this.constants.set(k, t);
      if (inputNames.has(k)) this.overridable.add(k);
    }
    const run = () => {
      if (opts.foldConstants !== false) this.fold();
      this.plan(this.graph.outputs.map((o) => o.name));
    };
    if (this.backend) withBackend(this.backend, run);
    else run();
  }

  /** The default-domain opset the executor applies. */
  get opset(): number {
    return this.opsetOf('');
  }

  private opsetOf(domain: string): number {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.model?.opset(d) ?? (d === '' ? this.defaultOpset : 1);
  }

  private isConst(name: string): boolean {
    return name === '' || (this.constants.has(name) && (this.assumeDefaults || !this.overridable.has(name)));
  }

  /** Runs every node whose inputs are all constant once, keeping its outputs as constants. */
  private fold(): void {
    for (const node of this.order) {
      if (NO_FOLD.has(node.opType) || Object.values(node.attributes).some((a) => subgraphsOf(a).length > 0)) continue;
      if (!node.inputs.every((i) => this.isConst(i))) continue;
      const kernel = kernelFor(node.domain, node.opType);
      if (!kernel) continue;
      try {
        const outs = kernel({
          node,
          opset: this.opsetOf(node.domain),
          inputs: node.inputs.map((i) => (i ? this.constants.get(i) : undefined)),
        });
        if (node.outputs.some((o, i) => o && !outs[i])) continue;
        node.outputs.forEach((o, i) => {
          if (o) this.constants.set(o, outs[i] as Tensor);
        });
        this.folded.add(node);
      } catch {
        // Left to run time, where the error is reported with its context.
      }
    }
  }

  /** The steps that compute `outputs`, with release lists. Throws UNSUPPORTED_OP for an op outside the set. */
  private plan(outputs: readonly string[]): Step[] {
    const key = outputs.join('\u0000');
    const cached = this.plans.get(key);
    if (cached) return cached;
    const needed = new Set<Node>();
    const stack = [...outputs];
    const seen = new Set<string>();
    const runtimeInputs = new Set([...this.graph.inputs.map((v) => v.name), ...this.outer]);
    while (stack.length > 0) {
      const v = stack.pop() as string;
      if (seen.has(v)) continue;
      seen.add(v);
      if (this.isConst(v) || (runtimeInputs.has(v) && !this.producers.has(v))) continue;
      const p = this.producers.get(v);
      if (!p) {
        if (runtimeInputs.has(v) || this.constants.has(v)) continue;
        throw new NormkitError('UNDEFINED_VALUE', `graph "${this.graph.name}": no node, input or initializer provides "${v}"`, {
          value: v,
        });
      }
      if (needed.has(p)) continue;
      needed.add(p);
      for (const i of p.inputs) if (i) stack.push(i);
      for (const a of Object.values(p.attributes)) for (const g of subgraphsOf(a)) for (const f of g.freeVariables()) stack.push(f);
    }
    const steps: Step[] = [];
    for (const node of this.order) {
      if (!needed.has(node) || this.folded.has(node)) continue;
      const opset = this.opsetOf(node.domain);
      const kernel = kernelFor(node.domain, node.opType);
      if (!kernel) throw unsupported({ node, opset });
      steps.push({ node, kernel, opset, release: [] });
    }
    // Last reader of every value; values nobody reads are released right after their producer.
    const pinned = new Set<string>([...outputs, ...this.constants.keys(), ...runtimeInputs]);
    const last = new Map<string, number>();
    steps.forEach((s, i) => {
      for (const o of s.node.outputs) if (o) last.set(o, i);
      for (const inp of s.node.inputs) if (inp) last.set(inp, i);
      for (const a of Object.values(s.node.attributes)) for (const g of subgraphsOf(a)) for (const f of g.freeVariables()) last.set(f, i);
    });
    for (const [v, i] of last) if (!pinned.has(v)) steps[i]!.release.push(v);
    this.plans.set(key, steps);
    return steps;
  }

  /** Checks feeds against the graph inputs: presence, dtype, rank and fixed dims. */
  private validate(inputs: Record<string, Tensor>): void {
    const declared = new Map(this.graph.inputs.map((v) => [v.name, v]));
    for (const name of Object.keys(inputs)) {
      if (!declared.has(name) && !this.outer.has(name)) {
        const names = this.graph
          .runtimeInputs()
          .map((v) => v.name)
          .join(', ');
        throw new NormkitError(
          'UNKNOWN_INPUT',
          `input "${name}" is not an input of graph "${this.graph.name}" (its inputs: ${names || 'none'})`,
          {
            input: name,
          },
        );
      }
    }
    for (const vi of this.graph.inputs) {
      const t = inputs[vi.name];
      if (!t) {
        if (this.graph.initializers.has(vi.name)) continue;
        throw new NormkitError(
          'MISSING_INPUT',
          `graph "${this.graph.name}" needs input "${vi.name}" (${vi.dtype ?? vi.elemType ?? '?'} ${fmtDims(vi.shape)}), which was not given`,
          { input: vi.name },
        );
      }
      const expected = `${vi.dtype ?? vi.elemType ?? '?'} ${fmtDims(vi.shape)}`;
      const actual = `${t.dtype} ${fmtShape(t.shape)}`;
      const fail = (why: string) =>
        new NormkitError('INPUT_MISMATCH', `input "${vi.name}": ${why}: expected ${expected}, got ${actual}`, {
          input: vi.name,
          expected: vi.shape,
          actual: t.shape,
        });
      if (vi.dtype && t.dtype !== vi.dtype) throw fail('wrong dtype (cast it first)');
      if (!vi.dtype && vi.elemType) throw fail(`element type ${vi.elemType} is not supported by the executor`);
      if (vi.shape) {
        if (vi.shape.length !== t.rank) throw fail(`wrong rank ${t.rank}`);
        vi.shape.forEach((d, i) => {
          if (typeof d === 'number' && d >= 0 && d !== t.shape[i]) throw fail(`dimension ${i} is ${t.shape[i]}, not ${d}`);
        });
      }
    }
  }

  /**
   * Runs the graph on named inputs. Returns the graph outputs (or `opts.outputs`), and a profile when asked.
   * @example ex.run({ x }, { profile: true }).profile?.byOpType
   */
  run(inputs: Record<string, Tensor>, opts: RunOptions = {}): ExecuteResult {
    // Initializers listed as graph inputs (IR < 4) were folded as defaults; a feed overriding one runs unfolded.
    if (this.assumeDefaults && Object.keys(inputs).some((k) => this.overridable.has(k))) {
      this.unfolded ??= new Executor(this.model ?? this.graph, { ...this.opts, foldConstants: false });
      return this.unfolded.run(inputs, opts);
    }
    const backend = opts.backend ?? this.backend;
    return backend ? withBackend(backend, () => this.runOn(inputs, opts)) : this.runOn(inputs, opts);
  }

  private runOn(inputs: Record<string, Tensor>, opts: RunOptions): ExecuteResult {
    this.validate(inputs);
    const wanted = opts.outputs ?? this.graph.outputs.map((o) => o.name);
    const steps = this.plan(wanted);
    const values = new Map<string, Tensor>(this.constants);
    for (const [k, t] of Object.entries(inputs)) values.set(k, t);
    // Device storage may be shared by views (Reshape); dispose only when no live value uses it.
    const refs = new Map<DeviceStorage, number>();
    const retain = (t: Tensor | undefined) => {
      const s = t?.deviceStorage;
      if (s) refs.set(s, (refs.get(s) ?? 0) + 1);
    };
    for (const t of values.values()) retain(t);
    const profile: NodeProfile[] | undefined = opts.profile ? [] : undefined;
    const t0 = performance.now();
    for (const step of steps) {
      const { node } = step;
      const ins = node.inputs.map((name) => {
        if (!name) return undefined;
        const t = values.get(name);
        if (!t)
          throw new NormkitError('UNDEFINED_VALUE', `node "${node.name}" (${node.opType}) reads "${name}", which has no value`, {
            node: node.name,
            value: name,
          });
        return t;
      });
      const start = profile ? performance.now() : 0;
      let outs: (Tensor | undefined)[];
      try {
        outs = step.kernel({
          node,
          opset: step.opset,
          inputs: ins,
          scope: (name) => values.get(name),
          opsets: this.model?.opsetImports ?? [{ domain: '', version: this.defaultOpset }],
          backend: getBackend(),
        });
      } catch (e) {
        throw nodeError(e, node, ins);
      }
      if (profile) {
        profile.push({
          name: node.name,
          opType: node.opType,
          domain: node.domain,
          ms: performance.now() - start,
          outputShapes: outs.map((t) => (t ? [...t.shape] : [])),
        });
      }
      node.outputs.forEach((o, i) => {
        if (!o) return;
        const t = outs[i];
        if (!t) {
          if (step.release.includes(o)) return;
          throw new NormkitError(
            'MISSING_OUTPUT',
            `node "${node.name}" (${node.opType}) did not produce its output ${i} ("${o}"), which is used`,
            { node: node.name },
          );
        }
        values.set(o, t);
        retain(t);
      });
      for (const v of step.release) {
        const t = values.get(v);
        values.delete(v);
        const s = t?.deviceStorage;
        if (!s) continue;
        const n = (refs.get(s) ?? 1) - 1;
        refs.set(s, n);
        if (n <= 0) {
          refs.delete(s);
          t?.dispose();
        }
      }
    }
    const outputs: Record<string, Tensor> = {};
    for (const name of wanted) {
      const t = values.get(name);
      if (!t) throw new NormkitError('UNDEFINED_VALUE', `output "${name}" was not computed`, { value: name });
      outputs[name] = t;
    }
    if (!profile) return { outputs };
    return { outputs, profile: summarize(profile, performance.now() - t0) };
  }
}

function fmtDims(shape: Dim[] | undefined): string {
  return shape ? `[${shape.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]` : '[?]';
}

/** Wraps an error thrown inside a kernel so it names the node (keeping NormkitError codes). */
function nodeError(e: unknown, node: Node, ins: (Tensor | undefined)[]): NormkitError {
  const shapes = ins.map((t) => (t ? `${t.dtype} ${fmtShape(t.shape)}` : '-')).join(', ');
  if (e instanceof NormkitError) {
    if (e.message.includes(`"${node.name}"`)) return e;
    return new NormkitError(e.code, `node "${node.name}" (${node.opType}, inputs ${shapes}): ${e.message}`, {
      ...e.details,
      node: node.name,
      op: node.opType,
    });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new NormkitError('EXECUTION_FAILED', `node "${node.name}" (${node.opType}, inputs ${shapes}) failed: ${msg}`, {
    node: node.name,
    op: node.opType,
  });
}

function summarize(nodes: NodeProfile[], totalMs: number): Profile {
  const acc = new Map<string, OpTypeProfile>();
  for (const n of nodes) {
    const k = `${n.domain}::${n.opType}`;
    const cur = acc.get(k) ?? { opType: n.opType, domain: n.domain, ms: 0, count: 0 };
    cur.ms += n.ms;
    cur.count += 1;
    acc.set(k, cur);
  }
  return { nodes, byOpType: [...acc.values()].sort((a, b) => b.ms - a.ms), totalMs };
}

/**
 * Runs a model (or graph) once on named inputs. For repeated runs build an `Executor` once.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('g');
 * const x = b.input('x', 'float32', ['n', 2]);
 * b.output(b.op('Softmax', [x], { axis: -1 }));
 * const { outputs, profile } = execute(b.model(17), { x: Tensor.from([[0, 0]]) }, { profile: true });
 * // outputs.Softmax_0_out → [[0.5, 0.5]]; profile.byOpType[0].opType → 'Softmax'
 * ```
 */
export function execute(model: Model | Graph, inputs: Record<string, Tensor>, opts: RunOptions & { opset?: number } = {}): ExecuteResult {
  const backend = opts.backend ?? getBackend();
  return new Executor(model, { backend, opset: opts.opset }).run(inputs, opts);
}

/** Executors for subgraphs (If branches), built once per branch graph. */
const subExecutors = new WeakMap<Graph, Executor>();

/**
 * If: runs `then_branch` or `else_branch` by the condition, reading outer values through the scope.
 * Registered here because it builds nested Executors.
 */
registerOp('', 'If', (ctx) => {
  const cond = ctx.inputs[0];
  if (cond?.size !== 1)
    throw new NormkitError('INVALID_NODE', `node "${ctx.node.name}" (If): the condition must have one element`, { node: ctx.node.name });
  const which = Number(cond.data[0]) ? 'then_branch' : 'else_branch';
  const a = ctx.node.attributes[which];
  if (a?.type !== 'graph')
    throw new NormkitError('INVALID_NODE', `node "${ctx.node.name}" (If): attribute ${which} is missing`, { node: ctx.node.name });
  const branch = a.value;
  let ex = subExecutors.get(branch);
  if (!ex) {
    const free = [...branch.freeVariables()];
    ex = new Executor(new Model(branch, ctx.opsets ?? [{ domain: '', version: ctx.opset }]), { outerScope: free, backend: ctx.backend });
    subExecutors.set(branch, ex);
  }
  const feeds: Record<string, Tensor> = {};
  for (const name of branch.freeVariables()) {
    const t = ctx.scope?.(name);
    if (!t)
      throw new NormkitError('UNDEFINED_VALUE', `node "${ctx.node.name}" (If): ${which} reads "${name}", which has no value`, {
        node: ctx.node.name,
        value: name,
      });
    feeds[name] = t;
  }
  const r = ex.run(feeds);
  return branch.outputs.map((o) => r.outputs[o.name]);
});
