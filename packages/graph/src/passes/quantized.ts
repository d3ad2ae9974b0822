import * as T from '@normkit/tensor';
import { NormkitError, Tensor } from '@normkit/tensor';
import { elemTypeName, narrowValue, packBits, tagElemType, taggedElemType } from '../elem-types.js';
import { nbitsLayout, nbitsWeight, quantParamIndex, quantRange, roundHalfEven } from '../executor/ops-quant.js';
import { kernelFor } from '../executor/registry.js';
import { attr, type Graph, type Model, type Node } from '../ir.js';
import type { FoldOptions, FoldResult } from './fold.js';
import type { CenteredParam, FoldabilityReport } from './foldability.js';

// Folding LayerNorms into quantized weights. A weight stored as DequantizeLinear(integer constant, scale,
// zero point) is a constant to the passes (`constantOf` gives its dequantized value), so the analysis
// treats it like a float weight; folding centers that value and requantizes it with the weight's own
// scheme (type, axis / block layout; new scales and zero points from the centered values) into a new
// DequantizeLinear. Requantizing rounds, so a component whose outputs then move beyond the verification
// tolerance is left unconverted, with the measured difference as its reason. The weights of com.microsoft
// MatMulNBits (B, scales, zero points) are centered the same way, requantized block by block.

/** A weight stored quantized: a DequantizeLinear node whose inputs are constants. */
export interface QuantizedWeight {
  /** The DequantizeLinear node. */
  node: Node;
  /** The quantized integers (an int32 tensor tagged with their ONNX type). */
  q: Tensor;
  /** Its scales. */
  scale: Tensor;
  /** Its zero points, when it has them. */
  zp?: Tensor;
}

/** The DequantizeLinear writes every attribute it reads at this opset (block_size, output_dtype). */
const DQ_OPSET = 23;

/**
 * The quantized weight behind value `name`: the DequantizeLinear (default domain) writing it when its
 * inputs are constants (`constant` resolves a value name), else undefined.
 * @example quantizedWeight('w_dq', g.producers(), (v) => constantOf(g, v))?.q.shape // [64, 32]
 */
export function quantizedWeight(
  name: string,
  producers: Map<string, Node>,
  constant: (v: string) => Tensor | undefined,
): QuantizedWeight | undefined {
  const p = producers.get(name);
  if (p?.opType !== 'DequantizeLinear' || (p.domain !== '' && p.domain !== 'ai.onnx')) return undefined;
  const [q, scale, zp] = [0, 1, 2].map((i) => (p.inputs[i] ? constant(p.inputs[i] as string) : undefined));
  if (!q || !scale || (p.inputs[2] && !zp)) return undefined;
  return { node: p, q, scale, zp };
}

const values = new WeakMap<Node, { inputs: Tensor[]; value: Tensor }>();

/** The float value of a quantized weight (computed once per node and inputs), or undefined when its inputs are invalid. */
export function dequantizedValue(w: QuantizedWeight): Tensor | undefined {
  const inputs = [w.q, w.scale, ...(w.zp ? [w.zp] : [])];
  const hit = values.get(w.node);
  if (hit && hit.inputs.length === inputs.length && hit.inputs.every((t, i) => t === inputs[i])) return hit.value;
  const kernel = kernelFor('', 'DequantizeLinear');
  try {
    const value = kernel?.({ node: w.node, opset: DQ_OPSET, inputs: [w.q, w.scale, w.zp] })[0];
    if (value) values.set(w.node, { inputs, value });
    return value;
  } catch {
    return undefined;
  }
}

/** How a weight is quantized, for reports: `int8 per-axis (axis 1)`. */
function schemeOf(w: QuantizedWeight, code: number): string {
  const block = attr(w.node, 'block_size', 'int', 0);
  const layout =
    w.scale.size === 1 && block === 0
      ? 'per-tensor'
      : block
        ? `blocked (axis ${axisOf(w)}, block ${block})`
        : `per-axis (axis ${axisOf(w)})`;
  return `${elemTypeName(code)} ${layout}`;
}

const axisOf = (w: QuantizedWeight) => {
  const a = attr(w.node, 'axis', 'int', 1);
  return a < 0 ? a + w.q.rank : a;
};

/**
 * `values` (shaped like the weight) quantized with the weight's scheme: its type and axis / block layout,
 * a new scale (and zero point) per group from the group's range — symmetric (zero point 0) when the type
 * is signed and the weight's zero points are absent or all 0, else asymmetric over [min(0, lo), max(0, hi)].
 * Scales keep their storage type (float16 scales are rounded to float16).
 * @example requantize(w, centered.data).q // int8 values of the centered weight, same layout as w.q
 */
export function requantize(w: QuantizedWeight, vals: ArrayLike<number>): { q: Tensor; scale: Tensor; zp?: Tensor; code: number } {
  const code = taggedElemType(w.q) ?? (w.zp ? taggedElemType(w.zp) : undefined) ?? (w.zp ? undefined : 2);
  const range = code === undefined ? undefined : quantRange(code);
  if (code === undefined || !range)
    throw new NormkitError(
      'UNSUPPORTED_DTYPE',
      `cannot requantize the weight of "${w.node.name}": its quantized type is ${code === undefined ? 'unknown (an untagged int32 tensor)' : elemTypeName(code)}`,
      { node: w.node.name },
    );
  const [lo, hi] = range;
  const block = attr(w.node, 'block_size', 'int', 0);
  const at = quantParamIndex(w.q.shape, axisOf(w), block, w.scale.size === 1 && block === 0);
  const groups = w.scale.size;
  const min = new Float64Array(groups);
  const max = new Float64Array(groups);
  for (let i = 0; i < vals.length; i++) {
    const g = at(i);
    min[g] = Math.min(min[g] as number, vals[i] as number);
    max[g] = Math.max(max[g] as number, vals[i] as number);
  }
  const zps = w.zp ? Array.from(w.zp.data as ArrayLike<number>) : [];
  const symmetric = lo < 0 && zps.every((z) => z === 0);
  const scaleCode = taggedElemType(w.scale) ?? 1;
  const scale = new Float32Array(groups);
  const zp = new Int32Array(groups);
  for (let g = 0; g < groups; g++) {
    const span = symmetric ? Math.max(-(min[g] as number), max[g] as number) / hi : ((max[g] as number) - (min[g] as number)) / (hi - lo);
    const s = narrowValue(scaleCode, Math.fround(span > 0 ? span : 1));
    scale[g] = s;
    zp[g] = symmetric ? 0 : Math.max(lo, Math.min(hi, roundHalfEven(lo - (min[g] as number) / s)));
  }
  const q = new Int32Array(vals.length);
  for (let i = 0; i < q.length; i++) {
    const g = at(i);
    q[i] = Math.max(lo, Math.min(hi, roundHalfEven(Math.fround((vals[i] as number) / (scale[g] as number))) + (zp[g] as number)));
  }
  const scaleT = new Tensor(w.scale.shape, 'float32', scale);
  return {
    q: tagElemType(new Tensor(w.q.shape, 'int32', q), code),
    scale: scaleCode === 1 ? scaleT : tagElemType(scaleT, scaleCode),
    zp: symmetric && !w.zp ? undefined : tagElemType(new Tensor(w.scale.shape, 'int32', zp), code),
    code,
  };
}

/** A weight that folding centered and requantized (see `FoldReport.requantized`). */
export interface RequantizedWeight {
  /** The DequantizeLinear output that held the weight. */
  param: string;
  /** The new DequantizeLinear output holding the centered, requantized weight. */
  into: string;
  /** Its scheme, e.g. `int8 per-axis (axis 1)`. */
  scheme: string;
  /** max |requantized − centered| / max |centered|: what requantizing changed (`FoldReport.storageRounding` counts it). */
  change: number;
  /** The component (index into the analysis' components) whose source it belongs to. */
  component: number;
}

/**
 * When value `name` is a quantized weight, stores `centered` (its centered value) as `into`: requantized
 * with its scheme (`requantize`) into new initializers that a new DequantizeLinear (same attributes)
 * reads. Returns the new weight's name, scheme and dequantized value, or undefined (storing nothing)
 * when `name` is not a quantized weight.
 * @example requantizeInto(g, 'w_dq', 'w_dq_centered', centered, g.producers(), (v) => constantOf(g, v))
 */
export function requantizeInto(
  g: Graph,
  name: string,
  into: string,
  centered: Tensor,
  producers: Map<string, Node>,
  constant: (v: string) => Tensor | undefined,
  reader?: Node,
): { param: string; into: string; scheme: string; value: Tensor } | undefined {
  if (reader && isNBitsWeight(reader, name)) return requantizeNBitsInto(g, reader, into, centered, constant);
  if (reader && isIntegerWeight(reader, name)) return centerIntegerWeightInto(g, reader, into, centered, constant);
  const w = quantizedWeight(name, producers, constant);
  if (!w) return undefined;
  const r = requantize(w, centered.data as ArrayLike<number>);
  const add = (suffix: string, t: Tensor) => {
    const n = g.uniqueName(`${into}_${suffix}`);
    g.initializers.set(n, t);
    return n;
  };
  const inputs = [add('quantized', r.q), add('scale', r.scale), ...(r.zp ? [add('zero_point', r.zp)] : [])];
  const node: Node = {
    name: g.uniqueName(`${into}_DequantizeLinear`),
    opType: 'DequantizeLinear',
    domain: w.node.domain,
    inputs,
    outputs: [into],
    attributes: { ...w.node.attributes },
  };
  g.nodes.unshift(node);
  const back = dequantizedValue({ node, q: r.q, scale: r.scale, zp: r.zp });
  if (!back) throw new NormkitError('FOLD_INTERNAL', `foldLayerNorms: the requantized weight "${into}" does not dequantize`);
  return { param: name, into, scheme: schemeOf(w, r.code), value: back };
}

/**
 * Removes the DequantizeLinear nodes writing `params` once nothing reads them (their weights were
 * replaced by requantized copies), and their initializers that nothing else reads.
 */
export function dropReplacedDequantize(g: Graph, params: string[]): void {
  const cons = g.consumers();
  const outs = new Set(g.outputs.map((o) => o.name));
  const gone = new Set(params.filter((p) => !cons.has(p) && !outs.has(p)));
  const dead = g.nodes.filter((n) => n.opType === 'DequantizeLinear' && n.outputs.length === 1 && gone.has(n.outputs[0] as string));
  if (dead.length === 0) return;
  g.nodes = g.nodes.filter((n) => !dead.includes(n));
  const after = g.consumers();
  for (const n of dead) for (const i of n.inputs) if (i && !after.has(i) && !outs.has(i)) g.initializers.delete(i);
}

/**
 * Marks the components holding the LayerNorms named in `keep` (name → reason) as not foldable, with that
 * reason on each of their LNs: they stay LayerNormalization.
 */
export function keepLayerNorms(analysis: FoldabilityReport, keep: Record<string, string>): void {
  for (const comp of analysis.components) {
    const why = comp.layerNorms.map((n) => keep[n]).find((r) => r !== undefined);
    if (!comp.foldable || why === undefined) continue;
    comp.foldable = false;
    comp.reason = why;
    for (const ln of analysis.layerNorms)
      if (ln.component === comp.id && ln.foldable) {
        ln.foldable = false;
        ln.reason = why;
      }
  }
}

/**
 * After a fold whose verification failed with requantized weights: folds each component holding
 * requantized weights on its own, keeps those whose outputs then move beyond the tolerance (the measured
 * difference is their reason), and folds the rest. Returns that result when it verifies, else undefined
 * (the caller reports the original failure). `fold` is `foldLayerNorms`.
 */
export function refoldKeepingRequantized(
  model: Model,
  opts: FoldOptions,
  failed: FoldResult,
  fold: (m: Model, o: FoldOptions) => FoldResult,
): FoldResult | undefined {
  const req = failed.report.requantized;
  const comps = [...new Set(req.map((r) => r.component))];
  const lnsOf = (c: number) => failed.report.analysis.components[c]?.layerNorms ?? [];
  const keep: Record<string, string> = { ...opts.keep };
  for (const c of comps) {
    const others = Object.fromEntries(comps.filter((o) => o !== c).flatMap((o) => lnsOf(o).map((n) => [n, 'tried separately'])));
    const v = fold(model, { ...opts, keep: { ...keep, ...others }, force: true }).verification;
    if (!v || v.equivalent) continue;
    const failing = v.outputs.filter((o) => o.maxRelDiff > v.tolerance || o.argmaxAgreement < 1);
    const worst = failing.reduce((a, b) => (b.maxRelDiff > a.maxRelDiff ? b : a));
    const schemes = [...new Set(req.filter((r) => r.component === c).map((r) => r.scheme))].join(', ');
    const agree = worst.argmaxAgreement < 1 ? ` (argmax agreement ${(100 * worst.argmaxAgreement).toFixed(1)}%)` : '';
    const why = `requantizing its centered weights (${schemes}) moves output "${worst.name}" by ${worst.maxRelDiff.toExponential(2)} relative${agree}, beyond the verification tolerance ${v.tolerance}; it stays LayerNormalization`;
    for (const n of lnsOf(c)) keep[n] = why;
  }
  const result = fold(model, { ...opts, keep, force: true });
  return result.verification?.equivalent ? result : undefined;
}

/** Whether `name` is the integer weight B of the MatMulInteger node `reader`. */
const isIntegerWeight = (reader: Node, name: string) =>
  reader.opType === 'MatMulInteger' && (reader.domain === '' || reader.domain === 'ai.onnx') && reader.inputs[1] === name;

/** Column j's zero point of a MatMulInteger weight: its zero point's one value, or value j (0 when absent). */
function columnZeroPoint(zp: Tensor | undefined): (j: number) => number {
  const z = zp ? Array.from(zp.data as ArrayLike<number>, Number) : [0];
  return (j) => z[z.length === 1 ? 0 : j] as number;
}

/** B − b_zero_point [K, N] in float32 for the MatMulInteger `node` (its zero point one value or one per column). */
function integerWeightValue(node: Node, constant: (v: string) => Tensor | undefined): Tensor | undefined {
  const [b, zp] = [1, 3].map((i) => (node.inputs[i] ? constant(node.inputs[i] as string) : undefined));
  if (b?.rank !== 2 || (node.inputs[3] && !zp) || (zp && zp.size !== 1 && zp.size !== b.shape[1])) return undefined;
  const N = b.shape[1] as number;
  const zAt = columnZeroPoint(zp);
  const q = b.data as ArrayLike<number>;
  return new Tensor(
    b.shape,
    'float32',
    Float32Array.from({ length: b.size }, (_, i) => (q[i] as number) - zAt(i % N)),
  );
}

/**
 * Why centering MatMulInteger's integer weight `b` (less zero point `zp`) cannot be stored in its type,
 * or undefined when it can: some row, less its mean, rounded up or down, leaves the type's range (as
 * full-range int8 weights often do; 7-bit weights leave room).
 * @example integerCenteringBlocker(constantOf(g, 'w_quantized'), undefined) // undefined for 7-bit weights
 */
export function integerCenteringBlocker(b: Tensor, zp: Tensor | undefined): string | undefined {
  if (b.rank !== 2) return 'MatMulInteger with a batched weight';
  const code = taggedElemType(b) ?? 3;
  const [lo, hi] = quantRange(code) ?? [-(2 ** 31), 2 ** 31 - 1];
  const [K, N] = [b.shape[0] as number, b.shape[1] as number];
  if (zp && zp.size !== 1 && zp.size !== N) return 'MatMulInteger whose weight zero point is neither one value nor one per column';
  const zAt = columnZeroPoint(zp);
  const q = b.data as ArrayLike<number>;
  for (let k = 0; k < K; k++) {
    let mean = 0;
    for (let j = 0; j < N; j++) mean += (q[k * N + j] as number) - zAt(j);
    mean /= N;
    for (let j = 0; j < N; j++) {
      const c = (q[k * N + j] as number) - zAt(j) - mean;
      if (Math.floor(c) + zAt(j) < lo || Math.ceil(c) + zAt(j) > hi)
        return `centering its ${elemTypeName(code)} weight needs values outside the type's range (row ${k}); quantize the weights with a reduced range (7 bits) to fold this LayerNorm`;
    }
  }
  return undefined;
}

/**
 * Stores the centered B − b_zero_point [K, N] of MatMulInteger `node` as integers again (`into`, same
 * type and zero point), each row rounded so that it still sums to exactly zero: its entries are
 * rounded down, and the row's remaining sum is added back one unit at a time to the entries that lost
 * the most. The integer sums, and so the layer's outputs, are then exactly zero-mean, and every weight
 * moves by less than one step. The analysis blocks weights this cannot store (`integerCenteringBlocker`).
 */
function centerIntegerWeightInto(
  g: Graph,
  node: Node,
  into: string,
  centered: Tensor,
  constant: (v: string) => Tensor | undefined,
): { param: string; into: string; scheme: string; value: Tensor } {
  const name = node.inputs[1] as string;
  const b = constant(name) as Tensor;
  const zp = node.inputs[3] ? constant(node.inputs[3] as string) : undefined;
  const code = taggedElemType(b) ?? 3;
  const [lo, hi] = quantRange(code) ?? [-(2 ** 31), 2 ** 31 - 1];
  const [K, N] = [b.shape[0] as number, b.shape[1] as number];
  const zAt = columnZeroPoint(zp);
  const c = centered.data as Float32Array;
  const q = new Int32Array(b.size);
  const value = new Float32Array(b.size);
  for (let k = 0; k < K; k++) {
    const row = Array.from({ length: N }, (_, j) => c[k * N + j] as number);
    const down = row.map(Math.floor);
    let missing = Math.round(-down.reduce((s, v) => s + v, 0)); // what the floors took from a zero sum
    const order = row.map((v, j) => [v - (down[j] as number), j] as const).sort((x, y) => y[0] - x[0]);
    for (const [, j] of order) {
      if (missing <= 0) break;
      down[j] = (down[j] as number) + 1;
      missing--;
    }
    down.forEach((v, j) => {
      const stored = v + zAt(j);
      if (stored < lo || stored > hi)
        throw new NormkitError(
          'FOLD_INTERNAL',
          `foldLayerNorms: centering MatMulInteger "${node.name}"'s weight "${name}" needs ${stored} at row ${k}, column ${j}, outside ${elemTypeName(code)}'s range, which the analysis should have blocked`,
          { node: node.name, param: name },
        );
      q[k * N + j] = stored;
      value[k * N + j] = v;
    });
  }
  g.initializers.set(into, tagElemType(new Tensor(b.shape, 'int32', q), code));
  return { param: name, into, scheme: `${elemTypeName(code)}, rows summing to zero`, value: new Tensor(b.shape, 'float32', value) };
}

/** Whether `name` is the packed weight B of the MatMulNBits node `reader`. */
const isNBitsWeight = (reader: Node, name: string) =>
  reader.opType === 'MatMulNBits' && reader.domain === 'com.microsoft' && reader.inputs[1] === name;

/** The float weight Wᵀ [K, N] of a MatMulNBits whose B, scales and zero points are constants. */
function nbitsValue(node: Node, constant: (v: string) => Tensor | undefined): Tensor | undefined {
  const inputs = [undefined, ...[1, 2, 3, 4].map((i) => (node.inputs[i] ? constant(node.inputs[i] as string) : undefined))];
  try {
    return T.transpose(nbitsWeight({ node, opset: 1, inputs }, undefined), [1, 0]);
  } catch {
    return undefined;
  }
}

/**
 * The value that folding centers for parameter `p`: the dequantized weight Wᵀ [K, N] for the B of a
 * MatMulNBits, else the constant (`constant` resolves value names; a quantized weight gives its
 * dequantized value).
 * @example centerableValue(p, nodesByName.get(p.reader), (v) => constantOf(g, v))?.dtype // 'float32'
 */
export function centerableValue(
  p: CenteredParam,
  reader: Node | undefined,
  constant: (v: string) => Tensor | undefined,
): Tensor | undefined {
  if (reader && isNBitsWeight(reader, p.name)) return nbitsValue(reader, constant);
  if (reader && isIntegerWeight(reader, p.name)) return integerWeightValue(reader, constant);
  return constant(p.name);
}

/** Per (row, block) scale and zero point of `bits`-bit values from the block's range (see `requantizeNBitsInto`). */
function blockParams(vs: number[], bits: number, zp: 'none' | 'int' | 'float', scaleCode: number): [number, number] {
  const [maxQ, mid] = [2 ** bits - 1, 2 ** (bits - 1)];
  const [lo, hi] = [Math.min(0, ...vs), Math.max(0, ...vs)];
  const span = zp === 'none' ? Math.max(-lo, hi) / (mid - 1) : (hi - lo) / maxQ;
  const s = narrowValue(scaleCode, Math.fround(span > 0 ? span : 1));
  const z = zp === 'none' ? mid : zp === 'float' ? Math.fround(-lo / s) : Math.max(0, Math.min(maxQ, roundHalfEven(-lo / s)));
  return [s, z];
}

/** `bits`-bit values packed row by row (`rows` rows of `per` values), as uint8 bytes in an int32 tensor of `shape`. */
function packedRows(values: Int32Array, rows: number, per: number, bits: number, shape: readonly number[]): Tensor {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) out.push(...packBits(values.subarray(r * per, (r + 1) * per), bits));
  return tagElemType(new Tensor(shape, 'int32', Int32Array.from(out)), 2);
}

/**
 * Stores the centered Wᵀ [K, N] of MatMulNBits `node` as a new B (`into`), scales and zero points: each
 * block of `block_size` values of a row requantized to `bits` bits — asymmetric (zero point from the
 * block's range, packed or float like the node's) when the node has zero points, else symmetric about
 * the default zero point 2^(bits−1). Rewires the node's scales and zero points (the caller rewires B).
 */
function requantizeNBitsInto(g: Graph, node: Node, into: string, centered: Tensor, constant: (v: string) => Tensor | undefined) {
  const at = (i: number) => (node.inputs[i] ? constant(node.inputs[i] as string) : undefined);
  const [b, scales, zp] = [at(1) as Tensor, at(2) as Tensor, at(3)];
  const { K, N, bits, block, blocks } = nbitsLayout({ node, opset: 1, inputs: [] }, undefined, b, scales);
  const kind = !zp ? 'none' : zp.dtype === 'int32' ? 'int' : 'float';
  const scaleCode = taggedElemType(scales) ?? 1;
  const c = centered.data as Float32Array;
  const q = new Int32Array(N * blocks * block);
  const s = new Float32Array(N * blocks);
  const z = new Float32Array(N * blocks);
  for (let n = 0; n < N; n++)
    for (let j = 0; j < blocks; j++) {
      const ks = Array.from({ length: Math.min(block, K - j * block) }, (_, i) => j * block + i);
      const vs = ks.map((k) => c[k * N + n] as number);
      const [sc, zz] = blockParams(vs, bits, kind, scaleCode);
      s[n * blocks + j] = sc;
      z[n * blocks + j] = zz;
      const maxQ = 2 ** bits - 1;
      for (const [i, v] of vs.entries())
        q[(n * blocks + j) * block + i] = Math.max(0, Math.min(maxQ, roundHalfEven(Math.fround(v / sc) + zz)));
    }
  g.initializers.set(into, packedRows(q, N, blocks * block, bits, b.shape));
  const old = [node.inputs[2], node.inputs[3]];
  const newScales = new Tensor(scales.shape, 'float32', s);
  node.inputs[2] = g.uniqueName(`${into}_scales`);
  g.initializers.set(node.inputs[2], scaleCode === 1 ? newScales : tagElemType(newScales, scaleCode));
  if (zp) {
    node.inputs[3] = g.uniqueName(`${into}_zero_points`);
    const zt = taggedElemType(zp);
    const floats = () => (zt ? tagElemType(new Tensor(zp.shape, 'float32', z), zt) : new Tensor(zp.shape, 'float32', z));
    g.initializers.set(node.inputs[3], kind === 'int' ? packedRows(Int32Array.from(z), N, blocks, bits, zp.shape) : floats());
  }
  const readers = g.consumers();
  for (const o of old) if (o && !readers.has(o)) g.initializers.delete(o);
  const value = nbitsValue({ ...node, inputs: [node.inputs[0] as string, into, ...node.inputs.slice(2)] }, (v) => g.initializers.get(v));
  if (!value) throw new NormkitError('FOLD_INTERNAL', `foldLayerNorms: the requantized MatMulNBits weight "${into}" does not dequantize`);
  return { param: node.inputs[1] as string, into, scheme: `${bits}-bit blocked (MatMulNBits, block ${block})`, value };
}
