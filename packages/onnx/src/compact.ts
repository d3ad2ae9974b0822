// Reading a single-file model without holding it: the model file is scanned with positional reads and
// copied into memory except the raw_data of its big initializers, each replaced by a marker field
// naming its byte range in the file; the decoder turns a marked tensor into a LazyTensor reading that
// range. Anything unexpected (a malformed file, a group, a marker already in the file) makes the
// scanner give up, and the caller reads the file whole, where the decoder reports the problem.

type Fs = typeof import('node:fs');

/** The field number standing in for a removed raw_data (the highest protobuf allows; no ONNX field uses it). */
export const RAW_MARKER_FIELD = 536870911;

/** A model file's bytes without the big raw_data payloads, and where those are in the file. */
export interface CompactModel {
  /** The ModelProto with each big initializer's raw_data replaced by a marker (field `RAW_MARKER_FIELD`, varint index). */
  bytes: Uint8Array;
  /** File offset and length of each removed raw_data, by marker index. */
  ranges: { offset: number; length: number }[];
}

class GiveUp extends Error {}

/** Positional reads through a window of the file (so that reading a varint is not a system call). */
class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private at = 0;

  constructor(
    private readonly fs: Fs,
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** `n` bytes at `pos` (a copy when `n` is big; a view into the window otherwise). */
  bytes(pos: number, n: number): Uint8Array {
    if (pos < 0 || n < 0 || pos + n > this.size) throw new GiveUp('past the end');
    if (pos >= this.at && pos + n <= this.at + this.buf.length) return this.buf.subarray(pos - this.at, pos - this.at + n);
    if (n > 1 << 20) return this.read(pos, n);
    this.buf = this.read(pos, Math.min(4 << 20, this.size - pos));
    this.at = pos;
    return this.buf.subarray(0, n);
  }

  private read(pos: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const got = this.fs.readSync(this.fd, out, done, n - done, pos + done);
      if (got === 0) throw new GiveUp('short read');
      done += got;
    }
    return out;
  }

  /** The varint at `pos` and the position after it. */
  varint(pos: number, end: number): [number, number] {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new GiveUp('truncated varint');
      const b = this.bytes(pos++, 1)[0] as number;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(v)) throw new GiveUp('varint too large');
        return [v, pos];
      }
      mul *= 128;
    }
    throw new GiveUp('varint too long');
  }
}

interface Field {
  field: number;
  wire: number;
  start: number;
  /** Where a length-delimited payload starts (wire 2). */
  value: number;
  end: number;
}

function* fields(c: Cursor, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const [tag, p] = c.varint(pos, end);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new GiveUp('field 0');
    let value = p;
    let next: number;
    if (wire === 0) next = c.varint(p, end)[1];
    else if (wire === 1) next = p + 8;
    else if (wire === 5) next = p + 4;
    else if (wire === 2) {
      const [len, q] = c.varint(p, end);
      value = q;
      next = q + len;
    } else throw new GiveUp('group');
    if (next > end) throw new GiveUp('field past its message');
    yield { field, wire, start: pos, value, end: next };
    pos = next;
  }
}

function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field `field` holding `parts`. */
function message(field: number, parts: Uint8Array[]): Uint8Array[] {
  const len = parts.reduce((n, p) => n + p.length, 0);
  return [Uint8Array.from([...varintBytes(field * 8 + 2), ...varintBytes(len)]), ...parts];
}

const copy = (c: Cursor, f: Field) => c.bytes(f.start, f.end - f.start).slice();

function tensor(c: Cursor, start: number, end: number, minBytes: number, ranges: CompactModel['ranges']): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of fields(c, start, end)) {
    if (f.field === RAW_MARKER_FIELD) throw new GiveUp('the file uses the marker field');
    if (f.field === 9 && f.wire === 2 && f.end - f.value >= minBytes) {
      out.push(Uint8Array.from([...varintBytes(RAW_MARKER_FIELD * 8), ...varintBytes(ranges.length)]));
      ranges.push({ offset: f.value, length: f.end - f.value });
    } else out.push(copy(c, f));
  }
  return out;
}

function graph(c: Cursor, start: number, end: number, minBytes: number, ranges: CompactModel['ranges']): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of fields(c, start, end))
    out.push(...(f.field === 5 && f.wire === 2 ? message(5, tensor(c, f.value, f.end, minBytes, ranges)) : [copy(c, f)]));
  return out;
}

/**
 * The model file open on `fd` without the raw_data of its top-level initializers of `minBytes` or more,
 * read with positional reads; undefined when the file is not a well-formed ModelProto this scanner
 * handles (read it whole then).
 * @example const compact = readCompact(fs, fd, size, 64 * 1024); // { bytes, ranges }
 */
export function readCompact(fs: Fs, fd: number, size: number, minBytes: number): CompactModel | undefined {
  const c = new Cursor(fs, fd, size);
  const ranges: CompactModel['ranges'] = [];
  const out: Uint8Array[] = [];
  try {
    for (const f of fields(c, 0, size))
      out.push(...(f.field === 7 && f.wire === 2 ? message(7, graph(c, f.value, f.end, minBytes, ranges)) : [copy(c, f)]));
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
  const n = out.reduce((a, p) => a + p.length, 0);
  const bytes = new Uint8Array(n);
  let o = 0;
  for (const p of out) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, ranges };
}
