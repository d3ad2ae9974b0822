// Test helper: reads ONNX backend-test directories (model.onnx + test_data_set_N/*.pb) with onnx-proto.
// Independent of the code under test: it only decodes protobuf messages into plain arrays.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnx from 'onnx-proto';

const P = onnx.onnx;

/** /work/shared/testdata, computed from this file's location (packages/norm/test/). */
export const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));

/** A decoded TensorProto: name, dims, element type name and the values as float64 numbers. */
export interface PbTensor {
  name: string;
  dims: number[];
  type: string;
  data: Float64Array;
}

const TYPE_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function toNum(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** Decodes a TensorProto message (raw_data or the typed repeated fields) into float64 values. */
export function decodeTensor(t: onnx.onnx.ITensorProto): PbTensor {
  const dims = (t.dims ?? []).map(toNum);
  const size = dims.reduce((a, b) => a * b, 1);
  const dt = t.dataType ?? 1;
  const type = TYPE_NAMES[dt] ?? `type${dt}`;
  const out = new Float64Array(size);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const dv = new DataView(buf);
    for (let i = 0; i < size; i++) {
      switch (dt) {
        case 1:
          out[i] = dv.getFloat32(i * 4, true);
          break;
        case 11:
          out[i] = dv.getFloat64(i * 8, true);
          break;
        case 6:
          out[i] = dv.getInt32(i * 4, true);
          break;
        case 7:
          out[i] = Number(dv.getBigInt64(i * 8, true));
          break;
        case 10:
          out[i] = halfToFloat(dv.getUint16(i * 2, true));
          break;
        case 16:
          out[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0] as number;
          break;
        case 2:
        case 9:
          out[i] = dv.getUint8(i);
          break;
        case 3:
          out[i] = dv.getInt8(i);
          break;
        default:
          throw new Error(`decodeTensor: raw data type ${dt} not supported (${t.name})`);
      }
    }
  } else {
    const src: unknown[] =
      dt === 1 ? (t.floatData ?? []) : dt === 11 ? (t.doubleData ?? []) : dt === 7 ? (t.int64Data ?? []) : (t.int32Data ?? []);
    for (let i = 0; i < size; i++) {
      const v = toNum(src[i]);
      out[i] = dt === 10 ? halfToFloat(v) : v;
    }
  }
  return { name: t.name ?? '', dims, type, data: out };
}

/** Reads one .pb file holding a TensorProto. */
export function readPb(path: string): PbTensor {
  return decodeTensor(P.TensorProto.decode(readFileSync(path)));
}

/** A node attribute as a plain JS value (number, string, number[], tensor). */
export type AttrValue = number | string | number[] | string[] | PbTensor;

/** The parsed test case: the single (first) node, its attributes, graph input/output names, data sets. */
export interface OnnxCase {
  dir: string;
  name: string;
  opset: number;
  /** All nodes of the graph in order (op types). */
  ops: string[];
  opType: string;
  domain: string;
  attrs: Record<string, AttrValue>;
  /** Node input names ('' for an omitted optional input), in node order. */
  nodeInputs: string[];
  nodeOutputs: string[];
  graphInputs: string[];
  graphOutputs: string[];
  /** Initializers, by name. */
  initializers: Record<string, PbTensor>;
  sets: { inputs: PbTensor[]; outputs: PbTensor[] }[];
}

function attrValue(a: onnx.onnx.IAttributeProto): AttrValue {
  switch (a.type) {
    case P.AttributeProto.AttributeType.FLOAT:
      return a.f ?? 0;
    case P.AttributeProto.AttributeType.INT:
      return toNum(a.i);
    case P.AttributeProto.AttributeType.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case P.AttributeProto.AttributeType.FLOATS:
      return [...(a.floats ?? [])];
    case P.AttributeProto.AttributeType.INTS:
      return (a.ints ?? []).map(toNum);
    case P.AttributeProto.AttributeType.TENSOR:
      return decodeTensor(a.t as onnx.onnx.ITensorProto);
    default:
      return `<attr type ${a.type}>`;
  }
}

/** Loads `dir/model.onnx` and every `test_data_set_N`. */
export function loadCase(dir: string): OnnxCase {
  const model = P.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
  const g = model.graph as InstanceType<typeof P.GraphProto>;
  const nodes = g.node ?? [];
  const node = nodes[0] as InstanceType<typeof P.NodeProto>;
  const attrs: Record<string, AttrValue> = {};
  for (const a of node.attribute ?? []) attrs[a.name ?? ''] = attrValue(a);
  const domain = node.domain ?? '';
  const opsetEntry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === 'ai.onnx' && !o.domain));
  const initializers: Record<string, PbTensor> = {};
  for (const t of g.initializer ?? []) initializers[t.name ?? ''] = decodeTensor(t);
  const sets: OnnxCase['sets'] = [];
  for (const s of readdirSync(dir)
    .filter((f) => f.startsWith('test_data_set_'))
    .sort()) {
    const files = readdirSync(join(dir, s));
    const list = (prefix: string) =>
      files
        .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
        .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
        .map((f) => readPb(join(dir, s, f)));
    sets.push({ inputs: list('input_'), outputs: list('output_') });
  }
  return {
    dir,
    name: dir.split('/').pop() ?? dir,
    opset: toNum(opsetEntry?.version ?? 0),
    ops: nodes.map((n) => n.opType ?? ''),
    opType: node.opType ?? '',
    domain,
    attrs,
    nodeInputs: [...(node.input ?? [])],
    nodeOutputs: [...(node.output ?? [])],
    graphInputs: (g.input ?? []).map((v) => v.name ?? '').filter((n) => !(n in initializers)),
    graphOutputs: (g.output ?? []).map((v) => v.name ?? ''),
    initializers,
    sets,
  };
}

/** Test directories under `root` whose names start with one of `prefixes`, sorted. */
export function listCases(root: string, prefixes: readonly string[]): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => prefixes.some((p) => d.startsWith(p)) && existsSync(join(root, d, 'model.onnx')))
    .sort()
    .map((d) => join(root, d));
}

/** Max over elements of |a − e| / max(1, |e|) (the "1e-4 relative or absolute, whichever is larger" rule). */
export function maxErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const err = Math.abs(a - e) / Math.max(1, Math.abs(e));
    if (!(err <= m)) m = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
  }
  return m;
}
