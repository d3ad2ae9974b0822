import { allocate } from '../dtype.js';
import { sizeOf, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { forEachStrided, padSourceIndex } from './movement.js';

type Arr = Float32Array; // float32 or float64: the loops are the same

/** Gather's gradient for the table: rows of dy added into zeros of `xShape` at their indices (repeats add up). */
export function gatherGradKernel(dy: Tensor, indices: Tensor, xShape: readonly number[], axis: number): Tensor {
  const outer = sizeOf(xShape.slice(0, axis));
  const dim = xShape[axis] as number;
  const inner = sizeOf(xShape.slice(axis + 1));
  const idx = indices.data;
  const ni = idx.length;
  const G = dy.data as Arr;
  const out = allocate(dy.dtype, sizeOf(xShape)) as Arr;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < ni; i++) {
      let k = Number(idx[i]);
      if (k < 0) k += dim;
      const to = (o * dim + k) * inner;
      const from = (o * ni + i) * inner;
      for (let j = 0; j < inner; j++) out[to + j]! += G[from + j]!;
    }
  }
  return new Tensor(xShape, dy.dtype, out as never);
}

/** Slice's gradient: dy written at the sliced positions of zeros of `xShape` (normalized starts/steps). */
export function sliceGradKernel(dy: Tensor, xShape: readonly number[], starts: readonly number[], steps: readonly number[]): Tensor {
  const out = allocate(dy.dtype, sizeOf(xShape)) as Arr;
  const G = dy.data as Arr;
  const inStr = stridesOf(xShape);
  let base = 0;
  for (let d = 0; d < xShape.length; d++) base += (starts[d] as number) * (inStr[d] as number);
  const st = steps.map((s, d) => s * (inStr[d] as number));
  forEachStrided(dy.shape, st, (o, off) => {
    out[base + off] = G[o]!;
  });
  return new Tensor(xShape, dy.dtype, out as never);
}

/** Reflect/edge pad's gradient: every element of dy added to the input element it copies. */
export function padGradKernel(dy: Tensor, xShape: readonly number[], pads: readonly number[], mode: 'reflect' | 'edge'): Tensor {
  const r = xShape.length;
  const out = allocate(dy.dtype, sizeOf(xShape)) as Arr;
  const G = dy.data as Arr;
  const inStr = stridesOf(xShape);
  const outStr = stridesOf(dy.shape);
  for (let o = 0; o < G.length; o++) {
    let rem = o;
    let off = 0;
    for (let d = 0; d < r; d++) {
      const q = Math.floor(rem / (outStr[d] as number));
      rem -= q * (outStr[d] as number);
      off += padSourceIndex(q - (pads[d] as number), xShape[d] as number, mode) * (inStr[d] as number);
    }
    out[off]! += G[o]!;
  }
  return new Tensor(xShape, dy.dtype, out as never);
}
