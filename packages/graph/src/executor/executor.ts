import {
  allocatedSince,
  type Backend,
  fmtShape,
  getBackend,
  markConstant,
  NormkitError,
  recycle,
  storageMark,
  Tensor,
  withBackend,
} from '@normkit/tensor';
import { narrowValue, onnxType, onnxTypeCode, tagElemType, taggedElemType } from '../elem-types.js';
import { type Dim, Graph, Model, type Node, subgraphsOf } from '../ir.js';
import { isLazy, releaseLazy } from '../lazy-tensor.js';
import { findFusions } from './fusion.js';
import { hostInputs } from './host-inputs.js';
import { ops } from './ops.js';
import { kernelFor, type OpKernel, onnxOp, unsupported } from './registry.js';

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
  /**
   * Replace known multi-node chains by one kernel when planning, as onnxruntime does at session
   * creation (GELU written as Div/Erf/Add/Mul/Mul runs as one `Gelu`; MatMul + bias Add as one GEMM,
   * `MatMulAdd`; dynamic quantization's MatMulInteger, Cast and Mul as one `MatMulIntegerToFloat`); default true. The model is not changed; a profile shows the fused steps.
   */
  fuse?: boolean;
  /**
   * Lazy initializers (`LazyTensor`, what `loadModel` gives for big weights): `true` reads each when
   * its first reader runs and releases it after its last, in every run (memory holds a few weights,
   * whatever the model's size); `false` keeps them once read and folds nodes that read them, like
   * other constants (faster repeated runs). Default: stream only when the lazy weights exceed a quarter
   * of the machine's memory (1 GiB where it is unknown, as in browsers).
   */
  streamWeights?: boolean;
}

/** Time of one node in a profiled run. */
export interface NodeProfile {
  /** The node's name. */
  name: string;
  /** Its ONNX op type (a fused step shows as the fused op, e.g. `Gelu`). */
  opType: string;
  /** Its domain ('' = ai.onnx). */
  domain: string;
  /** Wall time in milliseconds (dispatch time on asynchronous device backends; `runAsync` adds the awaited reads). */
  ms: number;
  /** Shape of each of the node's outputs. */
  outputShapes: number[][];
  /** Inputs awaited back to the host before the node ran (`runAsync` on a device that reads asynchronously). */
  hostReads?: number;
}

/** Time summed per op type. */
export interface OpTypeProfile {
  /** The op type. */
  opType: string;
  /** Its domain ('' = ai.onnx). */
  domain: string;
  /** Milliseconds summed over the nodes of this type. */
  ms: number;
  /** How many nodes of this type ran. */
  count: number;
}

/** Per-node and per-op-type times of one run, slowest op type first. */
export interface Profile {
  /** One entry per node run, in run order. */
  nodes: NodeProfile[];
  /** Node times summed per op type, slowest first. */
  byOpType: OpTypeProfile[];
  /** Wall time of the whole run in milliseconds. */
  totalMs: number;
  /**
   * Values that crossed from the device to the host during the run (`runAsync`): inputs of nodes that
   * read them on the host, plus the outputs. 0 for a synchronous run or on a host backend.
   */
  crossings: number;
}

/** What `execute`, `Executor.run` and `Executor.runAsync` return. */
export interface ExecuteResult {
  /** The graph outputs (or the values named in `RunOptions.outputs`), by value name. */
  outputs: Record<string, Tensor>;
  /** Node and op-type times; present only when the run was asked for `profile: true`. */
  profile?: Profile;
}

interface Step {
  node: Node;
  kernel: OpKernel;
  opset: number;
  /** Values whose last reader is this step (released after it). */
  release: string[];
  /** Lazy initializers (`LazyTensor`) whose last reader is this step: their values are dropped after it. */
  unload: string[];
  /**
   * Input indices read on the host (decided when the plan is built, see `hostInputs`). `runAsync`
   * awaits them when they are still on an asynchronously read device. A node found at run time to
   * read others (a backend's CPU fallback) gets all its inputs here, once, for every later run.
   */
  host: number[];
}

/** Bytes of the lazy initializers of `g` (what streaming would keep out of memory). */
function lazyBytes(g: Graph): number {
  let n = 0;
  for (const t of g.initializers.values()) if (isLazy(t)) n += t.byteLength;
  return n;
}

/** The most lazy weights an executor keeps by default: a quarter of the machine's memory, or 1 GiB where unknown. */
function keptWeightsBudget(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const os = proc?.getBuiltinModule?.('node:os') as { totalmem(): number } | undefined;
    if (os) return os.totalmem() / 4;
  } catch {
    // not Node
  }
  return 2 ** 30;
}

/**
 * Runs a model (or graph) many times: built once (topological order, constant folding of initializers
 * and Constant nodes, a plan with the last reader of every value), then `run` on named inputs.
 * Intermediate tensors are released (`dispose()`) right after their last reader.
 *
 * Streamed weights: an initializer that is a `LazyTensor` (what `loadModel` gives for big weights) is
 * read when the first node that needs it runs and released after the last one, in every run, so a run
 * holds about the weights of one node at a time, not the model. Nodes reading one are not folded at
 * construction (the folded copy would be held for the executor's life). A model whose lazy weights fit
 * in a quarter of memory keeps them instead, once read (see `ExecutorOptions.streamWeights`).
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
  /** The graph it runs (a clone, when `outerScope` names are given). */
  readonly graph: Graph;
  /** The model it was built from; undefined when built from a bare `Graph`. */
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
  /** Whether lazy initializers are released after their last reader (`ExecutorOptions.streamWeights`). */
  private readonly streaming: boolean;

  constructor(model: Model | Graph, opts: ExecutorOptions = {}) {
    if (ops.length === 0) throw new NormkitError('INTERNAL', 'executor ops are not loaded');
    this.model = model instanceof Model ? model : undefined;
    const graph = model instanceof Model ? model.graph : model;
    if (!(graph instanceof Graph)) throw new NormkitError('INVALID_ARGUMENT', 'Executor: expected a Model or a Graph');
    this.opts = opts;
    this.streaming = opts.streamWeights ?? lazyBytes(graph) > keptWeightsBudget();
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
      // Weights never change during a run: the CPU GEMM may keep them packed between calls.
      else if (!isLazy(t) && t.onHost) markConstant(t);
    }
    const run = () => {
      if (opts.foldConstants !== false) this.fold();
      this.plan(this.graph.outputs.map((o) => o.name));
    };
    if (this.backend) withBackend(this.backend, run);
    else run();
    // Planning (fusion) may have read streamed weights: they are read again when run.
    if (this.streaming) releaseLazy(this.constants.values());
  }

  /** Whether lazy weights are released after their last reader (`ExecutorOptions.streamWeights`). @example new Executor(m, { streamWeights: false }).streamsWeights // false */
  get streamsWeights(): boolean {
    return this.streaming;
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
      const op = onnxOp(node.domain, node.opType);
      if (!op || op.constantFoldable === false || Object.values(node.attributes).some((a) => subgraphsOf(a).length > 0)) continue;
      if (!node.inputs.every((i) => this.isConst(i))) continue;
      if (this.streaming && node.inputs.some((i) => isLazy(this.constants.get(i)))) continue;
      const kernel = op.kernel;
      try {
        const outs = kernel({
          node,
          opset: this.opsetOf(node.domain),
          inputs: node.inputs.map((i) => (i ? this.constants.get(i) : undefined)),
        });
        if (node.outputs.some((o, i) => o && !outs[i])) continue;
        node.outputs.forEach((o, i) => {
          if (o) this.constants.set(o, markConstant(outs[i] as Tensor));
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
    let steps: Step[] = [];
    for (const node of this.order) {
      if (!needed.has(node) || this.folded.has(node)) continue;
      const opset = this.opsetOf(node.domain);
      const kernel = kernelFor(node.domain, node.opType);
      if (!kernel) throw unsupported({ node, opset });
      steps.push({ node, kernel, opset, release: [], unload: [], host: hostInputs(node) });
    }
    if (this.opts.fuse !== false) steps = this.fuse(steps, outputs);
    // Last reader of every value; values nobody reads are released right after their producer.
    const pinned = new Set<string>([...outputs, ...this.constants.keys(), ...runtimeInputs]);
    const last = new Map<string, number>();
    steps.forEach((s, i) => {
      for (const o of s.node.outputs) if (o) last.set(o, i);
      for (const inp of s.node.inputs) if (inp) last.set(inp, i);
      for (const a of Object.values(s.node.attributes)) for (const g of subgraphsOf(a)) for (const f of g.freeVariables()) last.set(f, i);
    });
    for (const [v, i] of last) {
      if (!pinned.has(v)) steps[i]!.release.push(v);
      else if (this.streaming && isLazy(this.constants.get(v)) && !outputs.includes(v)) steps[i]!.unload.push(v);
    }
    this.plans.set(key, steps);
    return steps;
  }

  /** The plan with every fusable chain (see `fusion.ts`) replaced by one step where its last node ran. */
  private fuse(steps: Step[], outputs: readonly string[]): Step[] {
    const subgraphReads = steps.flatMap((s) =>
      Object.values(s.node.attributes).flatMap((a) => subgraphsOf(a).flatMap((g) => [...g.freeVariables()])),
    );
    const chains = findFusions(
      steps.map((s) => s.node),
      { constant: (n) => (this.isConst(n) ? this.constants.get(n) : undefined), outputs: [...outputs, ...subgraphReads] },
    );
    if (chains.length === 0) return steps;
    const replaced = new Set(chains.flatMap((c) => c.replaces));
    const at = new Map(chains.map((c) => [c.replaces[c.replaces.length - 1] as Node, c]));
    return steps.flatMap((s) => {
      const c = at.get(s.node);
      if (!c) return replaced.has(s.node) ? [] : [s];
      return [{ node: c.node, kernel: c.kernel, opset: c.opset, release: [], unload: [], host: hostInputs(c.node) }];
    });
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
      if (!vi.dtype && vi.elemType) {
        // A float16 / bfloat16 / narrow-int input is fed in the dtype that holds it (float32 / int32 / int64).
        const code = onnxTypeCode(vi.elemType) ?? -1;
        const held = onnxType(code);
        if (held?.kind !== 'widened') throw fail(`element type ${vi.elemType} is not supported by the executor`);
        if (t.dtype !== held.dtype) throw fail(`${vi.elemType} is fed as ${held.dtype} (its values in that dtype)`);
        // Kernels that depend on the narrow type (QuantizeLinear's range) read it from the tag.
        if (taggedElemType(t) === undefined) tagElemType(t, code);
      }
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

  /**
   * Runs the graph like `run`, on a backend whose device reads back only asynchronously (WebGPU):
   * kernels are queued synchronously, and the run awaits only where values must cross to the host —
   * the inputs a node reads on the host (integer shape inputs, scalar parameters, kernels the backend
   * runs on the CPU; decided once when the plan is built) and the outputs, which come back read
   * (`.data` works on them). The profile counts the crossings. On host backends it equals `run`.
   * @example const { outputs } = await ex.runAsync({ x }, { backend: webgpu }); outputs.y.data
   */
  async runAsync(inputs: Record<string, Tensor>, opts: RunOptions = {}): Promise<ExecuteResult> {
    if (this.assumeDefaults && Object.keys(inputs).some((k) => this.overridable.has(k))) {
      this.unfolded ??= new Executor(this.model ?? this.graph, { ...this.opts, foldConstants: false });
      return this.unfolded.runAsync(inputs, opts);
    }
    const backend = opts.backend ?? this.backend ?? getBackend();
    const run = this.start(inputs, opts);
    for (const step of run.steps) {
      const start = run.profile ? performance.now() : 0;
      const ins = run.inputsOf(step);
      let reads = 0;
      for (const i of step.host) reads += await run.toHost(ins[i]);
      let outs: (Tensor | undefined)[];
      try {
        outs = withBackend(backend, () => run.exec(step, ins));
      } catch (e) {
        const cause = e instanceof NormkitError && e.details.cause instanceof NormkitError ? e.details.cause : e;
        if (!(cause instanceof NormkitError && cause.code === 'READ_ASYNC_ONLY')) throw e;
        // A kernel the backend runs on the CPU: read every input of this node first, from now on.
        step.host = ins.map((_, i) => i);
        for (const t of ins) reads += await run.toHost(t);
        outs = withBackend(backend, () => run.exec(step, ins));
      }
      run.finish(step, ins, outs, start, reads);
    }
    const outputs = run.outputs();
    for (const t of Object.values(outputs)) run.crossings += await run.toHost(t);
    return run.result(this.inDeclaredTypes(outputs));
  }

  private runOn(inputs: Record<string, Tensor>, opts: RunOptions): ExecuteResult {
    const run = this.start(inputs, opts);
    for (const step of run.steps) {
      const start = run.profile ? performance.now() : 0;
      const ins = run.inputsOf(step);
      run.finish(step, ins, run.exec(step, ins), start, 0);
    }
    return run.result(this.inDeclaredTypes(run.outputs()));
  }

  /**
   * Graph outputs declared float16 / bfloat16 rounded to that type (held in float32 and tagged): the
   * graph is computed in float32, and its outputs have the values the model's types say.
   */
  private inDeclaredTypes(outputs: Record<string, Tensor>): Record<string, Tensor> {
    for (const o of this.graph.outputs) {
      const code = o.dtype ? undefined : onnxTypeCode(o.elemType ?? '');
      const t = outputs[o.name];
      // Only a float32 carrier holds a float16 value (a model may declare float16 for an op's int64 output).
      if (!t || (code !== 10 && code !== 16) || t.dtype !== 'float32' || taggedElemType(t) === code) continue;
      const d = Float32Array.from(t.data as Float32Array, (v) => narrowValue(code, v));
      outputs[o.name] = tagElemType(new Tensor(t.shape, t.dtype, d), code);
    }
    return outputs;
  }

  /** Validates the feeds and sets up the values of one run. */
  private start(inputs: Record<string, Tensor>, opts: RunOptions): RunState {
    this.validate(inputs);
    const wanted = opts.outputs ?? this.graph.outputs.map((o) => o.name);
    return new RunState(this, this.plan(wanted), wanted, this.constants, inputs, opts.profile === true);
  }

  /** @internal the opsets a kernel sees. */
  get opsetImports(): { domain: string; version: number }[] {
    return this.model?.opsetImports ?? [{ domain: '', version: this.defaultOpset }];
  }
}

/**
 * The values of one run: a count of the names each tensor is held under, so that a tensor is disposed
 * when its last name is released (views share the device handle, which the tensor package counts).
 * Unless it streams weights (keeping memory bounded), host arrays the run itself allocated are counted
 * per buffer (a reshape shares its input's) and handed back to the storage pool when the last tensor
 * using one is released, so the next op of that size reuses warm memory instead of faulting in pages.
 */
class RunState {
  readonly values: Map<string, Tensor>;
  private readonly names = new Map<Tensor, number>();
  /** Live tensors per host buffer allocated during this run (after `mark`). */
  private readonly buffers = new Map<ArrayBufferLike, number>();
  /** Buffers a lazy weight holds (its values, or a view of them, must never be recycled). */
  private readonly pinned = new WeakSet<ArrayBufferLike>();
  private readonly mark = storageMark();
  readonly profile: NodeProfile[] | undefined;
  crossings = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly ex: Executor,
    readonly steps: Step[],
    private readonly wanted: string[],
    constants: Map<string, Tensor>,
    inputs: Record<string, Tensor>,
    profile: boolean,
  ) {
    this.values = new Map(constants);
    for (const [k, t] of Object.entries(inputs)) this.values.set(k, t);
    for (const t of this.values.values()) this.retain(t);
    this.profile = profile ? [] : undefined;
  }

  private retain(t: Tensor): void {
    const n = this.names.get(t) ?? 0;
    this.names.set(t, n + 1);
    const buf = n === 0 ? this.runBuffer(t) : undefined;
    if (buf) this.buffers.set(buf, (this.buffers.get(buf) ?? 0) + 1);
  }

  /** The host buffer under `t` when this run allocated it (a candidate for reuse), else undefined. */
  private runBuffer(t: Tensor): ArrayBufferLike | undefined {
    // A streaming run holds memory to a few weights: it leaves freed arrays to the garbage collector
    // rather than keep them pooled.
    if (this.ex.streamsWeights || isLazy(t) || t.deviceStorage || !t.onHost || !allocatedSince(t, this.mark)) return undefined;
    return t.data.buffer;
  }

  /** Forgets `t` (its last name was released): disposes a device handle, recycles a run buffer no one else uses. */
  private drop(t: Tensor): void {
    this.names.delete(t);
    if (t.deviceStorage) {
      t.dispose();
      return;
    }
    const buf = this.runBuffer(t);
    if (!buf) return;
    const left = (this.buffers.get(buf) ?? 1) - 1;
    if (left > 0) this.buffers.set(buf, left);
    else {
      this.buffers.delete(buf);
      if (!this.pinned.has(buf)) recycle(t);
    }
  }

  inputsOf(step: Step): (Tensor | undefined)[] {
    const { node } = step;
    return node.inputs.map((name) => {
      if (!name) return undefined;
      const t = this.values.get(name);
      if (!t)
        throw new NormkitError('UNDEFINED_VALUE', `node "${node.name}" (${node.opType}) reads "${name}", which has no value`, {
          node: node.name,
          value: name,
        });
      return t;
    });
  }

  /** Awaits `t`'s values onto the host if they are on a device; returns 1 for a crossing, else 0. */
  async toHost(t: Tensor | undefined): Promise<number> {
    if (!t || t.onHost || !t.deviceStorage) return 0;
    await t.read();
    return 1;
  }

  exec(step: Step, ins: (Tensor | undefined)[]): (Tensor | undefined)[] {
    const { node } = step;
    try {
      return step.kernel({
        node,
        opset: step.opset,
        inputs: ins,
        scope: (name) => this.values.get(name),
        opsets: this.ex.opsetImports,
        backend: getBackend(),
      });
    } catch (e) {
      throw nodeError(e, node, ins);
    }
  }

  /** Stores a step's outputs, records its profile and releases the values it read last. */
  finish(step: Step, ins: (Tensor | undefined)[], outs: (Tensor | undefined)[], start: number, reads: number): void {
    const { node } = step;
    this.crossings += reads;
    this.profile?.push({
      name: node.name,
      opType: node.opType,
      domain: node.domain,
      ms: performance.now() - start,
      outputShapes: outs.map((t) => (t ? [...t.shape] : [])),
      ...(reads ? { hostReads: reads } : {}),
    });
    // Weights held between runs (not streamed) never change: once read, the GEMM may keep them packed.
    if (!this.ex.streamsWeights)
      for (const t of ins)
        if (isLazy(t) && t.loaded) {
          this.pinned.add(t.data.buffer);
          markConstant(t);
        }
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const t = outs[i];
      if (!t) {
        if (step.release.includes(o)) return;
        throw new NormkitError(
          'MISSING_OUTPUT',
          `node "${node.name}" (${node.opType}) did not produce its output ${i} ("${o}"), which is used`,
          {
            node: node.name,
          },
        );
      }
      this.values.set(o, t);
      this.retain(t);
    });
    for (const v of step.release) {
      const t = this.values.get(v);
      this.values.delete(v);
      if (!t) continue;
      const n = (this.names.get(t) ?? 1) - 1;
      if (n > 0) {
        this.names.set(t, n);
        continue;
      }
      this.drop(t);
    }
    for (const v of step.unload) {
      const t = this.values.get(v);
      if (isLazy(t)) t.release();
    }
  }

  outputs(): Record<string, Tensor> {
    const outputs: Record<string, Tensor> = {};
    for (const name of this.wanted) {
      const t = this.values.get(name);
      if (!t) throw new NormkitError('UNDEFINED_VALUE', `output "${name}" was not computed`, { value: name });
      outputs[name] = t;
    }
    return outputs;
  }

  result(outputs: Record<string, Tensor>): ExecuteResult {
    if (!this.profile) return { outputs };
    return { outputs, profile: summarize(this.profile, performance.now() - this.t0, this.crossings) };
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

function summarize(nodes: NodeProfile[], totalMs: number, crossings: number): Profile {
  const acc = new Map<string, OpTypeProfile>();
  for (const n of nodes) {
    const k = `${n.domain}::${n.opType}`;
    const cur = acc.get(k) ?? { opType: n.opType, domain: n.domain, ms: 0, count: 0 };
    cur.ms += n.ms;
    cur.count += 1;
    acc.set(k, cur);
  }
  return { nodes, byOpType: [...acc.values()].sort((a, b) => b.ms - a.ms), totalMs, crossings };
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
  // One run gains nothing from keeping weights: stream them (memory stays bounded by the largest).
  return new Executor(model, { backend, opset: opts.opset, streamWeights: true }).run(inputs, opts);
}
