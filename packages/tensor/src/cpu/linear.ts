import type { ConvOptions, PoolOptions } from '../backend.js';
import { allocate, type DType } from '../dtype.js';
import { convShape, gemmShape, matmulShape, poolShape } from '../op-shapes.js';
import { broadcastStrides, sizeOf, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { depthwise2d } from './depthwise.js';
import { batchedMatmulWasm } from './fused-wasm.js';
import { gemmF32 } from './gemm.js';
import { gemmWasm, type PackB, type PackBFn } from './gemm-wasm.js';

/** Batched matmul with broadcast batch dims: a [..., M, K] · b [..., K, N]. */
export function matmulKernel(a: Tensor, b: Tensor): Tensor {
  const shape = matmulShape(a.shape, b.shape);
  const [M, N] = shape.slice(-2) as [number, number];
  const K = a.shape[a.rank - 1] as number;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = shape.slice(0, -2);
  const nb = sizeOf(batch);
  const out = allocate(a.dtype, nb * M * N, false) as Float32Array; // every element is written
  const A = a.data as Float32Array;
  const B = b.data as Float32Array;
  // A batch of A's rows against one shared B is one big GEMM: [nb·M, K] · [K, N].
  if (sizeOf(batchB) === 1 && sizeOf(batchA) === nb) {
    gemmF32(A, 0, B, 0, out, 0, nb * M, K, N, false, false, 1, 0);
    return new Tensor(shape, a.dtype, out);
  }
  const sa = broadcastStrides(batchA, batch);
  const sb = broadcastStrides(batchB, batch);
  const bstr = stridesOf(batch);
  /** Batch item i's offset into A's (which = sa) or B's (sb) batch, in items. */
  const itemOf = (i: number, st: number[]) => {
    let at = 0;
    let rem = i;
    for (let d = 0; d < batch.length; d++) {
      const q = Math.floor(rem / (bstr[d] as number));
      rem -= q * (bstr[d] as number);
      at += q * (st[d] as number);
    }
    return at;
  };
  const aOff = (i: number) => itemOf(i, sa) * M * K;
  const bOff = (i: number) => itemOf(i, sb) * K * N;
  if (smallBatchItems(nb, M, K, N) && A instanceof Float32Array && B instanceof Float32Array)
    if (batchedMatmulWasm(A, aOff, B, bOff, out, nb, M, K, N)) return new Tensor(shape, a.dtype, out);
  for (let i = 0; i < nb; i++) gemmF32(A, aOff(i), B, bOff(i), out, i * M * N, M, K, N, false, false, 1, 0);
  return new Tensor(shape, a.dtype, out);
}

/**
 * Whether a batch of products is attention's per-head kind: several items each too small for the
 * GEMM's copies and packing to pay (2^15 ≤ M·K·N < 2^22, below where it would use threads), which the
 * unpacked `mm` kernel runs 1.3–2× faster (measured on [12, 32, 64, 32] to [6, 197, 64, 197]).
 */
const smallBatchItems = (nb: number, M: number, K: number, N: number) => nb >= 2 && M * K * N >= 2 ** 15 && M * K * N < 2 ** 22;

export function gemmKernel(
  a: Tensor,
  b: Tensor,
  c: Tensor | undefined,
  o: { alpha: number; beta: number; transA: boolean; transB: boolean },
): Tensor {
  const [M, N] = gemmShape(a.shape, b.shape, o);
  const K = (o.transA ? a.shape[0] : a.shape[1]) as number;
  const out = allocate(a.dtype, M * N, false) as Float32Array; // every element is written (β = 0 overwrites)
  let beta = 0;
  if (c && o.beta !== 0 && c.size === N && c.shape[c.rank - 1] === N) {
    // A row bias (Linear's): the GEMM adds β·c to every row itself.
    const cd = c.data as Float32Array;
    const bias = o.beta === 1 ? cd : (cd.map((v) => v * o.beta) as Float32Array);
    gemmF32(a.data as Float32Array, 0, b.data as Float32Array, 0, out, 0, M, K, N, o.transA, o.transB, o.alpha, 0, bias);
    return new Tensor([M, N], a.dtype, out);
  }
  if (c && o.beta !== 0) {
    const cd = c.data as Float32Array;
    const st = broadcastStrides(c.shape, [M, N]);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] = cd[i * (st[0] as number) + j * (st[1] as number)]! * o.beta;
    beta = 1;
  }
  gemmF32(a.data as Float32Array, 0, b.data as Float32Array, 0, out, 0, M, K, N, o.transA, o.transB, o.alpha, beta);
  return new Tensor([M, N], a.dtype, out);
}

/**
 * Bytes the per-chunk temporaries of a convolution may take: the im2col column block (or the
 * WebAssembly GEMM's packed copy of it), the GEMM's result block in its memory, and the N-d window
 * table. The column matrix has Cin/G·kh·kw rows by one column per output position, so for a large
 * output it is many times the output itself (fuzz finding #8045, a Conv padded by 65536: a 1.7 GB
 * output, a 31 GB im2col); convolutions whose temporaries pass this budget run over chunks of output
 * positions. 32 MiB keeps every zoo model's convolution in one chunk (the largest takes 2.3 MiB: the
 * common case does no extra work) and leaves each chunk thousands of columns wide, where the GEMM
 * runs at full speed.
 */
export const CONV_CHUNK_BYTES = 32 * 2 ** 20;
let convChunkBytes = CONV_CHUNK_BYTES;

/**
 * For tests only: sets the chunk budget of `convKernel` / `convGradKernel` (bytes, default
 * `CONV_CHUNK_BYTES`) so that small convolutions take several chunks; returns the previous budget.
 * @example const prev = setConvChunkBytes(4096); try { conv(x, w); } finally { setConvChunkBytes(prev); }
 */
export function setConvChunkBytes(bytes: number): number {
  const prev = convChunkBytes;
  convChunkBytes = Math.max(1, Math.floor(bytes));
  return prev;
}

/**
 * Output positions per chunk when each takes `bytesPerColumn` bytes of temporaries: all P when they
 * fit in the budget, else a multiple of 64 (at least 64, so that a chunk fills the GEMM's panels).
 * @example convChunkColumns(3136, 4 * (576 + 64)) // 3136: one chunk
 */
export function convChunkColumns(P: number, bytesPerColumn: number): number {
  const fit = Math.floor(convChunkBytes / bytesPerColumn);
  if (fit >= P) return P;
  return Math.max(64, fit - (fit % 64));
}

/**
 * Convolution as im2col + GEMM per (batch, group): the column buffer holds, for each
 * (cin, kernel tap), the input values at every output position of a chunk (see `CONV_CHUNK_BYTES`),
 * and the GEMM writes that chunk's columns of the output.
 */
export function convKernel(x: Tensor, w: Tensor, bias: Tensor | undefined, o: Required<ConvOptions>): Tensor {
  const sp = x.rank - 2;
  const [N, C] = x.shape as [number, number];
  const Cout = w.shape[0] as number;
  const G = o.group;
  const Cg = C / G;
  const Coutg = Cout / G;
  const inSp = x.shape.slice(2) as number[];
  const kSp = w.shape.slice(2) as number[];
  const outSp = convShape(x.shape, w.shape, o).slice(2);
  const P = sizeOf(outSp);
  const KK = sizeOf(kSp);
  const rows = Cg * KK;
  const X = x.data as Float32Array;
  const W = w.data as Float32Array;
  const out = allocate(x.dtype, N * Cout * P) as Float32Array;
  const inSize = sizeOf(inSp);
  if (Cg === 1 && sp === 2 && G > 1 && X instanceof Float32Array && W instanceof Float32Array && out instanceof Float32Array) {
    const [H, Wd] = inSp as [number, number];
    const [kh, kw] = kSp as [number, number];
    const [oh, ow] = outSp as [number, number];
    depthwise2d(X, W, out, { N, C, mult: Coutg, H, W: Wd, kh, kw, oh, ow, strides: o.strides, pads: o.pads, dilations: o.dilations });
    return withBias(out, bias, N, Cout, P, x.dtype, [N, Cout, ...outSp]);
  }
  const pointwise = KK === 1 && o.strides.every((s) => s === 1) && o.pads.every((p) => p === 0);
  if (pointwise) {
    // x[n, g] is the column matrix itself: no temporary.
    for (let n = 0; n < N; n++)
      for (let g = 0; g < G; g++)
        gemmF32(W, g * Coutg * rows, X, (n * C + g * Cg) * inSize, out, (n * Cout + g * Coutg) * P, Coutg, rows, P, false, false, 1, 0);
    return withBias(out, bias, N, Cout, P, x.dtype, [N, Cout, ...outSp]);
  }
  const direct = sp <= 2 && X instanceof Float32Array && W instanceof Float32Array && Coutg * rows * P >= 4096;
  // Per output position: a column of im2col, of the GEMM's result (WebAssembly) and of the N-d table.
  const [pLo, pHi] = liveSpan(inSp, kSp, outSp, o);
  const span = convChunkColumns(pHi - pLo, X.BYTES_PER_ELEMENT * (rows + Coutg) + (sp > 2 ? 4 * KK : 0));
  const g2d = sp <= 2 ? geometry2d(inSp, kSp, outSp, o) : undefined;
  let colArr: Float32Array | undefined;
  for (let p0 = pLo; p0 < pHi; p0 += span) {
    const pc = Math.min(span, pHi - p0);
    // N-d (3-D and up) convolutions: where each tap of this chunk's windows reads.
    const tab = g2d ? undefined : windowTable(inSp, kSp, outSp, o.strides, o.pads, o.dilations, p0, pc).offsets;
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        const xOff = (n * C + g * Cg) * inSize;
        const yOff = (n * Cout + g * Coutg) * P + p0;
        // im2col straight into the GEMM's packed-B layout (no column matrix, no copy).
        const packer = direct && g2d && out instanceof Float32Array ? im2colPacker(X, xOff, inSize, Cg, g2d, p0, pc) : undefined;
        if (packer && gemmWasm(W, g * Coutg * rows, W, 0, out, yOff, Coutg, rows, pc, false, false, 1, 0, packer, undefined, P)) continue;
        colArr ??= allocate(x.dtype, rows * span) as Float32Array; // float64 inputs keep float64 columns
        if (g2d) im2col2d(X, xOff, inSize, Cg, g2d, p0, pc, colArr);
        else columnsByTable(X, xOff, inSize, Cg, tab!, KK, pc, colArr, false);
        gemmF32(W, g * Coutg * rows, colArr, 0, out, yOff, Coutg, rows, pc, false, false, 1, 0, undefined, P);
      }
    }
  }
  return withBias(out, bias, N, Cout, P, x.dtype, [N, Cout, ...outSp], pLo, pHi);
}

/**
 * Output positions [pLo, pHi) outside of which every kernel tap lies in the padding (the output there
 * is the bias alone, and the gradient gets nothing): the slices along the first spatial axis whose
 * windows reach the input. Conservative (a dilated window may still skip the input inside it); a
 * Conv padded far past its input computes only the part that reads it.
 * @example liveSpan([4, 5], [3, 3], [63, 5], { strides: [1, 1], pads: [60, 1, 1, 1], dilations: [1, 1], group: 1 }) // [290, 315]
 */
export function liveSpan(
  inSp: readonly number[],
  kSp: readonly number[],
  outSp: readonly number[],
  o: Required<ConvOptions>,
): [number, number] {
  const O = outSp[0]!;
  const inner = sizeOf(outSp) / Math.max(O, 1);
  const s = o.strides[0]!;
  const p = o.pads[0]!;
  const lo = Math.max(0, Math.ceil((p - (kSp[0]! - 1) * o.dilations[0]!) / s));
  const hi = Math.min(O, Math.floor((inSp[0]! - 1 + p) / s) + 1);
  return hi > lo ? [lo * inner, hi * inner] : [0, 0];
}

/** A 1-D or 2-D convolution's sizes as 2-D (1-D as H = 1): input, kernel, output, strides, pads, dilations. */
interface Geometry2d {
  H: number;
  W: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** `Geometry2d` of a 1-D/2-D convolution. @example geometry2d([5], [3], [3], opts).H // 1 */
function geometry2d(inSp: number[], kSp: number[], outSp: number[], o: Required<ConvOptions>): Geometry2d {
  const two = inSp.length === 2;
  const last = inSp.length - 1;
  return {
    H: two ? inSp[0]! : 1,
    W: inSp[last]!,
    KH: two ? kSp[0]! : 1,
    KW: kSp[last]!,
    OH: two ? outSp[0]! : 1,
    OW: outSp[last]!,
    sh: two ? o.strides[0]! : 1,
    sw: o.strides[last]!,
    ph: two ? o.pads[0]! : 0,
    pw: o.pads[last]!,
    dh: two ? o.dilations[0]! : 1,
    dw: o.dilations[last]!,
  };
}

/**
 * Adds the per-output-channel bias to out [N, Cout, P] in place and wraps it as a tensor. Positions
 * outside [pLo, pHi) hold zeros (nothing was computed there) and are filled with the bias instead.
 */
function withBias(
  out: Float32Array,
  bias: Tensor | undefined,
  N: number,
  Cout: number,
  P: number,
  dtype: DType,
  shape: number[],
  pLo = 0,
  pHi = P,
): Tensor {
  if (bias) {
    const bd = bias.data as Float32Array;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < Cout; c++) {
        const bv = bd[c]!;
        const base = (n * Cout + c) * P;
        out.fill(bv, base, base + pLo);
        for (let p = pLo; p < pHi; p++) out[base + p]! += bv;
        out.fill(bv, base + pHi, base + P);
      }
  }
  return new Tensor(shape, dtype, out);
}

/**
 * Where each tap of each sliding window reads, for any number of spatial dims: `offsets[k·count + i]`
 * is the offset inside one channel of kernel tap k at output position `from + i` (−1 in the padding),
 * and `padCount[i]` the number of taps inside the padded input (AveragePool's countIncludePad
 * divisor). By default every output position (`from` = 0, `count` = all); a convolution's chunk
 * passes its range.
 */
export function windowTable(
  inSp: readonly number[],
  kSp: readonly number[],
  outSp: readonly number[],
  strides: readonly number[],
  pads: readonly number[],
  dilations: readonly number[],
  from = 0,
  count = sizeOf(outSp) - from,
): { offsets: Int32Array; padCount: Int32Array } {
  const sp = inSp.length;
  const KK = sizeOf(kSp);
  const kStr = stridesOf(kSp);
  const oStr = stridesOf(outSp);
  const iStr = stridesOf(inSp);
  const offsets = new Int32Array(KK * count);
  const padCount = new Int32Array(count);
  for (let k = 0; k < KK; k++) {
    for (let i = 0; i < count; i++) {
      let kr = k;
      let pr = from + i;
      let off = 0;
      let valid = true;
      let inPad = true;
      for (let d = 0; d < sp; d++) {
        const kd = Math.floor(kr / kStr[d]!);
        kr -= kd * kStr[d]!;
        const od = Math.floor(pr / oStr[d]!);
        pr -= od * oStr[d]!;
        const id = od * strides[d]! - pads[d]! + kd * dilations[d]!;
        if (id < -pads[d]! || id >= inSp[d]! + pads[d + sp]!) inPad = false;
        if (id < 0 || id >= inSp[d]!) valid = false;
        off += id * iStr[d]!;
      }
      offsets[k * count + i] = valid ? off : -1;
      if (inPad) padCount[i]!++;
    }
  }
  return { offsets, padCount };
}

/**
 * Moves data between channels of an input (at `xOff`, `inSize` per channel) and a column matrix
 * through a `windowTable`: im2col (row (c, k) of `col` gets channel c's value at tap k of every
 * window, 0 in the padding) or, with `add`, its adjoint col2im (each entry added back where it came from).
 */
export function columnsByTable(
  X: Float32Array,
  xOff: number,
  inSize: number,
  Cg: number,
  tab: Int32Array,
  KK: number,
  P: number,
  col: Float32Array,
  add: boolean,
): void {
  for (let c = 0; c < Cg; c++) {
    const xc = xOff + c * inSize;
    for (let k = 0; k < KK; k++) {
      const row = (c * KK + k) * P;
      const t0 = k * P;
      if (add)
        for (let p = 0; p < P; p++) {
          const t = tab[t0 + p]!;
          if (t >= 0) X[xc + t]! += col[row + p]!;
        }
      else
        for (let p = 0; p < P; p++) {
          const t = tab[t0 + p]!;
          col[row + p] = t < 0 ? 0 : X[xc + t]!;
        }
    }
  }
}

/**
 * The part of the input that output positions [p0, p0 + pc) of a 1-D/2-D convolution read: rows
 * [h0, h1) and, when the chunk lies inside one output row, columns [w0, w1) (else all of them).
 */
function inputWindow(g: Geometry2d, p0: number, pc: number): { h0: number; h1: number; w0: number; w1: number } {
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  const ohA = Math.floor(p0 / g.OW);
  const ohB = Math.floor((p0 + pc - 1) / g.OW);
  const h0 = clamp(ohA * g.sh - g.ph, g.H);
  const h1 = Math.max(h0, clamp(ohB * g.sh - g.ph + (g.KH - 1) * g.dh + 1, g.H));
  if (ohA !== ohB) return { h0, h1, w0: 0, w1: g.W };
  const q0 = p0 - ohA * g.OW;
  const w0 = clamp(q0 * g.sw - g.pw, g.W);
  const w1 = Math.max(w0, clamp((q0 + pc - 1) * g.sw - g.pw + (g.KW - 1) * g.dw + 1, g.W));
  return { h0, h1, w0, w1 };
}

/**
 * Output columns ow of kernel column kw whose input column is inside [0, W): [lo, hi).
 * @example validColumns(geometry, 0) // { lo: 1, hi: 5 } with one column of left padding
 */
function validColumns(g: Geometry2d, kw: number): { wOff: number; lo: number; hi: number } {
  const wOff = kw * g.dw - g.pw;
  const lo = Math.min(g.OW, Math.max(0, Math.ceil(-wOff / g.sw)));
  const hi = Math.max(lo, Math.min(g.OW, Math.floor((g.W - 1 - wOff) / g.sw) + 1));
  return { wOff, lo, hi };
}

/**
 * im2col of output positions [p0, p0 + pc) for 1-D/2-D convolution written directly in the packed-B
 * layout of the WebAssembly GEMM (see `PackBFn`): row k = (c, kh, kw) of the column matrix, columns
 * = those output positions, zero past the last. Only the input window the chunk reads is copied in.
 */
function im2colPacker(X: Float32Array, xOff: number, inSize: number, Cg: number, g: Geometry2d, p0: number, pc: number): PackB {
  const { h0, h1, w0, w1 } = inputWindow(g, p0, pc);
  const wh = h1 - h0;
  const ww = w1 - w0;
  const fill: PackBFn = (f, bp, Np, KC, NR, ex, scratch) => {
    // The window of the group's input channels goes to scratch ([Cg, wh, ww]); the row kernel reads it there.
    const s0 = scratch >>> 2;
    if (ww === g.W && wh === g.H) f.set(X.subarray(xOff, xOff + Cg * inSize), s0);
    else
      for (let c = 0; c < Cg; c++)
        for (let ih = h0; ih < h1; ih++) {
          const src = xOff + c * inSize + ih * g.W;
          f.set(X.subarray(src + w0, src + w1), s0 + (c * wh + ih - h0) * ww);
        }
    const K = Cg * g.KH * g.KW;
    const sw4 = g.sw * 4;
    const ohA = Math.floor(p0 / g.OW);
    const ohB = Math.floor((p0 + pc - 1) / g.OW);
    let k = 0;
    for (let c = 0; c < Cg; c++) {
      const xc = scratch + c * wh * ww * 4;
      for (let kh = 0; kh < g.KH; kh++) {
        for (let kw = 0; kw < g.KW; kw++, k++) {
          const pc0 = Math.floor(k / KC) * KC;
          const step = Math.min(KC, K - pc0) * NR * 4;
          const rowBase = (bp + pc0 * Np + (k - pc0) * NR) * 4;
          let ptr = rowBase;
          const { wOff, lo, hi } = validColumns(g, kw);
          for (let oh = ohA; oh <= ohB; oh++) {
            // This output row's columns [q0, q1) in the chunk.
            const q0 = Math.max(0, p0 - oh * g.OW);
            const q1 = Math.min(g.OW, p0 + pc - oh * g.OW);
            const ih = oh * g.sh - g.ph + kh * g.dh;
            const inside = ih >= 0 && ih < g.H;
            const a = Math.min(q1, Math.max(lo, q0)) - q0;
            const b = Math.max(a + q0, Math.min(hi, q1)) - q0;
            const src = xc + ((ih - h0) * ww + q0 * g.sw + wOff - w0) * 4;
            // Out-of-range rows pass lo = hi = 0: all zeros, the (then meaningless) address is never read.
            ptr = ex.im2colRow(inside ? src : 0, sw4, inside ? a : 0, inside ? b : 0, q1 - q0, ptr, rowBase, step);
          }
          if (Np > pc) ptr = ex.im2colRow(0, 0, 0, 0, Np - pc, ptr, rowBase, step);
        }
      }
    }
  };
  return { fill, scratchBytes: Cg * wh * ww * 4 };
}

/**
 * im2col of output positions [p0, p0 + pc) for 1-D/2-D convolution (1-D as H = 1): row (c, kh, kw)
 * of `col` (pc values) holds, for each of those positions, the input value it multiplies (0 in the
 * padding). Output rows outside the input are zero-filled and, with stride 1, the inner loop is a
 * contiguous copy.
 */
function im2col2d(
  X: Float32Array,
  xOff: number,
  inSize: number,
  Cg: number,
  g: Geometry2d,
  p0: number,
  pc: number,
  col: Float32Array,
): void {
  const ohA = Math.floor(p0 / g.OW);
  const ohB = Math.floor((p0 + pc - 1) / g.OW);
  let row = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xOff + c * inSize;
    for (let kh = 0; kh < g.KH; kh++) {
      for (let kw = 0; kw < g.KW; kw++, row += pc) {
        const { wOff, lo, hi } = validColumns(g, kw);
        for (let oh = ohA; oh <= ohB; oh++) {
          const q0 = Math.max(0, p0 - oh * g.OW);
          const q1 = Math.min(g.OW, p0 + pc - oh * g.OW);
          const ih = oh * g.sh - g.ph + kh * g.dh;
          const dst = row + oh * g.OW - p0; // col[dst + ow] is output column ow of this row
          if (ih < 0 || ih >= g.H) {
            col.fill(0, dst + q0, dst + q1);
            continue;
          }
          const a = Math.min(q1, Math.max(lo, q0));
          const b = Math.max(a, Math.min(hi, q1));
          if (a > q0) col.fill(0, dst + q0, dst + a);
          const src = xc + ih * g.W + wOff;
          if (g.sw === 1) col.set(X.subarray(src + a, src + b), dst + a);
          else for (let ow = a; ow < b; ow++) col[dst + ow] = X[src + ow * g.sw]!;
          if (b < q1) col.fill(0, dst + b, dst + q1);
        }
      }
    }
  }
}

/**
 * Per output position along one axis: its first input index (`start`, may be negative), the taps
 * [lo, hi) that read inside the input, and how many taps lie inside the padded extent (the divisor
 * of AveragePool with count_include_pad).
 */
interface TapRanges {
  out: number;
  start: Int32Array;
  lo: Int32Array;
  hi: Int32Array;
  padded: Int32Array;
  dilation: number;
}

/** The `TapRanges` of one axis of a pooling window (input `size`, `out` positions, `k` taps). @example tapRanges(4, 2, 3, 2, 1, 1, 1).lo // [1, 0] */
function tapRanges(size: number, out: number, k: number, stride: number, padBegin: number, padEnd: number, dilation: number): TapRanges {
  const r = { out, start: new Int32Array(out), lo: new Int32Array(out), hi: new Int32Array(out), padded: new Int32Array(out), dilation };
  for (let o = 0; o < out; o++) {
    const s0 = o * stride - padBegin;
    let lo = k;
    let hi = 0;
    let padded = 0;
    for (let t = 0; t < k; t++) {
      const i = s0 + t * dilation;
      if (i >= 0 && i < size) {
        lo = Math.min(lo, t);
        hi = t + 1;
      }
      if (i >= -padBegin && i < size + padEnd) padded++;
    }
    r.start[o] = s0;
    r.lo[o] = lo;
    r.hi[o] = Math.max(hi, lo);
    r.padded[o] = padded;
  }
  return r;
}

/** 1-D and 2-D max / average pooling of `planes` planes, each window walked over its in-input taps only. */
function pool2d(
  kind: 'max' | 'avg',
  X: Float32Array,
  out: Float32Array,
  planes: number,
  plane: number,
  W: number,
  rows: TapRanges,
  cols: TapRanges,
  includePad: boolean,
): void {
  const max = kind === 'max';
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * plane;
    for (let oy = 0; oy < rows.out; oy++) {
      const [ys, ylo, yhi] = [rows.start[oy]!, rows.lo[oy]!, rows.hi[oy]!];
      for (let ox = 0; ox < cols.out; ox++) {
        const [xs, xlo, xhi] = [cols.start[ox]!, cols.lo[ox]!, cols.hi[ox]!];
        let acc = max ? Number.NEGATIVE_INFINITY : 0;
        for (let ty = ylo; ty < yhi; ty++) {
          const row = base + (ys + ty * rows.dilation) * W + xs;
          if (max)
            for (let tx = xlo; tx < xhi; tx++) {
              const v = X[row + tx * cols.dilation]!;
              if (v > acc) acc = v; // a NaN tap is skipped, as in the N-d loop
            }
          else for (let tx = xlo; tx < xhi; tx++) acc += X[row + tx * cols.dilation]!;
        }
        const count = includePad ? rows.padded[oy]! * cols.padded[ox]! : (yhi - ylo) * (xhi - xlo);
        out[o++] = max ? acc : acc / Math.max(count, 1);
      }
    }
  }
}

export function poolKernel(kind: 'max' | 'avg', x: Tensor, o: Required<PoolOptions>): Tensor {
  const sp = x.rank - 2;
  const [N, C] = x.shape as [number, number];
  const inSp = x.shape.slice(2) as number[];
  const kSp = o.kernelShape;
  const outSp = poolShape(x.shape, o).slice(2);
  const P = sizeOf(outSp);
  const KK = sizeOf(kSp);
  const kStr = stridesOf(kSp);
  const oStr = stridesOf(outSp);
  const iStr = stridesOf(inSp);
  const inSize = sizeOf(inSp);
  const X = x.data as Float32Array;
  const out = allocate(x.dtype, N * C * P) as Float32Array;
  if (sp <= 2) {
    const two = sp === 2;
    const rows = tapRanges(
      two ? inSp[0]! : 1,
      two ? outSp[0]! : 1,
      two ? kSp[0]! : 1,
      two ? o.strides[0]! : 1,
      two ? o.pads[0]! : 0,
      two ? o.pads[2]! : 0,
      two ? o.dilations[0]! : 1,
    );
    const cols = tapRanges(
      inSp[sp - 1]!,
      outSp[sp - 1]!,
      kSp[sp - 1]!,
      o.strides[sp - 1]!,
      o.pads[sp - 1]!,
      o.pads[2 * sp - 1]!,
      o.dilations[sp - 1]!,
    );
    pool2d(kind, X, out, N * C, inSize, inSp[sp - 1]!, rows, cols, o.countIncludePad);
    return new Tensor([N, C, ...outSp], x.dtype, out);
  }
  const pos = new Array<number>(sp);
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * inSize;
    for (let p = 0; p < P; p++) {
      let pr = p;
      for (let d = 0; d < sp; d++) {
        pos[d] = Math.floor(pr / oStr[d]!);
        pr -= pos[d]! * oStr[d]!;
      }
      let acc = kind === 'max' ? Number.NEGATIVE_INFINITY : 0;
      let count = 0;
      let padCount = 0;
      for (let k = 0; k < KK; k++) {
        let kr = k;
        let off = base;
        let valid = true;
        let inPad = true;
        for (let d = 0; d < sp; d++) {
          const kd = Math.floor(kr / kStr[d]!);
          kr -= kd * kStr[d]!;
          const id = pos[d]! * o.strides[d]! - o.pads[d]! + kd * o.dilations[d]!;
          if (id < -o.pads[d]! || id >= inSp[d]! + o.pads[d + sp]!) inPad = false;
          if (id < 0 || id >= inSp[d]!) valid = false;
          off += id * iStr[d]!;
        }
        if (inPad) padCount++;
        if (!valid) continue;
        const v = X[off]!;
        if (kind === 'max') {
          if (v > acc) acc = v;
        } else acc += v;
        count++;
      }
      out[nc * P + p] = kind === 'max' ? acc : acc / (o.countIncludePad ? padCount : Math.max(count, 1));
    }
  }
  return new Tensor([N, C, ...outSp], x.dtype, out);
}
