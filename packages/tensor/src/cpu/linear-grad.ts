import type { ConvOptions, PoolOptions } from '../backend.js';
import { allocate } from '../dtype.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { gemmF32 } from './gemm.js';
import { columnsByTable, convChunkColumns, liveSpan, windowTable } from './linear.js';

type Arr = Float32Array; // float32 or float64: gemmF32 takes the JS path for float64

/**
 * Gradients of a convolution, per (batch, group) with im2col + GEMM: dw += dy · colᵀ and
 * dcol = wᵀ · dy, then col2im scatter-adds dcol into dx (the transposed convolution). The GEMMs take
 * their transposes as flags (no copies); a pointwise conv (1×1, stride 1, no padding) skips im2col.
 * Large outputs run over chunks of output positions (see `CONV_CHUNK_BYTES`), each with its own
 * window table, column blocks and a copy of its dy columns. `need.dx` / `need.dw` false skip that
 * gradient (undefined in the result).
 */
export function convGradKernel(
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  o: Required<ConvOptions>,
  need: { dx?: boolean; dw?: boolean } = {},
): { dx: Tensor | undefined; dw: Tensor | undefined } {
  const wantDx = need.dx ?? true;
  const wantDw = need.dw ?? true;
  const [N, C] = x.shape as [number, number];
  const Cout = w.shape[0] as number;
  const G = o.group;
  const Cg = C / G;
  const Coutg = Cout / G;
  const inSp = x.shape.slice(2);
  const kSp = w.shape.slice(2);
  const outSp = dy.shape.slice(2);
  const P = sizeOf(outSp);
  const KK = sizeOf(kSp);
  const rows = Cg * KK;
  const inSize = sizeOf(inSp);
  const X = x.data as Arr;
  const W = w.data as Arr;
  const DY = dy.data as Arr;
  const dx = allocate(dy.dtype, wantDx ? x.size : 0) as Arr;
  const dw = allocate(dy.dtype, wantDw ? w.size : 0) as Arr;
  const pointwise = KK === 1 && o.strides.every((s) => s === 1) && o.pads.every((p) => p === 0);
  if (pointwise) {
    // x[n, g] is the column matrix [Cg, P] itself, and dx[n, g] receives wᵀ · dy directly.
    for (let n = 0; n < N; n++)
      for (let g = 0; g < G; g++) {
        const xOff = (n * C + g * Cg) * inSize;
        const yOff = (n * Cout + g * Coutg) * P;
        if (wantDw) gemmF32(DY, yOff, X, xOff, dw, g * Coutg * rows, Coutg, P, rows, false, true, 1, 1);
        if (wantDx) gemmF32(W, g * Coutg * rows, DY, yOff, dx, xOff, rows, Coutg, P, true, false, 1, 0);
      }
    return result(x, w, dy, dx, dw, wantDx, wantDw);
  }
  // Per output position: a column of the table, of col and dcol, and of the dy copy.
  const [pLo, pHi] = liveSpan(inSp, kSp, outSp, o);
  const el = DY.BYTES_PER_ELEMENT;
  const span = convChunkColumns(pHi - pLo, 4 * KK + el * ((wantDw ? rows : 0) + (wantDx ? rows : 0) + Coutg));
  const col = wantDw ? (allocate(dy.dtype, rows * span) as Arr) : undefined;
  const dcol = wantDx ? (allocate(dy.dtype, rows * span) as Arr) : undefined;
  const dyc = span < P ? (allocate(dy.dtype, Coutg * span) as Arr) : undefined; // dy's columns of a chunk
  for (let p0 = pLo; p0 < pHi; p0 += span) {
    const pc = Math.min(span, pHi - p0);
    const tab = windowTable(inSp, kSp, outSp, o.strides, o.pads, o.dilations, p0, pc).offsets;
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        const xOff = (n * C + g * Cg) * inSize;
        const wOff = g * Coutg * rows;
        // This chunk's dy columns [Coutg, pc] (dy itself when the chunk is all of its positions).
        let D = DY;
        let dOff = (n * Cout + g * Coutg) * P;
        if (dyc) {
          for (let r = 0; r < Coutg; r++) dyc.set(DY.subarray(dOff + r * P + p0, dOff + r * P + p0 + pc), r * pc);
          D = dyc;
          dOff = 0;
        }
        if (col) {
          columnsByTable(X, xOff, inSize, Cg, tab, KK, pc, col, false);
          gemmF32(D, dOff, col, 0, dw, wOff, Coutg, pc, rows, false, true, 1, 1);
        }
        if (dcol) {
          gemmF32(W, wOff, D, dOff, dcol, 0, rows, Coutg, pc, true, false, 1, 0);
          columnsByTable(dx, xOff, inSize, Cg, tab, KK, pc, dcol, true);
        }
      }
    }
  }
  return result(x, w, dy, dx, dw, wantDx, wantDw);
}

/** The gradients as tensors (undefined where not wanted). */
function result(x: Tensor, w: Tensor, dy: Tensor, dx: Arr, dw: Arr, wantDx: boolean, wantDw: boolean) {
  return {
    dx: wantDx ? new Tensor(x.shape, dy.dtype, dx as never) : undefined,
    dw: wantDw ? new Tensor(w.shape, dy.dtype, dw as never) : undefined,
  };
}

/**
 * Gradient of max pooling (each window's dy goes to its first maximum, the element the forward
 * picked) or average pooling (dy / divisor to every input element of the window).
 */
export function poolGradKernel(kind: 'max' | 'avg', dy: Tensor, x: Tensor, o: Required<PoolOptions>): Tensor {
  const [N, C] = x.shape as [number, number];
  const inSp = x.shape.slice(2);
  const P = sizeOf(dy.shape.slice(2));
  const KK = sizeOf(o.kernelShape);
  const inSize = sizeOf(inSp);
  const { offsets: tab, padCount } = windowTable(inSp, o.kernelShape, dy.shape.slice(2), o.strides, o.pads, o.dilations);
  const X = x.data as Arr;
  const DY = dy.data as Arr;
  const dx = allocate(dy.dtype, x.size) as Arr;
  if (kind === 'avg') {
    const scale = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      let count = 0;
      for (let k = 0; k < KK; k++) if (tab[k * P + p]! >= 0) count++;
      scale[p] = 1 / (o.countIncludePad ? padCount[p]! : Math.max(count, 1));
    }
    for (let nc = 0; nc < N * C; nc++) {
      const base = nc * inSize;
      for (let k = 0; k < KK; k++)
        for (let p = 0; p < P; p++) {
          const t = tab[k * P + p]!;
          if (t >= 0) dx[base + t]! += DY[nc * P + p]! * scale[p]!;
        }
    }
  } else {
    const best = new Int32Array(P);
    const bestV = new Float64Array(P);
    for (let nc = 0; nc < N * C; nc++) {
      const base = nc * inSize;
      best.fill(-1);
      bestV.fill(Number.NEGATIVE_INFINITY);
      for (let k = 0; k < KK; k++)
        for (let p = 0; p < P; p++) {
          const t = tab[k * P + p]!;
          if (t >= 0 && X[base + t]! > bestV[p]!) {
            bestV[p] = X[base + t]!;
            best[p] = t;
          }
        }
      for (let p = 0; p < P; p++) if (best[p]! >= 0) dx[base + best[p]!]! += DY[nc * P + p]!;
    }
  }
  return new Tensor(x.shape, dy.dtype, dx as never);
}
