import { Tensor } from '@normkit/tensor';
import { isNativeDType } from '../elem-types.js';
import { type Dim, type Graph, Model, type Node, type ValueInfo } from '../ir.js';
import { type InferredValue, isNum, MAX_RANK, mergeDims, numProd } from './dims.js';
import { type OnnxOp, type OpContext, onnxOp } from './registry.js';

/** Options of `inferShapes`. */
export interface InferShapesOptions {
  /** Default-domain opset for a bare Graph (default 17). */
  opset?: number;
  /** Largest constant (elements) inference computes by running the op's kernel (default 4096). */
  maxFoldElements?: number;
}

/**
 * Infers dtype and shape of every value of a model and writes them to `graph.valueInfo` (keeping
 * what is already there where inference knows less). Symbolic dims stay strings ("batch"), numbers
 * where known, `undefined` where not; small integer values are propagated through
 * Shape/Gather/Slice/Concat/Unsqueeze/Cast/arithmetic chains so Reshape targets computed at run time
 * resolve (including `-1` against symbolic dims). Covers every op the executor runs; an op it does not
 * know gets outputs without a shape. Returns the inferred infos by value name.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('g');
 * const x = b.input('x', 'float32', ['batch', 8]);
 * const y = b.op('MatMul', [x, b.constant('w', Tensor.randn([8, 4], 1))]);
 * b.output(y);
 * const m = b.model(17);
 * inferShapes(m);
 * m.graph.valueInfo.get(y); // { name: y, dtype: 'float32', shape: ['batch', 4] }
 * ```
 */
export function inferShapes(model: Model | Graph, opts: InferShapesOptions = {}): Map<string, ValueInfo> {
  const graph = model instanceof Model ? model.graph : model;
  const infos = inferValueInfos(model, opts);
  const result = new Map<string, ValueInfo>();
  const defined = new Set([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
  for (const n of graph.nodes)
    for (const o of n.outputs) {
      if (!o || defined.has(o)) continue;
      const info = infos.get(o);
      const prev = graph.valueInfo.get(o);
      const vi: ValueInfo = { ...(prev ?? {}), name: o };
      if (isNativeDType(info?.dtype)) vi.dtype = info.dtype;
      else if (info?.dtype && !vi.dtype) vi.elemType = info.dtype;
      if (info?.shape) {
        const shape = info.shape;
        vi.shape = prev?.shape && prev.shape.length === shape.length ? shape.map((d, i) => d ?? prev.shape?.[i]) : [...shape];
      }
      graph.valueInfo.set(o, vi);
      result.set(o, vi);
    }
  return result;
}

/**
 * What inference knows about every value, without touching the graph: the one engine behind both
 * `inferShapes` (which writes it to `graph.valueInfo`) and the passes' `inferFacts`. `opts.seed`
 * gives shapes known from elsewhere; a seeded dim wins over an inferred one.
 */
export function inferValueInfos(
  model: Model | Graph,
  opts: InferShapesOptions & { seed?: Map<string, Dim[]> } = {},
): Map<string, InferredValue> {
  const graph = model instanceof Model ? model.graph : model;
  const opsetOf = (domain: string) =>
    (model instanceof Model ? model.opset(domain === 'ai.onnx' ? '' : domain) : undefined) ??
    (domain === '' || domain === 'ai.onnx' ? (opts.opset ?? 17) : 1);
  const infos = new Map<string, InferredValue>();
  inferGraph(graph, infos, { opsetOf, maxFold: opts.maxFoldElements ?? 4096 }, opts.seed);
  return infos;
}

/** What one inference run shares: the opset of each domain and the largest constant it computes. */
interface InferenceRun {
  opsetOf: (domain: string) => number;
  maxFold: number;
}

/** Infers every value of `graph` into `infos`; `given` supplies what is known of its inputs (subgraph bodies). */
function inferGraph(
  graph: Graph,
  infos: Map<string, InferredValue>,
  run: InferenceRun,
  seed?: Map<string, Dim[]>,
  given?: (InferredValue | undefined)[],
): void {
  graph.inputs.forEach((v, i) => {
    const g = given?.[i];
    infos.set(v.name, { dtype: v.dtype ?? v.elemType ?? g?.dtype, shape: mergeDims(mergeDims(seed?.get(v.name), v.shape), g?.shape) });
  });
  for (const [k, t] of graph.initializers) infos.set(k, { dtype: t.dtype, shape: [...t.shape], value: t });
  let order: Node[];
  try {
    order = graph.topologicalOrder();
  } catch {
    order = graph.nodes;
  }
  for (const node of order) {
    const ins = node.inputs.map((i) => (i ? infos.get(i) : undefined));
    let outs: InferredValue[];
    try {
      outs = inferNode(node, ins, infos, run);
    } catch {
      outs = [];
    }
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const known = graph.valueInfo.get(o);
      const inf = outs[i] ?? {};
      // A fully numeric integer vector becomes a constant, so later ops fold exactly (a NaN or a
      // fraction — a float value that reached an integer op in a corrupt file — stays symbolic).
      if (
        !inf.value &&
        inf.sym &&
        inf.sym.every((d) => isNum(d) && Number.isSafeInteger(d)) &&
        (inf.dtype === 'int64' || inf.dtype === 'int32') &&
        inf.shape &&
        (inf.shape.length === 0 ? inf.sym.length === 1 : inf.shape.length === 1 && inf.shape[0] === inf.sym.length)
      ) {
        inf.value = Tensor.from(inf.sym as number[], inf.shape as number[], inf.dtype);
      }
      const shape = mergeDims(seed?.get(o), mergeDims(inf.shape, known?.shape));
      infos.set(o, { ...inf, dtype: inf.dtype ?? known?.dtype ?? known?.elemType, shape });
    });
  }
}

/** Runs the op's kernel when every input is a small known constant. */
function fold(op: OnnxOp, node: Node, ins: (InferredValue | undefined)[], opset: number, maxFold: number): InferredValue[] | undefined {
  if (node.inputs.some((n, i) => n && !ins[i]?.value)) return undefined;
  if (ins.some((i) => i?.value && i.value.size > maxFold)) return undefined;
  if (op.constantFoldable === false) return undefined;
  const ctx: OpContext = { node, opset, inputs: ins.map((i) => i?.value) };
  const outs = op.kernel(ctx);
  if (outs.some((t) => t && t.size > maxFold)) return outs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape] } : {}));
  return outs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape], value: t } : {}));
}

/**
 * The op's shape rule, then — when every input is a small known constant and the rule bounds every
 * output to `maxFold` elements — its kernel, for exact values. A hostile file (a 2^31 target in a
 * 100-byte model) thus never allocates what the analysis only needs the shape of.
 */
/** Without a shape rule an op's outputs have no inferred shape (its kernel may still fold constants). */
const noRule = (): InferredValue[] => [];

function inferNode(node: Node, ins: (InferredValue | undefined)[], infos: Map<string, InferredValue>, run: InferenceRun): InferredValue[] {
  const op = onnxOp(node.domain, node.opType);
  if (!op) return [];
  const opset = run.opsetOf(node.domain);
  const subgraph = (g: Graph, inputs?: (InferredValue | undefined)[]) => {
    const sub = new Map(infos);
    inferGraph(g, sub, run, undefined, inputs);
    return sub;
  };
  const ruled = (op.shape ?? noRule)({ node, opset, inputs: ins, subgraph }).map((v) =>
    v.shape && v.shape.length > MAX_RANK ? { ...v, shape: undefined } : v,
  );
  const bounded = (i: number) => {
    const shape = ruled[i]?.shape;
    const n = shape ? numProd(shape) : undefined;
    return n === undefined ? !op.grows : n <= run.maxFold;
  };
  if (!node.outputs.every((o, i) => !o || bounded(i))) return ruled;
  return fold(op, node, ins, opset, run.maxFold) ?? ruled;
}
