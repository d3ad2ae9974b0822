import { NormkitError, Tensor, validateShape } from '@normkit/tensor';
import { attr, type Graph, type Model, type Node } from '../ir.js';
import { constantOf, constNumbers, type GraphFacts, inferFacts, type PartialShape } from './graph-facts.js';

/** One decomposed normalization subgraph rewritten into a single node. */
export interface FusedNorm {
  kind: 'LayerNormalization' | 'RMSNormalization';
  /** The op actually written: `LayerNormalization`, `RMSNormalization` (opset ≥ 23) or `SimplifiedLayerNormalization` (below 23). */
  op: string;
  /** Names of the nodes that were replaced. */
  nodes: string[];
  /** Name of the new node. */
  name: string;
  /** First normalized axis, as written on the new node (negative when the rank is unknown). */
  axis: number;
  epsilon: number;
}

/** A subgraph that looked like a normalization but was left alone, with the reason. */
export interface NearMiss {
  nodes: string[];
  reason: string;
}

/** What `recognizeLayerNorms` returns. */
export interface RecognizeResult {
  /** A copy of the model with each recognized subgraph replaced by one fused node (the input is not modified). */
  model: Model;
  /** The fused nodes written, one per recognized subgraph. */
  fused: FusedNorm[];
  /** Subgraphs that looked like a normalization but were left alone, with the reason. */
  nearMisses: NearMiss[];
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

class Miss extends Error {}

/**
 * Rewrites every decomposed LayerNorm subgraph (ReduceMean → Sub → Pow(2)|Mul(self) → ReduceMean → Add(ε)
 * → Sqrt → Div | Reciprocal·Mul → Mul(γ) → Add(β), with float Casts anywhere in the chain, ReduceMean axes
 * as an attribute or an input, γ/β from initializers or Constant nodes) into one `LayerNormalization`
 * node, and every RMSNorm subgraph (Pow → ReduceMean → Add → Sqrt → Div|Reciprocal·Mul → Mul(γ)) into
 * one `RMSNormalization` node (opset ≥ 23) or `SimplifiedLayerNormalization` (default domain, below
 * opset 23: onnxruntime's own fusion target, which it runs at any opset; the exporters and the executor
 * treat it as RMSNorm). It does so only when the subgraph computes exactly that: both reductions over the
 * same trailing axes with keepdims, exponent 2, a constant scalar ε, γ/β constant and varying only over
 * the normalized axes, and no intermediate value read outside the pattern. Anything else is listed in
 * `nearMisses` with the reason. The input model is not modified. A γ/β the rewrite must write (ones for a
 * missing γ, or a constant broadcast to the normalized shape) is capped at 2^24 elements: past that, or
 * with a negative dim, the normalized shape comes from a corrupt declaration and the call throws
 * `TENSOR_TOO_LARGE` / `INVALID_SHAPE` naming the node and the value.
 *
 * Casts between float types inside the chain are treated as value preserving; a cast after the
 * normalization is kept as a Cast of the fused node's output (γ, β are cast to the compute type).
 * Like onnxruntime, `LayerNormalization` is written in the default domain at any opset (onnxruntime
 * registers it below 17); `foldLayerNorms` and the ONNX exporter handle the rest.
 *
 * @example
 * ```ts
 * const { model: fused, fused: found, nearMisses } = recognizeLayerNorms(model);
 * found.map((f) => `${f.kind} axis=${f.axis} eps=${f.epsilon}`); // ['LayerNormalization axis=-1 eps=1e-5', ...]
 * ```
 */
export function recognizeLayerNorms(model: Model): RecognizeResult {
  const out = model.clone();
  const g = out.graph;
  const opset = out.opset('') ?? 17;
  const facts = inferFacts(out);
  const fused: FusedNorm[] = [];
  const nearMisses: NearMiss[] = [];
  const claimed = new Set<Node>();
  const rewrites: { remove: Set<Node>; add: Node[]; feeders: string[] }[] = [];

  const producers = g.producers();
  const consumers = g.consumers();
  const graphOutputs = new Set(g.outputs.map((o) => o.name));

  for (const r2 of g.nodes) {
    if (r2.opType !== 'ReduceMean' || claimed.has(r2)) continue;
    const sqNode = producers.get(r2.inputs[0] ?? '');
    if (!sqNode || !isSquare(g, sqNode, producers)) continue;
    const involved: Node[] = [r2, sqNode];
    try {
      const m = matchOne(g, r2, sqNode, { producers, consumers, graphOutputs, facts, opset }, involved);
      if ([...m.remove].some((n) => claimed.has(n))) throw new Miss('overlaps another recognized normalization');
      for (const n of m.remove) claimed.add(n);
      rewrites.push(m);
      fused.push(m.info);
    } catch (e) {
      if (!(e instanceof Miss)) throw e;
      nearMisses.push({ nodes: [...new Set(involved.map((n) => n.name))], reason: e.message });
    }
  }

  if (rewrites.length > 0) {
    const remove = new Set<Node>();
    for (const r of rewrites) for (const n of r.remove) remove.add(n);
    const nodes: Node[] = [];
    const pendingAdd = new Map<Node, Node[]>();
    for (const r of rewrites) {
      // Insert the new nodes where the last removed node was, keeping the order topological.
      const last = [...r.remove].reduce((a, b) => (g.nodes.indexOf(a) > g.nodes.indexOf(b) ? a : b));
      pendingAdd.set(last, r.add);
    }
    for (const n of g.nodes) {
      const add = pendingAdd.get(n);
      if (!remove.has(n)) nodes.push(n);
      if (add) nodes.push(...add);
    }
    g.nodes = nodes;
    // Constant / Identity feeders (ε, the exponent, axes, γ through Identity) that nothing reads any more.
    const feeders = new Set(rewrites.flatMap((r) => r.feeders));
    for (let changed = true; changed; ) {
      changed = false;
      const cons = g.consumers();
      g.nodes = g.nodes.filter((n) => {
        const dead =
          (n.opType === 'Constant' || n.opType === 'Identity') &&
          n.outputs.every((o) => feeders.has(o) && !cons.has(o) && !graphOutputs.has(o));
        if (dead) {
          changed = true;
          for (const i of n.inputs) feeders.add(i);
        }
        return !dead;
      });
    }
    const cons = g.consumers();
    for (const f of feeders)
      if (g.initializers.has(f) && !cons.has(f) && !graphOutputs.has(f) && !g.inputs.some((v) => v.name === f)) g.initializers.delete(f);
    try {
      g.sortInPlace();
    } catch {
      // Leave the order as built; the caller's executor reports a real problem.
    }
  }
  return { model: out, fused, nearMisses };
}

interface Ctx {
  producers: Map<string, Node>;
  consumers: Map<string, Node[]>;
  graphOutputs: Set<string>;
  facts: GraphFacts;
  opset: number;
}

function isSquare(g: Graph, n: Node, producers: Map<string, Node>): boolean {
  if (n.opType === 'Mul') return n.inputs[0] === n.inputs[1];
  if (n.opType !== 'Pow') return false;
  return constantOf(g, n.inputs[1] ?? '', producers) !== undefined || producers.get(n.inputs[1] ?? '')?.opType === 'Cast';
}

/** Strips float-to-float Casts going upward; returns the root value and the casts passed. */
function stripCasts(v: string, ctx: Ctx): { root: string; casts: Node[] } {
  const casts: Node[] = [];
  for (;;) {
    const p = ctx.producers.get(v);
    if (p?.opType !== 'Cast' || !FLOAT_TYPES.has(attr(p, 'to', 'int', 1))) return { root: v, casts };
    casts.push(p);
    v = p.inputs[0] as string;
  }
}

function reduceAxes(g: Graph, n: Node, ctx: Ctx): number[] | undefined {
  if (n.attributes.axes) return attr(n, 'axes', 'ints', []);
  if (n.inputs[1]) {
    const v = constNumbers(g, n.inputs[1], ctx.producers);
    if (!v) throw new Miss(`ReduceMean "${n.name}" takes its axes from "${n.inputs[1]}", which is not a constant`);
    if (v.length === 0 && attr(n, 'noop_with_empty_axes', 'int', 0))
      throw new Miss(`ReduceMean "${n.name}" has empty axes with noop_with_empty_axes=1 (an identity)`);
    return v.length === 0 ? undefined : v;
  }
  return undefined;
}

function matchOne(g: Graph, r2: Node, sqNode: Node, ctx: Ctx, involved: Node[]) {
  const remove = new Set<Node>([r2, sqNode]);
  const feeders: string[] = [];
  const only = (v: string, reader: Node[]): boolean => {
    const c = ctx.consumers.get(v) ?? [];
    return !ctx.graphOutputs.has(v) && c.every((n) => reader.includes(n));
  };
  // Exponent 2.
  if (sqNode.opType === 'Pow') {
    let expName = sqNode.inputs[1] as string;
    const expCast = ctx.producers.get(expName);
    if (expCast?.opType === 'Cast') {
      remove.add(expCast);
      involved.push(expCast);
      expName = expCast.inputs[0] as string;
    }
    const e = constNumbers(g, expName, ctx.producers);
    if (e?.length !== 1 || e[0] !== 2)
      throw new Miss(`Pow "${sqNode.name}" has exponent ${e ? `[${e.join(', ')}]` : 'that is not constant'}, not 2`);
    feeders.push(expName);
  }
  const base = sqNode.inputs[0] as string;
  const { root: baseRoot, casts: baseCasts } = stripCasts(base, ctx);
  const subNode = ctx.producers.get(baseRoot);
  let kind: 'LayerNormalization' | 'RMSNormalization' = 'RMSNormalization';
  let x = base;
  let r1: Node | undefined;
  if (subNode?.opType === 'Sub') {
    const m = ctx.producers.get(subNode.inputs[1] ?? '');
    if (m?.opType === 'ReduceMean' && m.inputs[0] === subNode.inputs[0]) {
      kind = 'LayerNormalization';
      r1 = m;
      x = subNode.inputs[0] as string;
      involved.push(m, subNode, ...baseCasts);
    }
  }
  // Axes and keepdims.
  const axes2 = reduceAxes(g, r2, ctx);
  if (!axes2)
    throw new Miss(
      `ReduceMean "${r2.name}" has no axes: it reduces over every dimension, including the batch; not a per-sample normalization`,
    );
  if (attr(r2, 'keepdims', 'int', 1) !== 1) throw new Miss(`ReduceMean "${r2.name}" has keepdims=0`);
  if (r2.inputs[1]) feeders.push(r2.inputs[1]);
  let axes1: number[] | undefined;
  if (r1) {
    axes1 = reduceAxes(g, r1, ctx);
    if (!axes1)
      throw new Miss(
        `ReduceMean "${r1.name}" has no axes: it reduces over every dimension, including the batch; not a per-sample normalization`,
      );
    if (attr(r1, 'keepdims', 'int', 1) !== 1) throw new Miss(`ReduceMean "${r1.name}" has keepdims=0`);
    if (r1.inputs[1]) feeders.push(r1.inputs[1]);
  }
  const xShape = ctx.facts.shapes.get(x);
  const rank = xShape?.length;
  const norm = (axes: number[]) => {
    if (rank === undefined) {
      if (axes.every((a) => a < 0)) return [...axes].sort((a, b) => a - b);
      throw new Miss(`cannot check the reduced axes [${axes.join(', ')}]: the rank of "${x}" is unknown`);
    }
    return axes.map((a) => (a < 0 ? a + rank : a) - rank).sort((a, b) => a - b);
  };
  const n2 = norm(axes2);
  if (axes1) {
    const n1 = norm(axes1);
    if (n1.join() !== n2.join())
      throw new Miss(`the mean is taken over axes [${axes1.join(', ')}] but the variance over [${axes2.join(', ')}]`);
  }
  // Trailing contiguous axes.
  for (let k = 0; k < n2.length; k++)
    if (n2[k] !== -n2.length + k)
      throw new Miss(
        `normalizes over axes [${axes2.join(', ')}], which are not the trailing axes of "${x}" (LayerNormalization normalizes axis..last)`,
      );
  if (rank !== undefined && n2.length > rank) throw new Miss(`normalizes over ${n2.length} axes of a rank-${rank} input`);
  const axis = n2[0] as number;
  const normShape: PartialShape | undefined = xShape ? xShape.slice(xShape.length + axis) : undefined;

  // Chain after the variance: [Cast] → Add(ε) → Sqrt.
  let v = r2.outputs[0] as string;
  const stepOnly = (val: string): Node => {
    const c = ctx.consumers.get(val) ?? [];
    if (c.length !== 1 || ctx.graphOutputs.has(val))
      throw new Miss(
        `intermediate value "${val}" is also read by ${
          c
            .filter((n) => !remove.has(n))
            .map((n) => `${n.name} (${n.opType})`)
            .join(', ') || 'a graph output'
        }`,
      );
    return c[0] as Node;
  };
  let nx = stepOnly(v);
  while (nx.opType === 'Cast' && FLOAT_TYPES.has(attr(nx, 'to', 'int', 1))) {
    remove.add(nx);
    involved.push(nx);
    v = nx.outputs[0] as string;
    nx = stepOnly(v);
  }
  if (nx.opType !== 'Add') throw new Miss(`the mean of squares "${v}" feeds ${nx.name} (${nx.opType}), not Add(ε)`);
  involved.push(nx);
  remove.add(nx);
  const epsName = nx.inputs[0] === v ? nx.inputs[1] : nx.inputs[0];
  const eps = constNumbers(g, epsName ?? '', ctx.producers);
  if (eps?.length !== 1) throw new Miss(`Add "${nx.name}" adds "${epsName}", which is not a constant scalar ε`);
  const epsilon = eps[0] as number;
  if (!(epsilon >= 0)) throw new Miss(`ε = ${epsilon} is negative`);
  feeders.push(epsName as string);
  v = nx.outputs[0] as string;
  nx = stepOnly(v);
  if (nx.opType !== 'Sqrt') throw new Miss(`variance + ε feeds ${nx.name} (${nx.opType}), not Sqrt`);
  involved.push(nx);
  remove.add(nx);
  v = nx.outputs[0] as string;
  // Sqrt → [Cast] → Div(num, s) | Reciprocal → Mul(num, r)
  nx = stepOnly(v);
  while (nx.opType === 'Cast' && FLOAT_TYPES.has(attr(nx, 'to', 'int', 1))) {
    remove.add(nx);
    involved.push(nx);
    v = nx.outputs[0] as string;
    nx = stepOnly(v);
  }
  let num: string;
  let normNode: Node;
  if (nx.opType === 'Div' && nx.inputs[1] === v) {
    num = nx.inputs[0] as string;
    normNode = nx;
  } else if (nx.opType === 'Reciprocal') {
    remove.add(nx);
    involved.push(nx);
    const rv = nx.outputs[0] as string;
    const mul = stepOnly(rv);
    if (mul.opType !== 'Mul') throw new Miss(`Reciprocal "${nx.name}" feeds ${mul.name} (${mul.opType}), not Mul`);
    num = (mul.inputs[0] === rv ? mul.inputs[1] : mul.inputs[0]) as string;
    normNode = mul;
  } else throw new Miss(`the standard deviation "${v}" feeds ${nx.name} (${nx.opType}), not Div or Reciprocal`);
  involved.push(normNode);
  remove.add(normNode);
  // The numerator must be the same centered (LN) or raw (RMS) value.
  const { root: numRoot, casts: numCasts } = stripCasts(num, ctx);
  if (kind === 'LayerNormalization') {
    const ns = ctx.producers.get(numRoot);
    if (!(ns?.opType === 'Sub' && ns.inputs[0] === x && ns.inputs[1] === r1?.outputs[0]))
      throw new Miss(`Div "${normNode.name}" divides "${num}", not the centered input ${x} − mean`);
    remove.add(r1 as Node);
    remove.add(subNode as Node);
    remove.add(ns);
    for (const c of [...baseCasts, ...numCasts]) remove.add(c);
    involved.push(ns, ...numCasts);
  } else {
    if (stripCasts(base, ctx).root !== numRoot) throw new Miss(`Div "${normNode.name}" divides "${num}" but the squares are of "${base}"`);
    // The squared value may be read elsewhere (it is the RMSNorm input); casts between are part of the pattern.
    for (const c of numCasts) if (!stripCasts(base, ctx).casts.includes(c)) remove.add(c);
    x = base;
    involved.push(...numCasts);
  }
  // Every removed intermediate must be read only inside the pattern.
  for (const n of remove) {
    for (const o of n.outputs) {
      if (o === normNode.outputs[0]) continue;
      if (!only(o, [...remove])) {
        const other = (ctx.consumers.get(o) ?? []).filter((c) => !remove.has(c));
        throw new Miss(
          `intermediate value "${o}" is also read by ${other.map((c) => `${c.name} (${c.opType})`).join(', ') || 'a graph output'}`,
        );
      }
    }
  }
  // Affine tail: [Cast] → Mul(γ) → [Cast] → Add(β).
  let outVal = normNode.outputs[0] as string;
  let postCast: number | undefined;
  let beta: string | undefined;
  const runtimeParams = new Set<string>();
  const nextOnly = (val: string): Node | undefined => {
    const c = ctx.consumers.get(val) ?? [];
    return c.length === 1 && !ctx.graphOutputs.has(val) ? c[0] : undefined;
  };
  const tryCast = () => {
    for (;;) {
      const c = nextOnly(outVal);
      if (!(c?.opType === 'Cast' && FLOAT_TYPES.has(attr(c, 'to', 'int', 1)))) return;
      remove.add(c);
      involved.push(c);
      postCast = attr(c, 'to', 'int', 1);
      outVal = c.outputs[0] as string;
    }
  };
  const affine = (op: 'Mul' | 'Add'): string | undefined => {
    const c = nextOnly(outVal);
    if (c?.opType !== op) return undefined;
    const other = (c.inputs[0] === outVal ? c.inputs[1] : c.inputs[0]) as string;
    const t = constantOf(g, other, ctx.producers);
    if (t) {
      if (!paramFits(t, n2.length, normShape)) return undefined;
    } else {
      // A runtime γ/β (a graph input, as in onnxruntime's fusion tests): accepted when its rank is the
      // number of normalized axes and no known dim contradicts the normalized shape.
      const s = ctx.facts.shapes.get(other);
      if (!s || s.length !== n2.length || s.some((d, k) => d !== undefined && normShape?.[k] !== undefined && d !== normShape[k]))
        return undefined;
      runtimeParams.add(other);
    }
    remove.add(c);
    involved.push(c);
    outVal = c.outputs[0] as string;
    feeders.push(other);
    return other;
  };
  tryCast();
  const gamma = affine('Mul');
  if (gamma) {
    tryCast();
    if (kind === 'LayerNormalization') {
      beta = affine('Add');
      if (beta) tryCast();
    }
  }
  // Materialize parameters with the normalized shape.
  const param = (name: string | undefined, fill: number, what: string): string => {
    if (name && runtimeParams.has(name)) return name;
    const t = name ? constantOf(g, name, ctx.producers) : undefined;
    if (t && normShape && t.rank === n2.length && t.shape.every((d, k) => d === normShape[k])) return rootConst(g, name as string, ctx);
    if (t && !normShape && t.rank === n2.length && t.shape.every((d) => d !== 1)) return rootConst(g, name as string, ctx);
    if (!normShape || normShape.some((d) => d === undefined))
      throw new Miss(`cannot give ${what} the normalized shape: the shape of "${x}" along the normalized axes is unknown`);
    const shape = normShape as number[];
    if (t && t.dtype !== 'float32' && t.dtype !== 'float64')
      throw new Miss(`${what} "${name}" is ${t.dtype} and must be broadcast; not rewritten`);
    checkParamShape(shape, `recognizeLayerNorms: ${what} of the ${kind} at "${normNode.name}" over the trailing dims of "${x}"`, x);
    const size = shape.reduce((a, b) => a * b, 1);
    const vals = new Float32Array(size);
    if (!t) vals.fill(fill);
    else {
      const src = t.toFlatArray();
      const tShape = [...t.shape];
      while (tShape.length > shape.length) tShape.shift();
      while (tShape.length < shape.length) tShape.unshift(1);
      for (let i = 0; i < size; i++) {
        let rem = i;
        let off = 0;
        let stride = 1;
        const idx: number[] = new Array(shape.length);
        for (let k = shape.length - 1; k >= 0; k--) {
          idx[k] = rem % (shape[k] as number);
          rem = Math.floor(rem / (shape[k] as number));
        }
        for (let k = shape.length - 1; k >= 0; k--) {
          const d = tShape[k] as number;
          off += (d === 1 ? 0 : (idx[k] as number)) * stride;
          stride *= d;
        }
        vals[i] = src[off] as number;
      }
    }
    const nm = g.uniqueName(`${name ?? what}_${shape.join('x')}`);
    g.initializers.set(nm, new Tensor(shape, 'float32', vals));
    return nm;
  };
  const baseName = nodeBaseName(r1 ?? r2, kind);
  const nodeName = g.uniqueName(baseName);
  const computeType = ctx.facts.dtypes.get(x);
  const castTo = postCast !== undefined && codeOf(computeType) !== postCast ? postCast : undefined;
  const add: Node[] = [];
  let gName = param(gamma, 1, 'γ (scale)');
  let bName = kind === 'LayerNormalization' && beta ? param(beta, 0, 'β (bias)') : undefined;
  if (castTo !== undefined && codeOf(computeType) !== undefined) {
    const c = codeOf(computeType) as number;
    const cg = g.uniqueName(`${gName}_cast`);
    add.push({
      name: g.uniqueName(`${nodeName}_scale_cast`),
      opType: 'Cast',
      domain: '',
      inputs: [gName],
      outputs: [cg],
      attributes: { to: { type: 'int', value: c } },
    });
    gName = cg;
    if (bName) {
      const cb = g.uniqueName(`${bName}_cast`);
      add.push({
        name: g.uniqueName(`${nodeName}_bias_cast`),
        opType: 'Cast',
        domain: '',
        inputs: [bName],
        outputs: [cb],
        attributes: { to: { type: 'int', value: c } },
      });
      bName = cb;
    }
  }
  const op = kind === 'LayerNormalization' ? 'LayerNormalization' : ctx.opset >= 23 ? 'RMSNormalization' : 'SimplifiedLayerNormalization';
  const normOut = castTo !== undefined ? g.uniqueName(`${outVal}_fp`) : outVal;
  add.push({
    name: nodeName,
    opType: op,
    domain: '',
    inputs: bName ? [x, gName, bName] : [x, gName],
    outputs: [normOut],
    attributes: { axis: { type: 'int', value: axis }, epsilon: { type: 'float', value: epsilon } },
  });
  if (castTo !== undefined)
    add.push({
      name: g.uniqueName(`${nodeName}_output_cast`),
      opType: 'Cast',
      domain: '',
      inputs: [normOut],
      outputs: [outVal],
      attributes: { to: { type: 'int', value: castTo } },
    });
  // Constant nodes used only by the pattern (ε, exponent, axes) go with it.
  const kept = new Set(add.flatMap((n) => n.inputs));
  for (const f of feeders) {
    if (kept.has(f)) continue;
    const p = ctx.producers.get(f);
    if (p?.opType === 'Constant' && (ctx.consumers.get(f) ?? []).every((c) => remove.has(c)) && !ctx.graphOutputs.has(f)) remove.add(p);
  }
  return {
    remove,
    add,
    feeders,
    info: { kind, op, nodes: [...remove].map((n) => n.name), name: nodeName, axis, epsilon } as FusedNorm,
  };
}

function codeOf(t: string | undefined): number | undefined {
  return t === 'float32' ? 1 : t === 'float16' ? 10 : t === 'float64' ? 11 : t === 'bfloat16' ? 16 : undefined;
}

/** The most elements the recognizer writes for a γ/β it creates or broadcasts (64 MiB of float32). */
const MAX_PARAM_ELEMENTS = 2 ** 24;

/**
 * Refuses to materialize a γ/β of `shape` (the normalized dims of `x`, known from declared shapes) when a
 * dim is not a non-negative integer or the total passes MAX_PARAM_ELEMENTS: a declared dim of 2^31 is a
 * corrupt value-info entry, not an allocation to attempt. Throws INVALID_SHAPE / TENSOR_TOO_LARGE.
 */
function checkParamShape(shape: number[], where: string, x: string): void {
  try {
    validateShape(shape, where, MAX_PARAM_ELEMENTS);
  } catch (e) {
    if (!(e instanceof NormkitError)) throw e;
    throw new NormkitError(
      e.code,
      `${e.message}. The dims of "${x}" come from the model's declared shapes (graph inputs, outputs, value_info) and what follows from them; a dim this large is a corrupt declaration: fix or remove it, then analyze again.`,
      { ...e.details, value: x },
    );
  }
}

/** Whether a γ/β constant varies only over the `nAxes` trailing axes and fits the normalized shape. */
function paramFits(t: Tensor, nAxes: number, normShape: PartialShape | undefined): boolean {
  const s = [...t.shape];
  while (s.length > nAxes) {
    if (s[0] !== 1) return false;
    s.shift();
  }
  const offset = nAxes - s.length;
  for (let k = 0; k < s.length; k++) {
    const want = normShape?.[offset + k];
    if (s[k] !== 1 && want !== undefined && s[k] !== want) return false;
  }
  return true;
}

/** The initializer or Constant output behind an Identity chain. */
function rootConst(g: Graph, name: string, ctx: Ctx): string {
  for (;;) {
    if (g.initializers.has(name)) return name;
    const p = ctx.producers.get(name);
    if (p?.opType === 'Identity' && p.inputs[0]) name = p.inputs[0];
    else return name;
  }
}

function nodeBaseName(anchor: Node, kind: string): string {
  const slash = anchor.name.lastIndexOf('/');
  if (slash > 0) return `${anchor.name.slice(0, slash)}/${kind}`;
  return `${anchor.name}_${kind}`;
}

/** Throws when `model` is not a normkit Model (guards the public entry points). */
export function assertModel(model: unknown, fn: string): asserts model is Model {
  if (!model || typeof model !== 'object' || !('graph' in model) || !('opsetImports' in model))
    throw new NormkitError('INVALID_ARGUMENT', `${fn}: expected a Model (from @normkit/graph or loadModel), got ${typeof model}`);
}
