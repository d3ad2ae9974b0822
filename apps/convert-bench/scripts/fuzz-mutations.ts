// Mutations of a real ONNX model for the fuzz campaign (scripts/fuzz.ts): raw bytes, protobuf fields
// through onnx-proto (dims, attributes, op types, data types, opsets, wiring), and external-data
// locations pointing at the hazards a user's disk can hold (a FIFO, a directory, a link out, ..).
import onnx from 'onnx-proto';

const P = onnx.onnx;
type ModelProto = InstanceType<typeof P.ModelProto>;
type GraphProto = InstanceType<typeof P.GraphProto>;
type NodeProto = InstanceType<typeof P.NodeProto>;
/** The nodes of a decoded graph (decoding fills every repeated field, so they are never missing). */
const nodesOf = (g: GraphProto) => g.node as NodeProto[];

/** A small deterministic PRNG (mulberry32), so mutation i of a campaign is reproducible alone. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
}

/** Values that break arithmetic: signs, zero, 32-bit and 53-bit edges, int64 extremes. */
const SPECIAL_INTS = [
  0,
  1,
  -1,
  2,
  3,
  7,
  64,
  255,
  1 << 16,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 40,
  2 ** 53,
  -(2 ** 31),
  -(2 ** 63),
  2 ** 63 - 1,
];
const SPECIAL_FLOATS = [0, -0, 1, -1, 1e-45, 1e38, 3.4e38, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5, 1e-12];
const OP_TYPES = [
  'Add',
  'Relu',
  'MatMul',
  'Conv',
  'ConvTranspose',
  'Reshape',
  'Transpose',
  'Gather',
  'Slice',
  'Concat',
  'Split',
  'Resize',
  'Pad',
  'Expand',
  'Tile',
  'ConstantOfShape',
  'Range',
  'TopK',
  'Einsum',
  'LayerNormalization',
  'Softmax',
  'ReduceMean',
  'Loop',
  'If',
  'Scan',
  'Dropout',
  'Cast',
  'NonZero',
  'OneHot',
  'CumSum',
  'Unknown',
  'Attention',
];
/** Locations an external tensor is pointed at; the fixtures (fuzz-worker.ts) put a FIFO, a directory, links beside the model. */
export const EXTERNAL_LOCATIONS = [
  'w.bin',
  'fifo',
  'dir',
  'link-out',
  'link-in',
  'missing.bin',
  '../w.bin',
  '/etc/hostname',
  'sub/../../w.bin',
  '',
  'w.bin\u0000x',
  'C:\\w.bin',
];
/** Locations that must never be read: the campaign counts a load that succeeds with one as a failure. */
export const ESCAPING_LOCATIONS = new Set(['link-out', '../w.bin', '/etc/hostname', 'sub/../../w.bin', 'C:\\w.bin']);

/** What was done to a model, to report and to replay. */
export interface Mutation {
  kind: 'bytes' | 'dims' | 'attribute' | 'op' | 'wiring' | 'dtype' | 'opset' | 'external';
  what: string;
}

const ints = (r: Prng) => (r.next() < 0.7 ? r.pick(SPECIAL_INTS) : r.int(64) - 8);

function allGraphs(g: GraphProto): GraphProto[] {
  const out = [g];
  for (const n of nodesOf(g))
    for (const a of n.attribute) {
      if (a.g) out.push(...allGraphs(a.g as GraphProto));
      for (const s of a.graphs ?? []) out.push(...allGraphs(s as GraphProto));
    }
  return out;
}

function mutateBytes(bytes: Uint8Array, r: Prng): { bytes: Uint8Array; m: Mutation } {
  const k = r.int(3);
  if (k === 0) {
    const at = r.int(bytes.length);
    return { bytes: bytes.subarray(0, at), m: { kind: 'bytes', what: `truncate at ${at} of ${bytes.length}` } };
  }
  const out = bytes.slice();
  const count = 1 + r.int(8);
  for (let i = 0; i < count; i++) out[r.int(out.length)] = r.int(256);
  return { bytes: out, m: { kind: 'bytes', what: `${count} random bytes` } };
}

function mutateDims(p: ModelProto, r: Prng): string {
  const g = p.graph as GraphProto;
  const inits = (g.initializer as InstanceType<typeof P.TensorProto>[]).filter((t) => (t.dims?.length ?? 0) > 0);
  const shapes = [...g.input, ...g.output].map((v) => v.type?.tensorType?.shape?.dim).filter((d) => d && d.length > 0);
  const v = ints(r);
  if (inits.length > 0 && (shapes.length === 0 || r.next() < 0.5)) {
    const t = r.pick(inits);
    const i = r.int(t.dims.length);
    (t.dims as unknown[])[i] = v;
    return `initializer "${t.name}" dim ${i} = ${v}`;
  }
  if (shapes.length === 0) return 'no dims';
  const dims = r.pick(shapes) as { dimValue?: unknown; dimParam?: string }[];
  const i = r.int(dims.length);
  (dims[i] as { dimValue?: unknown }).dimValue = v;
  delete (dims[i] as { dimParam?: string }).dimParam;
  return `value-info dim ${i} = ${v}`;
}

function mutateAttribute(p: ModelProto, r: Prng): string {
  const nodes = allGraphs(p.graph as GraphProto).flatMap((g) => nodesOf(g).filter((n) => n.attribute.length > 0));
  if (nodes.length === 0) return 'no attributes';
  const n = r.pick(nodes);
  const a = r.pick(n.attribute);
  const k = r.int(5);
  if (k === 0) {
    n.attribute = n.attribute.filter((x) => x !== a);
    return `${n.opType} "${n.name}": drop ${a.name}`;
  }
  if (a.ints && a.ints.length > 0) {
    if (k === 1) a.ints = a.ints.slice(0, r.int(a.ints.length));
    else (a.ints as unknown[])[r.int(a.ints.length)] = ints(r);
    return `${n.opType} "${n.name}": ${a.name} = [${a.ints.join(', ')}]`;
  }
  if (a.type === P.AttributeProto.AttributeType.FLOAT) {
    a.f = r.pick(SPECIAL_FLOATS);
    return `${n.opType} "${n.name}": ${a.name} = ${a.f}`;
  }
  if (a.type === P.AttributeProto.AttributeType.STRING) {
    a.s = new TextEncoder().encode(r.pick(['', 'SAME_UPPER', 'VALID', 'NOTSET', 'bogus', 'linear', 'cubic', 'reflect', 'xyz']));
    return `${n.opType} "${n.name}": ${a.name} = "${new TextDecoder().decode(a.s)}"`;
  }
  if (a.type === P.AttributeProto.AttributeType.INT) {
    a.i = ints(r) as never;
    return `${n.opType} "${n.name}": ${a.name} = ${a.i}`;
  }
  a.type = r.pick([1, 2, 3, 7]);
  return `${n.opType} "${n.name}": ${a.name} type = ${a.type}`;
}

function mutateOp(p: ModelProto, r: Prng): string {
  const g = r.pick(allGraphs(p.graph as GraphProto));
  if (g.node.length === 0) return 'no nodes';
  const n = r.pick(nodesOf(g));
  const was = n.opType;
  n.opType = r.pick(OP_TYPES);
  return `"${n.name}": ${was} → ${n.opType}`;
}

function mutateWiring(p: ModelProto, r: Prng): string {
  const g = p.graph as GraphProto;
  if (g.node.length === 0) return 'no nodes';
  const n = r.pick(nodesOf(g));
  const names = [...nodesOf(g).flatMap((x) => x.output), ...g.input.map((v) => v.name), ''];
  const k = r.int(3);
  if (k === 0 && n.input.length > 0) n.input.splice(r.int(n.input.length), 1);
  else if (k === 1) n.input.push(r.pick(names) as string);
  else if (n.input.length > 0) n.input[r.int(n.input.length)] = r.pick(names) as string;
  return `"${n.name}" (${n.opType}) inputs = [${n.input.join(', ')}]`;
}

function mutateDtype(p: ModelProto, r: Prng): string {
  const g = p.graph as GraphProto;
  const code = r.pick([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 14, 16, 17, 21, 23, 26, 99]);
  if (g.initializer.length > 0 && r.next() < 0.6) {
    const t = r.pick(g.initializer);
    t.dataType = code;
    return `initializer "${t.name}" data_type = ${code}`;
  }
  const vs = [...g.input, ...g.output].filter((v) => v.type?.tensorType);
  if (vs.length === 0) return 'no value infos';
  const v = r.pick(vs);
  (v.type?.tensorType as { elemType: number }).elemType = code;
  return `value "${v.name}" elem_type = ${code}`;
}

function mutateOpset(p: ModelProto, r: Prng): string {
  const v = r.pick([0, 1, 6, 7, 9, 11, 13, 17, 18, 21, 23, 99, 2 ** 31]);
  const imp = p.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (imp) imp.version = v as never;
  return `default opset = ${v}`;
}

/** Moves one initializer's bytes to an external file at a hazardous (or valid) location; returns the bytes for w.bin. */
function mutateExternal(p: ModelProto, r: Prng): { what: string; data?: Uint8Array; location?: string } {
  const g = p.graph as GraphProto;
  const raw = g.initializer.filter((t) => t.rawData && t.rawData.length > 0);
  if (raw.length === 0) return { what: 'no raw initializer' };
  const t = r.pick(raw);
  const location = r.pick(EXTERNAL_LOCATIONS);
  const data = t.rawData as Uint8Array;
  const length = r.next() < 0.8 ? String(data.length) : String(r.pick([0, -1, data.length + 1, 2 ** 40, 2 ** 63]));
  const offset = r.next() < 0.85 ? '0' : String(r.pick([1, -4, 2 ** 33, 'x']));
  t.rawData = new Uint8Array(0);
  t.dataLocation = 1;
  t.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: offset },
    { key: 'length', value: length },
  ];
  return { what: `initializer "${t.name}" → external "${location}" offset ${offset} length ${length}`, data, location };
}

/** One mutant: the model bytes, external data for `w.bin` (when the mutation made one), and what was done. */
export interface Mutant {
  bytes: Uint8Array;
  externalData?: Uint8Array;
  location?: string;
  mutation: Mutation;
}

/**
 * Mutation `index` of a campaign with `seed`, applied to `bytes` (deterministic: replaying the same
 * seed and index gives the same mutant).
 * @example mutate(modelBytes, 20261206, 17).mutation // { kind: 'attribute', what: 'Conv "c1": strides = [0, 1]' }
 */
export function mutate(bytes: Uint8Array, seed: number, index: number): Mutant {
  const r = new Prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const kinds: Mutation['kind'][] = [
    'bytes',
    'dims',
    'dims',
    'attribute',
    'attribute',
    'op',
    'wiring',
    'dtype',
    'opset',
    'external',
    'external',
  ];
  const kind = r.pick(kinds);
  if (kind === 'bytes') {
    const { bytes: b, m } = mutateBytes(bytes, r);
    return { bytes: b, mutation: m };
  }
  const p = P.ModelProto.decode(bytes);
  let what: string;
  let ext: ReturnType<typeof mutateExternal> | undefined;
  switch (kind) {
    case 'dims':
      what = mutateDims(p, r);
      break;
    case 'attribute':
      what = mutateAttribute(p, r);
      break;
    case 'op':
      what = mutateOp(p, r);
      break;
    case 'wiring':
      what = mutateWiring(p, r);
      break;
    case 'dtype':
      what = mutateDtype(p, r);
      break;
    case 'opset':
      what = mutateOpset(p, r);
      break;
    default:
      ext = mutateExternal(p, r);
      what = ext.what;
  }
  return {
    bytes: P.ModelProto.encode(p).finish(),
    ...(ext?.data ? { externalData: ext.data, location: ext.location } : {}),
    mutation: { kind, what },
  };
}
