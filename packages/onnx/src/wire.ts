import { NormkitError } from '@normkit/tensor';

/**
 * Protocol-buffers wire format, just enough for ONNX: a bounds-checked reader that never reads past
 * its slice, and a writer that collects chunks. Our own codec (rather than a generated one) lets the
 * ONNX layer keep every field it does not model as its exact bytes, so a round trip loses nothing,
 * and turns every malformed byte sequence into a `NormkitError('INVALID_ONNX')`.
 */

/** A field as read from the wire: its number, wire type, and where its bytes are. */
export interface WireField {
  field: number;
  wire: number;
  /** Varint payload (wire 0), as a bigint. */
  varint?: bigint;
  /** Payload bytes (wire 1: 8 bytes, wire 2: the length-delimited bytes, wire 5: 4 bytes). */
  bytes?: Uint8Array;
  /** The complete encoded field (tag and payload), for fields kept verbatim. */
  raw: Uint8Array;
}

/** Context for error messages: which file and which part of the model was being read. */
export interface ReadContext {
  file?: string;
  path: string;
}

export function invalid(ctx: ReadContext, what: string, extra: Record<string, unknown> = {}): NormkitError {
  const where = ctx.file ? `${ctx.file}: ` : '';
  return new NormkitError(
    'INVALID_ONNX',
    `${where}malformed ONNX protobuf at ${ctx.path}: ${what}. The file is truncated or not an ONNX model; re-export or re-download it`,
    { file: ctx.file, path: ctx.path, ...extra },
  );
}

/** Iterates over the fields of one message in `buf`. */
export function readFields(buf: Uint8Array, ctx: ReadContext): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  const end = buf.length;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw invalid(ctx, `truncated varint at byte ${pos}`, { offset: pos });
      const b = buf[pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw invalid(ctx, `varint longer than 10 bytes at byte ${pos}`, { offset: pos });
  };
  while (pos < end) {
    const start = pos;
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0 || field > 536870911) throw invalid(ctx, `field number ${field} at byte ${start}`, { offset: start });
    const f: WireField = { field, wire, raw: buf };
    if (wire === 0) f.varint = varint();
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > end) throw invalid(ctx, `truncated fixed-width field ${field} at byte ${start}`, { offset: start });
      f.bytes = buf.subarray(pos, pos + n);
      pos += n;
    } else if (wire === 2) {
      const len = varint();
      if (len > BigInt(end - pos)) {
        throw invalid(ctx, `field ${field} claims ${len} bytes but only ${end - pos} remain (byte ${start})`, { offset: start });
      }
      f.bytes = buf.subarray(pos, pos + Number(len));
      pos += Number(len);
    } else {
      throw invalid(ctx, `unsupported wire type ${wire} for field ${field} at byte ${start}`, { offset: start });
    }
    f.raw = buf.subarray(start, pos);
    out.push(f);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Enc = new TextEncoder();

/** Decodes UTF-8, or returns undefined when the bytes are not valid UTF-8. */
export function tryUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function str(f: WireField, ctx: ReadContext): string {
  const b = bytesOf(f, ctx);
  const s = tryUtf8(b);
  if (s === undefined) throw invalid(ctx, `field ${f.field} is not valid UTF-8 text`);
  return s;
}

export function bytesOf(f: WireField, ctx: ReadContext): Uint8Array {
  if (f.wire !== 2 || !f.bytes) throw invalid(ctx, `field ${f.field} should be length-delimited but has wire type ${f.wire}`);
  return f.bytes;
}

/** A varint field as a signed 64-bit bigint. */
export function int64(f: WireField, ctx: ReadContext): bigint {
  if (f.wire !== 0 || f.varint === undefined) throw invalid(ctx, `field ${f.field} should be a varint but has wire type ${f.wire}`);
  return BigInt.asIntN(64, f.varint);
}

/** A varint field as a JS number (signed 64-bit, clamped to ±2^63 like the bigint it is). */
export function intNum(f: WireField, ctx: ReadContext): number {
  return Number(int64(f, ctx));
}

export function float32Of(f: WireField, ctx: ReadContext): number {
  if (f.wire !== 5 || !f.bytes) throw invalid(ctx, `field ${f.field} should be a 32-bit float but has wire type ${f.wire}`);
  return new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
}

/** Repeated varints, packed (wire 2) or not (wire 0), appended to `out` as signed bigints. */
export function pushVarints(f: WireField, ctx: ReadContext, out: bigint[]): void {
  if (f.wire === 0) {
    out.push(int64(f, ctx));
    return;
  }
  const b = bytesOf(f, ctx);
  let pos = 0;
  while (pos < b.length) {
    let result = 0n;
    let shift = 0n;
    let done = false;
    for (let i = 0; i < 10 && pos < b.length; i++) {
      const x = b[pos++] as number;
      result |= BigInt(x & 0x7f) << shift;
      shift += 7n;
      if ((x & 0x80) === 0) {
        done = true;
        break;
      }
    }
    if (!done) throw invalid(ctx, `truncated packed varint in field ${f.field}`);
    out.push(BigInt.asIntN(64, result));
  }
}

/** Repeated fixed-width values (float: 4 bytes, double: 8), packed or not, as raw little-endian bytes. */
export function pushFixed(f: WireField, ctx: ReadContext, width: 4 | 8, out: Uint8Array[]): void {
  const expectWire = width === 4 ? 5 : 1;
  if (f.wire === expectWire && f.bytes) {
    out.push(f.bytes);
    return;
  }
  const b = bytesOf(f, ctx);
  if (b.length % width !== 0) throw invalid(ctx, `packed field ${f.field} has ${b.length} bytes, not a multiple of ${width}`);
  out.push(b);
}

/** Joins byte chunks. */
export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Collects an encoded message as a list of chunks (large payloads are not copied until the end). */
/**
 * Bytes of a known length produced only when they are written: a streamed tensor's raw_data, so that
 * a model saved as one file is not built in memory whole.
 */
export class DeferredBytes {
  constructor(
    readonly length: number,
    private readonly produce: () => Uint8Array,
  ) {}

  /** The bytes (produced now), checked to have the announced length. */
  bytes(): Uint8Array {
    const b = this.produce();
    if (b.length !== this.length)
      throw new NormkitError('CORRUPT_TENSOR', `a streamed tensor gave ${b.length} bytes when written, ${this.length} were announced`);
    return b;
  }
}

/** A piece of an encoded message: bytes, or bytes produced when written. */
export type Chunk = Uint8Array | DeferredBytes;

/** The bytes of a chunk (producing deferred ones). */
export function chunkBytes(c: Chunk): Uint8Array {
  return c instanceof DeferredBytes ? c.bytes() : c;
}

export class Writer {
  chunks: Chunk[] = [];
  length = 0;
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const b = Uint8Array.from(this.scratch);
    this.chunks.push(b);
    this.length += b.length;
    this.scratch = [];
  }

  private varintTo(v: bigint): void {
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.scratch.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.scratch.push(Number(x));
    if (this.scratch.length > 4096) this.flushScratch();
  }

  private tag(field: number, wire: number): void {
    this.varintTo(BigInt(field * 8 + wire));
  }

  /** A varint field (int32/int64/enum/bool). Numbers outside ±2^63 are clamped to int64's range. */
  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varintTo(typeof v === 'bigint' ? v : toInt64(v));
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.scratch.push(x);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varintTo(BigInt(b.length));
    if (b.length < 256) {
      for (const x of b) this.scratch.push(x);
    } else {
      this.flushScratch();
      this.chunks.push(b);
      this.length += b.length;
    }
    return this;
  }

  /** A bytes field whose content is produced when the message is written (see `DeferredBytes`). */
  deferredBytes(field: number, d: DeferredBytes): this {
    this.tag(field, 2);
    this.varintTo(BigInt(d.length));
    this.flushScratch();
    this.chunks.push(d);
    this.length += d.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8Enc.encode(s));
  }

  /** A nested message. */
  message(field: number, w: Writer): this {
    w.flushScratch();
    this.tag(field, 2);
    this.varintTo(BigInt(w.length));
    this.flushScratch();
    for (const c of w.chunks) this.chunks.push(c);
    this.length += w.length;
    return this;
  }

  /** Packed repeated varints. */
  packedInts(field: number, vs: ArrayLike<number | bigint>): this {
    const inner = new Writer();
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i] as number | bigint;
      inner.varintTo(typeof v === 'bigint' ? v : toInt64(v));
    }
    return this.message(field, inner);
  }

  /** Already-encoded bytes (a whole field kept verbatim). */
  raw(b: Uint8Array): this {
    this.flushScratch();
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  /** Total encoded size so far. */
  size(): number {
    return this.length + this.scratch.length;
  }

  finish(): Uint8Array {
    this.flushScratch();
    return concatBytes(this.chunks.map(chunkBytes));
  }

  /** The chunks, without joining them; deferred ones are produced by whoever writes them (streaming to a file). */
  finishChunks(): Chunk[] {
    this.flushScratch();
    return this.chunks;
  }
}

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

/** A JS number as int64, clamping ±2^63 (what INT64_MAX/MIN read back as) to int64's range. */
export function toInt64(v: number): bigint {
  if (!Number.isFinite(v)) return v > 0 ? I64_MAX : I64_MIN;
  const b = BigInt(Math.trunc(v));
  if (b > I64_MAX) return I64_MAX;
  if (b < I64_MIN) return I64_MIN;
  return b;
}
