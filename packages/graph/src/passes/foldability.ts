import type { Tensor } from '@normkit/tensor';
import { type FoldRole, onnxOp } from '../executor/registry.js';
import { attr, type Graph, type Model, type Node } from '../ir.js';
import { constantOf, type GraphFacts, inferFacts, type PartialShape } from './graph-facts.js';
import { integerCenteringBlocker } from './quantized.js';
import { assertModel } from './recognize.js';

/** A parameter that folding centers: an initializer (or Constant output) and the axis it is centered over. */
export interface CenteredParam {
  /** The constant's value name. */
  name: string;
  /** Axis (negative, from the end) of the constant over which it is made zero-mean. */
  axis: number;
  /** The node whose input slot reads it (rewired to the centered copy). */
  reader: string;
  /** Index of that input slot. */
  slot: number;
  /** A per-feature scale (layer scale) merged into this parameter before it is centered: the constant's name. */
  scale?: string;
}

/** A centerable source: its output can be made zero-mean along the normalized axis by centering its parameters. */
export interface FoldSource {
  /** Unique id: the node name, or `const:<name>@<reader>` for a constant added into the stream. */
  id: string;
  kind: 'dense' | 'gemm' | 'conv' | 'embedding' | 'constant';
  /** The source node (absent for a constant). */
  node?: string;
  /** The value that carries the source's contribution into the stream. */
  value: string;
  /** Axis (negative) of `value` that must be zero-mean. */
  axis: number;
  params: CenteredParam[];
}

/** `analyzeFoldability`'s verdict on one LayerNormalization node: whether it folds, and why (or why not). */
export interface LayerNormVerdict {
  /** The LayerNormalization node's name. */
  name: string;
  /** Its op type. */
  node: string;
  /** Whether its centering folds into the sources upstream (so it can become an RMSNorm). */
  foldable: boolean;
  /** Why (or why not), for a person. */
  reason: string;
  /** Index into `components`, when the LN reached any source. */
  component?: number;
  /** Ids of the sources its input is built from. */
  sources: string[];
  /** The node that blocks folding, when not foldable. */
  blockingNode?: string;
  /** Node path from the LN to the blocker ("LN ← Add ← Gelu"). */
  path?: string[];
}

/** A `Mul` by a constant per-feature vector (layer scale) merged into the linear layers before it. */
export interface MergedScale {
  /** The Mul node, which folding removes. */
  node: string;
  /** The constant it multiplies by. */
  scale: string;
  /** Ids of the sources whose parameters absorb it. */
  sources: string[];
}

/** LayerNorms that share sources (e.g. every LN reading one residual stream): they fold together or not at all. */
export interface FoldComponent {
  /** Index of this component in `FoldabilityReport.components`. */
  id: number;
  /** Names of its LayerNormalization nodes. */
  layerNorms: string[];
  /** The sources whose parameters folding centers (those of the LNs not blocked upstream). */
  sources: FoldSource[];
  /** Layer scales merged into this component's sources (removed when it folds). */
  mergedScales: MergedScale[];
  /** Whether centering the sources leaves every consumer of the stream unchanged. */
  foldable: boolean;
  /** Why (or why not), for a person. */
  reason: string;
  /** The consumer that blocks folding, when not foldable. */
  blockingNode?: string;
  /** Node path from a source to the blocker. */
  path?: string[];
}

/** A weight that a source centers but another node also reads: folding gives the source a centered copy. */
export interface SharedWeight {
  /** The initializer's name. */
  initializer: string;
  /** Sources that center it. */
  centeredBy: string[];
  /** Other readers that need the original values (they keep it; the source gets a centered copy). */
  otherUses: { node: string; op: string }[];
  /** What folding does about it: always `untie` (a centered copy for the sources). */
  action: 'untie';
}

/** What `analyzeFoldability` returns. */
export interface FoldabilityReport {
  /** One verdict per LayerNormalization node, in graph order. */
  layerNorms: LayerNormVerdict[];
  /** The groups of LNs that share sources. */
  components: FoldComponent[];
  /** Weights of foldable components that other nodes also read (folding unties them). */
  sharedWeights: SharedWeight[];
}

/** Options of `analyzeFoldability`. */
export interface AnalyzeOptions {
  /** Shapes known from elsewhere, by value name; they win over what shape inference finds. */
  shapes?: Map<string, PartialShape>;
}

interface Blocked {
  node: string;
  op: string;
  reason: string;
  path: string[];
}

interface Walk {
  sources: Set<string>;
  blocked?: Blocked;
}

/**
 * Decides, for every `LayerNormalization` node of `model` (run `recognizeLayerNorms` first for
 * decomposed exports), whether its centering can be folded into the linear layers upstream, following
 * this design: a backward walk from each LN's input through
 * zero-mean propagators (Add/Sub/Sum, per-token scaling, Reshape/Transpose/Flatten/Unsqueeze/Squeeze with
 * the normalized axis tracked, Gather/Slice/Concat on other axes, attention-weighted sums, Identity/
 * Dropout/Cast) to sources (MatMul/Gemm with constant weights — float, or stored quantized as a
 * DequantizeLinear of constants —, com.microsoft MatMulNBits, group-1 Conv, Gather from a constant
 * table, constants added in); LNs that share sources form a component; and a forward walk from every
 * source checks that each consumer reached is an LN over the same axis (mean-invariant), since centering
 * shifts the stream by a per-token constant. Every verdict carries a reason with the blocking node and
 * the path. Weights that a source centers but another node also reads are reported (folding unties them).
 *
 * @example
 * ```ts
 * const { model: m } = recognizeLayerNorms(model);
 * const report = analyzeFoldability(m);
 * report.layerNorms.filter((l) => !l.foldable).map((l) => l.reason);
 * // ['blocked by "h.0/ln_1" (LayerNormalization): an LN output (γ⊙x̂+β) is not zero-mean; path: ...']
 * ```
 */
export function analyzeFoldability(model: Model, opts: AnalyzeOptions = {}): FoldabilityReport {
  assertModel(model, 'analyzeFoldability');
  const g = model.graph;
  const facts = inferFacts(model, opts.shapes);
  const producers = g.producers();
  const consumers = g.consumers();
  const ctx: Ctx = {
    g,
    facts,
    producers,
    consumers,
    sources: new Map(),
    memo: new Map(),
    outputs: new Set(g.outputs.map((o) => o.name)),
    scales: new Map(),
  };
  const lns = g.nodes.filter((n) => n.opType === 'LayerNormalization');
  const walks = new Map<Node, { axis?: number; walk: Walk; axisReason?: string }>();
  for (const ln of lns) {
    const x = ln.inputs[0] as string;
    const axis = singleAxis(ln, facts.shapes.get(x));
    if (typeof axis === 'string') {
      walks.set(ln, { walk: { sources: new Set(), blocked: { node: ln.name, op: ln.opType, reason: axis, path: [label(ln)] } } });
      continue;
    }
    const w = backward(ctx, x, axis, ln);
    walks.set(ln, { axis, walk: w });
  }
  // Components: union-find over LNs sharing a source.
  const parent = new Map<Node, Node>();
  const find = (n: Node): Node => {
    let r = n;
    while (parent.get(r) !== r) r = parent.get(r) as Node;
    parent.set(n, r);
    return r;
  };
  for (const ln of lns) parent.set(ln, ln);
  const bySource = new Map<string, Node>();
  for (const ln of lns) {
    for (const s of (walks.get(ln) as { walk: Walk }).walk.sources) {
      const other = bySource.get(s);
      if (other) parent.set(find(ln), find(other));
      else bySource.set(s, ln);
    }
  }
  const groups = new Map<Node, Node[]>();
  for (const ln of lns) {
    if ((walks.get(ln) as { walk: Walk }).walk.sources.size === 0) continue;
    const r = find(ln);
    const list = groups.get(r);
    if (list) list.push(ln);
    else groups.set(r, [ln]);
  }
  const components: FoldComponent[] = [];
  const compOf = new Map<Node, FoldComponent>();
  for (const members of groups.values()) {
    const unblocked = members.filter((ln) => !(walks.get(ln) as { walk: Walk }).walk.blocked);
    const srcIds = new Set<string>();
    for (const ln of unblocked) for (const s of (walks.get(ln) as { walk: Walk }).walk.sources) srcIds.add(s);
    const sources = [...srcIds].map((id) => ctx.sources.get(id) as FoldSource);
    const comp: FoldComponent = {
      id: components.length,
      layerNorms: members.map((n) => n.name),
      sources,
      mergedScales: [...ctx.scales.values()].filter((m) => m.sources.every((id) => srcIds.has(id))),
      foldable: unblocked.length > 0,
      reason: '',
    };
    if (unblocked.length === 0) comp.reason = 'every LN of this component is blocked upstream';
    else {
      const fail = forwardCheck(ctx, sources);
      if (fail) {
        comp.foldable = false;
        comp.blockingNode = fail.node;
        comp.path = fail.path;
        comp.reason = fail.reason;
      } else
        comp.reason = `centering ${sources.length} source(s) leaves every consumer unchanged (only LayerNorms over the same axis read the stream)`;
    }
    components.push(comp);
    for (const ln of members) compOf.set(ln, comp);
  }
  const layerNorms: LayerNormVerdict[] = lns.map((ln) => {
    const { walk } = walks.get(ln) as { walk: Walk };
    const comp = compOf.get(ln);
    const v: LayerNormVerdict = {
      name: ln.name,
      node: ln.opType,
      foldable: false,
      reason: '',
      component: comp?.id,
      sources: [...walk.sources],
    };
    if (walk.blocked) {
      v.blockingNode = walk.blocked.node;
      v.path = walk.blocked.path;
      v.reason = `blocked by "${walk.blocked.node}" (${walk.blocked.op}): ${walk.blocked.reason}; path: ${walk.blocked.path.join(' ← ')}`;
    } else if (walk.sources.size === 0) v.reason = 'no source found upstream';
    else if (comp && !comp.foldable) {
      v.blockingNode = comp.blockingNode;
      v.path = comp.path;
      v.reason = `its sources cannot be centered: ${comp.reason}`;
    } else {
      v.foldable = true;
      v.reason = `input is the sum of ${walk.sources.size} centerable source(s): ${[...walk.sources].slice(0, 4).join(', ')}${walk.sources.size > 4 ? ', …' : ''}`;
    }
    return v;
  });
  // Shared weights: centered params that other nodes (not centering them the same way) also read.
  const sharedWeights: SharedWeight[] = [];
  const centered = new Map<string, { by: Set<string>; readers: Set<string> }>();
  for (const comp of components) {
    if (!comp.foldable) continue;
    for (const s of comp.sources)
      for (const p of s.params) {
        const e = centered.get(p.name) ?? { by: new Set(), readers: new Set() };
        e.by.add(s.id);
        e.readers.add(p.reader);
        centered.set(p.name, e);
      }
  }
  for (const [name, e] of centered) {
    const others = (consumers.get(name) ?? []).filter((n) => !e.readers.has(n.name));
    // Readers through Identity chains count as uses too.
    if (others.length > 0 || ctx.outputs.has(name))
      sharedWeights.push({
        initializer: name,
        centeredBy: [...e.by],
        otherUses: others.map((n) => ({ node: n.name, op: n.opType })),
        action: 'untie',
      });
  }
  return { layerNorms, components, sharedWeights };
}

interface Ctx {
  g: Graph;
  facts: GraphFacts;
  producers: Map<string, Node>;
  consumers: Map<string, Node[]>;
  sources: Map<string, FoldSource>;
  memo: Map<string, Walk>;
  outputs: Set<string>;
  /** Layer-scale Muls merged into their sources, by node name. */
  scales: Map<string, MergedScale>;
}

function label(n: Node): string {
  return `${n.name} (${n.opType})`;
}

/** The LN's single normalized axis as a negative index, or a reason string. */
function singleAxis(ln: Node, shape: PartialShape | undefined): number | string {
  const axis = attr(ln, 'axis', 'int', -1);
  if (axis < 0) return axis === -1 ? -1 : `normalizes over ${-axis} axes (axis=${axis}); folding handles one normalized axis`;
  if (!shape) return `normalized axis ${axis} cannot be placed: the input rank is unknown`;
  if (axis !== shape.length - 1)
    return `normalizes over ${shape.length - axis} axes (axis=${axis} of rank ${shape.length}); folding handles one normalized axis`;
  return -1;
}

function rankOf(ctx: Ctx, v: string): number | undefined {
  const c = ctx.g.initializers.get(v);
  if (c) return c.rank;
  return ctx.facts.shapes.get(v)?.length;
}

/** Size of `v` along negative axis `a`: a number, 1 when broadcast (rank too small), or undefined. */
function dimAt(ctx: Ctx, v: string, a: number): number | undefined {
  const c = constantOf(ctx.g, v, ctx.producers);
  const s: PartialShape | undefined = c ? [...c.shape] : ctx.facts.shapes.get(v);
  if (!s) return undefined;
  if (s.length < -a) return 1;
  return s[s.length + a];
}

function isConst(ctx: Ctx, v: string): boolean {
  return constantOf(ctx.g, v, ctx.producers) !== undefined;
}

function constSource(ctx: Ctx, v: string, a: number, reader: Node, slot: number): string {
  const id = `const:${v}@${reader.name}`;
  if (!ctx.sources.has(id))
    ctx.sources.set(id, { id, kind: 'constant', value: v, axis: a, params: [{ name: v, axis: a, reader: reader.name, slot }] });
  return id;
}

/**
 * `x ⊙ γ` with γ a constant per-feature vector (layer scale): when every source of `x` reaches this Mul
 * and nothing else, γ can be multiplied into their parameters and the Mul dropped, so the scaled
 * branch is as centerable as the unscaled one. Otherwise the reason names what prevents the merge.
 */
function mergeScale(ctx: Ctx, mul: Node, gamma: string, a: number, inner: Walk): Walk {
  const g = constantOf(ctx.g, gamma, ctx.producers) as Tensor;
  const width = g.rank >= -a ? g.shape[g.rank + a] : 1;
  if (g.shape.some((d, i) => i - g.rank !== a && d !== 1))
    return block(mul, `multiplies by the constant "${gamma}" ${fmt([...g.shape])}, which varies along other axes than the normalized one`);
  if (inner.blocked) return merge(mul, [inner]);
  const sources = [...inner.sources].map((id) => ctx.sources.get(id) as FoldSource);
  for (const src of sources) {
    const why = scaleBlocker(ctx, src, mul, gamma, width);
    if (why) return block(mul, `layer scale "${gamma}" cannot be merged into ${src.node ?? src.value}: ${why}`);
  }
  for (const src of sources) for (const prm of src.params) prm.scale = gamma;
  ctx.scales.set(mul.name, { node: mul.name, scale: gamma, sources: sources.map((src) => src.id) });
  return { sources: new Set(inner.sources) };
}

/** Why `gamma` cannot be multiplied into the parameters of `src` (undefined when it can). */
function scaleBlocker(ctx: Ctx, src: FoldSource, mul: Node, gamma: string, width: number | undefined): string | undefined {
  for (const prm of src.params) {
    if (prm.scale !== undefined && prm.scale !== gamma) return `"${prm.name}" is already scaled by "${prm.scale}"`;
    if (dimAt(ctx, prm.name, prm.axis) !== width) return `"${prm.name}" is broadcast along the features it would scale`;
  }
  // Its contribution must reach the stream only through this Mul, or scaling it changes other readers.
  const reader = src.kind === 'constant' ? ctx.g.nodes.find((n) => n.name === src.params[0]?.reader) : undefined;
  let v = reader ? (reader.outputs[0] as string) : src.value;
  for (let hops = 0; hops < 64; hops++) {
    const readers = ctx.consumers.get(v) ?? [];
    if (readers.length !== 1 || ctx.outputs.has(v)) return `its output "${v}" is also read elsewhere`;
    if (readers[0] === mul) return undefined;
    v = readers[0]?.outputs[0] as string;
  }
  return 'it is too far from the scale';
}

/**
 * Zero padding on other axes than the normalized one adds all-zero tokens, which are zero-mean and
 * which centering leaves zero: it propagates both ways (Swin pads windows this way). Anything else
 * blocks, for the reason returned.
 */
function padBlocker(ctx: Ctx, n: Node, a: number): string | undefined {
  const mode = attr(n, 'mode', 'string', 'constant');
  if (mode !== 'constant') return `${mode} padding repeats stream values, which centering would shift`;
  const value = n.inputs[2] ? constantOf(ctx.g, n.inputs[2], ctx.producers)?.toFlatArray()[0] : attr(n, 'value', 'float', 0);
  if (value !== 0)
    return value === undefined ? 'pads with a value computed at run time' : `pads with the constant ${value}, which is not zero-mean`;
  const r = rankOf(ctx, n.inputs[0] as string);
  const pads = n.inputs[1] ? ctx.facts.ints.get(n.inputs[1]) : attr(n, 'pads', 'ints', []);
  const axesIn = n.inputs[3] ? ctx.facts.ints.get(n.inputs[3]) : undefined;
  if (r === undefined || !pads || pads.some((x) => x === undefined) || (n.inputs[3] && !axesIn)) return 'cannot tell which axes it pads';
  const axes = (axesIn ?? Array.from({ length: r }, (_, k) => k)).map((x) => ((x as number) < 0 ? (x as number) : (x as number) - r));
  const k = axes.indexOf(a);
  if (k >= 0 && (pads[k] !== 0 || pads[k + axes.length] !== 0)) return 'pads the normalized axis';
  return undefined;
}

function block(n: Node, reason: string): Walk {
  return { sources: new Set(), blocked: { node: n.name, op: n.opType, reason, path: [label(n)] } };
}

/**
 * Maps a negative axis of a reshape's output back to its input (or forward, swapping the shapes); undefined
 * when the axis is split or merged. @example mapAxisThroughReshape([2, 3, 8], [6, 8], -1); // -1
 */
export function mapAxisThroughReshape(from: PartialShape | undefined, to: PartialShape | undefined, a: number): number | undefined {
  if (!from || !to) return undefined;
  const j = to.length + a;
  if (j < 0) return undefined;
  const d = to[j];
  let sufTo = 1;
  for (let k = j + 1; k < to.length; k++) {
    const x = to[k];
    if (x === undefined) return undefined;
    sufTo *= x;
  }
  if (d === undefined) return undefined;
  let suf = 1;
  for (let k = from.length - 1; k >= 0; k--) {
    if (suf === sufTo && from[k] === d) return k - from.length;
    const x = from[k];
    if (x === undefined) return undefined;
    suf *= x;
    if (suf > sufTo) return undefined;
  }
  return undefined;
}

function backward(ctx: Ctx, v: string, a: number, from: Node): Walk {
  const key = `${v}|${a}`;
  const hit = ctx.memo.get(key);
  if (hit) return hit;
  ctx.memo.set(key, { sources: new Set() }); // cycle guard
  const w = backwardUncached(ctx, v, a, from);
  ctx.memo.set(key, w);
  return w;
}

function merge(n: Node, parts: Walk[]): Walk {
  const sources = new Set<string>();
  for (const p of parts) {
    if (p.blocked) return { sources: new Set([...sources, ...p.sources]), blocked: { ...p.blocked, path: [label(n), ...p.blocked.path] } };
    for (const s of p.sources) sources.add(s);
  }
  return { sources };
}

/** What a backward step sees: the producer `p` of value `v`, the axis `a` tracked in `v`, and the recursion. */
interface Step {
  ctx: Ctx;
  p: Node;
  v: string;
  a: number;
  /** Input k of `p` (present). */
  inp: (k: number) => string;
  /** Walks on from input value `val`, tracking axis `axis`. */
  rec: (val: string, axis: number) => Walk;
  /** `val` as a constant source read by `p`. */
  constant: (val: string, axis?: number) => Walk;
}

/** The op's role in this analysis, from its definition (`defineOnnxOp`). */
function roleOf(n: Node): FoldRole | undefined {
  return onnxOp(n.domain, n.opType)?.fold;
}

function backwardUncached(ctx: Ctx, v: string, a: number, from: Node): Walk {
  const p = ctx.producers.get(v);
  const slotOf = (n: Node, name: string) => n.inputs.indexOf(name);
  if (!p || p.opType === 'Constant') {
    if (isConst(ctx, v)) return { sources: new Set([constSource(ctx, v, a, from, slotOf(from, v))]) };
    return {
      sources: new Set(),
      blocked: {
        node: v,
        op: 'graph input',
        reason: `the raw graph input "${v}" reaches the LN; an input cannot be centered`,
        path: [`${v} (graph input)`],
      },
    };
  }
  if (p.opType === 'Identity' && isConst(ctx, v)) return { sources: new Set([constSource(ctx, v, a, from, slotOf(from, v))]) };
  const step: Step = {
    ctx,
    p,
    v,
    a,
    inp: (k) => p.inputs[k] as string,
    rec: (val, axis) => backward(ctx, val, axis, p),
    constant: (val, axis = a) => ({ sources: new Set([constSource(ctx, val, axis, p, slotOf(p, val))]) }),
  };
  const role = roleOf(p);
  switch (role) {
    case 'passThrough':
      return merge(p, [step.rec(step.inp(0), a)]);
    case 'normalization':
      return block(p, 'the output of a normalization (γ⊙x̂+β) is not zero-mean');
    case 'sum':
      return backSum(step);
    case 'scale':
      return backScale(step);
    case 'linear':
      return backLinear(step);
    case 'layout':
      return backLayout(step);
    case 'select':
      return backSelect(step);
    case 'pool':
      return backPool(step);
    default:
      return block(p, blockReason(p, role));
  }
}

/** Add/Sub/Sum: zero-mean parts (or constants, centered themselves) give a zero-mean sum. */
function backSum({ ctx, p, a, rec, constant }: Step): Walk {
  const parts: Walk[] = [];
  for (const i of p.inputs) {
    if (!i) continue;
    const d = dimAt(ctx, i, a);
    if (isConst(ctx, i)) parts.push(constant(i));
    else if (d === 1) return block(p, `input "${i}" is broadcast along the normalized axis (a per-token value is added)`);
    else parts.push(rec(i, a));
  }
  return merge(p, parts);
}

/** Mul/Div: a per-token factor keeps zero mean; a per-feature constant merges into the linear layer upstream. */
function backScale({ ctx, p, a, inp, rec }: Step): Walk {
  const [x, y] = [inp(0), inp(1)];
  const dx = dimAt(ctx, x, a);
  const dy = dimAt(ctx, y, a);
  if (p.opType === 'Div') {
    if (dy === 1) return merge(p, [rec(x, a)]);
    return block(
      p,
      dy === undefined
        ? `cannot tell whether the divisor "${y}" is constant along the normalized axis`
        : `divides by "${y}", which varies along the normalized axis`,
    );
  }
  if (dy === 1 && dx !== 1) return merge(p, [rec(x, a)]);
  if (dx === 1 && dy !== 1) return merge(p, [rec(y, a)]);
  if (dx === undefined || dy === undefined) return block(p, 'cannot tell whether this Mul scales each token by a scalar (shapes unknown)');
  if (isConst(ctx, y) && !isConst(ctx, x)) return mergeScale(ctx, p, y, a, rec(x, a));
  if (isConst(ctx, x) && !isConst(ctx, y)) return mergeScale(ctx, p, x, a, rec(y, a));
  return block(p, 'elementwise product of two streams (gating, or a decomposed activation such as GELU x·Φ(x))');
}

/** Records a source (a linear layer whose constant weights get centered) once, and walks no further. */
function source(ctx: Ctx, s: FoldSource): Walk {
  if (!ctx.sources.has(s.id)) ctx.sources.set(s.id, s);
  return { sources: new Set([s.id]) };
}

/** A dense layer `p` writing `v` whose constant weight `w` (its input 1) is centered over its last axis. */
function denseSource(ctx: Ctx, p: Node, v: string, w: string): Walk {
  return source(ctx, {
    id: p.name,
    kind: 'dense',
    node: p.name,
    value: v,
    axis: -1,
    params: [{ name: w, axis: -1, reader: p.name, slot: 1 }],
  });
}

/** MatMul, Gemm, Conv, Gather: sources when their weights are constant and the axis is their output-feature axis. */
function backLinear(step: Step): Walk {
  const { ctx, p, v, a, inp, rec } = step;
  switch (p.opType) {
    case 'MatMul': {
      const [x, wName] = [inp(0), inp(1)];
      if (a === -1 && isConst(ctx, wName)) return denseSource(ctx, p, v, wName);
      if (a === -1 && (rankOf(ctx, wName) ?? 0) >= 2) return merge(p, [rec(wName, -1)]);
      if (a === -2 && (rankOf(ctx, x) ?? 0) >= 2) {
        if (isConst(ctx, x)) return block(p, 'a constant matrix multiplied on the left mixes the normalized axis');
        return merge(p, [rec(x, -2)]);
      }
      return block(p, `the normalized axis ${a} is an axis MatMul contracts or mixes`);
    }
    case 'Gemm': {
      const [b, c] = [inp(1), p.inputs[2]];
      if (a !== -1) return block(p, 'the normalized axis is not the output-feature axis of Gemm');
      if (!isConst(ctx, b)) return block(p, 'Gemm with a weight computed at run time');
      if (c && !isConst(ctx, c)) return block(p, 'Gemm adds a bias computed at run time');
      const params: CenteredParam[] = [{ name: b, axis: attr(p, 'transB', 'int', 0) ? -2 : -1, reader: p.name, slot: 1 }];
      if (c) params.push({ name: c, axis: -1, reader: p.name, slot: 2 });
      return source(ctx, { id: p.name, kind: 'gemm', node: p.name, value: v, axis: -1, params });
    }
    case 'Conv': {
      const wName = inp(1);
      const r = rankOf(ctx, wName);
      if (r === undefined || a !== 1 - r) return block(p, 'the normalized axis is not the output-channel axis of Conv');
      const group = attr(p, 'group', 'int', 1);
      if (group !== 1) return block(p, `grouped/depthwise conv (group=${group}): centering over output channels would densify it`);
      if (!isConst(ctx, wName)) return block(p, 'Conv with a kernel computed at run time');
      const bias = p.inputs[2];
      if (bias && !isConst(ctx, bias)) return block(p, 'Conv with a bias computed at run time');
      const params: CenteredParam[] = [{ name: wName, axis: -r, reader: p.name, slot: 1 }];
      if (bias) params.push({ name: bias, axis: -1, reader: p.name, slot: 2 });
      return source(ctx, { id: p.name, kind: 'conv', node: p.name, value: v, axis: a, params });
    }
    case 'MatMulInteger': {
      // Dynamic quantization's product: centering the integer weight less its zero point (rows summing
      // to zero, see centerIntegerWeightInto) centers the integer sums, and the Cast and scale after it keep that.
      const [b, bz] = [inp(1), p.inputs[3]];
      if (a !== -1) return block(p, 'the normalized axis is not the output-feature axis of MatMulInteger');
      if (!isConst(ctx, b) || (bz && !isConst(ctx, bz))) return block(p, 'MatMulInteger with a weight computed at run time');
      const over = integerCenteringBlocker(
        constantOf(ctx.g, b, ctx.producers) as Tensor,
        bz ? constantOf(ctx.g, bz, ctx.producers) : undefined,
      );
      if (over) return block(p, over);
      return denseSource(ctx, p, v, b);
    }
    case 'MatMulNBits': {
      const [b, s, z, gIdx, bias] = [1, 2, 3, 4, 5].map((k) => p.inputs[k]);
      if (a !== -1) return block(p, 'the normalized axis is not the output-feature axis of MatMulNBits');
      if ([b, s, z, bias].some((x) => x && !isConst(ctx, x))) return block(p, 'MatMulNBits with weights computed at run time');
      if (gIdx) return block(p, 'MatMulNBits with g_idx (act-order groups): folding does not requantize those');
      const params: CenteredParam[] = [{ name: b as string, axis: -1, reader: p.name, slot: 1 }];
      if (bias) params.push({ name: bias, axis: -1, reader: p.name, slot: 5 });
      return source(ctx, { id: p.name, kind: 'dense', node: p.name, value: v, axis: -1, params });
    }
    case 'Gather': {
      const data = inp(0);
      const dr = rankOf(ctx, data);
      if (dr === undefined) return block(p, 'rank of the gathered tensor is unknown');
      const ax = attr(p, 'axis', 'int', 0);
      const axN = ax < 0 ? ax + dr : ax;
      if (-a > dr - 1 - axN) return block(p, 'gathers along the normalized axis');
      if (isConst(ctx, data))
        return source(ctx, {
          id: p.name,
          kind: 'embedding',
          node: p.name,
          value: v,
          axis: a,
          params: [{ name: data, axis: a, reader: p.name, slot: 0 }],
        });
      return merge(p, [rec(data, a)]);
    }
  }
  return block(p, `${p.opType} is declared linear, but the analysis does not know which of its axes are features`);
}

/** Transpose, Expand, and reshapes (Reshape, Flatten, (Un)Squeeze): follow the normalized axis through the move. */
function backLayout({ ctx, p, v, a, inp, rec, constant }: Step): Walk {
  if (p.opType === 'Transpose') {
    const r = rankOf(ctx, v) ?? rankOf(ctx, inp(0));
    const perm = attr(p, 'perm', 'ints', r === undefined ? [] : Array.from({ length: r }, (_, k) => r - 1 - k));
    if (perm.length === 0) return block(p, 'cannot track the normalized axis: rank unknown');
    return merge(p, [rec(inp(0), (perm[perm.length + a] as number) - perm.length)]);
  }
  if (p.opType === 'Expand') {
    const x = inp(0);
    if (isConst(ctx, x)) return constant(x);
    if (dimAt(ctx, x, a) === 1 && dimAt(ctx, v, a) !== 1) return block(p, 'broadcasts a per-token value along the normalized axis');
    return merge(p, [rec(x, a)]);
  }
  const inS = ctx.facts.shapes.get(inp(0));
  const outS = ctx.facts.shapes.get(v);
  const m = mapAxisThroughReshape(inS, outS, a);
  if (m === undefined)
    return block(p, `cannot track the normalized axis through ${p.opType}: shapes ${fmt(inS)} → ${fmt(outS)} do not show it kept intact`);
  return merge(p, [rec(inp(0), m)]);
}

/** Concat, Slice, Pad: parts of the stream joined or cut along other axes stay zero-mean. */
function backSelect({ ctx, p, a, inp, rec, constant }: Step): Walk {
  switch (p.opType) {
    case 'Concat':
      // Concat along the normalized axis of zero-mean parts is zero-mean too (Swin patch merging); the
      // forward check decides whether the shift is harmless.
      return merge(
        p,
        p.inputs.map((i) => (isConst(ctx, i) ? constant(i) : rec(i, a))),
      );
    case 'Slice': {
      const axes = sliceAxes(ctx, p, inp(0));
      if (!axes) return block(p, 'cannot tell which axes Slice cuts');
      if (axes.includes(a)) return block(p, 'slices the normalized axis');
      return merge(p, [rec(inp(0), a)]);
    }
    case 'Pad': {
      const why = padBlocker(ctx, p, a);
      return why ? block(p, why) : merge(p, [rec(inp(0), a)]);
    }
  }
  return block(p, `${p.opType} is declared a selection, but the analysis does not know which axes it cuts`);
}

/** The axes a Slice node cuts, as negative axes of `x`, or undefined when unknown. */
function sliceAxes(ctx: Ctx, n: Node, x: string): number[] | undefined {
  const r = rankOf(ctx, x);
  const axesV = n.inputs[3] ? ctx.facts.ints.get(n.inputs[3]) : undefined;
  const starts = n.inputs[1] ? ctx.facts.ints.get(n.inputs[1]) : undefined;
  const axes = axesV ?? starts?.map((_, k) => k);
  if (r === undefined || !axes || axes.some((v) => v === undefined)) return undefined;
  return (axes as number[]).map((v) => (v < 0 ? v : v - r));
}

/** ReduceMean, AveragePool, GlobalAveragePool: means over other axes keep each token zero-mean. */
function backPool({ ctx, p, a, inp, rec }: Step): Walk {
  const r = rankOf(ctx, inp(0));
  if (r === undefined) return block(p, 'rank unknown');
  if (p.opType !== 'ReduceMean') return a === 1 - r ? merge(p, [rec(inp(0), a)]) : block(p, 'pools over the normalized axis');
  const axes = p.attributes.axes ? attr(p, 'axes', 'ints', []) : p.inputs[1] ? ctx.facts.ints.get(p.inputs[1]) : undefined;
  if (!axes || axes.some((x) => x === undefined)) return block(p, 'mean over unknown axes');
  const neg = (axes as number[]).map((x) => (x < 0 ? x : x - r));
  if (neg.includes(a)) return block(p, 'averages over the normalized axis');
  const keep = attr(p, 'keepdims', 'int', 1);
  // With keepdims=0 the axes after `a` disappear: map the output axis back.
  return merge(p, [rec(inp(0), keep ? a : a - neg.filter((x) => x > a).length)]);
}

/** Why an op without a walking role blocks. */
function blockReason(n: Node, role: FoldRole | undefined): string {
  if (role === 'nonlinear') return n.opType === 'Softmax' || n.opType === 'LogSoftmax' ? 'softmax' : 'nonlinear activation';
  if (role === 'normalization') return `${n.opType} is not invariant to a shift of its input`;
  return `${n.opType} is not a zero-mean propagator`;
}

function fmt(s: PartialShape | undefined): string {
  return s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '[unknown]';
}

interface Fail {
  node: string;
  reason: string;
  path: string[];
}

/** Forward walk from every source: each consumer reached through shift propagators must be an LN over the axis. */
function forwardCheck(ctx: Ctx, sources: FoldSource[]): Fail | undefined {
  const seen = new Set<string>();
  type Item = { v: string; a: number; path: string[]; only?: Node };
  const stack: Item[] = [];
  for (const s of sources) {
    if (s.kind === 'constant') {
      const reader = ctx.g.nodes.find((n) => n.name === s.params[0]?.reader) as Node;
      stack.push({ v: s.value, a: s.axis, path: [`${s.value} (constant)`], only: reader });
    } else stack.push({ v: s.value, a: s.axis, path: [`${s.node} (${s.kind})`] });
  }
  while (stack.length > 0) {
    const { v, a, path, only } = stack.pop() as Item;
    if (!only) {
      const key = `${v}|${a}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (ctx.outputs.has(v))
        return { node: v, reason: `the stream "${v}" is a graph output, which centering would change; path: ${path.join(' → ')}`, path };
    }
    const readers: Node[] = only !== undefined ? [only] : (ctx.consumers.get(v) ?? []);
    for (const n of readers) {
      const p = [...path, label(n)];
      const out = n.outputs[0] as string;
      const fail = (why: string): Fail => ({
        node: n.name,
        reason: `${label(n)} reads the stream and is not mean-invariant (${why}); path: ${p.join(' → ')}`,
        path: p,
      });
      const push = (axis: number) => stack.push({ v: out, a: axis, path: p });
      const op = n.opType;
      const role = roleOf(n);
      if (role === 'shapeOnly') continue; // reads only the shape, which centering keeps
      if (op === 'LayerNormalization') {
        if (n.inputs[0] !== v) return fail('it reads the stream as a scale or bias');
        const ax = singleAxis(n, ctx.facts.shapes.get(v));
        if (ax !== a) return fail(`it normalizes over a different axis (${typeof ax === 'string' ? ax : ax}) than the one centered (${a})`);
        continue;
      }
      if (role === 'passThrough' || role === 'sum' || (op === 'Expand' && n.inputs[0] === v)) {
        push(a);
        continue;
      }
      if (ctx.scales.has(n.name)) {
        push(a); // a merged layer scale: folding removes this Mul
        continue;
      }
      if (op === 'Mul' || op === 'Div') {
        const other = (n.inputs[0] === v ? n.inputs[1] : n.inputs[0]) as string;
        if (op === 'Div' && n.inputs[1] === v) return fail('divides by the stream');
        if (dimAt(ctx, other, a) === 1) {
          push(a);
          continue;
        }
        return fail('multiplies by something that varies along the normalized axis');
      }
      if (op === 'MatMul') {
        if (n.inputs[1] === v && a === -1 && n.inputs[0] !== v) {
          push(-1);
          continue;
        }
        if (n.inputs[0] === v && a === -2 && n.inputs[1] !== v) {
          push(-2);
          continue;
        }
        return fail('a linear layer over the normalized axis');
      }
      if (op === 'Transpose') {
        const r = rankOf(ctx, v);
        const perm = attr(n, 'perm', 'ints', r === undefined ? [] : Array.from({ length: r }, (_, k) => r - 1 - k));
        if (perm.length === 0) return fail('rank unknown');
        const i = perm.length + a;
        push(perm.indexOf(i) - perm.length);
        continue;
      }
      if (op === 'Reshape' || op === 'Flatten' || op === 'Unsqueeze' || op === 'Squeeze') {
        if (n.inputs[0] !== v) return fail('the stream is used as a shape');
        const m = mapAxisThroughReshape(ctx.facts.shapes.get(out), ctx.facts.shapes.get(v), a);
        if (m === undefined) return fail('cannot track the normalized axis through it');
        push(m);
        continue;
      }
      if (op === 'Gather') {
        const r = rankOf(ctx, v);
        const ax = attr(n, 'axis', 'int', 0);
        if (n.inputs[0] !== v || r === undefined) return fail('gathers with the stream as indices');
        const axN = ax < 0 ? ax + r : ax;
        if (-a > r - 1 - axN) return fail('gathers along the normalized axis');
        push(a);
        continue;
      }
      if (op === 'Slice') {
        const axes = n.inputs[0] === v ? sliceAxes(ctx, n, v) : undefined;
        if (!axes) return fail('cannot tell which axes it cuts');
        if (axes.includes(a)) return fail('slices the normalized axis');
        push(a);
        continue;
      }
      if (op === 'Concat') {
        const r = rankOf(ctx, out);
        const ax = attr(n, 'axis', 'int', 0);
        if (r !== undefined && (ax < 0 ? ax : ax - r) !== a) {
          push(a);
          continue;
        }
        return fail(
          'concatenates along the normalized axis: the per-token shifts of the parts differ, so the result is not shifted by a constant',
        );
      }
      if (op === 'Pad') {
        const why = n.inputs[0] === v ? padBlocker(ctx, n, a) : 'the stream is used as pad sizes or value';
        if (why) return fail(why);
        push(a);
        continue;
      }
      if (op === 'ReduceMean' || op === 'GlobalAveragePool') {
        const r = rankOf(ctx, v);
        if (r === undefined) return fail('rank unknown');
        if (op === 'GlobalAveragePool') {
          if (a === 1 - r) {
            push(a);
            continue;
          }
          return fail('pools over the normalized axis');
        }
        const axes = n.attributes.axes ? attr(n, 'axes', 'ints', []) : n.inputs[1] ? ctx.facts.ints.get(n.inputs[1]) : undefined;
        if (!axes || axes.some((x) => x === undefined)) return fail('mean over unknown axes');
        const neg = (axes as number[]).map((x) => (x < 0 ? x : x - r));
        if (neg.includes(a)) return fail('averages over the normalized axis');
        push(attr(n, 'keepdims', 'int', 1) ? a : a + neg.filter((x) => x > a).length);
        continue;
      }
      return fail(blockReason(n, role));
    }
  }
  return undefined;
}

/**
 * Float64 copy of a tensor centered over negative axis `axis` (zeros when broadcast along it), written as float32.
 * @example centerTensor(Tensor.from([[1, 3, 5], [2, 4, 6]]), -1); // Float32Array [-2, 0, 2, -2, 0, 2]
 */
export function centerTensor(t: Tensor, axis: number): Float32Array {
  const src = t.data as ArrayLike<number>;
  const out = new Float32Array(t.size);
  if (t.rank < -axis || (t.shape[t.rank + axis] as number) === 1) return out; // constant along the axis → centered is 0
  const ax = t.rank + axis;
  const d = t.shape[ax] as number;
  let inner = 1;
  for (let k = ax + 1; k < t.rank; k++) inner *= t.shape[k] as number;
  const outer = t.size / (d * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * d * inner + i;
      let s = 0;
      for (let k = 0; k < d; k++) s += Number(src[base + k * inner]);
      const mean = s / d;
      for (let k = 0; k < d; k++) out[base + k * inner] = Number(src[base + k * inner]) - mean;
    }
  return out;
}
