import { Tensor } from '@normkit/tensor';
import { isNativeDType, onnxType } from '../elem-types.js';
import { attr, type Dim, type Graph, Model, type Node, type ValueInfo } from '../ir.js';
import {
  arith,
  axisIn,
  bdim,
  broadcast,
  type InferredValue,
  isNum,
  MAX_RANK,
  matmulShape,
  mergeDims,
  normAxis,
  numProd,
  reshapeTarget,
  symOf,
  unknownDims,
  windowOut,
} from './dims.js';
import { parseEinsum } from './einsum.js';
import { convTransposeGeometry } from './ops-conv-transpose.js';
import { reduceAxes } from './ops-nn.js';
import { type OnnxOp, type OpContext, onnxOp, type ShapeContext } from './registry.js';

/** Options of `inferShapes`. */
export interface InferShapesOptions {
  /** Default-domain opset for a bare Graph (default 17). */
  opset?: number;
  /** Largest constant (elements) inference computes by running the op's kernel (default 4096). */
  maxFoldElements?: number;
}

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const SAME_SHAPE = new Set([
  'Sqrt',
  'Reciprocal',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Erf',
  'Tanh',
  'Sigmoid',
  'Relu',
  'LeakyRelu',
  'HardSigmoid',
  'HardSwish',
  'Clip',
  'Gelu',
  'Sin',
  'Cos',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Softplus',
  'Elu',
  'Selu',
  'Celu',
  'Softsign',
  'Mish',
  'ThresholdedRelu',
  'Identity',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'LRN',
  'LpNormalization',
  'MeanVarianceNormalization',
  'BatchNormalization',
  'InstanceNormalization',
  'GroupNormalization',
  'RMSNormalization',
  'CumSum',
  'Trilu',
  'IsNaN',
  'IsInf',
  'Not',
  'PRelu',
  'FastGelu',
  'QuickGelu',
  'ScatterND',
  'ScatterElements',
  'Dropout',
]);
const BROADCAST = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Mod',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Sum',
  'Mean',
  'Max',
  'Min',
  'Where',
  'BiasGelu',
  'BiasAdd',
]);

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
      // A fully numeric integer vector becomes a constant, so later ops fold exactly.
      if (
        !inf.value &&
        inf.sym &&
        inf.sym.every(isNum) &&
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
function inferNode(node: Node, ins: (InferredValue | undefined)[], infos: Map<string, InferredValue>, run: InferenceRun): InferredValue[] {
  const op = onnxOp(node.domain, node.opType);
  if (!op) return [];
  const opset = run.opsetOf(node.domain);
  const subgraph = (g: Graph, inputs?: (InferredValue | undefined)[]) => {
    const sub = new Map(infos);
    inferGraph(g, sub, run, undefined, inputs);
    return sub;
  };
  const ruled = (op.shape ?? legacyRule)({ node, opset, inputs: ins, subgraph }).map((v) =>
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

function legacyRule(ctx: ShapeContext): InferredValue[] {
  const { node, opset, inputs: ins } = ctx;
  const x = ins[0];
  const op = node.opType;
  const ms = node.domain === 'com.microsoft';
  const same = (dtype = x?.dtype): InferredValue => ({ dtype, shape: x?.shape ? [...x.shape] : undefined });
  const a = <T extends Parameters<typeof attr>[2]>(name: string, type: T) => attr(node, name, type);

  if (ms) {
    switch (op) {
      case 'FastGelu':
      case 'QuickGelu':
      case 'Gelu':
        return [same()];
      case 'BiasGelu':
      case 'BiasAdd':
        return [{ dtype: x?.dtype, shape: broadcast(ins.map((i) => i?.shape)) }];
      case 'SimplifiedLayerNormalization':
        return simplifiedStats(node, x, ins);
      case 'SkipLayerNormalization':
      case 'SkipSimplifiedLayerNormalization': {
        const s = broadcast([x?.shape, ins[1]?.shape]);
        const stat = s ? [...s.slice(0, -1), 1] : undefined;
        return [
          { dtype: x?.dtype, shape: s },
          { dtype: 'float32', shape: stat },
          { dtype: 'float32', shape: stat },
          { dtype: x?.dtype, shape: s },
        ];
      }
      case 'EmbedLayerNormalization': {
        const ids = x?.shape;
        const hidden = ins[2]?.shape?.[1];
        const sh = ids ? [ids[0], ids[1], hidden] : undefined;
        return [
          { dtype: ins[2]?.dtype, shape: sh },
          { dtype: 'int32', shape: ids ? [ids[0]] : undefined },
          { dtype: ins[2]?.dtype, shape: sh },
        ];
      }
      case 'Attention': {
        const heads = attr(node, 'num_heads', 'int', 1);
        const total = ins[1]?.shape?.[1];
        const sizes = attr(node, 'qkv_hidden_sizes', 'ints') ?? (isNum(total) ? [total / 3, total / 3, total / 3] : undefined);
        const s = x?.shape;
        const past = ins[4]?.shape;
        const tot = past ? arith('Add', past[3], s?.[1]) : s?.[1];
        return [
          { dtype: x?.dtype, shape: s ? [s[0], s[1], sizes?.[2]] : undefined },
          { dtype: x?.dtype, shape: s ? [2, s[0], heads, tot, sizes ? sizes[0]! / heads : undefined] : undefined },
        ];
      }
      case 'MultiHeadAttention': {
        const heads = attr(node, 'num_heads', 'int', 1);
        const q = x?.shape;
        const k = ins[1]?.shape;
        const v = ins[2]?.shape;
        const past = ins[6]?.shape;
        const L = past ? arith('Add', past[2], k?.[1]) : k?.[1];
        const dk = k?.[2];
        const dv = v?.[2];
        return [
          { dtype: x?.dtype, shape: q && v ? [q[0], q[1], dv] : undefined },
          { dtype: x?.dtype, shape: q ? [q[0], heads, L, isNum(dk) ? dk / heads : undefined] : undefined },
          { dtype: x?.dtype, shape: q ? [q[0], heads, L, isNum(dv) ? dv / heads : undefined] : undefined },
        ];
      }
      case 'GemmFastGelu':
      case 'FusedMatMul':
        return [{ dtype: x?.dtype, shape: matmulShape(x?.shape, ins[1]?.shape, op === 'FusedMatMul' ? node : undefined) }];
    }
    return [];
  }

  if (SAME_SHAPE.has(op)) {
    const out: InferredValue[] = [same(BOOL_OPS.has(op) ? 'bool' : x?.dtype)];
    if (op === 'Dropout') out.push({ dtype: 'bool', shape: x?.shape });
    if (op === 'BatchNormalization') out.push({ ...ins[3] }, { ...ins[4] });
    if (op === 'CumSum' || op === 'Trilu' || op === 'ScatterND' || op === 'ScatterElements') return [same()];
    return out;
  }
  if (BROADCAST.has(op)) {
    const shapes = ins.map((i) => i?.shape);
    const dtype = BOOL_OPS.has(op) ? 'bool' : op === 'Where' ? ins[1]?.dtype : x?.dtype;
    const out: InferredValue = { dtype, shape: broadcast(shapes) };
    // Shape arithmetic on symbolic integer vectors.
    if (op === 'Equal' && ins.length === 2) {
      const p = symOf(ins[0]);
      const q = symOf(ins[1]);
      if (p && q && (p.length === q.length || q.length === 1 || p.length === 1)) {
        const n = Math.max(p.length, q.length);
        out.sym = Array.from({ length: n }, (_, i) => {
          const u = p[p.length === 1 ? 0 : i];
          const v = q[q.length === 1 ? 0 : i];
          if (isNum(u) && isNum(v)) return u === v ? 1 : 0;
          // A dimension is never negative: a symbol equals no negative number.
          if ((typeof u === 'string' && isNum(v) && v < 0) || (typeof v === 'string' && isNum(u) && u < 0)) return 0;
          return undefined;
        });
      }
    }
    if (op === 'Where' && ins.length === 3) {
      const c = symOf(ins[0]);
      const p = symOf(ins[1]);
      const q = symOf(ins[2]);
      if (c && p && q && c.every(isNum)) {
        const n = Math.max(c.length, p.length, q.length);
        const at = (v: Dim[], i: number) => v[v.length === 1 ? 0 : i];
        out.sym = Array.from({ length: n }, (_, i) => (at(c, i) ? at(p, i) : at(q, i)));
      }
    }
    if (['Add', 'Sub', 'Mul', 'Div'].includes(op) && ins.length === 2) {
      const p = symOf(ins[0]);
      const q = symOf(ins[1]);
      if (p && q && (p.length === q.length || p.length === 1 || q.length === 1)) {
        const n = Math.max(p.length, q.length);
        out.sym = Array.from({ length: n }, (_, i) => arith(op, p[p.length === 1 ? 0 : i], q[q.length === 1 ? 0 : i]));
      }
    }
    return [out];
  }

  switch (op) {
    case 'Shape': {
      const r = x?.shape?.length;
      if (r === undefined || !x) return [{ dtype: 'int64', shape: [undefined] }];
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const s = clamp(a('start', 'int') ?? 0);
      const e = clamp(a('end', 'int') ?? r);
      const dims = (x.shape as Dim[]).slice(s, Math.max(s, e));
      return [{ dtype: 'int64', shape: [dims.length], sym: dims }];
    }
    case 'Size': {
      const p = x?.shape ? numProd(x.shape) : undefined;
      return [{ dtype: 'int64', shape: [], sym: [p] }];
    }
    case 'Cast': {
      const to = onnxType(a('to', 'int') ?? -1)?.name;
      const s = symOf(x);
      return [{ dtype: to, shape: x?.shape, sym: s && (to === 'int64' || to === 'int32') ? s : undefined }];
    }
    case 'CastLike':
      return [{ dtype: ins[1]?.dtype, shape: x?.shape, sym: symOf(x) }];
    case 'Constant':
      return [];
    case 'ConstantOfShape': {
      const dims = symOf(x);
      const v = node.attributes.value;
      const dtype = v?.type === 'tensor' ? v.value.dtype : 'float32';
      const out: InferredValue = {
        dtype,
        shape: dims ?? unknownDims(x?.shape?.[0]),
      };
      const n = dims ? numProd(dims) : undefined;
      if (dims && dims.length <= 1 && n !== undefined && n <= 1024 && (dtype === 'int64' || dtype === 'int32'))
        out.sym = new Array(n).fill(v?.type === 'tensor' ? Number(v.value.data[0] ?? 0) : 0);
      return [out];
    }
    case 'Gather': {
      const axis = normAxis(a('axis', 'int') ?? 0, x?.shape?.length ?? 0);
      const idx = ins[1];
      const shape = x?.shape && idx?.shape ? [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] : undefined;
      const out: InferredValue = { dtype: x?.dtype, shape };
      const s = symOf(x);
      const iv = idx?.value?.toFlatArray();
      if (s && iv && axis === 0 && (x?.shape?.length ?? 0) === 1) out.sym = iv.map((k) => s[k < 0 ? k + s.length : k]);
      return [out];
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = a('axes', 'ints') ?? symOf(ins[1])?.map(Number);
      let shape: Dim[] | undefined;
      if (x?.shape) {
        if (op === 'Unsqueeze' && axes) {
          const r = x.shape.length + axes.length;
          const ax = axes.map((v) => normAxis(v, r));
          let j = 0;
          shape = Array.from({ length: r }, (_, i) => (ax.includes(i) ? 1 : x.shape![j++]));
        } else if (op === 'Squeeze') {
          const ax =
            axes && axes.length > 0 ? axes.map((v) => normAxis(v, x.shape!.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
          if (!axes?.length && x.shape.some((d) => !isNum(d))) shape = undefined;
          else shape = x.shape.filter((_, i) => !ax.includes(i));
        }
      }
      return [{ dtype: x?.dtype, shape, sym: symOf(x) }];
    }
    case 'Concat': {
      const axis = a('axis', 'int') ?? 0;
      const shapes = ins.map((i) => i?.shape);
      let shape: Dim[] | undefined;
      const ranked = shapes.filter((s): s is Dim[] => !!s);
      const rank = Math.max(...ranked.map((s) => s.length));
      if (ranked.length === shapes.length && ranked.length > 0) {
        const ax = axisIn(axis, rank, 'Concat');
        shape = [...(ranked.find((s) => s.length === rank) as Dim[])];
        let total: Dim = 0;
        for (const s of ranked) total = arith('Add', total, s.length === rank ? s[ax] : 1);
        shape[ax] = total;
        for (let d = 0; d < rank; d++)
          if (d !== ax) shape[d] = ranked.reduce<Dim>((acc, s) => (s.length === rank && isNum(s[d]) ? s[d] : acc), shape[d]);
      }
      const syms = ins.map(symOf);
      const out: InferredValue = { dtype: x?.dtype, shape };
      if (rank <= 1 && syms.every((s) => s)) out.sym = syms.flatMap((s) => s as Dim[]);
      return [out];
    }
    case 'Slice': {
      const s = symOf(x);
      const starts = opset < 10 ? a('starts', 'ints') : symOf(ins[1])?.map(Number);
      const ends = opset < 10 ? a('ends', 'ints') : symOf(ins[2])?.map(Number);
      const axes = opset < 10 ? a('axes', 'ints') : symOf(ins[3])?.map(Number);
      const steps = opset < 10 ? undefined : symOf(ins[4])?.map(Number);
      if (!x?.shape || !starts || !ends || starts.some(Number.isNaN) || ends.some(Number.isNaN))
        return [{ dtype: x?.dtype, shape: x?.shape ? x.shape.map(() => undefined) : undefined }];
      const shape = [...x.shape];
      const ranges: [number, number, number][] = [];
      (axes ?? starts.map((_, i) => i)).forEach((ax0, i) => {
        const ax = axisIn(ax0, shape.length, 'Slice');
        const dim = x.shape![ax];
        const step = steps?.[i] ?? 1;
        if (!isNum(dim)) {
          shape[ax] = starts[i] === 0 && ends[i]! >= 2 ** 31 - 1 && step === 1 ? dim : undefined;
          return;
        }
        let st = starts[i]!;
        let en = ends[i]!;
        if (st < 0) st += dim;
        if (en < 0) en += dim;
        if (step > 0) {
          st = Math.min(Math.max(st, 0), dim);
          en = Math.min(Math.max(en, 0), dim);
        } else {
          st = Math.min(Math.max(st, 0), dim - 1);
          en = Math.min(Math.max(en, -1), dim - 1);
        }
        shape[ax] = Math.max(0, Math.ceil((en - st) / step));
        if (ax === 0) ranges.push([st, en, step]);
      });
      const out: InferredValue = { dtype: x.dtype, shape };
      if (s && x.shape.length === 1) {
        const [st, en, step] = ranges[0] ?? [0, s.length, 1];
        const vals: Dim[] = [];
        for (let k = st; step > 0 ? k < en : k > en; k += step) vals.push(s[k]);
        out.sym = vals;
      }
      return [out];
    }
    case 'Reshape': {
      const target = symOf(ins[1]) ?? a('shape', 'ints');
      if (!target) return [{ dtype: x?.dtype, shape: unknownDims(ins[1]?.shape?.[0]) }];
      return [{ dtype: x?.dtype, shape: reshapeTarget(x?.shape, target, (a('allowzero', 'int') ?? 0) !== 0), sym: symOf(x) }];
    }
    case 'Expand': {
      const n = ins[1]?.shape?.[0];
      const target = symOf(ins[1]) ?? unknownDims(n);
      return [{ dtype: x?.dtype, shape: target ? broadcast([x?.shape, target]) : undefined }];
    }
    case 'Tile': {
      const reps = symOf(ins[1]);
      return [{ dtype: x?.dtype, shape: x?.shape && reps ? x.shape.map((d, i) => arith('Mul', d, reps[i])) : undefined }];
    }
    case 'Transpose': {
      if (!x?.shape) return [{ dtype: x?.dtype }];
      const perm = a('perm', 'ints') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]) }];
    }
    case 'Flatten': {
      if (!x?.shape) return [{ dtype: x?.dtype, shape: [undefined, undefined] }];
      const ax = normAxis(a('axis', 'int') ?? 1, x.shape.length);
      const prod = (ds: Dim[]) => ds.reduce<Dim>((p, d) => arith('Mul', p, d), 1);
      return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, ax)), prod(x.shape.slice(ax))] }];
    }
    case 'Split': {
      const n = node.outputs.length;
      const axis = normAxis(a('axis', 'int') ?? 0, x?.shape?.length ?? 1);
      const sizes = a('split', 'ints') ?? symOf(ins[1])?.map(Number);
      const dim = x?.shape?.[axis];
      return node.outputs.map((_, i) => {
        let d: Dim;
        if (sizes) d = sizes[i];
        else if (isNum(dim)) {
          const chunk = Math.ceil(dim / n);
          d = Math.max(0, Math.min(chunk, dim - i * chunk));
        }
        const shape = x?.shape ? x.shape.map((v, k) => (k === axis ? d : v)) : undefined;
        return { dtype: x?.dtype, shape };
      });
    }
    case 'MatMul':
      return [{ dtype: x?.dtype, shape: matmulShape(x?.shape, ins[1]?.shape) }];
    case 'Gemm': {
      const A = x?.shape;
      const B = ins[1]?.shape;
      const m = A ? (a('transA', 'int') ? A[1] : A[0]) : undefined;
      const n = B ? (a('transB', 'int') ? B[0] : B[1]) : undefined;
      return [{ dtype: x?.dtype, shape: [m, n] }];
    }
    case 'Einsum': {
      const eq = a('equation', 'string');
      if (!eq || ins.some((i) => !i?.shape)) return [{ dtype: x?.dtype }];
      const shapes = ins.map((i) => i!.shape as Dim[]);
      const { inputs, output } = parseEinsum(
        eq,
        shapes.map((s) => s.length),
      );
      const size = new Map<string, Dim>();
      inputs.forEach((ls, i) => {
        ls.forEach((l, d) => {
          size.set(l, size.has(l) ? bdim(size.get(l), shapes[i]![d]) : shapes[i]![d]);
        });
      });
      return [{ dtype: x?.dtype, shape: output.map((l) => size.get(l)) }];
    }
    case 'Conv':
    case 'MaxPool':
    case 'AveragePool': {
      if (op === 'MaxPool' && node.outputs[1]) return [];
      const xs = x?.shape;
      const w = ins[1]?.shape;
      if (!xs) return [{ dtype: x?.dtype }];
      const sp = xs.length - 2;
      const kernel = a('kernel_shape', 'ints') ?? (w ? (w.slice(2) as number[]) : undefined);
      if (!kernel || kernel.some((k) => !isNum(k))) return [{ dtype: x?.dtype, shape: xs.map(() => undefined) }];
      const strides = a('strides', 'ints') ?? new Array(sp).fill(1);
      const dil = a('dilations', 'ints') ?? new Array(sp).fill(1);
      const pads = a('pads', 'ints') ?? new Array(2 * sp).fill(0);
      const autoPad = a('auto_pad', 'string') ?? 'NOTSET';
      const ceil = (a('ceil_mode', 'int') ?? 0) !== 0;
      const spatial = xs.slice(2).map((d, i) => windowOut(d, kernel[i]!, strides[i]!, pads[i]!, pads[i + sp]!, dil[i]!, ceil, autoPad));
      return [{ dtype: x?.dtype, shape: [xs[0], op === 'Conv' ? w?.[0] : xs[1], ...spatial] }];
    }
    case 'ConvTranspose': {
      const xs = x?.shape;
      const w = ins[1]?.shape;
      if (!xs) return [{ dtype: x?.dtype }];
      const cOut = isNum(w?.[1]) ? w[1] * (a('group', 'int') ?? 1) : undefined;
      const inSp = xs.slice(2);
      const wSp = w?.slice(2);
      if (!inSp.every(isNum) || !wSp?.every(isNum)) return [{ dtype: x?.dtype, shape: [xs[0], cOut, ...inSp.map(() => undefined)] }];
      return [{ dtype: x?.dtype, shape: [xs[0], cOut, ...convTransposeGeometry(node, inSp, wSp).spatial] }];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool':
      return [{ dtype: x?.dtype, shape: x?.shape ? x.shape.map((d, i) => (i < 2 ? d : 1)) : undefined }];
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL1':
    case 'ReduceL2':
    case 'ReduceSumSquare':
    case 'ReduceLogSumExp':
    case 'ReduceLogSum': {
      if (!x?.shape) return [{ dtype: x?.dtype }];
      const keep = (a('keepdims', 'int') ?? 1) !== 0;
      let axes: number[] | undefined;
      if (node.inputs[1]) {
        const s = symOf(ins[1]);
        if (!s || s.some((d) => !isNum(d))) return [{ dtype: x.dtype, shape: keep ? x.shape.map(() => undefined) : undefined }];
        axes = s as number[];
        if (axes.length === 0) axes = a('noop_with_empty_axes', 'int') ? [] : undefined;
      } else axes = reduceAxes({ node, opset, inputs: [] });
      if (axes && axes.length === 0) return [same()];
      const ax = (axes ?? x.shape.map((_, i) => i)).map((v) => normAxis(v, x.shape!.length));
      const out: InferredValue = { dtype: x.dtype, shape: x.shape.flatMap((d, i) => (ax.includes(i) ? (keep ? [1] : []) : [d])) };
      // Products / sums of a symbolic shape vector (TensorFlow's Tensordot plumbing).
      const s = symOf(x);
      if (s && x.shape.length === 1 && (op === 'ReduceProd' || op === 'ReduceSum'))
        out.sym = [s.reduce<Dim>((acc, d) => arith(op === 'ReduceProd' ? 'Mul' : 'Add', acc, d), op === 'ReduceProd' ? 1 : 0)];
      return [out];
    }
    case 'ArgMax':
    case 'ArgMin': {
      if (!x?.shape) return [{ dtype: 'int64' }];
      const ax = normAxis(a('axis', 'int') ?? 0, x.shape.length);
      const keep = (a('keepdims', 'int') ?? 1) !== 0;
      return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i === ax ? (keep ? [1] : []) : [d])) }];
    }
    case 'LayerNormalization': {
      const r = x?.shape?.length;
      const ax = r === undefined ? 0 : normAxis(a('axis', 'int') ?? -1, r);
      const stat = x?.shape ? x.shape.map((d, i) => (i < ax ? d : 1)) : undefined;
      const st = (a('stash_type', 'int') ?? 1) === 11 ? 'float64' : 'float32';
      return [same(), { dtype: st, shape: stat }, { dtype: st, shape: stat }];
    }
    case 'SimplifiedLayerNormalization':
      return simplifiedStats(node, x, ins);
    case 'Range': {
      const [s, l, d] = [symOf(ins[0])?.[0], symOf(ins[1])?.[0], symOf(ins[2])?.[0]];
      const n = isNum(s) && isNum(l) && isNum(d) && d !== 0 ? Math.max(0, Math.ceil((l - s) / d)) : undefined;
      return [{ dtype: x?.dtype, shape: [n] }];
    }
    case 'Pad': {
      const pads = a('pads', 'ints') ?? symOf(ins[1])?.map(Number);
      if (!x?.shape || !pads || ins[3]) return [{ dtype: x?.dtype, shape: x?.shape?.map(() => undefined) }];
      const r = x.shape.length;
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => arith('Add', arith('Add', d, pads[i]), pads[i + r])) }];
    }
    case 'Resize':
    case 'Upsample': {
      if (!x?.shape) return [{ dtype: x?.dtype }];
      const legacy = op === 'Upsample' || opset < 11;
      const scalesAttr = node.attributes.scales;
      const scales =
        scalesAttr && (scalesAttr.type === 'floats' || scalesAttr.type === 'ints') ? scalesAttr.value : symOf(ins[legacy ? 1 : 2]);
      const sizes = legacy ? undefined : symOf(ins[3]);
      const axes = (a('axes', 'ints') ?? x.shape.map((_, i) => i)).map((v) => axisIn(v, x.shape!.length, op));
      const shape = [...x.shape];
      if (sizes && sizes.length === axes.length && (a('keep_aspect_ratio_policy', 'string') ?? 'stretch') === 'stretch')
        axes.forEach((ax, i) => {
          shape[ax] = sizes[i];
        });
      else if (scales && scales.length === axes.length && scales.every(isNum))
        axes.forEach((ax, i) => {
          const d = shape[ax];
          shape[ax] = isNum(d) ? Math.floor(d * Math.fround(scales[i] as number)) : scales[i] === 1 ? d : undefined;
        });
      else return [{ dtype: x.dtype, shape: x.shape.map(() => undefined) }];
      return [{ dtype: x.dtype, shape }];
    }
    case 'TopK': {
      const k = opset < 10 ? a('k', 'int') : symOf(ins[1])?.[0];
      if (!x?.shape) return [{ dtype: x?.dtype }, { dtype: 'int64' }];
      const ax = normAxis(a('axis', 'int') ?? -1, x.shape.length);
      const shape = x.shape.map((d, i) => (i === ax ? k : d));
      return [
        { dtype: x.dtype, shape },
        { dtype: 'int64', shape },
      ];
    }
    case 'GatherElements':
      return [{ dtype: x?.dtype, shape: ins[1]?.shape }];
    case 'GatherND': {
      const b = a('batch_dims', 'int') ?? 0;
      const q = ins[1]?.shape;
      const last = q?.[q.length - 1];
      if (!x?.shape || !q || !isNum(last)) return [{ dtype: x?.dtype }];
      return [{ dtype: x.dtype, shape: [...q.slice(0, -1), ...x.shape.slice(b + last)] }];
    }
    case 'NonZero':
      return [{ dtype: 'int64', shape: [x?.shape ? Math.max(1, x.shape.length) : undefined, undefined] }];
    case 'OneHot': {
      const depth = symOf(ins[1])?.[0];
      if (!x?.shape) return [{ dtype: ins[2]?.dtype }];
      const r = x.shape.length + 1;
      const ax = normAxis(a('axis', 'int') ?? -1, r);
      return [{ dtype: ins[2]?.dtype, shape: [...x.shape.slice(0, ax), depth, ...x.shape.slice(ax)] }];
    }
    case 'DepthToSpace':
    case 'SpaceToDepth': {
      const b = a('blocksize', 'int') ?? 1;
      const s = x?.shape;
      if (!s) return [{ dtype: x?.dtype }];
      if (op === 'DepthToSpace')
        return [{ dtype: x?.dtype, shape: [s[0], arith('Div', s[1], b * b), arith('Mul', s[2], b), arith('Mul', s[3], b)] }];
      return [{ dtype: x?.dtype, shape: [s[0], arith('Mul', s[1], b * b), arith('Div', s[2], b), arith('Div', s[3], b)] }];
    }
    case 'If': {
      const t = node.attributes.then_branch;
      if (t?.type !== 'graph') return [];
      const sub = ctx.subgraph(t.value);
      return t.value.outputs.map((o) => {
        const i = sub.get(o.name);
        return { dtype: o.dtype ?? i?.dtype, shape: o.shape ?? i?.shape };
      });
    }
  }
  return [];
}

function simplifiedStats(node: Node, x: InferredValue | undefined, ins: (InferredValue | undefined)[]): InferredValue[] {
  void ins;
  const r = x?.shape?.length;
  const ax = r === undefined ? 0 : normAxis(attr(node, 'axis', 'int', -1), r);
  const stat = x?.shape ? x.shape.map((d, i) => (i < ax ? d : 1)) : undefined;
  return [
    { dtype: x?.dtype, shape: x?.shape },
    { dtype: 'float32', shape: stat },
  ];
}
