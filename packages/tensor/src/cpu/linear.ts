import type { ConvOptions, PoolOptions } from '../backend.js';
import { allocate, type DType } from '../dtype.js';
import { convShape, gemmShape, matmulShape, poolShape } from '../op-shapes.js';
import { broadcastStrides, sizeOf, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { depthwise2d } from './depthwise.js';
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
  for (let i = 0; i < nb; i++) {
    let ia = 0;
    let ib = 0;
    let rem = i;
    for (let d = 0; d < batch.length; d++) {
      const q = Math.floor(rem / (bstr[d] as number));
      rem -= q * (bstr[d] as number);
      ia += q * (sa[d] as number);
      ib += q * (sb[d] as number);
    }
    gemmF32(A, ia * M * K, B, ib * K * N, out, i * M * N, M, K, N, false, false, 1, 0);
  }
  return new Tensor(shape, a.dtype, out);
}

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
 * Convolution as im2col + GEMM per (batch, group): the column buffer holds, for each
 * (cin, kernel tap), the input values at every output position.
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
  let colArr: Float32Array | undefined;
  const inSize = sizeOf(inSp);
  let tab: Int32Array | undefined; // N-d (3-D and up) convolutions: where each tap reads
  if (Cg === 1 && sp === 2 && G > 1 && X instanceof Float32Array && W instanceof Float32Array && out instanceof Float32Array) {
    const [H, Wd] = inSp as [number, number];
    const [kh, kw] = kSp as [number, number];
    const [oh, ow] = outSp as [number, number];
    depthwise2d(X, W, out, { N, C, mult: Coutg, H, W: Wd, kh, kw, oh, ow, strides: o.strides, pads: o.pads, dilations: o.dilations });
    return withBias(out, bias, N, Cout, P, x.dtype, [N, Cout, ...outSp]);
  }
  const pointwise = KK === 1 && o.strides.every((s) => s === 1) && o.pads.every((p) => p === 0);
  const direct = !pointwise && sp <= 2 && X instanceof Float32Array && W instanceof Float32Array && Coutg * rows * P >= 4096;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const xOff = (n * C + g * Cg) * inSize;
      if (direct && out instanceof Float32Array) {
        // im2col straight into the GEMM's packed-B layout (no column matrix, no copy).
        const g2 = im2colPacker(
          X,
          xOff,
          inSize,
          Cg,
          sp === 2 ? inSp[0]! : 1,
          inSp[sp - 1]!,
          sp === 2 ? kSp[0]! : 1,
          kSp[sp - 1]!,
          sp === 2 ? outSp[0]! : 1,
          outSp[sp - 1]!,
          sp === 2 ? o.strides[0]! : 1,
          o.strides[sp - 1]!,
          sp === 2 ? o.pads[0]! : 0,
          o.pads[sp - 1]!,
          sp === 2 ? o.dilations[0]! : 1,
          o.dilations[sp - 1]!,
        );
        if (gemmWasm(W, g * Coutg * rows, W, 0, out, (n * Cout + g * Coutg) * P, Coutg, rows, P, false, false, 1, 0, g2)) continue;
      }
      colArr ??= allocate(x.dtype, rows * P) as Float32Array; // float64 inputs keep float64 columns
      const col = colArr;
      let colBuf: Float32Array = col;
      let colOff = 0;
      if (pointwise) {
        colBuf = X;
        colOff = xOff;
      } else if (sp <= 2) {
        im2col2d(
          X,
          xOff,
          inSize,
          Cg,
          sp === 2 ? inSp[0]! : 1,
          inSp[sp - 1]!,
          sp === 2 ? kSp[0]! : 1,
          kSp[sp - 1]!,
          sp === 2 ? outSp[0]! : 1,
          outSp[sp - 1]!,
          sp === 2 ? o.strides[0]! : 1,
          o.strides[sp - 1]!,
          sp === 2 ? o.pads[0]! : 0,
          o.pads[sp - 1]!,
          sp === 2 ? o.dilations[0]! : 1,
          o.dilations[sp - 1]!,
          col,
        );
      } else {
        tab ??= windowTable(inSp, kSp, outSp, o.strides, o.pads, o.dilations).offsets;
        columnsByTable(X, xOff, inSize, Cg, tab, KK, P, col, false);
      }
      gemmF32(W, g * Coutg * rows, colBuf, colOff, out, (n * Cout + g * Coutg) * P, Coutg, rows, P, false, false, 1, 0);
    }
  }
  return withBias(out, bias, N, Cout, P, x.dtype, [N, Cout, ...outSp]);
}

/** Adds the per-output-channel bias to out [N, Cout, P] in place and wraps it as a tensor. */
function withBias(out: Float32Array, bias: Tensor | undefined, N: number, Cout: number, P: number, dtype: DType, shape: number[]): Tensor {
  if (bias) {
    const bd = bias.data as Float32Array;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < Cout; c++) {
        const bv = bd[c]!;
        const base = (n * Cout + c) * P;
        for (let p = 0; p < P; p++) out[base + p]! += bv;
      }
  }
  return new Tensor(shape, dtype, out);
}

/**
 * Where each tap of each sliding window reads, for any number of spatial dims: `offsets[k·P + p]` is
 * the offset inside one channel of kernel tap k at output position p (−1 in the padding), and
 * `padCount[p]` the number of taps inside the padded input (AveragePool's countIncludePad divisor).
 */
export function windowTable(
  inSp: readonly number[],
  kSp: readonly number[],
  outSp: readonly number[],
  strides: readonly number[],
  pads: readonly number[],
  dilations: readonly number[],
): { offsets: Int32Array; padCount: Int32Array } {
  const sp = inSp.length;
  const P = sizeOf(outSp);
  const KK = sizeOf(kSp);
  const kStr = stridesOf(kSp);
  const oStr = stridesOf(outSp);
  const iStr = stridesOf(inSp);
  const offsets = new Int32Array(KK * P);
  const padCount = new Int32Array(P);
  for (let k = 0; k < KK; k++) {
    for (let p = 0; p < P; p++) {
      let kr = k;
      let pr = p;
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
      offsets[k * P + p] = valid ? off : -1;
      if (inPad) padCount[p]!++;
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
 * im2col for 1-D/2-D convolution written directly in the packed-B layout of the WebAssembly GEMM
 * (see `PackBFn`): row k = (c, kh, kw) of the column matrix, columns = output positions, zero
 * past the last position.
 */
function im2colPacker(
  X: Float32Array,
  xOff: number,
  inSize: number,
  Cg: number,
  H: number,
  W: number,
  KH: number,
  KW: number,
  OH: number,
  OW: number,
  sh: number,
  sw: number,
  ph: number,
  pw: number,
  dh: number,
  dw: number,
): PackB {
  const fill: PackBFn = (f, bp, Np, KC, NR, ex, scratch) => {
    // The group's input channels go to scratch; the row kernel reads them from there.
    f.set(X.subarray(xOff, xOff + Cg * inSize), scratch >> 2);
    const K = Cg * KH * KW;
    const P = OH * OW;
    const sw4 = sw * 4;
    let k = 0;
    for (let c = 0; c < Cg; c++) {
      const xc = scratch + c * inSize * 4;
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++, k++) {
          const pc = Math.floor(k / KC) * KC;
          const step = Math.min(KC, K - pc) * NR * 4;
          const rowBase = (bp + pc * Np + (k - pc) * NR) * 4;
          let ptr = rowBase;
          const wOff = kw * dw - pw;
          const owLo = Math.min(OW, Math.max(0, Math.ceil(-wOff / sw)));
          const owHi = Math.max(owLo, Math.min(OW, Math.floor((W - 1 - wOff) / sw) + 1));
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * sh - ph + kh * dh;
            const inside = ih >= 0 && ih < H;
            // Out-of-range rows pass lo = hi = 0: all zeros, the (then meaningless) address is never read.
            ptr = ex.im2colRow(inside ? xc + (ih * W + wOff) * 4 : 0, sw4, inside ? owLo : 0, inside ? owHi : 0, OW, ptr, rowBase, step);
          }
          if (Np > P) ptr = ex.im2colRow(0, 0, 0, 0, Np - P, ptr, rowBase, step);
        }
      }
    }
  };
  return { fill, scratchBytes: Cg * inSize * 4 };
}

/**
 * im2col for 1-D/2-D convolution (1-D as H = 1): row (c, kh, kw) of `col` holds, for every output
 * position (oh, ow), the input value it multiplies (0 in the padding). Whole output rows outside the
 * input are zero-filled and, with stride 1, the inner loop is a contiguous copy.
 */
function im2col2d(
  X: Float32Array,
  xOff: number,
  inSize: number,
  Cg: number,
  H: number,
  W: number,
  KH: number,
  KW: number,
  OH: number,
  OW: number,
  sh: number,
  sw: number,
  ph: number,
  pw: number,
  dh: number,
  dw: number,
  col: Float32Array,
): void {
  const P = OH * OW;
  let row = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xOff + c * inSize;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++, row += P) {
        const wOff = kw * dw - pw;
        // Output columns whose input column is inside [0, W): ow in [owLo, owHi).
        const owLo = Math.min(OW, Math.max(0, Math.ceil(-wOff / sw)));
        const owHi = Math.max(owLo, Math.min(OW, Math.floor((W - 1 - wOff) / sw) + 1));
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sh - ph + kh * dh;
          const dst = row + oh * OW;
          if (ih < 0 || ih >= H) {
            col.fill(0, dst, dst + OW);
            continue;
          }
          if (owLo > 0) col.fill(0, dst, dst + owLo);
          const src = xc + ih * W + wOff;
          if (sw === 1) col.set(X.subarray(src + owLo, src + owHi), dst + owLo);
          else for (let ow = owLo; ow < owHi; ow++) col[dst + ow] = X[src + ow * sw]!;
          if (owHi < OW) col.fill(0, dst + owHi, dst + OW);
        }
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
