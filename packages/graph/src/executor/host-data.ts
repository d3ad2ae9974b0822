import { type DType, Tensor } from '@normkit/tensor';

// Element access for kernels written as host loops over tensors of any dtype (int64 as BigInt64Array).

/** A tensor's storage, indexable as numbers or bigints. */
export type HostArray = ArrayLike<number | bigint> & { [i: number]: number | bigint };

/**
 * A tensor's elements as float64 numbers (int64 converted), for host loops.
 * @example hostNumbers(Tensor.from([1, 2], [2], 'int64')) // Float64Array [1, 2]
 */
export function hostNumbers(t: Tensor): Float64Array {
  const d = t.data as HostArray;
  if (d instanceof Float64Array) return d;
  return Float64Array.from(d as ArrayLike<number | bigint>, Number);
}

/**
 * A tensor of `dtype` holding `values` (numbers truncated into int64 storage).
 * @example tensorOf([2], 'int64', [3, 4]) // int64 [3, 4]
 */
export function tensorOf(shape: readonly number[], dtype: DType, values: ArrayLike<number>): Tensor {
  const t = new Tensor(shape, dtype);
  const d = t.data as HostArray;
  if (d instanceof BigInt64Array) for (let i = 0; i < values.length; i++) d[i] = BigInt(Math.trunc(values[i]!));
  else (d as Float32Array).set(values);
  return t;
}

/**
 * A tensor of `x`'s dtype whose element i is `x`'s element `from[i]` (a gather over flat indices).
 * @example pick(Tensor.from([5, 6, 7]), [2], [2, 0]) // [7, 5]
 */
export function pick(x: Tensor, shape: readonly number[], from: ArrayLike<number>): Tensor {
  const t = new Tensor(shape, x.dtype);
  const src = x.data as HostArray;
  const dst = t.data as HostArray;
  for (let i = 0; i < from.length; i++) dst[i] = src[from[i]!]!;
  return t;
}
