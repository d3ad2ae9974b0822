import { fmtShape, NormkitError } from './errors.js';

/** Number of elements of `shape` (1 for a scalar). @example sizeOf([2, 3, 4]) // 24 */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of `shape`. @example stridesOf([2, 3, 4]) // [12, 4, 1] */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i] as number;
  }
  return s;
}

/** Normalizes a possibly negative axis for a tensor of rank `rank`, or throws naming `op`. @example normalizeAxis(-1, 3, 'softmax') // 2 */
export function normalizeAxis(axis: number, rank: number, op: string, shape?: readonly number[]): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    const of = shape ? `shape ${fmtShape(shape)}` : `a tensor of rank ${rank}`;
    throw new NormkitError('AXIS_OUT_OF_RANGE', `${op}: axis ${axis} is out of range for ${of}; use an axis in [${-rank}, ${rank - 1}]`, {
      op,
      axis,
      rank,
      shape,
    });
  }
  return a;
}

/** Normalizes and de-duplicates a list of axes, sorted ascending. @example normalizeAxes([-1, 0, 2], 3, 'sum') // [0, 2] */
export function normalizeAxes(axes: readonly number[], rank: number, op: string, shape?: readonly number[]): number[] {
  return [...new Set(axes.map((a) => normalizeAxis(a, rank, op, shape)))].sort((x, y) => x - y);
}

/** NumPy/ONNX multidirectional broadcast of two shapes, or a `SHAPE_MISMATCH` error naming `op`. @example broadcastShapes([2, 1, 4], [3, 1], 'add') // [2, 3, 4] */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (dimension ${i} of the result: ${da} vs ${db})`,
        { op, shapes: [a, b] },
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides for reading a tensor of `shape` as if broadcast to `outShape` (0 on broadcast dims). @example broadcastStrides([3, 1], [2, 3, 4]) // [0, 1, 0] */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = stridesOf(shape);
  const out = new Array<number>(outShape.length).fill(0);
  const off = outShape.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[i + off] = shape[i] === 1 ? 0 : (strides[i] as number);
  return out;
}

/** The most elements one tensor may have (see `setMaxTensorElements`). */
let maxTensorElements = 2 ** 31 - 1;

/**
 * Caps the elements of any one tensor a kernel allocates (default 2^31 − 1, the most a typed array of
 * float32 may hold). A larger allocation throws TENSOR_TOO_LARGE before any memory is taken, so a
 * service running untrusted models can bound what one tensor costs: the executor reports the node.
 * Returns the previous cap.
 * @example const before = setMaxTensorElements(2 ** 27); // 512 MiB of float32 at most
 */
export function setMaxTensorElements(n: number): number {
  if (!(Number.isInteger(n) && n > 0)) throw new NormkitError('INVALID_ARGUMENT', `setMaxTensorElements: ${n} is not a positive integer`);
  const before = maxTensorElements;
  maxTensorElements = Math.min(n, 2 ** 31 - 1);
  return before;
}

/** Throws TENSOR_TOO_LARGE when `size` elements exceed the cap of `setMaxTensorElements`. @example checkTensorSize(4, 'zeros') */
export function checkTensorSize(size: number, op: string): void {
  if (size > maxTensorElements)
    throw new NormkitError(
      'TENSOR_TOO_LARGE',
      `${op}: ${size} elements, over the limit of ${maxTensorElements} per tensor (setMaxTensorElements sets it)`,
      { op, size },
    );
}

/** Checks every dim is a non-negative integer and the total stays under `maxElements`. @example validateShape([2, -1], 'zeros') // throws INVALID_SHAPE */
export function validateShape(shape: readonly number[], op: string, maxElements = maxTensorElements): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new NormkitError(
        'INVALID_SHAPE',
        `${op}: shape ${fmtShape(shape)} has an invalid dimension ${d}; dimensions must be non-negative integers`,
        { op, shape },
      );
  }
  const n = sizeOf(shape);
  if (n > maxElements)
    throw new NormkitError('TENSOR_TOO_LARGE', `${op}: shape ${fmtShape(shape)} has ${n} elements, over the limit of ${maxElements}`, {
      op,
      shape,
    });
}

/** @example shapesEqual([2, 3], [2, 3]) // true */
export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Output length of a sliding window (convolution or pooling) along one axis: the one rule the CPU
 * and GPU kernels and the graph's shape inference share. With `ceil`, a last window that would start
 * entirely inside the end padding is dropped (the ONNX / PyTorch rule).
 *
 * @example windowOutputSize(224, 7, 2, 3, 3, 1); // 112
 */
export function windowOutputSize(
  size: number,
  kernel: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation = 1,
  ceil = false,
): number {
  const span = (size + padBegin + padEnd - (kernel - 1) * dilation - 1) / stride;
  let out = (ceil ? Math.ceil(span) : Math.floor(span)) + 1;
  if (ceil && (out - 1) * stride >= size + padBegin) out--;
  return Math.max(0, out);
}
