/**
 * Kernel source generation for gpu.js.
 *
 * Every kernel has a flat 1-D output (`this.thread.x`) and reads its operands as flat 1-D arrays (or
 * textures). gpu.js computes indices in float32 on every backend (GLSL `float`, wasm `f32`), which is
 * exact only for integers below 2^24, so:
 * - a storage chunk holds at most `limit` ≤ 2^24 elements (and fits a square texture of the mode's
 *   `MAX_TEXTURE_SIZE`);
 * - a tensor larger than a chunk is split along a leading "row" axis into several chunks
 *   (textures), and every index is formed as (row, offset in row) so no intermediate value reaches
 *   2^24;
 * - integer division uses `floor((e + 0.5) / d)` plus an exact correction step.
 *
 * Shapes are compiled into the source as literals, so every kernel is specific to its shapes (and
 * cached by its source text).
 */
import { fmtShape, NormkitError, sizeOf, stridesOf } from '@normkit/tensor';

/** Largest integer that float32 index arithmetic represents exactly; storage chunks hold at most this many elements. @example MAX_EXACT_INDEX // 16777216 */
export const MAX_EXACT_INDEX = 2 ** 24;

/** How a tensor's flat elements are spread over storage chunks. */
export interface ChunkLayout {
  /** Elements per chunk (the last chunk may hold fewer). */
  readonly chunkElems: number;
  readonly nChunks: number;
}

/** An operand as the code generator sees it: argument name prefix, shape, chunking and offset. */
export interface OperandInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layout: ChunkLayout;
  /** Element offset into a single-chunk storage (views of a stats buffer). */
  readonly offset: number;
}

/** Layout for a tensor of `size` elements with at most `limit` elements per chunk, splitting along rows of `shape`. */
export function layoutFor(shape: readonly number[], limit: number): ChunkLayout {
  const size = sizeOf(shape);
  if (size <= limit) return { chunkElems: Math.max(size, 1), nChunks: 1 };
  // The longest suffix row that fits in a chunk; a chunk holds a whole number of such rows.
  for (let k = 0; k <= shape.length; k++) {
    const rowLen = sizeOf(shape.slice(k));
    if (rowLen > limit) continue;
    const rows = size / Math.max(rowLen, 1);
    if (rows >= MAX_EXACT_INDEX) break;
    const rowsPerChunk = Math.floor(limit / Math.max(rowLen, 1));
    const chunkElems = rowsPerChunk * rowLen;
    return { chunkElems, nChunks: Math.ceil(size / chunkElems) };
  }
  throw new NormkitError(
    'TENSOR_TOO_LARGE',
    `gpu backend: shape ${fmtShape(shape)} cannot be split into chunks of ${limit} elements with exact float32 indices; the CPU backend handles it`,
    { shape },
  );
}

/** The split of `shape` matching `layout`: row axis `k` and rows per chunk, or undefined if the layout does not align with this shape. */
export function splitFor(shape: readonly number[], layout: ChunkLayout): { k: number; rowLen: number; rowsPerChunk: number } | undefined {
  if (layout.nChunks === 1) return { k: 0, rowLen: Math.max(sizeOf(shape), 1), rowsPerChunk: 1 };
  for (let k = 0; k <= shape.length; k++) {
    const rowLen = Math.max(sizeOf(shape.slice(k)), 1);
    if (layout.chunkElems % rowLen !== 0) continue;
    if (sizeOf(shape) / rowLen >= MAX_EXACT_INDEX) return undefined;
    return { k, rowLen, rowsPerChunk: layout.chunkElems / rowLen };
  }
  return undefined;
}

/** Formats a number as a kernel literal (finite; infinities clamp to ±float max). */
export function lit(v: number): string {
  if (Number.isNaN(v)) throw new NormkitError('INVALID_ARGUMENT', 'gpu backend: NaN cannot be compiled into a kernel');
  if (v === Number.POSITIVE_INFINITY) v = 3.4028234663852886e38;
  if (v === Number.NEGATIVE_INFINITY) v = -3.4028234663852886e38;
  const s = Number.isInteger(v) && Math.abs(v) < 1e15 ? `${v}.0` : `${v}`;
  return v < 0 || s.startsWith('-') ? `(${s})` : s;
}

/** Builds the body of one kernel: unique variable names and statement lines. */
export class Code {
  private n = 0;
  readonly lines: string[] = [];
  /** A fresh variable name with `prefix`. */
  v(prefix = 'v'): string {
    return `${prefix}${this.n++}`;
  }
  push(line: string): void {
    this.lines.push(line);
  }
  /** Declares `let name = expr;` and returns the name. */
  let(expr: string, prefix = 'v'): string {
    const name = this.v(prefix);
    this.lines.push(`let ${name} = ${expr};`);
    return name;
  }
  /** Exact floor(e / d) for a non-negative integer expression e < 2^24 and a positive integer d. */
  floorDiv(e: string, d: number): string {
    if (d === 1) return e;
    const q = this.v('q');
    this.lines.push(`let ${q} = Math.floor((${e} + 0.5) / ${d});`);
    this.lines.push(`if (${q} * ${d} > ${e}) { ${q} = ${q} - 1; }`);
    this.lines.push(`if (${q} * ${d} + ${d} <= ${e}) { ${q} = ${q} + 1; }`);
    return q;
  }
  /** Splits a flat index `t` (< 2^24) into a multi-index over `shape` (size-1 dims give '0'). */
  unflatten(t: string, shape: readonly number[]): string[] {
    const strides = stridesOf(shape);
    const out: string[] = [];
    let rem = t;
    for (let d = 0; d < shape.length; d++) {
      const dim = shape[d] as number;
      if (dim === 1) {
        out.push('0');
        continue;
      }
      const s = strides[d] as number;
      if (d === shape.length - 1) {
        out.push(rem);
        break;
      }
      const q = this.floorDiv(rem, s);
      out.push(q);
      rem = this.let(`${rem} - ${q} * ${s}`, 'r');
    }
    return out;
  }
  /** Emits a read of operand `op` at multi-index `idx` (indices as expressions) and returns the value's variable name or expression. */
  read(op: OperandInfo, idx: readonly string[]): string {
    const shape = op.shape;
    if (shape.length !== idx.length) throw new Error(`codegen: ${op.name} has rank ${shape.length}, indexed with ${idx.length}`);
    const strides = stridesOf(shape);
    if (op.layout.nChunks === 1) {
      const terms: string[] = [];
      for (let d = 0; d < shape.length; d++)
        if ((shape[d] as number) > 1 && idx[d] !== '0')
          terms.push(strides[d] === 1 ? par(idx[d] as string) : `${par(idx[d] as string)} * ${strides[d]}`);
      if (op.offset) terms.push(`${op.offset}`);
      return `${op.name}_0[${terms.join(' + ') || '0'}]`;
    }
    const split = splitFor(shape, op.layout);
    if (!split)
      throw new NormkitError(
        'TENSOR_TOO_LARGE',
        `gpu backend: the split storage of a ${fmtShape(shape)} operand cannot be indexed exactly; the CPU backend handles it`,
        { shape },
      );
    const { k, rowLen, rowsPerChunk } = split;
    const leadStrides = stridesOf(shape.slice(0, k));
    const leadTerms: string[] = [];
    for (let d = 0; d < k; d++)
      if ((shape[d] as number) > 1 && idx[d] !== '0') leadTerms.push(`${par(idx[d] as string)} * ${leadStrides[d]}`);
    const restTerms: string[] = [];
    for (let d = k; d < shape.length; d++)
      if ((shape[d] as number) > 1 && idx[d] !== '0') restTerms.push(`${par(idx[d] as string)} * ${strides[d]}`);
    const lead = this.let(leadTerms.join(' + ') || '0', 'l');
    const rest = restTerms.join(' + ') || '0';
    const c = this.floorDiv(lead, rowsPerChunk);
    const val = this.v('x');
    this.lines.push(`let ${val} = 0.0;`);
    const n = op.layout.nChunks;
    for (let i = 0; i < n; i++) {
      const cond = i === n - 1 ? '' : `if (${c} < ${i}.5) `;
      const head = i === 0 ? cond : `else ${cond}`;
      this.lines.push(`${head}{ ${val} = ${op.name}_${i}[(${lead} - ${i * rowsPerChunk}) * ${rowLen} + ${rest}]; }`);
    }
    return val;
  }
}

/** Right-aligns `idx` (indices into a tensor of shape `outShape`) to an operand of `shape` that broadcasts to it. */
export function broadcastIndex(idx: readonly string[], outShape: readonly number[], shape: readonly number[]): string[] {
  const off = outShape.length - shape.length;
  return shape.map((d, i) => (d === 1 ? '0' : (idx[i + off] as string)));
}

/** Wraps a compound expression in parentheses. */
export function par(e: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$|^\d+(\.\d+)?$/.test(e) ? e : `(${e})`;
}
