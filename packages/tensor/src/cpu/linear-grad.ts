import type { ConvOptions, PoolOptions } from '../backend.js';
import { allocate } from '../dtype.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { gemmF32 } from './gemm.js';
import { columnsByTable, windowTable } from './linear.js';

type Arr = Float32Array; // float32 or float64: gemmF32 takes the JS path for float64

/**
 * Gradients of a convolution, per (batch, group) with im2col + GEMM: dw += dy · colᵀ and
 * dcol = wᵀ · dy, then col2im scatter-adds dcol into dx (the transposed convolution). The GEMMs take
 * their transposes as flags (no copies); a pointwise conv (1×1, stride 1, no padding) skips im2col.
 * `need.dx` / `need.dw` false skip that gradient (undefined in the result).
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
  const P = sizeOf(dy.shape.slice(2));
  const KK = sizeOf(kSp);
  const rows = Cg * KK;
  const inSize = sizeOf(inSp);
  const X = x.data as Arr;
  const W = w.data as Arr;
  const DY = dy.data as Arr;
  const dx = allocate(dy.dtype, wantDx ? x.size : 0) as Arr;
  const dw = allocate(dy.dtype, wantDw ? w.size : 0) as Arr;
  const pointwise = KK === 1 && o.strides.every((s) => s === 1) && o.pads.every((p) => p === 0);
  const tab = pointwise ? undefined : windowTable(inSp, kSp, dy.shape.slice(2), o.strides, o.pads, o.dilations).offsets;
  const col = pointwise || !wantDw ? undefined : (allocate(dy.dtype, rows * P) as Arr);
  const dcol = pointwise || !wantDx ? undefined : (allocate(dy.dtype, rows * P) as Arr);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const xOff = (n * C + g * Cg) * inSize;
      const yOff = (n * Cout + g * Coutg) * P;
      const wOff = g * Coutg * rows;
      if (!tab) {
        // x[n, g] is the column matrix [Cg, P] itself, and dx[n, g] receives wᵀ · dy directly.
        if (wantDw) gemmF32(DY, yOff, X, xOff, dw, wOff, Coutg, P, rows, false, true, 1, 1);
        if (wantDx) gemmF32(W, wOff, DY, yOff, dx, xOff, rows, Coutg, P, true, false, 1, 0);
        continue;
      }
      if (col) {
        columnsByTable(X, xOff, inSize, Cg, tab, KK, P, col, false);
        gemmF32(DY, yOff, col, 0, dw, wOff, Coutg, P, rows, false, true, 1, 1);
      }
      if (dcol) {
        gemmF32(W, wOff, DY, yOff, dcol, 0, rows, Coutg, P, true, false, 1, 0);
        columnsByTable(dx, xOff, inSize, Cg, tab, KK, P, dcol, true);
      }
    }
  }
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
