// The output shape of each op whose `Backend` method does not receive it: one rule per op, which the
// CPU kernels and device backends (the gpu package) read instead of recomputing it. Arguments are
// what the op layer hands the backend, already validated and normalized.
import type { ConvOptions, PoolOptions } from './backend.js';
import { broadcastShapes, windowOutputSize } from './shape.js';

/** Shape of a reduction over sorted, normalized `axes`. @example reduceShape([2, 3, 4], [1], true) // [2, 1, 4] */
export function reduceShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Batched matmul of [..., M, K] and [..., K, N] (both rank ≥ 2), batch dims broadcast. @example matmulShape([1, 5, 3], [4, 3, 2]) // [4, 5, 2] */
export function matmulShape(a: readonly number[], b: readonly number[]): number[] {
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2), 'matmul');
  return [...batch, a[a.length - 2] as number, b[b.length - 1] as number];
}

/** Gemm's [M, N] for 2-D A and B with the transpose flags. @example gemmShape([3, 5], [7, 3], { transA: true, transB: true }) // [5, 7] */
export function gemmShape(a: readonly number[], b: readonly number[], o: { transA: boolean; transB: boolean }): [number, number] {
  return [(o.transA ? a[1] : a[0]) as number, (o.transB ? b[0] : b[1]) as number];
}

/** Convolution output [N, Cout, ...spatial] (`windowOutputSize` per spatial axis). @example convShape([1, 3, 8, 8], [4, 3, 3, 3], { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 }) // [1, 4, 8, 8] */
export function convShape(x: readonly number[], w: readonly number[], o: Required<ConvOptions>): number[] {
  const sp = x.length - 2;
  const spatial = x
    .slice(2)
    .map((d, i) =>
      windowOutputSize(
        d,
        w[i + 2] as number,
        o.strides[i] as number,
        o.pads[i] as number,
        o.pads[i + sp] as number,
        o.dilations[i] as number,
      ),
    );
  return [x[0] as number, w[0] as number, ...spatial];
}

/** Pooling output [N, C, ...spatial] (ceil mode included). @example poolShape([1, 3, 8, 8], { kernelShape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], dilations: [1, 1], ceilMode: false, countIncludePad: false }) // [1, 3, 4, 4] */
export function poolShape(x: readonly number[], o: Required<PoolOptions>): number[] {
  const sp = x.length - 2;
  const spatial = x
    .slice(2)
    .map((d, i) =>
      windowOutputSize(
        d,
        o.kernelShape[i] as number,
        o.strides[i] as number,
        o.pads[i] as number,
        o.pads[i + sp] as number,
        o.dilations[i] as number,
        o.ceilMode,
      ),
    );
  return [x[0] as number, x[1] as number, ...spatial];
}

/** Axes permuted by `perm`. @example transposeShape([2, 3, 4], [2, 0, 1]) // [4, 2, 3] */
export function transposeShape(shape: readonly number[], perm: readonly number[]): number[] {
  return perm.map((p) => shape[p] as number);
}

/** Shapes joined along `axis`. @example concatShape([[2, 3], [2, 5]], 1) // [2, 8] */
export function concatShape(shapes: readonly (readonly number[])[], axis: number): number[] {
  const out = [...(shapes[0] as readonly number[])];
  out[axis] = shapes.reduce((s, t) => s + (t[axis] as number), 0);
  return out;
}

/** Shape after ONNX pads [begin..., end...] (negative pads crop). @example padShape([2, 3], [1, 0, 1, 2]) // [4, 5] */
export function padShape(shape: readonly number[], pads: readonly number[]): number[] {
  const r = shape.length;
  return shape.map((d, i) => d + (pads[i] as number) + (pads[i + r] as number));
}

/** Gather along `axis`: the axis replaced by the indices' shape. @example gatherShape([5, 4], [2, 3], 0) // [2, 3, 4] */
export function gatherShape(shape: readonly number[], indices: readonly number[], axis: number): number[] {
  return [...shape.slice(0, axis), ...indices, ...shape.slice(axis + 1)];
}

/** Each axis times its repeat count. @example tileShape([2, 3], [2, 1]) // [4, 3] */
export function tileShape(shape: readonly number[], repeats: readonly number[]): number[] {
  return shape.map((d, i) => d * (repeats[i] as number));
}
