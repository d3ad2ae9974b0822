import { isLazy, LazyTensor, packBits, setTensorDerivation, tagElemType, taggedElemType, unpackBits } from '@normkit/graph';
import { allocate, type DType, type DTypeArrays, fmtShape, NormkitError, Tensor } from '@normkit/tensor';
import { RAW_MARKER_FIELD } from './compact.js';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat, nativeCode, onnxType } from './dtypes.js';
import {
  bytesOf,
  concatBytes,
  DeferredBytes,
  int64,
  invalid,
  pushFixed,
  pushVarints,
  type ReadContext,
  readFields,
  str,
  type WireField,
  Writer,
} from './wire.js';

/** Default limit on the bytes one tensor may allocate: 4 GiB. */
export const DEFAULT_MAX_TENSOR_BYTES = 4 * 1024 ** 3;

/** Options shared by everything that turns TensorProtos into tensors. */
export interface TensorReadOptions {
  /** Largest tensor (in bytes, as held in memory) a model may declare; default 4 GiB. */
  maxTensorBytes?: number;
  /** File name for error messages. */
  fileName?: string;
  /**
   * Reads an external-data file named by a TensorProto's `location` (already checked to be a plain
   * relative path without `..`). Returns the whole file; the reader slices `offset`/`length` itself.
   */
  externalData?: (location: string) => Uint8Array;
  /** Like `externalData` but reads just a byte range (what `loadModel` uses for big files). */
  readExternal?: (location: string, offset: number, length: number | undefined) => Uint8Array;
  /** Read big tensors on demand instead of now, as `LazyTensor`s (what `loadModel` does). */
  lazy?: LazySource;
}

/** Tensors of at least this many bytes are read on demand when a `LazySource` is given (64 KiB). */
export const LAZY_MIN_BYTES = 64 * 1024;

/**
 * Where the tensors of a model read on demand come from: each function checks what it can now and
 * returns a reader called when the values are needed (and again after each `release()`).
 */
export interface LazySource {
  /** Tensors of fewer bytes are read at once (default `LAZY_MIN_BYTES`). */
  minBytes?: number;
  /** A reader of `length` bytes at `offset` of the external-data file `location` (a checked relative path). */
  external(location: string, offset: number, length: number): () => Uint8Array;
  /** A reader of raw_data held in the model file (`raw` is a view into the decoded bytes), or undefined to read it now. */
  inline?(raw: Uint8Array): (() => Uint8Array) | undefined;
  /**
   * The raw_data a compact read of the model file left out (see `readCompact`): its length and a
   * reader, by the index its marker field gives; undefined for an index it did not give.
   */
  marked?(index: number): { length: number; read: () => Uint8Array } | undefined;
}

/** How a tensor was stored in the file it came from, so the writer can store it the same way. */
export interface TensorOrigin {
  /** ONNX element type code (TensorProto.DataType). */
  elemType: number;
  /** raw_data, the typed repeated fields, or an external file. */
  form: 'raw' | 'typed' | 'external';
  docString?: string;
  /** TensorProto fields the IR does not model (metadata_props, segment, unknown), verbatim. */
  fields: Uint8Array[];
  /** The external file's location, when `form` is 'external'. */
  location?: string;
  /** The TensorProto's own name, for tensors held in attributes (Constant values). */
  name?: string;
}

const ORIGIN_KEY = Symbol.for('@normkit/onnx.tensorOrigin');
function originRegistry(): WeakMap<Tensor, TensorOrigin> {
  // One registry shared by every copy of this module (ESM and CJS builds loaded side by side).
  const g = globalThis as Record<symbol, unknown>;
  let m = g[ORIGIN_KEY] as WeakMap<Tensor, TensorOrigin> | undefined;
  if (!m) {
    m = new WeakMap<Tensor, TensorOrigin>();
    g[ORIGIN_KEY] = m;
  }
  return m;
}
const origins = originRegistry();

/**
 * How a tensor read from ONNX was stored (its ONNX element type, raw vs typed fields, doc string).
 * Undefined for tensors made in code. A tensor made by a pass (a new object) has no origin and is
 * written in its own dtype.
 * @example onnxTensorInfo(model.graph.initializers.get('w'))?.elemType // 10 for a float16 weight
 */
export function onnxTensorInfo(t: Tensor): TensorOrigin | undefined {
  return origins.get(t);
}

/** Records how `t` should be stored (used by the reader; exported for passes that replace a tensor and want to keep its ONNX type). @example setOnnxTensorInfo(newW, onnxTensorInfo(oldW)!) */
export function setOnnxTensorInfo(t: Tensor, origin: TensorOrigin): void {
  origins.set(t, origin);
}

/**
 * A tensor a graph pass derived from `from` (see @normkit/graph's `setTensorDerivation`), stored as
 * `from` is: a float16 or bfloat16 weight's centered copy stays float16 / bfloat16, its values rounded
 * once now, as the file will hold them; other tensors are returned as they are.
 * @example deriveStorage(halfWeight, centered) // float32 values rounded to float16, written as float16
 */
export function deriveStorage(from: Tensor, to: Tensor): Tensor {
  const o = origins.get(from);
  if (!o || (o.elemType !== 10 && o.elemType !== 16) || to.dtype !== 'float32') return to;
  const round = o.elemType === 10 ? (v: number) => halfToFloat(floatToHalf(v)) : (v: number) => bf16ToFloat(floatToBf16(v));
  const rounded = (src: Tensor) => Float32Array.from(src.data as Float32Array, round);
  // A streamed weight's derivation stays streamed: rounded when read.
  const t = isLazy(to) ? LazyTensor.derive(to, to.shape, 'float32', rounded) : new Tensor(to.shape, 'float32', rounded(to));
  origins.set(t, { elemType: o.elemType, form: o.form === 'typed' ? 'typed' : 'raw', fields: [] });
  return t;
}
// Loading a model through this package is what gives its tensors an origin, so registering here covers
// every model whose tensors have one.
setTensorDerivation(deriveStorage);

/** The bytes of a tensor normkit cannot compute with (string, complex, uint64, float8, 4-bit), kept as stored. */
export interface OpaqueData {
  elemType: number;
  typeName: string;
  /** Encoded TensorProto fields holding the values when they were in typed fields (string_data, ...). */
  typedFields: Uint8Array[];
  /** The raw_data bytes (or the bytes read from external data). */
  raw?: Uint8Array;
}

/**
 * A tensor of an ONNX type normkit does not compute with. Its shape is real; its dtype is a stand-in
 * (see `opaque.typeName`); reading `data` throws `UNSUPPORTED_DTYPE`. The writer restores its bytes.
 * @example
 * ```ts
 * const t = model.graph.initializers.get('labels');
 * if (t instanceof OpaqueTensor) console.log(t.opaque.typeName, t.shape); // 'string' [2]
 * ```
 */
export class OpaqueTensor extends Tensor {
  readonly opaque: OpaqueData;
  readonly valueName: string;
  constructor(shape: readonly number[], dtype: DType, opaque: OpaqueData, valueName: string) {
    super([0], dtype, allocate(dtype, 0));
    (this as { shape: readonly number[] }).shape = Object.freeze([...shape]);
    this.opaque = opaque;
    this.valueName = valueName;
  }
  override get data(): never {
    throw new NormkitError(
      'UNSUPPORTED_DTYPE',
      `tensor "${this.valueName}" ${fmtShape(this.shape)} has ONNX type ${this.opaque.typeName}, which normkit keeps as bytes but cannot compute with; convert the model to float32 first (or leave this tensor unused)`,
      { value: this.valueName, elemType: this.opaque.typeName },
    );
  }
}

/** A TensorProto split into its fields. */
export interface ParsedTensor {
  name: string;
  dims: number[];
  dataType: number;
  docString?: string;
  raw?: Uint8Array;
  floatData: Uint8Array[];
  doubleData: Uint8Array[];
  int32Data: bigint[];
  int64Data: bigint[];
  uint64Data: bigint[];
  stringData: Uint8Array[];
  /** Encoded fields holding typed data (kept for opaque tensors). */
  typedFields: Uint8Array[];
  external?: { location: string; offset: number; length?: number };
  externalEntries: Uint8Array[];
  dataLocation: number;
  /** Fields the IR does not model (segment, metadata_props, unknown), verbatim. */
  fields: Uint8Array[];
}

/** Splits a TensorProto's bytes into fields. */
export function parseTensorProto(buf: Uint8Array, ctx: ReadContext): ParsedTensor {
  const t: ParsedTensor = {
    name: '',
    dims: [],
    dataType: 0,
    floatData: [],
    doubleData: [],
    int32Data: [],
    int64Data: [],
    uint64Data: [],
    stringData: [],
    typedFields: [],
    externalEntries: [],
    dataLocation: 0,
    fields: [],
  };
  const dims: bigint[] = [];
  const ext = new Map<string, string>();
  for (const f of readFields(buf, ctx)) {
    switch (f.field) {
      case 1:
        pushVarints(f, ctx, dims);
        break;
      case 2:
        t.dataType = Number(int64(f, ctx));
        break;
      case 4:
        pushFixed(f, ctx, 4, t.floatData);
        t.typedFields.push(f.raw);
        break;
      case 5:
        pushVarints(f, ctx, t.int32Data);
        t.typedFields.push(f.raw);
        break;
      case 6:
        t.stringData.push(bytesOf(f, ctx));
        t.typedFields.push(f.raw);
        break;
      case 7:
        pushVarints(f, ctx, t.int64Data);
        t.typedFields.push(f.raw);
        break;
      case 8:
        t.name = str(f, ctx);
        break;
      case 9:
        t.raw = bytesOf(f, ctx);
        break;
      case 10:
        pushFixed(f, ctx, 8, t.doubleData);
        t.typedFields.push(f.raw);
        break;
      case 11:
        pushVarints(f, ctx, t.uint64Data);
        t.typedFields.push(f.raw);
        break;
      case 12:
        t.docString = str(f, ctx);
        break;
      case 13: {
        const entry = readFields(bytesOf(f, ctx), ctx);
        let k = '';
        let v = '';
        for (const e of entry) {
          if (e.field === 1) k = str(e, ctx);
          else if (e.field === 2) v = str(e, ctx);
        }
        ext.set(k, v);
        t.externalEntries.push(f.raw);
        break;
      }
      case 14:
        t.dataLocation = Number(int64(f, ctx));
        break;
      default:
        t.fields.push(f.raw);
    }
  }
  t.dims = dims.map((d, i) => {
    if (d < 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new NormkitError(
        'INVALID_SHAPE',
        `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}" at ${ctx.path} has dimension ${i} = ${d}; dimensions must be between 0 and 2^53`,
        { file: ctx.file, path: ctx.path, tensor: t.name },
      );
    }
    return Number(d);
  });
  if (t.dataLocation === 1 || ext.has('location')) {
    const location = ext.get('location');
    if (location === undefined) throw invalid(ctx, `tensor "${t.name}" says its data is external but gives no location`);
    const num = (k: string): number | undefined => {
      const s = ext.get(k);
      if (s === undefined) return undefined;
      if (!/^\d+$/.test(s)) throw invalid(ctx, `tensor "${t.name}" has external-data ${k} "${s}", which is not a non-negative integer`);
      return Number(s);
    };
    t.external = { location, offset: num('offset') ?? 0, length: num('length') };
  }
  return t;
}

function elementCount(t: ParsedTensor, ctx: ReadContext): number {
  let n = 1;
  for (const d of t.dims) n *= d;
  if (!Number.isSafeInteger(n)) {
    throw new NormkitError(
      'TENSOR_TOO_LARGE',
      `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}" has shape ${fmtShape(t.dims)}, too many elements`,
      {
        file: ctx.file,
        tensor: t.name,
      },
    );
  }
  return n;
}

/**
 * Checks an external-data `location` is a plain relative path (no absolute path, no `..`); throws
 * `UNSAFE_EXTERNAL_DATA` otherwise. (`loadModel` also refuses symlinks leading out of the folder.)
 * @example checkExternalLocation('weights.bin', 'w'); // ok
 * checkExternalLocation('../etc/passwd', 'w');          // throws UNSAFE_EXTERNAL_DATA
 */
export function checkExternalLocation(location: string, tensorName: string, file?: string): void {
  const where = `${file ? `${file}: ` : ''}tensor "${tensorName}"`;
  const refuse = (why: string) =>
    new NormkitError(
      'UNSAFE_EXTERNAL_DATA',
      `${where} has external data location "${location}", which ${why}; external data must be a relative path inside the model's folder (move the data file next to the model and fix the location)`,
      { file, tensor: tensorName, location },
    );
  if (location.length === 0) throw refuse('is empty');
  if (location.includes('\0')) throw refuse('contains a NUL byte');
  if (location.startsWith('/') || location.startsWith('\\') || /^[A-Za-z]:/.test(location)) throw refuse('is an absolute path');
  if (location.split(/[\\/]/).some((seg) => seg === '..')) throw refuse('goes up a folder with ".."');
}

/** The checked location and byte length of an external tensor. */
function externalRange(
  t: ParsedTensor,
  expected: number | undefined,
  ctx: ReadContext,
): { location: string; offset: number; length?: number } {
  const ext = t.external as NonNullable<ParsedTensor['external']>;
  checkExternalLocation(ext.location, t.name, ctx.file);
  if (ext.length !== undefined && expected !== undefined && ext.length !== expected) {
    throw new NormkitError(
      'CORRUPT_TENSOR',
      `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}" ${fmtShape(t.dims)} needs ${expected} bytes but its external data says length ${ext.length}`,
      { file: ctx.file, tensor: t.name },
    );
  }
  return { location: ext.location, offset: ext.offset, length: ext.length ?? expected };
}

/** Reads the bytes an external tensor points to. */
function readExternalBytes(t: ParsedTensor, expected: number | undefined, ctx: ReadContext, opts: TensorReadOptions): Uint8Array {
  const ext = externalRange(t, expected, ctx);
  const length = ext.length;
  let bytes: Uint8Array;
  if (opts.readExternal) bytes = opts.readExternal(ext.location, ext.offset, length);
  else if (opts.externalData) {
    const whole = opts.externalData(ext.location);
    const end = length === undefined ? whole.length : ext.offset + length;
    if (end > whole.length) {
      throw new NormkitError(
        'CORRUPT_TENSOR',
        `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}": external file "${ext.location}" has ${whole.length} bytes but the tensor needs bytes ${ext.offset}..${end}`,
        { file: ctx.file, tensor: t.name, location: ext.location },
      );
    }
    bytes = whole.subarray(ext.offset, end);
  } else {
    throw new NormkitError(
      'EXTERNAL_DATA_UNAVAILABLE',
      `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}" keeps its data in the external file "${ext.location}"; use loadModel(path) or pass decodeModel an externalData reader`,
      { file: ctx.file, tensor: t.name, location: ext.location },
    );
  }
  if (length !== undefined && bytes.length !== length) {
    throw new NormkitError(
      'CORRUPT_TENSOR',
      `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}": external file "${ext.location}" gave ${bytes.length} bytes at offset ${ext.offset}, expected ${length}`,
      { file: ctx.file, tensor: t.name, location: ext.location },
    );
  }
  return bytes;
}

function aligned(bytes: Uint8Array): ArrayBuffer {
  // A read that filled a buffer of its own is used as it is (no copy of a big tensor).
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

const OPAQUE_STANDIN: Record<string, DType> = { uint64: 'int64', uint4: 'int32', int4: 'int32', uint2: 'int32', int2: 'int32' };

/** Builds the IR tensor of a parsed TensorProto (checking sizes before allocating). */
export function tensorFromParsed(t: ParsedTensor, ctx: ReadContext, opts: TensorReadOptions = {}): Tensor {
  const where = `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}" ${fmtShape(t.dims)} (${ctx.path})`;
  const info = onnxType(t.dataType);
  if (!info) {
    throw new NormkitError(
      'UNSUPPORTED_DTYPE',
      `${where} has unknown ONNX data type ${t.dataType}; the file may be corrupt or newer than normkit`,
      {
        file: ctx.file,
        tensor: t.name,
        dataType: t.dataType,
      },
    );
  }
  const n = elementCount(t, ctx);
  const maxBytes = opts.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES;
  const heldBytes = n * Math.max(info.bytes, info.dtype ? { float32: 4, float64: 8, int32: 4, int64: 8, bool: 1 }[info.dtype] : 1);
  if (heldBytes > maxBytes) {
    throw new NormkitError(
      'TENSOR_TOO_LARGE',
      `${where} would need ${heldBytes} bytes, more than the limit of ${maxBytes}; raise maxTensorBytes if the model really is this large`,
      { file: ctx.file, tensor: t.name, bytes: heldBytes, limit: maxBytes },
    );
  }
  const rawBytes = info.code === 8 ? undefined : Math.ceil(n * info.bytes);
  const corrupt = (what: string) =>
    new NormkitError('CORRUPT_TENSOR', `${where}: ${what}; the file is damaged or was written by a broken exporter`, {
      file: ctx.file,
      tensor: t.name,
    });
  const marked = takeMarked(t, ctx, opts);
  if (marked && rawBytes !== undefined && marked.length !== rawBytes)
    throw corrupt(`raw data has ${marked.length} bytes, expected ${rawBytes}`);
  const lazy = lazyTensor(t, info, n, rawBytes, ctx, opts, corrupt, marked?.read);
  if (lazy) return lazy;
  if (marked && !t.external) t.raw = marked.read();
  let raw = t.raw;
  let form: TensorOrigin['form'] = raw ? 'raw' : 'typed';
  if (t.external) {
    raw = readExternalBytes(t, rawBytes, ctx, opts);
    form = 'external';
  }
  if (raw && rawBytes !== undefined && raw.length !== rawBytes) throw corrupt(`raw data has ${raw.length} bytes, expected ${rawBytes}`);

  if (info.kind === 'opaque') {
    if (!raw && info.code === 8 && t.stringData.length !== n && !(n === 0))
      throw corrupt(`has ${t.stringData.length} strings, expected ${n}`);
    const ot = new OpaqueTensor(
      t.dims,
      OPAQUE_STANDIN[info.name] ?? 'float32',
      { elemType: info.code, typeName: info.name, typedFields: raw ? [] : t.typedFields, raw },
      t.name,
    );
    origins.set(ot, { elemType: info.code, form, docString: t.docString, fields: t.fields, location: t.external?.location });
    return ot;
  }

  const dtype = info.dtype as DType;
  let data: DTypeArrays[DType];
  if (raw) {
    data = valuesOfRaw(info.code, raw, n, corrupt);
  } else {
    const count = (have: number) => {
      if (have !== n) throw corrupt(have === 0 ? `has no data (expected ${n} values)` : `has ${have} values, expected ${n}`);
    };
    switch (info.code) {
      case 1: {
        const b = concatBytes(t.floatData);
        count(b.length / 4);
        data = new Float32Array(aligned(b));
        break;
      }
      case 11: {
        const b = concatBytes(t.doubleData);
        count(b.length / 8);
        data = new Float64Array(aligned(b));
        break;
      }
      case 7:
        count(t.int64Data.length);
        data = BigInt64Array.from(t.int64Data);
        break;
      case 12:
        count(t.uint64Data.length);
        data = BigInt64Array.from(t.uint64Data, (v) => BigInt.asUintN(32, v));
        break;
      case 10:
        count(t.int32Data.length);
        data = Float32Array.from(t.int32Data, (v) => halfToFloat(Number(v) & 0xffff));
        break;
      case 16:
        count(t.int32Data.length);
        data = Float32Array.from(t.int32Data, (v) => bf16ToFloat(Number(v) & 0xffff));
        break;
      case 9:
        count(t.int32Data.length);
        data = Uint8Array.from(t.int32Data, (v) => (v !== 0n ? 1 : 0));
        break;
      case 21:
      case 22:
        // int32_data holds the packed bytes, two 4-bit values each.
        count(t.int32Data.length * 2 - (n % 2));
        data = unpackBits(
          Array.from(t.int32Data, (v) => Number(v & 0xffn)),
          n,
          4,
          info.code === 22,
        );
        break;
      default: {
        count(t.int32Data.length);
        const wrap: Record<number, (v: number) => number> = {
          2: (v) => v & 0xff,
          3: (v) => (v << 24) >> 24,
          4: (v) => v & 0xffff,
          5: (v) => (v << 16) >> 16,
          6: (v) => v | 0,
        };
        const w = wrap[info.code] as (v: number) => number;
        data = Int32Array.from(t.int32Data, (v) => w(Number(BigInt.asIntN(32, v))));
      }
    }
  }
  const tensor = new Tensor(t.dims, dtype, data);
  if (info.kind === 'widened') tagElemType(tensor, info.code);
  origins.set(tensor, { elemType: info.code, form, docString: t.docString, fields: t.fields, location: t.external?.location });
  return tensor;
}

/** The values of a tensor of ONNX type `code` from its little-endian raw bytes (float16 etc. widened). */
function valuesOfRaw(code: number, raw: Uint8Array, n: number, corrupt: (what: string) => NormkitError): DTypeArrays[DType] {
  const buf = aligned(raw);
  switch (code) {
    case 1:
      return new Float32Array(buf);
    case 11:
      return new Float64Array(buf);
    case 6:
      return new Int32Array(buf);
    case 7:
      return new BigInt64Array(buf);
    case 9:
      return new Uint8Array(buf);
    case 2:
      return Int32Array.from(new Uint8Array(buf));
    case 3:
      return Int32Array.from(new Int8Array(buf));
    case 4:
      return Int32Array.from(new Uint16Array(buf));
    case 5:
      return Int32Array.from(new Int16Array(buf));
    case 12: {
      const u = new Uint32Array(buf);
      const o = new BigInt64Array(n);
      for (let i = 0; i < n; i++) o[i] = BigInt(u[i] as number);
      return o;
    }
    case 10: {
      const u = new Uint16Array(buf);
      const o = new Float32Array(n);
      for (let i = 0; i < n; i++) o[i] = halfToFloat(u[i] as number);
      return o;
    }
    case 16: {
      const u = new Uint16Array(buf);
      const o = new Float32Array(n);
      for (let i = 0; i < n; i++) o[i] = bf16ToFloat(u[i] as number);
      return o;
    }
    case 21:
    case 22:
      return unpackBits(raw, n, 4, code === 22);
    default:
      throw corrupt(`unhandled data type ${onnxType(code)?.name ?? code}`);
  }
}

/**
 * The reader of the raw_data a compact read left out of `t` (its marker field, removed from `t.fields`),
 * when the decode has a `LazySource` that knows markers; otherwise the field stays an unknown field.
 */
function takeMarked(t: ParsedTensor, ctx: ReadContext, opts: TensorReadOptions): { length: number; read: () => Uint8Array } | undefined {
  const src = opts.lazy?.marked;
  if (!src) return undefined;
  const i = t.fields.findIndex((f) => fieldNumberOf(f) === RAW_MARKER_FIELD);
  if (i < 0) return undefined;
  const index = readFields(t.fields[i] as Uint8Array, ctx)[0]?.varint;
  t.fields.splice(i, 1);
  const got = index === undefined ? undefined : src(Number(index));
  if (!got) throw invalid(ctx, `tensor "${t.name}" has a raw-data marker ${index} that the read did not make`);
  return got;
}

/**
 * A `LazyTensor` decoding what `read` gives. Made apart from the parsed tensor so that its reader holds
 * no view into the decoded model file (a closure would keep the whole file alive).
 */
function lazyFromReader(
  dims: readonly number[],
  info: NonNullable<ReturnType<typeof onnxType>>,
  n: number,
  rawBytes: number,
  read: () => Uint8Array,
  where: string,
  file: string | undefined,
): LazyTensor {
  const corrupt = (what: string) =>
    new NormkitError('CORRUPT_TENSOR', `${where}: ${what}; the file is damaged or was changed after loading`, { file });
  return new LazyTensor(dims, info.dtype as DType, () => {
    const raw = read();
    if (raw.length !== rawBytes) throw corrupt(`reading its data gave ${raw.length} bytes, expected ${rawBytes}`);
    return valuesOfRaw(info.code, raw, n, corrupt);
  });
}

/** The tensor as a `LazyTensor` when `opts.lazy` is given and it is big and stored as bytes; else undefined. */
function lazyTensor(
  t: ParsedTensor,
  info: NonNullable<ReturnType<typeof onnxType>>,
  n: number,
  rawBytes: number | undefined,
  ctx: ReadContext,
  opts: TensorReadOptions,
  corrupt: (what: string) => NormkitError,
  marked: (() => Uint8Array) | undefined,
): Tensor | undefined {
  const src = opts.lazy;
  if (!src || info.kind === 'opaque' || rawBytes === undefined || rawBytes < (src.minBytes ?? LAZY_MIN_BYTES)) return undefined;
  let reader: (() => Uint8Array) | undefined;
  if (t.external) {
    const ext = externalRange(t, rawBytes, ctx);
    reader = src.external(ext.location, ext.offset, rawBytes);
  } else if (marked) reader = marked;
  else if (t.raw) {
    if (t.raw.length !== rawBytes) throw corrupt(`raw data has ${t.raw.length} bytes, expected ${rawBytes}`);
    reader = src.inline?.(t.raw);
  }
  if (!reader) return undefined;
  const where = `${ctx.file ? `${ctx.file}: ` : ''}tensor "${t.name}" ${fmtShape(t.dims)} (${ctx.path})`;
  const lt = lazyFromReader(t.dims, info, n, rawBytes, reader, where, ctx.file);
  origins.set(lt, {
    elemType: info.code,
    form: t.external ? 'external' : 'raw',
    docString: t.docString,
    // Copies: views would keep the whole decoded file alive.
    fields: t.fields.map((f) => f.slice()),
    location: t.external?.location,
  });
  // A narrow type held widened (int8 as int32, …) says so, as a tensor read now does.
  if (info.kind === 'widened') tagElemType(lt, info.code);
  return lt;
}

/** Where the writer may put a tensor's bytes instead of raw_data. */
export interface ExternalSink {
  /** Returns the location and offset where `bytes` were placed, or undefined to keep them inline. */
  place(name: string, bytes: Uint8Array): { location: string; offset: number } | undefined;
}

/** The little-endian bytes of a tensor in ONNX type `elemType` (undefined for types stored in typed fields only). */
function rawBytesOf(t: Tensor, elemType: number): Uint8Array {
  if (t instanceof OpaqueTensor) return t.opaque.raw ?? new Uint8Array(0);
  const d = t.data;
  const n = d.length;
  switch (elemType) {
    case 1:
    case 11:
    case 6:
    case 7:
    case 9:
      if (nativeCode(t.dtype) === elemType) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      break;
    case 2:
      return Uint8Array.from(d as Int32Array);
    case 3:
      return new Uint8Array(Int8Array.from(d as Int32Array).buffer);
    case 4:
      return new Uint8Array(Uint16Array.from(d as Int32Array).buffer);
    case 5:
      return new Uint8Array(Int16Array.from(d as Int32Array).buffer);
    case 12: {
      const o = new Uint32Array(n);
      for (let i = 0; i < n; i++) o[i] = Number(d[i]);
      return new Uint8Array(o.buffer);
    }
    case 10: {
      const o = new Uint16Array(n);
      for (let i = 0; i < n; i++) o[i] = floatToHalf(d[i] as number);
      return new Uint8Array(o.buffer);
    }
    case 16: {
      const o = new Uint16Array(n);
      for (let i = 0; i < n; i++) o[i] = floatToBf16(d[i] as number);
      return new Uint8Array(o.buffer);
    }
    case 21:
    case 22:
      return packBits(d as Int32Array, 4);
  }
  throw new NormkitError('UNSUPPORTED_DTYPE', `cannot store a ${t.dtype} tensor as ONNX type ${onnxType(elemType)?.name ?? elemType}`);
}

/** Which ONNX type a tensor is written as: its origin's type if its dtype still matches, else its own. */
function elemTypeFor(t: Tensor, origin: TensorOrigin | undefined): number {
  if (t instanceof OpaqueTensor) return t.opaque.elemType;
  if (origin && onnxType(origin.elemType)?.dtype === t.dtype) return origin.elemType;
  const tag = taggedElemType(t);
  if (tag !== undefined && onnxType(tag)?.dtype === t.dtype) return tag;
  return nativeCode(t.dtype);
}

/** Encodes a tensor as TensorProto fields into `w`. */
export function writeTensorProto(w: Writer, t: Tensor, name: string | undefined, sink?: ExternalSink): void {
  // Fields in field-number order, as protobuf's C++ serializer writes them, so an unchanged file
  // usually comes back byte for byte.
  const origin = origins.get(t);
  const elemType = elemTypeFor(t, origin);
  const typed: Uint8Array[] = [];
  let raw: Uint8Array | undefined;
  let placed: { location: string; offset: number } | undefined;
  let placedLength = 0;
  let deferred: DeferredBytes | undefined;
  // A streamed tensor read only to be written is released once its bytes are in the sink.
  const unload = isLazy(t) && !t.loaded && sink !== undefined;
  if (t instanceof OpaqueTensor) {
    typed.push(...t.opaque.typedFields);
    raw = t.opaque.raw;
    if (raw && sink && raw.length > 0) placed = sink.place(name ?? '', raw);
    placedLength = raw?.length ?? 0;
  } else {
    const typedOk = origin?.form === 'typed' && elemType !== 12;
    const width = onnxType(elemType)?.bytes ?? 0;
    if (typedOk && !sink) typed.push(writeTyped(t, elemType));
    else if (!sink && isLazy(t) && !t.loaded && Number.isInteger(width) && width > 0) {
      // Inline raw_data of a streamed tensor: read when the file is written, then released.
      const lazy = t;
      deferred = new DeferredBytes(t.size * width, () => {
        const bytes = rawBytesOf(lazy, elemType);
        lazy.release();
        return bytes;
      });
    } else {
      const bytes = rawBytesOf(t, elemType);
      placed = sink && bytes.length > 0 ? sink.place(name ?? '', bytes) : undefined;
      placedLength = bytes.length;
      if (!placed) {
        if (typedOk) typed.push(writeTyped(t, elemType));
        else raw = bytes;
      }
    }
  }
  const extra = origin?.fields ?? [];
  const byField = (fs: Uint8Array[], lo: number, hi: number) =>
    fs.filter((f) => {
      const n = fieldNumberOf(f);
      return n >= lo && n <= hi;
    });
  for (const d of t.shape) w.int(1, d);
  w.int(2, elemType);
  for (const f of byField(extra, 3, 3)) w.raw(f);
  for (const f of byField(typed, 4, 7)) w.raw(f);
  if (name !== undefined && name !== '') w.string(8, name);
  if (raw && !placed) w.bytes(9, raw);
  else if (deferred) w.deferredBytes(9, deferred);
  for (const f of byField(typed, 10, 11)) w.raw(f);
  if (origin?.docString !== undefined) w.string(12, origin.docString);
  if (placed) {
    const entry = (k: string, v: string) => new Writer().string(1, k).string(2, v);
    w.message(13, entry('location', placed.location));
    w.message(13, entry('offset', String(placed.offset)));
    w.message(13, entry('length', String(placedLength)));
    w.int(14, 1);
    if (unload) (t as LazyTensor).release();
  }
  for (const f of extra) if (fieldNumberOf(f) !== 3) w.raw(f);
}

/** The field number of an encoded field (its tag's varint >> 3). */
function fieldNumberOf(f: Uint8Array): number {
  let v = 0;
  let shift = 1;
  for (let i = 0; i < f.length && i < 5; i++) {
    const b = f[i] as number;
    v += (b & 0x7f) * shift;
    if ((b & 0x80) === 0) break;
    shift *= 128;
  }
  return Math.floor(v / 8);
}

function writeTyped(t: Tensor, elemType: number): Uint8Array {
  const w = new Writer();
  const d = t.data;
  if (d.length === 0) return w.finish();
  switch (elemType) {
    case 1:
      w.bytes(4, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      break;
    case 11:
      w.bytes(10, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      break;
    case 7:
      w.packedInts(7, d as BigInt64Array);
      break;
    case 10:
      w.packedInts(5, Array.from(d as Float32Array, floatToHalf));
      break;
    case 16:
      w.packedInts(5, Array.from(d as Float32Array, floatToBf16));
      break;
    case 21:
    case 22:
      w.packedInts(5, Array.from(packBits(d as Int32Array, 4)));
      break;
    default:
      w.packedInts(5, Array.from(d as ArrayLike<number>));
  }
  return w.finish();
}

/**
 * Reads a TensorProto (the bytes of a `.pb` file, or a TensorProto field) as a tensor. Types normkit
 * computes with come back as they are; float16/bfloat16/4-, 8- and 16-bit ints/uint32 widen exactly
 * (float32/int32/int64, tagged with their ONNX type: see `taggedElemType`); strings, complex, uint64,
 * float8 and 2-bit types give an `OpaqueTensor`.
 *
 * @example
 * ```ts
 * const x = tensorFromProto(readFileSync('test_data_set_0/input_0.pb'));
 * x.shape; // [3, 4, 5]
 * tensorName(readFileSync('test_data_set_0/input_0.pb')); // 'x'
 * ```
 */
export function tensorFromProto(bytes: Uint8Array, opts: TensorReadOptions = {}): Tensor {
  const ctx: ReadContext = { file: opts.fileName, path: 'TensorProto' };
  return tensorFromParsed(parseTensorProto(bytes, ctx), ctx, opts);
}

/** The `name` field of an encoded TensorProto ('' when unset). @example tensorName(pbBytes) // 'input_ids' */
export function tensorName(bytes: Uint8Array, fileName?: string): string {
  const ctx: ReadContext = { file: fileName, path: 'TensorProto' };
  for (const f of readFields(bytes, ctx)) if (f.field === 8) return str(f, ctx);
  return '';
}

/**
 * Encodes a tensor as a TensorProto (raw_data, little-endian), optionally named. A tensor read from
 * ONNX keeps its ONNX type (a float16 weight is written as float16) and storage form.
 * @example writeFileSync('input_0.pb', tensorToProto(Tensor.from([1, 2, 3]), 'x'));
 */
export function tensorToProto(t: Tensor, name?: string): Uint8Array {
  const w = new Writer();
  writeTensorProto(w, t, name);
  return w.finish();
}

export type { WireField };
