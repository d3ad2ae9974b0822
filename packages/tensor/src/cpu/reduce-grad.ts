import { allocate } from '../dtype.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { transposeKernel } from './movement.js';
import { permuteData } from './reduce.js';

/** Softmax / logSoftmax gradient along `axis` from the output y: y·(dy − Σdy·y), or dy − eʸ·Σdy. */
export function softmaxGradKernel(dy: Tensor, y: Tensor, axis: number, log: boolean): Tensor {
  const outer = sizeOf(y.shape.slice(0, axis));
  const red = y.shape[axis] as number;
  const inner = sizeOf(y.shape.slice(axis + 1));
  const G = dy.data as Float32Array;
  const Y = y.data as Float32Array;
  const out = allocate(dy.dtype, G.length) as Float32Array;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * red * inner + j;
      let s = 0;
      if (log) for (let r = 0; r < red; r++) s += G[base + r * inner]!;
      else for (let r = 0; r < red; r++) s += G[base + r * inner]! * Y[base + r * inner]!;
      if (log) for (let r = 0; r < red; r++) out[base + r * inner] = G[base + r * inner]! - Math.exp(Y[base + r * inner]!) * s;
      else for (let r = 0; r < red; r++) out[base + r * inner] = Y[base + r * inner]! * (G[base + r * inner]! - s);
    }
  }
  return new Tensor(y.shape, dy.dtype, out as never);
}

/**
 * Gradient of a product reduction: each element gets dy of its group times the product of the group's
 * other elements, from prefix and suffix products (exact with zeros, no division).
 */
export function prodGradKernel(dy: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...kept, ...axes];
  const X = permuteData(x, perm) as Float32Array; // [groups, red]: each group's elements contiguous
  const red = sizeOf(axes.map((a) => x.shape[a] as number));
  const groups = red === 0 ? 0 : X.length / red;
  const G = dy.data as Float32Array;
  const out = allocate(dy.dtype, X.length) as Float32Array;
  for (let g = 0; g < groups; g++) {
    const base = g * red;
    let p = G[g]!; // prefix product times dy
    for (let r = 0; r < red; r++) {
      out[base + r] = p;
      p *= X[base + r]!;
    }
    let s = 1; // suffix product
    for (let r = red - 1; r >= 0; r--) {
      out[base + r]! *= s;
      s *= X[base + r]!;
    }
  }
  const permuted = new Tensor(
    perm.map((a) => x.shape[a] as number),
    dy.dtype,
    out as never,
  );
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return transposeKernel(permuted, inverse);
}
