import type { ReduceOp } from '../backend.js';
import { allocate } from '../dtype.js';
import { reduceShape, transposeShape } from '../op-shapes.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { softmaxRowsWasm } from './fused-wasm.js';

/**
 * Views x as [outer, reduced, inner] blocks when the reduced axes are contiguous; otherwise
 * transposes them to the end first. Accumulates in float64.
 */
export function reduceKernel(op: ReduceOp, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  const outShape = reduceShape(x.shape, axes, keepDims);
  const contiguous = axes.every((a, i) => i === 0 || a === (axes[i - 1] as number) + 1);
  let src = x.data as ArrayLike<number | bigint>;
  let outer: number;
  let red: number;
  let inner: number;
  if (contiguous) {
    outer = sizeOf(x.shape.slice(0, axes[0]));
    red = sizeOf(axes.map((a) => x.shape[a] as number));
    inner = sizeOf(x.shape.slice((axes[axes.length - 1] as number) + 1));
  } else {
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const perm = [...kept, ...axes];
    src = permuteData(x, perm);
    outer = sizeOf(kept.map((i) => x.shape[i] as number));
    red = sizeOf(axes.map((a) => x.shape[a] as number));
    inner = 1;
  }
  const outDtypeF = x.dtype;
  if ((op === 'sum' || op === 'mean') && (src instanceof Float32Array || src instanceof Float64Array)) {
    const res = sumBlocks(src, outer, red, inner);
    if (op === 'mean') for (let i = 0; i < res.length; i++) res[i]! /= red;
    const outF = allocate(outDtypeF, outer * inner) as Float32Array;
    outF.set(res);
    return new Tensor(outShape, outDtypeF, outF as never);
  }
  const isBig = src instanceof BigInt64Array;
  const get = isBig ? (i: number) => Number((src as BigInt64Array)[i]) : (i: number) => (src as Float32Array)[i] as number;
  const outDtype = x.dtype === 'bool' ? 'int64' : x.dtype;
  const out = allocate(outDtype, outer * inner);
  const res = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * red * inner + j;
      let acc: number;
      switch (op) {
        case 'sum':
        case 'mean': {
          acc = 0;
          for (let r = 0; r < red; r++) acc += get(base + r * inner);
          if (op === 'mean') acc /= red;
          break;
        }
        case 'sumSquare':
        case 'l2': {
          acc = 0;
          for (let r = 0; r < red; r++) {
            const v = get(base + r * inner);
            acc += v * v;
          }
          if (op === 'l2') acc = Math.sqrt(acc);
          break;
        }
        case 'l1': {
          acc = 0;
          for (let r = 0; r < red; r++) acc += Math.abs(get(base + r * inner));
          break;
        }
        case 'prod': {
          acc = 1;
          for (let r = 0; r < red; r++) acc *= get(base + r * inner);
          break;
        }
        case 'max': {
          acc = Number.NEGATIVE_INFINITY;
          for (let r = 0; r < red; r++) {
            const v = get(base + r * inner);
            if (v > acc || Number.isNaN(v)) acc = v;
          }
          break;
        }
        case 'min': {
          acc = Number.POSITIVE_INFINITY;
          for (let r = 0; r < red; r++) {
            const v = get(base + r * inner);
            if (v < acc || Number.isNaN(v)) acc = v;
          }
          break;
        }
        case 'logSumExp': {
          let m = Number.NEGATIVE_INFINITY;
          for (let r = 0; r < red; r++) m = Math.max(m, get(base + r * inner));
          let s = 0;
          for (let r = 0; r < red; r++) s += Math.exp(get(base + r * inner) - m);
          acc = m + Math.log(s);
          break;
        }
      }
      res[o * inner + j] = acc;
    }
  }
  if (out instanceof BigInt64Array) for (let i = 0; i < res.length; i++) out[i] = BigInt(Math.trunc(res[i] as number));
  else (out as Float32Array).set(res);
  return new Tensor(outShape, outDtype, out);
}

/**
 * Σ over the middle axis of `src` viewed as [outer, red, inner], in float64: rows of `inner` values
 * are added in memory order (contiguous inner loops), or, with inner = 1, each run of `red` values.
 */
function sumBlocks(src: Float32Array | Float64Array, outer: number, red: number, inner: number): Float64Array {
  const res = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    if (inner === 1) {
      let acc = 0;
      for (let r = 0, i = o * red; r < red; r++, i++) acc += src[i]!;
      res[o] = acc;
      continue;
    }
    const dst = o * inner;
    let r = 0;
    // Eight rows per pass (their sum in float64, then added): an eighth of the accumulator traffic.
    for (; r + 8 <= red; r += 8) {
      const k0 = (o * red + r) * inner;
      const n = inner;
      for (let j = 0; j < inner; j++) {
        const k = k0 + j;
        res[dst + j]! +=
          src[k]! +
          src[k + n]! +
          (src[k + 2 * n]! + src[k + 3 * n]!) +
          (src[k + 4 * n]! + src[k + 5 * n]! + (src[k + 6 * n]! + src[k + 7 * n]!));
      }
    }
    for (; r < red; r++) {
      const row = (o * red + r) * inner;
      for (let j = 0; j < inner; j++) res[dst + j]! += src[row + j]!;
    }
  }
  return res;
}

/** Copies x's data into the order given by `perm` (shared by reduce and transpose). */
export function permuteData(x: Tensor, perm: readonly number[]) {
  const shape = x.shape;
  const inStrides = x.strides;
  const outShape = transposeShape(shape, perm);
  const src = x.data;
  const out = allocate(x.dtype, src.length, false) as typeof src; // every element is written
  if (src.length === 0) return out;
  const stridesP = perm.map((p) => inStrides[p] as number);
  // One loop per storage class keeps each loop's element accesses monomorphic (fast) in V8.
  if (src instanceof Float32Array) permuteF32(src, out as Float32Array, outShape, stridesP);
  else permuteAny(src as unknown as Float32Array, out as unknown as Float32Array, outShape, stridesP);
  return out;
}

/** out (in order `outShape`) ← src read with strides `stridesP`; float32 only (see `permuteData`). */
function permuteF32(src: Float32Array, out: Float32Array, outShape: readonly number[], stridesP: readonly number[]): void {
  walkPermuted(outShape, stridesP, (o, off, len, stride) => {
    for (let k = 0; k < len; k++) out[o + k] = src[off + k * stride]!;
  });
}

/** As `permuteF32` for the other storage classes. */
function permuteAny(src: Float32Array, out: Float32Array, outShape: readonly number[], stridesP: readonly number[]): void {
  walkPermuted(outShape, stridesP, (o, off, len, stride) => {
    for (let k = 0; k < len; k++) out[o + k] = src[off + k * stride]!;
  });
}

/** Calls `row(outIndex, inOffset, lastDim, lastStride)` for every run of the last output dim. */
function walkPermuted(
  outShape: readonly number[],
  stridesP: readonly number[],
  row: (o: number, off: number, len: number, stride: number) => void,
): void {
  const rank = outShape.length;
  const n = sizeOf(outShape);
  const idx = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const lastStride = stridesP[last] as number;
  const lastDim = outShape[last] as number;
  let off = 0;
  for (let o = 0; o < n; o += lastDim) {
    row(o, off, lastDim, lastStride);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      off += stridesP[d] as number;
      if (idx[d]! < (outShape[d] as number)) break;
      off -= (stridesP[d] as number) * (outShape[d] as number);
      idx[d] = 0;
    }
  }
}

export function argReduceKernel(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean, selectLast: boolean): Tensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const red = x.shape[axis] as number;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const out = new BigInt64Array(outer * inner);
  const src = x.data;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let best = 0;
      let bv = Number(src[o * red * inner + j]);
      for (let r = 1; r < red; r++) {
        const v = Number(src[(o * red + r) * inner + j]);
        const better = op === 'argmax' ? v > bv || (selectLast && v === bv) : v < bv || (selectLast && v === bv);
        if (better) {
          bv = v;
          best = r;
        }
      }
      out[o * inner + j] = BigInt(best);
    }
  }
  const shape = keepDims ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  return new Tensor(shape, 'int64', out);
}

export function softmaxKernel(x: Tensor, axis: number, log: boolean): Tensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const red = x.shape[axis] as number;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const src = x.data as Float32Array;
  const out = allocate(x.dtype, src.length) as Float32Array;
  if (inner === 1 && !log && src instanceof Float32Array && red > 0 && softmaxRowsWasm(src, out, outer, red))
    return new Tensor(x.shape, x.dtype, out);
  const tmp = new Float64Array(red);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * red * inner + j;
      let m = Number.NEGATIVE_INFINITY;
      for (let r = 0; r < red; r++) m = Math.max(m, src[base + r * inner]!);
      let s = 0;
      for (let r = 0; r < red; r++) {
        const e = Math.exp(src[base + r * inner]! - m);
        tmp[r] = e;
        s += e;
      }
      if (log) {
        const ls = Math.log(s);
        for (let r = 0; r < red; r++) out[base + r * inner] = src[base + r * inner]! - m - ls;
      } else for (let r = 0; r < red; r++) out[base + r * inner] = tmp[r]! / s;
    }
  }
  return new Tensor(x.shape, x.dtype, out);
}
