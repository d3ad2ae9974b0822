import type { Attribute, Graph, Model, Node, ValueInfo } from '@normkit/graph';
import { NormkitError, type Tensor } from '@normkit/tensor';
import { onnxTypeCode } from './dtypes.js';
import { type ExternalSink, onnxTensorInfo, writeTensorProto } from './tensor-proto.js';
import { type Chunk, chunkBytes, Writer } from './wire.js';

/** Options of `encodeModel`. */
export interface EncodeOptions {
  /** Where tensors may go instead of the model file (what `saveModel` uses for external data). */
  externalSink?: ExternalSink;
  /** Largest protobuf `encodeModel` returns; default 2 GiB - 1 (protobuf's limit). */
  maxProtoBytes?: number;
}

/** Protobuf messages cannot exceed 2 GiB. */
export const MAX_PROTO_BYTES = 2 ** 31 - 1;

const ATTR_TYPE: Record<Attribute['type'], number> = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
  strings: 8,
  tensors: 9,
  graphs: 10,
  raw: 0,
};

function protoFieldsOf(extra: Record<string, unknown> | undefined): Uint8Array[] {
  const f = extra?.protoFields;
  return Array.isArray(f) ? (f as Uint8Array[]) : [];
}

/**
 * Encodes a model as chunks (not joined, so models near 2 GiB need no second copy); the raw_data of a
 * `LazyTensor` not yet read is a deferred chunk, read when written (`chunkBytes`).
 */
export function encodeModelChunks(model: Model, opts: EncodeOptions = {}): Chunk[] {
  // Fields in field-number order, as protobuf's C++ serializer writes them.
  const w = new Writer();
  w.int(1, model.irVersion);
  if (model.producerName) w.string(2, model.producerName);
  if (model.producerVersion) w.string(3, model.producerVersion);
  if (model.domain) w.string(4, model.domain);
  if (model.modelVersion) w.int(5, model.modelVersion);
  if (model.docString) w.string(6, model.docString);
  w.message(7, writeGraph(model.graph, opts.externalSink));
  for (const o of model.opsetImports) w.message(8, new Writer().string(1, o.domain).int(2, o.version));
  for (const [k, v] of Object.entries(model.metadataProps)) w.message(14, new Writer().string(1, k).string(2, v));
  for (const f of protoFieldsOf(model.extra)) w.raw(f);
  const max = opts.maxProtoBytes ?? MAX_PROTO_BYTES;
  if (w.size() > max) {
    throw new NormkitError(
      'MODEL_TOO_LARGE',
      `model "${model.graph.name}" would be ${w.size()} bytes, over protobuf's limit of ${max}; save it with saveModel(model, path), which moves large tensors to an external data file`,
      { bytes: w.size(), limit: max },
    );
  }
  return w.finishChunks();
}

/**
 * Writes a `Model` as ONNX ModelProto bytes. Everything `decodeModel` kept verbatim (functions,
 * metadata on nodes, unknown fields) is written back; tensors read from a file keep their ONNX type
 * and storage form. Throws `MODEL_TOO_LARGE` past 2 GiB: use `saveModel`, which writes external data.
 *
 * @example
 * ```ts
 * const bytes = encodeModel(decodeModel(original));
 * decodeModel(bytes); // the same graph
 * ```
 */
export function encodeModel(model: Model, opts: EncodeOptions = {}): Uint8Array {
  const chunks = encodeModelChunks(model, opts);
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(chunkBytes(c), o);
    o += c.length;
  }
  return out;
}

function writeGraph(g: Graph, sink: ExternalSink | undefined): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.message(1, writeNode(n, sink));
  if (g.name) w.string(2, g.name);
  for (const [name, t] of g.initializers) {
    const tw = new Writer();
    writeTensorProto(tw, t, name, sink);
    w.message(5, tw);
  }
  if (g.docString !== undefined) w.string(10, g.docString);
  for (const v of g.inputs) w.message(11, writeValueInfo(v));
  for (const v of g.outputs) w.message(12, writeValueInfo(v));
  for (const v of g.valueInfo.values()) w.message(13, writeValueInfo(v));
  for (const f of protoFieldsOf(g.extra)) w.raw(f);
  return w;
}

function fileName(n: Node): string {
  const m = n.extra?.nameInFile as { ir: string; onnx: string } | undefined;
  return m && m.ir === n.name ? m.onnx : n.name;
}

function writeNode(n: Node, sink: ExternalSink | undefined): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  const name = fileName(n);
  if (name) w.string(3, name);
  w.string(4, n.opType);
  for (const [k, a] of Object.entries(n.attributes)) {
    if (a.type === 'raw') {
      const bytes = (a.value as { bytes?: unknown } | undefined)?.bytes;
      if (!(bytes instanceof Uint8Array)) {
        throw new NormkitError(
          'UNSUPPORTED_ATTRIBUTE',
          `node "${n.name}" (${n.opType}): raw attribute "${k}" holds no AttributeProto bytes; it cannot be written`,
          {
            node: n.name,
          },
        );
      }
      w.bytes(5, bytes);
    } else w.message(5, writeAttribute(k, a, n, sink));
  }
  if (n.docString !== undefined) w.string(6, n.docString);
  if (n.domain) w.string(7, n.domain);
  for (const f of protoFieldsOf(n.extra)) w.raw(f);
  return w;
}

/** Tensors in attributes (Constant values) stay inline. */
function attrTensor(t: Tensor, _sink: ExternalSink | undefined): Writer {
  const w = new Writer();
  writeTensorProto(w, t, onnxTensorInfo(t)?.name);
  return w;
}

function writeAttribute(name: string, a: Exclude<Attribute, { type: 'raw' }>, n: Node, sink: ExternalSink | undefined): Writer {
  const w = new Writer();
  w.string(1, name);
  const bad = () =>
    new NormkitError(
      'BAD_ATTRIBUTE',
      `node "${n.name}" (${n.opType}): attribute "${name}" of type ${a.type} holds a value of the wrong kind`,
      { node: n.name },
    );
  switch (a.type) {
    case 'float':
      if (typeof a.value !== 'number') throw bad();
      w.float(2, a.value);
      break;
    case 'int':
      if (typeof a.value !== 'number') throw bad();
      w.int(3, a.value);
      break;
    case 'string':
      if (typeof a.value !== 'string') throw bad();
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, attrTensor(a.value, sink));
      break;
    case 'graph':
      w.message(6, writeGraph(a.value, sink));
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, v);
      break;
    case 'strings':
      for (const v of a.value) w.string(9, v);
      break;
    case 'tensors':
      for (const t of a.value) w.message(10, attrTensor(t, sink));
      break;
    case 'graphs':
      for (const g of a.value) w.message(11, writeGraph(g, sink));
      break;
  }
  w.int(20, ATTR_TYPE[a.type]);
  return w;
}

function writeValueInfo(v: ValueInfo): Writer {
  const w = new Writer();
  w.string(1, v.name);
  const raw = v.extra?.typeProto;
  if (raw instanceof Uint8Array) w.bytes(2, raw);
  else if (v.dtype !== undefined || v.elemType !== undefined || v.shape !== undefined) {
    const tt = new Writer();
    const code =
      onnxTypeCode(v.dtype ?? (v.elemType as string)) ?? (v.elemType?.startsWith('onnx:') ? Number(v.elemType.slice(5)) : undefined);
    if (code !== undefined) tt.int(1, code);
    if (v.shape !== undefined) {
      const sw = new Writer();
      for (const d of v.shape) {
        const dw = new Writer();
        if (typeof d === 'number') dw.int(1, d);
        else if (typeof d === 'string') dw.string(2, d);
        sw.message(1, dw);
      }
      tt.message(2, sw);
    }
    w.message(2, new Writer().message(1, tt));
  }
  if (v.docString !== undefined) w.string(3, v.docString);
  for (const f of protoFieldsOf(v.extra)) w.raw(f);
  return w;
}
