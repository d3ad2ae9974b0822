import { allocate, convert, type DType } from '../dtype.js';
import { concatShape, gatherShape, padShape, tileShape, transposeShape } from '../op-shapes.js';
import { sizeOf, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { forEachBroadcast } from './elementwise.js';
import { permuteData } from './reduce.js';

type Arr = Float32Array; // element copies work the same on every typed array; the cast only quiets the checker

export function transposeKernel(x: Tensor, perm: readonly number[]): Tensor {
  return new Tensor(transposeShape(x.shape, perm), x.dtype, permuteData(x, perm) as never);
}

export function concatKernel(xs: readonly Tensor[], axis: number): Tensor {
  const first = xs[0] as Tensor;
  const outShape = concatShape(
    xs.map((t) => t.shape),
    axis,
  );
  const outer = sizeOf(first.shape.slice(0, axis));
  const inner = sizeOf(first.shape.slice(axis + 1));
  const out = allocate(first.dtype, sizeOf(outShape)) as Arr;
  const rowOut = (outShape[axis] as number) * inner;
  let col = 0;
  for (const t of xs) {
    const chunk = (t.shape[axis] as number) * inner;
    const src = t.data as Arr;
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * chunk, (o + 1) * chunk), o * rowOut + col);
    col += chunk;
  }
  return new Tensor(outShape, first.dtype, out as never);
}

export function sliceKernel(x: Tensor, starts: readonly number[], steps: readonly number[], outShape: readonly number[]): Tensor {
  const out = allocate(x.dtype, sizeOf(outShape), false) as Arr; // every element is written
  const src = x.data as Arr;
  const inStr = x.strides;
  let base = 0;
  for (let d = 0; d < x.rank; d++) base += (starts[d] as number) * (inStr[d] as number);
  const st = steps.map((s, d) => s * (inStr[d] as number));
  // The trailing dims that the slice keeps whole (and the one before them, taken with step 1) are
  // contiguous runs in x: copy those with `set`.
  let k = x.rank;
  let run = 1;
  while (k > 0 && steps[k - 1] === 1 && (k === x.rank || outShape[k] === x.shape[k])) run *= outShape[--k] as number;
  if (run >= 16) {
    forEachStrided(outShape.slice(0, k), st.slice(0, k), (o, off) => {
      out.set(src.subarray(base + off, base + off + run) as never, o * run);
    });
    return new Tensor(outShape, x.dtype, out as never);
  }
  // Walk output indices; offset = base + Σ idx_d · step_d · stride_d.
  forEachStrided(outShape, st, (o, off) => {
    out[o] = src[base + off] as number;
  });
  return new Tensor(outShape, x.dtype, out as never);
}

/** Calls body(outIndex, Σ idx_d·strides_d) for every index of `shape`. */
export function forEachStrided(shape: readonly number[], strides: readonly number[], body: (o: number, off: number) => void): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let o = 0; o < n; o++) {
    body(o, off);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += strides[d] as number;
      if (idx[d]! < (shape[d] as number)) break;
      off -= (strides[d] as number) * (shape[d] as number);
      idx[d] = 0;
    }
  }
}

export function padKernel(x: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge', value: number): Tensor {
  const r = x.rank;
  const outShape = padShape(x.shape, pads);
  const out = allocate(x.dtype, sizeOf(outShape)) as Arr;
  const src = x.data as Arr;
  const inStr = x.strides;
  const fill = x.dtype === 'int64' ? (BigInt(Math.trunc(value)) as unknown as number) : value;
  const outStr = stridesOf(outShape);
  const n = out.length;
  for (let o = 0; o < n; o++) {
    let rem = o;
    let off = 0;
    let inside = true;
    for (let d = 0; d < r; d++) {
      const q = Math.floor(rem / (outStr[d] as number));
      rem -= q * (outStr[d] as number);
      const i = padSourceIndex(q - (pads[d] as number), x.shape[d] as number, mode);
      if (i < 0) {
        inside = false;
        break;
      }
      off += i * (inStr[d] as number);
    }
    out[o] = inside ? (src[off] as number) : fill;
  }
  return new Tensor(outShape, x.dtype, out as never);
}

/**
 * The input index that padded position `i` (already shifted by the begin pad) copies along an axis of
 * size `dim`: `i` itself inside, the mirrored or nearest index for reflect/edge, −1 for constant padding.
 */
export function padSourceIndex(i: number, dim: number, mode: 'constant' | 'reflect' | 'edge'): number {
  if (i >= 0 && i < dim) return i;
  if (mode === 'constant' || dim === 0) return -1;
  if (mode === 'edge') return i < 0 ? 0 : dim - 1;
  const period = 2 * (dim - 1);
  if (period === 0) return 0;
  const r = ((i % period) + period) % period;
  return r >= dim ? period - r : r;
}

export function gatherKernel(x: Tensor, indices: Tensor, axis: number): Tensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const dim = x.shape[axis] as number;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const idx = indices.data;
  const ni = idx.length;
  const outShape = gatherShape(x.shape, indices.shape, axis);
  const out = allocate(x.dtype, outer * ni * inner) as Arr;
  const src = x.data as Arr;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < ni; i++) {
      let k = Number(idx[i]);
      if (k < 0) k += dim;
      const from = (o * dim + k) * inner;
      out.set(src.subarray(from, from + inner), (o * ni + i) * inner);
    }
  }
  return new Tensor(outShape, x.dtype, out as never);
}

export function expandKernel(x: Tensor, outShape: readonly number[]): Tensor {
  const out = allocate(x.dtype, sizeOf(outShape)) as Arr;
  const src = x.data as Arr;
  forEachBroadcast(outShape, [x.shape], (o, [i]) => {
    out[o] = src[i!] as number;
  });
  return new Tensor(outShape, x.dtype, out as never);
}

export function tileKernel(x: Tensor, repeats: readonly number[]): Tensor {
  const outShape = tileShape(x.shape, repeats);
  const out = allocate(x.dtype, sizeOf(outShape)) as Arr;
  const src = x.data as Arr;
  const outStr = stridesOf(outShape);
  const inStr = x.strides;
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let off = 0;
    for (let d = 0; d < x.rank; d++) {
      const q = Math.floor(rem / (outStr[d] as number));
      rem -= q * (outStr[d] as number);
      off += (q % (x.shape[d] as number)) * (inStr[d] as number);
    }
    out[o] = src[off] as number;
  }
  return new Tensor(outShape, x.dtype, out as never);
}

export function castKernel(x: Tensor, dtype: DType): Tensor {
  return new Tensor(x.shape, dtype, convert(x.data, dtype));
}
