import { type Attribute, type Dim, Graph, Model, type Node, type OpsetImport, subgraphsOf, type ValueInfo } from '@normkit/graph';
import { NormkitError, type Tensor } from '@normkit/tensor';
import { onnxType } from './dtypes.js';
import { onnxTensorInfo, parseTensorProto, setOnnxTensorInfo, type TensorReadOptions, tensorFromParsed } from './tensor-proto.js';
import {
  bytesOf,
  float32Of,
  int64,
  intNum,
  invalid,
  pushFixed,
  pushVarints,
  type ReadContext,
  readFields,
  str,
  tryUtf8,
  type WireField,
} from './wire.js';

/** Options of `decodeModel`. */
export interface DecodeOptions extends TensorReadOptions {
  /** Folder of the model, for messages (external data is read only through `externalData`/`readExternal`). */
  baseDir?: string;
  /** Check the graph (every value defined, no cycle, subgraphs too); default true. */
  validate?: boolean;
}

/** How deep If/Loop bodies may nest before the reader calls the file malformed. */
const MAX_DEPTH = 64;

/** A value kept verbatim: the complete encoded protobuf fields. */
export interface ProtoFields {
  protoFields: Uint8Array[];
}

function addExtra(target: { extra?: Record<string, unknown> }, key: string, value: unknown): void {
  target.extra ??= {};
  target.extra[key] = value;
}

function pushField(target: { extra?: Record<string, unknown> }, f: WireField): void {
  target.extra ??= {};
  const list = (target.extra.protoFields as Uint8Array[] | undefined) ?? [];
  list.push(f.raw);
  target.extra.protoFields = list;
}

interface Reader {
  ctx: ReadContext;
  opts: DecodeOptions;
}

/**
 * Reads an ONNX ModelProto into a `Model`, losslessly: whatever the IR does not model (functions,
 * training info, metadata on nodes, sparse initializers, unknown fields) is kept as its exact bytes in
 * the `extra` of the model, graph, node or value, and `encodeModel` writes it back. Pure and
 * browser-safe: external data is read through `opts.externalData` (or use `loadModel` in Node).
 *
 * Unnamed nodes get `${opType}_${index}` (made unique); the writer leaves them unnamed again.
 *
 * @example
 * ```ts
 * const model = decodeModel(new Uint8Array(await (await fetch('model.onnx')).arrayBuffer()));
 * model.graph.nodes.length;
 * ```
 */
export function decodeModel(bytes: Uint8Array, opts: DecodeOptions = {}): Model {
  const file = opts.fileName;
  const ctx: ReadContext = { file, path: 'ModelProto' };
  if (!(bytes instanceof Uint8Array))
    throw new NormkitError('INVALID_ARGUMENT', 'decodeModel: expected the model bytes as a Uint8Array', { file });
  if (bytes.length === 0) throw invalid(ctx, 'the file is empty');
  // A plain view (not a Node Buffer), so verbatim fields compare equal however the bytes were read.
  if (bytes.constructor !== Uint8Array) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r: Reader = { ctx, opts };
  let graphField: WireField | undefined;
  const opsets: OpsetImport[] = [];
  const m = new Model(new Graph(''), opsets);
  m.irVersion = 0;
  m.producerName = '';
  m.producerVersion = '';
  m.domain = '';
  m.modelVersion = 0;
  m.docString = '';
  for (const f of readFields(bytes, ctx)) {
    switch (f.field) {
      case 1:
        m.irVersion = intNum(f, ctx);
        break;
      case 2:
        m.producerName = str(f, ctx);
        break;
      case 3:
        m.producerVersion = str(f, ctx);
        break;
      case 4:
        m.domain = str(f, ctx);
        break;
      case 5:
        m.modelVersion = intNum(f, ctx);
        break;
      case 6:
        m.docString = str(f, ctx);
        break;
      case 7:
        if (graphField) throw invalid(ctx, 'the model has two graphs');
        graphField = f;
        break;
      case 8: {
        const sub = { ...ctx, path: 'ModelProto.opset_import' };
        const o: OpsetImport = { domain: '', version: 0 };
        let simple = true;
        for (const g of readFields(bytesOf(f, ctx), sub)) {
          if (g.field === 1) o.domain = str(g, sub);
          else if (g.field === 2) o.version = intNum(g, sub);
          else simple = false;
        }
        if (simple) opsets.push(o);
        else pushField(m, f);
        break;
      }
      case 14: {
        const [k, v] = stringEntry(f, { ...ctx, path: 'ModelProto.metadata_props' });
        if (Object.hasOwn(m.metadataProps, k)) pushField(m, f);
        else m.metadataProps[k] = v;
        break;
      }
      default:
        pushField(m, f);
    }
  }
  if (!graphField) throw invalid(ctx, 'there is no graph (field 7); this is not an ONNX model');
  m.graph = readGraph(bytesOf(graphField, ctx), r, 0, 'graph');
  linkScopes(m.graph);
  if (opts.validate !== false) validateGraph(m.graph, file);
  return m;
}

function stringEntry(f: WireField, ctx: ReadContext): [string, string] {
  let k = '';
  let v = '';
  for (const e of readFields(bytesOf(f, ctx), ctx)) {
    if (e.field === 1) k = str(e, ctx);
    else if (e.field === 2) v = str(e, ctx);
  }
  return [k, v];
}

function readGraph(buf: Uint8Array, r: Reader, depth: number, path: string): Graph {
  const ctx: ReadContext = { file: r.ctx.file, path };
  if (depth > MAX_DEPTH) throw invalid(ctx, `subgraphs nested more than ${MAX_DEPTH} deep`);
  const g = new Graph('');
  const fields = readFields(buf, ctx);
  for (const f of fields) if (f.field === 2) g.name = str(f, ctx);
  const gpath = `graph "${g.name}"`;
  const nodeFields: WireField[] = [];
  for (const f of fields) {
    switch (f.field) {
      case 1:
        nodeFields.push(f);
        break;
      case 2:
        break;
      case 5: {
        const sub = { ...ctx, path: `${gpath} initializer #${g.initializers.size}` };
        const p = parseTensorProto(bytesOf(f, ctx), sub);
        sub.path = `${gpath} initializer "${p.name}"`;
        if (g.initializers.has(p.name)) pushField(g, f);
        else g.initializers.set(p.name, tensorFromParsed(p, sub, r.opts));
        break;
      }
      case 10:
        g.docString = str(f, ctx);
        break;
      case 11:
        g.inputs.push(readValueInfo(f, { ...ctx, path: `${gpath} input #${g.inputs.length}` }));
        break;
      case 12:
        g.outputs.push(readValueInfo(f, { ...ctx, path: `${gpath} output #${g.outputs.length}` }));
        break;
      case 13: {
        const v = readValueInfo(f, { ...ctx, path: `${gpath} value_info #${g.valueInfo.size}` });
        if (g.valueInfo.has(v.name)) pushField(g, f);
        else g.valueInfo.set(v.name, v);
        break;
      }
      default:
        pushField(g, f);
    }
  }
  // Names first (a node's attributes may be read with its name in error messages).
  const used = new Set<string>();
  const named: { name: string; onnxName: string }[] = [];
  const rawNames: string[] = [];
  const ops: string[] = [];
  for (const [i, f] of nodeFields.entries()) {
    const sub = { ...ctx, path: `${gpath} node #${i}` };
    let name = '';
    let op = '';
    for (const h of readFields(bytesOf(f, ctx), sub)) {
      if (h.field === 3) name = str(h, sub);
      else if (h.field === 4) op = str(h, sub);
    }
    rawNames.push(name);
    ops.push(op);
    if (name) used.add(name);
  }
  const seen = new Set<string>();
  for (const [i, name] of rawNames.entries()) {
    if (name && !seen.has(name)) {
      seen.add(name);
      named.push({ name, onnxName: name });
      continue;
    }
    const base = name || `${ops[i] || 'node'}_${i}`;
    let n = base;
    for (let k = 1; used.has(n) || seen.has(n); k++) n = `${base}_${k}`;
    used.add(n);
    seen.add(n);
    named.push({ name: n, onnxName: name });
  }
  for (const [i, f] of nodeFields.entries()) {
    const { name, onnxName } = named[i] as { name: string; onnxName: string };
    g.nodes.push(readNode(bytesOf(f, ctx), r, depth, { ...ctx, path: `${gpath} node "${name}" (${ops[i]})` }, name, onnxName));
  }
  return g;
}

function readNode(buf: Uint8Array, r: Reader, depth: number, ctx: ReadContext, name: string, onnxName: string): Node {
  const node: Node = { name, opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  for (const f of readFields(buf, ctx)) {
    switch (f.field) {
      case 1:
        node.inputs.push(str(f, ctx));
        break;
      case 2:
        node.outputs.push(str(f, ctx));
        break;
      case 3:
        break;
      case 4:
        node.opType = str(f, ctx);
        break;
      case 7:
        node.domain = str(f, ctx);
        break;
      case 5: {
        const a = readAttribute(bytesOf(f, ctx), r, depth, ctx, name);
        if (Object.hasOwn(node.attributes, a.name)) pushField(node, f);
        else node.attributes[a.name] = a.attr;
        break;
      }
      case 6:
        node.docString = str(f, ctx);
        break;
      default:
        pushField(node, f);
    }
  }
  if (name !== onnxName) addExtra(node, 'nameInFile', { ir: name, onnx: onnxName });
  return node;
}

const ATTR_FIELD: Record<number, number> = { 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 10, 10: 11 };
const FIELD_TYPE: Record<number, number> = { 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 7, 9: 8, 10: 9, 11: 10 };

function readAttribute(
  buf: Uint8Array,
  r: Reader,
  depth: number,
  nodeCtx: ReadContext,
  nodeName: string,
): { name: string; attr: Attribute } {
  const fields = readFields(buf, nodeCtx);
  let name = '';
  let type = 0;
  for (const f of fields) {
    if (f.field === 1) name = str(f, nodeCtx);
    else if (f.field === 20) type = intNum(f, nodeCtx);
  }
  const ctx = { ...nodeCtx, path: `${nodeCtx.path} attribute "${name}"` };
  const rawAttr = { name, attr: { type: 'raw', value: { bytes: buf } } as Attribute };
  if (type === 0) {
    // IR version 1 files may omit the type: infer it from the one value field present.
    const present = fields.filter((f) => FIELD_TYPE[f.field] !== undefined);
    if (present.length === 0) return rawAttr;
    type = FIELD_TYPE[(present[0] as WireField).field] as number;
  }
  const valueField = ATTR_FIELD[type];
  if (valueField === undefined) return rawAttr;
  if (fields.some((f) => f.field !== 1 && f.field !== 20 && f.field !== valueField)) return rawAttr;
  const vals = fields.filter((f) => f.field === valueField);
  const isList = type >= 6;
  if (!isList && vals.length !== 1) return rawAttr;
  const one = vals[0] as WireField;
  const exactInt = (v: bigint) => Number.isSafeInteger(Number(v)) || v === 2n ** 63n - 1n || v === -(2n ** 63n);
  switch (type) {
    case 1:
      return { name, attr: { type: 'float', value: float32Of(one, ctx) } };
    case 2: {
      const v = int64(one, ctx);
      if (!exactInt(v)) return rawAttr;
      return { name, attr: { type: 'int', value: Number(v) } };
    }
    case 3: {
      const s = tryUtf8(bytesOf(one, ctx));
      if (s === undefined) return rawAttr;
      return { name, attr: { type: 'string', value: s } };
    }
    case 4:
      return { name, attr: { type: 'tensor', value: readAttrTensor(one, r, ctx) } };
    case 5:
      return { name, attr: { type: 'graph', value: readGraph(bytesOf(one, ctx), r, depth + 1, `${ctx.path} graph`) } };
    case 6: {
      const chunks: Uint8Array[] = [];
      for (const f of vals) pushFixed(f, ctx, 4, chunks);
      const out: number[] = [];
      for (const c of chunks) {
        const dv = new DataView(c.buffer, c.byteOffset, c.byteLength);
        for (let o = 0; o < c.byteLength; o += 4) out.push(dv.getFloat32(o, true));
      }
      return { name, attr: { type: 'floats', value: out } };
    }
    case 7: {
      const out: bigint[] = [];
      for (const f of vals) pushVarints(f, ctx, out);
      if (!out.every(exactInt)) return rawAttr;
      return { name, attr: { type: 'ints', value: out.map(Number) } };
    }
    case 8: {
      const out: string[] = [];
      for (const f of vals) {
        const s = tryUtf8(bytesOf(f, ctx));
        if (s === undefined) return rawAttr;
        out.push(s);
      }
      return { name, attr: { type: 'strings', value: out } };
    }
    case 9:
      return { name, attr: { type: 'tensors', value: vals.map((f) => readAttrTensor(f, r, ctx)) } };
    case 10:
      return {
        name,
        attr: { type: 'graphs', value: vals.map((f, i) => readGraph(bytesOf(f, ctx), r, depth + 1, `${ctx.path} graph #${i}`)) },
      };
  }
  void nodeName;
  return rawAttr;
}

function readAttrTensor(f: WireField, r: Reader, ctx: ReadContext): Tensor {
  const p = parseTensorProto(bytesOf(f, ctx), ctx);
  const t = tensorFromParsed(p, ctx, r.opts);
  const origin = onnxTensorInfo(t);
  if (origin && p.name) setOnnxTensorInfo(t, { ...origin, name: p.name });
  return t;
}

function readValueInfo(f: WireField, ctx: ReadContext): ValueInfo {
  const v: ValueInfo = { name: '' };
  for (const h of readFields(bytesOf(f, ctx), ctx)) {
    if (h.field === 1) v.name = str(h, ctx);
    else if (h.field === 2) readType(bytesOf(h, ctx), v, ctx);
    else if (h.field === 3) v.docString = str(h, ctx);
    else pushField(v, h);
  }
  return v;
}

/** Fills dtype/elemType/shape from a TypeProto; anything beyond a plain tensor type is also kept verbatim. */
function readType(buf: Uint8Array, v: ValueInfo, ctx: ReadContext): void {
  let simple = true;
  for (const f of readFields(buf, ctx)) {
    if (f.field !== 1) {
      simple = false;
      continue;
    }
    for (const t of readFields(bytesOf(f, ctx), ctx)) {
      if (t.field === 1) {
        const code = intNum(t, ctx);
        const info = onnxType(code);
        if (info?.kind === 'native') v.dtype = info.dtype;
        else if (code !== 0) v.elemType = info?.name ?? `onnx:${code}`;
      } else if (t.field === 2) {
        const shape: Dim[] = [];
        for (const d of readFields(bytesOf(t, ctx), ctx)) {
          if (d.field !== 1) {
            simple = false;
            continue;
          }
          let dim: Dim;
          let fieldsInDim = 0;
          for (const x of readFields(bytesOf(d, ctx), ctx)) {
            fieldsInDim++;
            if (x.field === 1) dim = intNum(x, ctx);
            else if (x.field === 2) {
              dim = str(x, ctx);
              if (dim === '') simple = false;
            } else simple = false;
          }
          if (fieldsInDim > 1) simple = false;
          shape.push(dim);
        }
        v.shape = shape;
      } else simple = false;
    }
  }
  if (!simple) addExtra(v, 'typeProto', buf);
}

/** Tells each subgraph which names its enclosing graphs define. */
function linkScopes(g: Graph, outer: Set<string> = new Set()): void {
  g.outerScope = new Set(outer);
  const visible = new Set(outer);
  for (const k of g.initializers.keys()) visible.add(k);
  for (const v of g.inputs) visible.add(v.name);
  for (const n of g.nodes) for (const o of n.outputs) visible.add(o);
  for (const n of g.nodes) for (const a of Object.values(n.attributes)) for (const s of subgraphsOf(a)) linkScopes(s, visible);
}

/**
 * Checks a graph (and its subgraphs): no cycle, every node input and graph output defined. Throws
 * `GRAPH_CYCLE` or `UNDEFINED_VALUE` naming the file and the node. `decodeModel` calls it unless
 * `validate: false`; call it after editing a graph read without validation.
 * @example validateGraph(model.graph, 'model.onnx');
 */
export function validateGraph(g: Graph, file?: string): void {
  try {
    g.topologicalOrder();
  } catch (e) {
    if (e instanceof NormkitError) {
      throw new NormkitError(e.code, `${file ? `${file}: ` : ''}${e.message}`, { ...e.details, file });
    }
    throw e;
  }
  const defined = new Set<string>([...g.outerScope, ...g.initializers.keys(), ...g.inputs.map((v) => v.name)]);
  for (const n of g.nodes) for (const o of n.outputs) defined.add(o);
  for (const o of g.outputs) {
    if (!defined.has(o.name)) {
      throw new NormkitError(
        'UNDEFINED_VALUE',
        `${file ? `${file}: ` : ''}graph "${g.name}": output "${o.name}" is not produced by any node, input or initializer`,
        { file, value: o.name },
      );
    }
  }
  for (const n of g.nodes) for (const a of Object.values(n.attributes)) for (const s of subgraphsOf(a)) validateGraph(s, file);
}
