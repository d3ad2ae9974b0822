import { NormkitError, Tensor } from '@normkit/tensor';
import { attr, type Graph, type Model, type Node } from '../ir.js';
import { isLazy, LazyTensor } from '../lazy-tensor.js';
import { analyzeFoldability, centerTensor, type FoldabilityReport, type MergedScale, type SharedWeight } from './foldability.js';
import { constantOf } from './graph-facts.js';
import {
  centerableValue,
  dropReplacedDequantize,
  keepLayerNorms,
  type RequantizedWeight,
  refoldKeepingRequantized,
  requantizeInto,
} from './quantized.js';
import { assertModel, recognizeLayerNorms } from './recognize.js';
import { derivedTensor } from './storage.js';
import { type VerifyOptions, type VerifyResult, verifyEquivalence } from './verify.js';

/** How a folded LN (now an RMSNorm that keeps β) is written. */
export type RmsFormat = 'onnx23' | 'simplified' | 'decomposed';

/** Options of `foldLayerNorms`; every field is optional. */
export interface FoldOptions {
  /**
   * `onnx23`: ONNX `RMSNormalization` (opset 23; the model's default-domain opset is raised to 23 when
   * lower, after checking every other node is valid there) + `Add(β)`. `simplified`:
   * `SimplifiedLayerNormalization` in the default domain (onnxruntime's RMSNorm, any opset) + `Add(β)`.
   * `decomposed`: Pow → ReduceMean → Add(ε) → Sqrt → Div → Mul(γ) → Add(β), for runtimes with neither.
   * Default `simplified`.
   */
  rmsFormat?: RmsFormat;
  /** Run `verifyEquivalence` on the result and refuse a model that fails. Default true. */
  verify?: boolean;
  /** Hand back the model even when verification fails (the report says so). */
  force?: boolean;
  /** Relative tolerance for verification (default 1e-5). */
  tolerance?: number;
  /**
   * Fold β into the linear layers that read the LN (b ← b + βW) when every reader is a MatMul with a
   * constant weight, so the RMSNorm needs no bias Add (PAPERS §1.4 step 6). Default true.
   */
  foldBias?: boolean;
  /** Passed on to `verifyEquivalence` (inputs, seed, runs, execute). */
  verifyOptions?: Omit<VerifyOptions, 'tolerance'>;
  /** LayerNorms to leave as they are: node name → the reason to report (their whole component stays). */
  keep?: Record<string, string>;
}

/** What `foldLayerNorms` changed and why it left the rest alone. */
export interface FoldReport {
  /** Each LN replaced: its name, its component index, the RMSNorm nodes written for it, and the MatMul biases β went into (when `foldBias` absorbed it). */
  folded: {
    /** The LayerNormalization node's name. */
    name: string;
    /** Its index in `analysis.components`. */
    component: number;
    /** Names of the nodes written in its place. */
    rms: string[];
    /** The MatMul nodes whose bias β was folded into. */
    biasFoldedInto?: string[];
  }[];
  /** Each LN left as it was, with the reason and, where one exists, the node that blocks folding it. */
  skipped: {
    /** The LayerNormalization node's name. */
    name: string;
    /** Why it was not folded, for a person. */
    reason: string;
    /** The node that blocks folding, when there is one. */
    blockingNode?: string;
  }[];
  /** Weights copied so that the source gets a centered copy and other readers keep the original. */
  untied: SharedWeight[];
  /**
   * Largest relative change from storing the new weights as the model stores their originals (0 for
   * float32; about 2^-11 when float16 weights are centered and rounded back to float16). The default
   * verification tolerance grows to 8× this, since the converted model computes with rounded weights.
   */
  storageRounding: number;
  /**
   * Quantized weights (DequantizeLinear of constants) that were centered and requantized with their own
   * scheme; their change counts in `storageRounding`. When the fold then fails verification, the
   * components whose requantization moves the outputs beyond the tolerance are left unconverted (in
   * `skipped`, with the measured difference) and the rest is folded.
   */
  requantized: RequantizedWeight[];
  /** Parameters centered (value name → new initializer). */
  centered: {
    /** The original constant's value name. */
    param: string;
    /** The axis it was centered over (negative, from the end). */
    axis: number;
    /** The new initializer holding the centered copy. */
    into: string;
    /** The node rewired to read it. */
    reader: string;
  }[];
  /** Opset change, if any. */
  opset?: {
    /** The default-domain opset before. */
    from: number;
    /** The opset after (`from` when it was already high enough). */
    to: number;
    /** Nodes rewritten for the new opset, each as `name (OpType: what changed)`. */
    converted: string[];
  };
  /** The foldability analysis the fold followed (`analyzeFoldability` of the recognized model). */
  analysis: FoldabilityReport;
  /** How many decomposed LayerNorm subgraphs `recognizeLayerNorms` fused before folding. */
  recognized: number;
}

/** What `foldLayerNorms` returns. */
export interface FoldResult {
  /** The converted model (a new model; the input is not modified). */
  model: Model;
  /** What was folded, skipped, centered and untied. */
  report: FoldReport;
  /** The comparison with the original model; absent when `verify: false`. */
  verification?: VerifyResult;
}

/**
 * Folds every foldable LayerNorm of `model` into RMSNorm without changing what the model computes:
 * recognizes decomposed LNs, analyzes foldability, centers every source of each foldable component
 * (dense and Gemm weights incl. transB, conv kernels over output channels, embedding rows, constants
 * added into the stream, biases; centered in float64, written float32, into fresh initializers so a
 * weight that another node also reads is untied), and replaces each LN by RMSNorm with the same γ, β, ε
 * in the chosen export form. With `verify` (default) the result is compared with the original on seeded
 * random inputs; a model that fails raises `VERIFICATION_FAILED` unless `force`.
 *
 * A weight that is a `LazyTensor` (a streamed model from `loadModel`) is not read here: its centered
 * copy is another lazy tensor, computed from it when read (by the executor or `saveModel`), so
 * converting a model larger than memory holds one weight at a time. (Float16 weights are read once
 * now, one at a time, to measure the storage rounding.)
 *
 * @example
 * ```ts
 * const { model: fast, report, verification } = foldLayerNorms(model, { rmsFormat: 'simplified' });
 * report.folded.length;        // e.g. 25 for GPT-2
 * verification?.equivalent;    // true
 * ```
 */
export function foldLayerNorms(model: Model, opts: FoldOptions = {}): FoldResult {
  assertModel(model, 'foldLayerNorms');
  const format = opts.rmsFormat ?? 'simplified';
  if (!['onnx23', 'simplified', 'decomposed'].includes(format))
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `foldLayerNorms: rmsFormat must be 'onnx23', 'simplified' or 'decomposed', got ${String(format)}`,
    );
  const rec = recognizeLayerNorms(model);
  const m = rec.model;
  const g = m.graph;
  const analysis = analyzeFoldability(m);
  if (opts.keep) keepLayerNorms(analysis, opts.keep);
  const report: FoldReport = {
    folded: [],
    skipped: [],
    untied: analysis.sharedWeights,
    requantized: [],
    centered: [],
    analysis,
    recognized: rec.fused.length,
    storageRounding: 0,
  };
  /** `to` stored as `from` is (see `derivedTensor`), recording the rounding that brings. */
  const stored = (from: Tensor, to: Tensor): Tensor => {
    const d = derivedTensor(from, to);
    if (d !== to) report.storageRounding = Math.max(report.storageRounding, relativeChange(to, d));
    // A streamed weight's centered copy was computed just for the measure: computed again when used.
    if (isLazy(d)) d.release();
    if (isLazy(to)) to.release();
    return d;
  };
  for (const ln of analysis.layerNorms)
    if (!ln.foldable) report.skipped.push({ name: ln.name, reason: ln.reason, blockingNode: ln.blockingNode });

  // 1. Center the sources of every foldable component (each param once per axis; readers rewired).
  const copies = new Map<string, string>();
  const nodesByName = new Map(g.nodes.map((n) => [n.name, n]));
  const producers = g.producers();
  for (const comp of analysis.components) {
    if (!comp.foldable) continue;
    for (const s of comp.sources)
      for (const p of s.params) {
        const key = `${p.name}|${p.axis}|${p.scale ?? ''}`;
        let into = copies.get(key);
        if (!into) {
          const t = centerableValue(p, nodesByName.get(p.reader), (v) => constantOf(g, v, producers));
          if (!t) throw new NormkitError('FOLD_INTERNAL', `foldLayerNorms: source ${s.id} parameter "${p.name}" is not a constant`);
          if (t.dtype !== 'float32' && t.dtype !== 'float64')
            throw new NormkitError(
              'UNSUPPORTED_DTYPE',
              `foldLayerNorms: cannot center ${t.dtype} parameter "${p.name}" of ${s.id}; only float32/float64 weights are centered`,
              {
                param: p.name,
              },
            );
          into = g.uniqueName(`${p.name}_centered`);
          const scale = p.scale ? (constantOf(g, p.scale, producers) as Tensor) : undefined;
          const center = (src: Tensor) => centerTensor(scale ? scaleAlong(src, scale, p.axis) : src, p.axis);
          // A streamed weight (LazyTensor) is centered when its copy is read: one weight in memory at a time.
          const centered = isLazy(t) ? LazyTensor.derive(t, t.shape, 'float32', center) : new Tensor(t.shape, 'float32', center(t));
          const rq = requantizeInto(g, p.name, into, centered, producers, (v) => constantOf(g, v, producers), nodesByName.get(p.reader));
          if (rq) {
            const change = relativeChange(centered, rq.value);
            report.requantized.push({ param: rq.param, into: rq.into, scheme: rq.scheme, change, component: comp.id });
            report.storageRounding = Math.max(report.storageRounding, change);
          } else g.initializers.set(into, stored(t, centered));
          copies.set(key, into);
          report.centered.push({ param: p.name, axis: p.axis, into, reader: p.reader });
        }
        const reader = nodesByName.get(p.reader);
        if (reader && reader.inputs[p.slot] === p.name) reader.inputs[p.slot] = into;
      }
  }
  // Merged layer scales: their factor now lives in the centered parameters, so the Mul goes.
  for (const comp of analysis.components) if (comp.foldable) for (const ms of comp.mergedScales) dropScale(g, ms);
  // 2. Replace each foldable LN.
  const opset = m.opset('') ?? 17;
  const replaced = new Map<Node, Node[]>();
  const inserted = new Map<Node, Node[]>();
  const betas: string[] = [];
  for (const ln of analysis.layerNorms) {
    if (!ln.foldable) continue;
    const node = nodesByName.get(ln.name) as Node;
    const into = opts.foldBias === false ? undefined : absorbBias(g, node, inserted, betas, stored);
    if (into) {
      betas.push(node.inputs[2] as string);
      node.inputs = node.inputs.slice(0, 2);
    }
    const nodes = rmsNodes(g, node, format, Math.max(opset, format === 'onnx23' ? 23 : opset));
    replaced.set(node, nodes);
    report.folded.push({
      name: ln.name,
      component: ln.component as number,
      rms: nodes.map((n) => n.name),
      ...(into ? { biasFoldedInto: into } : {}),
    });
  }
  g.nodes = g.nodes.flatMap((n) => [...(replaced.get(n) ?? [n]), ...(inserted.get(n) ?? [])]);
  // 3. Drop originals nothing reads any more.
  const cons = g.consumers();
  const outs = new Set(g.outputs.map((o) => o.name));
  const scales = analysis.components.flatMap((c) => (c.foldable ? c.mergedScales.map((m) => m.scale) : []));
  for (const name of [...report.centered.map((c) => c.param), ...betas, ...scales])
    if (!cons.has(name) && !outs.has(name) && g.initializers.has(name)) g.initializers.delete(name);
  dropReplacedDequantize(
    g,
    report.requantized.map((r) => r.param),
  );
  // 4. Opset.
  if (format === 'onnx23' && opset < 23 && report.folded.length > 0) report.opset = upgradeOpset(m, 23);

  const result: FoldResult = { model: m, report };
  if (opts.verify ?? true) {
    const tolerance = opts.tolerance ?? Math.max(1e-5, 8 * report.storageRounding);
    const v = verifyEquivalence(model, m, { ...opts.verifyOptions, tolerance });
    result.verification = v;
    if (!v.equivalent && !opts.force) {
      const kept = report.requantized.length > 0 ? refoldKeepingRequantized(model, opts, result, foldLayerNorms) : undefined;
      if (kept) return kept;
      const worst = v.outputs.reduce(
        (a, b) => (b.maxRelDiff > a.maxRelDiff ? b : a),
        v.outputs[0] ?? { name: '?', maxRelDiff: 0, maxAbsDiff: 0, argmaxAgreement: 1 },
      );
      throw new NormkitError(
        'VERIFICATION_FAILED',
        `foldLayerNorms: the converted model differs from the original: output "${worst.name}" max relative difference ${worst.maxRelDiff.toExponential(2)} (tolerance ${v.tolerance}${report.storageRounding > 0 && opts.tolerance === undefined ? `: 8 × the ${report.storageRounding.toExponential(1)} rounding of storing the centered weights in the model's precision` : ''}), argmax agreement ${worst.argmaxAgreement}; pass { force: true } to get it anyway, or report the model`,
        { verification: v },
      );
    }
  }
  return result;
}

/**
 * When every reader of the LN's output is `MatMul(out, W)` with a constant 2-D W, moves β into them:
 * an existing constant bias Add after the MatMul gets b + βW (a new initializer), otherwise an Add(βW)
 * is inserted after the MatMul. Returns the MatMul names, or undefined when β must stay.
 */
function absorbBias(
  g: Graph,
  ln: Node,
  inserted: Map<Node, Node[]>,
  replacedBiases: string[],
  stored: (from: Tensor, to: Tensor) => Tensor,
): string[] | undefined {
  const beta = ln.inputs[2];
  const out = ln.outputs[0] as string;
  if (!beta || g.outputs.some((o) => o.name === out)) return undefined;
  const producers = g.producers();
  const b = constantOf(g, beta, producers);
  const readers = g.consumers().get(out) ?? [];
  if (!b || readers.length === 0) return undefined;
  const consumers = g.consumers();
  const plan: { mm: Node; w: Tensor; add?: Node; bias?: Tensor }[] = [];
  for (const r of readers) {
    if (r.opType !== 'MatMul' || r.inputs[0] !== out || r.inputs[1] === out) return undefined;
    const w = constantOf(g, r.inputs[1] as string, producers);
    if (w?.rank !== 2 || (w.dtype !== 'float32' && w.dtype !== 'float64') || w.shape[0] !== b.size) return undefined;
    const next = consumers.get(r.outputs[0] as string) ?? [];
    const add = next.length === 1 && next[0]?.opType === 'Add' && !g.outputs.some((o) => o.name === r.outputs[0]) ? next[0] : undefined;
    const other = add ? (add.inputs[0] === r.outputs[0] ? add.inputs[1] : add.inputs[0]) : undefined;
    const bias = other ? constantOf(g, other, producers) : undefined;
    plan.push(bias && bias.rank === 1 && bias.size === w.shape[1] ? { mm: r, w, add, bias } : { mm: r, w });
  }
  const bv = b.toFlatArray();
  for (const p of plan) {
    const [k, n] = p.w.shape as [number, number];
    const held = !isLazy(p.w) || p.w.loaded;
    const wd = p.w.data as Float32Array;
    const extra = new Float32Array(n);
    const base = p.bias?.toFlatArray();
    for (let j = 0; j < n; j++) {
      let s = base ? (base[j] as number) : 0;
      for (let i = 0; i < k; i++) s += (bv[i] as number) * (wd[i * n + j] as number);
      extra[j] = s;
    }
    if (!held) (p.w as LazyTensor).release();
    const name = g.uniqueName(`${p.mm.name}_bias_with_beta`);
    g.initializers.set(name, stored(p.bias ?? p.w, new Tensor([n], 'float32', extra)));
    if (p.add && p.bias) {
      const slot = p.add.inputs[0] === p.mm.outputs[0] ? 1 : 0;
      replacedBiases.push(p.add.inputs[slot] as string);
      p.add.inputs[slot] = name;
    } else {
      const mmOut = p.mm.outputs[0] as string;
      const raw = g.uniqueName(`${mmOut}_nobeta`);
      p.mm.outputs[0] = raw;
      inserted.set(p.mm, [
        { name: g.uniqueName(`${p.mm.name}_beta_Add`), opType: 'Add', domain: '', inputs: [raw, name], outputs: [mmOut], attributes: {} },
      ]);
    }
  }
  return plan.map((p) => p.mm.name);
}

/** The nodes computing RMSNorm(x)·γ (+β) in `format`, producing the LN's output name. */
function rmsNodes(g: Graph, ln: Node, format: RmsFormat, opset: number): Node[] {
  const [x, scale, bias] = ln.inputs as [string, string, string | undefined];
  const out = ln.outputs[0] as string;
  const axis = attr(ln, 'axis', 'int', -1);
  const epsilon = attr(ln, 'epsilon', 'float', 1e-5);
  const hasBias = !!bias;
  const base = ln.name.endsWith('LayerNormalization') ? ln.name.slice(0, -'LayerNormalization'.length) : `${ln.name}_`;
  const nm = (s: string) => g.uniqueName(`${base}${s}`);
  const normOut = hasBias ? g.uniqueName(`${out}_rms`) : out;
  const nodes: Node[] = [];
  const mk = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}, name = nm(opType)): Node => {
    const n: Node = { name, opType, domain: '', inputs, outputs, attributes };
    nodes.push(n);
    return n;
  };
  if (format === 'onnx23')
    mk(
      'RMSNormalization',
      [x, scale],
      [normOut],
      { axis: { type: 'int', value: axis }, epsilon: { type: 'float', value: epsilon } },
      nm('RMSNormalization'),
    );
  else if (format === 'simplified')
    mk(
      'SimplifiedLayerNormalization',
      [x, scale],
      [normOut],
      { axis: { type: 'int', value: axis }, epsilon: { type: 'float', value: epsilon } },
      nm('SimplifiedLayerNormalization'),
    );
  else {
    if (axis !== -1)
      throw new NormkitError(
        'UNSUPPORTED',
        `foldLayerNorms: decomposed RMSNorm is written for axis -1 only; node "${ln.name}" has axis ${axis}`,
      );
    // The scalars take γ's storage (float16 in a float16 model), so the written graph type-checks.
    const gamma = g.initializers.get(scale);
    const likeGamma = (t: Tensor) => (gamma ? derivedTensor(gamma, t) : t);
    const two = g.uniqueName(`${base}rms_two`);
    g.initializers.set(two, likeGamma(Tensor.scalar(2)));
    const eps = g.uniqueName(`${base}rms_eps`);
    g.initializers.set(eps, likeGamma(Tensor.scalar(epsilon)));
    const sq = g.uniqueName(`${out}_sq`);
    mk('Pow', [x, two], [sq]);
    const ms = g.uniqueName(`${out}_meansq`);
    if (opset >= 18) {
      const axes = g.uniqueName(`${base}rms_axes`);
      g.initializers.set(axes, Tensor.from([-1], [1], 'int64'));
      mk('ReduceMean', [sq, axes], [ms], { keepdims: { type: 'int', value: 1 } });
    } else mk('ReduceMean', [sq], [ms], { axes: { type: 'ints', value: [-1] }, keepdims: { type: 'int', value: 1 } });
    const ad = g.uniqueName(`${out}_meansq_eps`);
    mk('Add', [ms, eps], [ad]);
    const rt = g.uniqueName(`${out}_rms_denominator`);
    mk('Sqrt', [ad], [rt]);
    const dv = g.uniqueName(`${out}_normalized`);
    mk('Div', [x, rt], [dv]);
    mk('Mul', [dv, scale], [normOut]);
  }
  if (hasBias) mk('Add', [normOut, bias as string], [out], {}, nm('rms_bias_Add'));
  return nodes;
}

/** Ops whose signature changed incompatibly between opsets, with the version of the change. */
const BREAKING: Record<string, number[]> = {
  ReduceMean: [18],
  ReduceMax: [18],
  ReduceMin: [18],
  ReduceProd: [18],
  ReduceL1: [18],
  ReduceL2: [18],
  ReduceLogSum: [18],
  ReduceLogSumExp: [18],
  ReduceSumSquare: [18],
  ReduceSum: [13],
  Squeeze: [13],
  Unsqueeze: [13],
  Split: [13, 18],
  Pad: [11, 18],
  Resize: [11, 13, 18, 19],
  Upsample: [10],
  Scatter: [11],
  Dropout: [12],
  Clip: [11],
  Slice: [10],
  TopK: [10],
  Expand: [8],
  BatchNormalization: [9, 14, 15],
  MaxPool: [8, 10, 11, 12],
  AveragePool: [10, 11, 19],
  Pow: [7],
  Gemm: [7, 9, 11, 13],
  GroupNormalization: [21],
  DFT: [20],
  Cast: [19, 21],
  Shape: [15, 19, 21],
  ConstantOfShape: [9, 20, 21],
  Size: [19, 21],
  Identity: [14, 16, 19, 21],
  Reshape: [5, 14, 19, 21],
  If: [11, 13, 16, 19, 21],
  Loop: [11, 13, 16, 19, 21],
  Scan: [9, 11, 16, 19, 21],
};
/** Changes that are only additions (new types/attributes with defaults that keep the old meaning). */
const ADDITIVE_ONLY = new Set([
  'Pow',
  'Gemm',
  'Cast',
  'Shape',
  'ConstantOfShape',
  'Size',
  'Identity',
  'Reshape',
  'BatchNormalization',
  'If',
  'Loop',
  'Scan',
  'Clip',
  'Expand',
  'Dropout',
  'MaxPool',
  'AveragePool',
  'TopK',
  'Slice',
  'Pad',
  'Resize',
  'DFT',
]);

/**
 * Raises the model's default-domain opset to `to`, converting what changed incompatibly (Reduce* axes
 * attribute → input at 18, ReduceSum/Squeeze/Unsqueeze axes → input at 13, Split split → input) and
 * refusing (`OPSET_UPGRADE`) what it cannot convert (Upsample, Scatter, GroupNormalization < 21, …).
 *
 * @example
 * ```ts
 * upgradeOpset(model, 23); // { from: 14, to: 23, converted: ['pool/ReduceMean (ReduceMean: axes attribute → input)'] }
 * ```
 */
export function upgradeOpset(
  m: Model,
  to: number,
): {
  /** The default-domain opset before. */
  from: number;
  /** The opset after (`from` when it was already high enough). */
  to: number;
  /** Nodes rewritten for the new opset, each as `name (OpType: what changed)`. */
  converted: string[];
} {
  const from = m.opset('') ?? 1;
  if (from >= to) return { from, to: from, converted: [] };
  const g = m.graph;
  const converted: string[] = [];
  const problems: string[] = [];
  const visit = (graph: Graph) => {
    for (const n of graph.nodes) {
      for (const a of Object.values(n.attributes)) if (a.type === 'graph') visit(a.value);
      if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
      const changes = (BREAKING[n.opType] ?? []).filter((v) => v > from && v <= to);
      if (changes.length === 0) continue;
      const axesToInput =
        (n.opType.startsWith('Reduce') && n.opType !== 'ReduceSum') ||
        n.opType === 'ReduceSum' ||
        n.opType === 'Squeeze' ||
        n.opType === 'Unsqueeze';
      if (axesToInput) {
        const axes = n.attributes.axes;
        if (axes?.type === 'ints') {
          const nm = graph.uniqueName(`${n.name}_axes`);
          graph.initializers.set(nm, Tensor.from(axes.value, [axes.value.length], 'int64'));
          n.inputs = [n.inputs[0] as string, nm];
          delete n.attributes.axes;
          converted.push(`${n.name} (${n.opType}: axes attribute → input)`);
        }
        continue;
      }
      if (n.opType === 'Split') {
        const sp = n.attributes.split;
        if (sp?.type === 'ints') {
          const nm = graph.uniqueName(`${n.name}_split`);
          graph.initializers.set(nm, Tensor.from(sp.value, [sp.value.length], 'int64'));
          n.inputs = [n.inputs[0] as string, nm];
          delete n.attributes.split;
          converted.push(`${n.name} (Split: split attribute → input)`);
        } else if (!n.inputs[1] && changes.includes(18)) {
          n.attributes.num_outputs = { type: 'int', value: n.outputs.length };
          converted.push(`${n.name} (Split: num_outputs added)`);
        }
        continue;
      }
      if (ADDITIVE_ONLY.has(n.opType)) {
        if (n.opType === 'Pad' && n.attributes.pads) problems.push(`${n.name} (Pad with a pads attribute)`);
        else if (n.opType === 'Clip' && (n.attributes.min || n.attributes.max)) problems.push(`${n.name} (Clip with min/max attributes)`);
        else if (n.opType === 'Dropout' && n.attributes.ratio) problems.push(`${n.name} (Dropout with a ratio attribute)`);
        else if (n.opType === 'Slice' && n.attributes.starts) problems.push(`${n.name} (Slice with starts/ends attributes)`);
        else if (n.opType === 'TopK' && n.attributes.k) problems.push(`${n.name} (TopK with a k attribute)`);
        else if (n.opType === 'Resize' && changes.includes(11)) problems.push(`${n.name} (Resize: coordinate mapping changed at opset 11)`);
        continue;
      }
      problems.push(`${n.name} (${n.opType} changed at opset ${changes.join(', ')})`);
    }
  };
  visit(g);
  if (problems.length > 0)
    throw new NormkitError(
      'OPSET_UPGRADE',
      `foldLayerNorms: cannot raise the opset from ${from} to ${to} for RMSNormalization: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}. Use rmsFormat 'simplified' or 'decomposed'.`,
      { problems },
    );
  const imp = m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (imp) imp.version = to;
  else m.opsetImports.push({ domain: '', version: to });
  if (m.irVersion < 11) m.irVersion = 11;
  return { from, to, converted };
}

/** `t` (float64) with every slice along negative axis `axis` multiplied by the matching element of `scale`. */
function scaleAlong(t: Tensor, scale: Tensor, axis: number): Tensor {
  const gamma = scale.toFlatArray();
  const n = t.shape[t.rank + axis] as number;
  const inner = t.shape.slice(t.rank + axis + 1).reduce((p, d) => p * d, 1);
  const out = Float64Array.from(t.toFlatArray(), (v, i) => v * (gamma[Math.floor(i / inner) % n] as number));
  return new Tensor(t.shape, 'float64', out);
}

/** Removes a merged layer-scale Mul: its readers read the unscaled input instead. */
function dropScale(g: Graph, ms: MergedScale): void {
  const mul = g.nodes.find((n) => n.name === ms.node);
  if (!mul) return;
  const x = (mul.inputs[0] === ms.scale ? mul.inputs[1] : mul.inputs[0]) as string;
  const out = mul.outputs[0] as string;
  for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === out ? x : i));
  g.nodes = g.nodes.filter((n) => n !== mul);
  g.valueInfo.delete(out);
}

/** max |a − b| / max |a| over two tensors of one shape (0 when a is all zeros). */
function relativeChange(a: Tensor, b: Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let d = 0;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs((x[i] as number) - (y[i] as number)));
    m = Math.max(m, Math.abs(x[i] as number));
  }
  return m > 0 ? d / m : 0;
}
