import { checkTensorSize } from './shape.js';
import { pooledFloatArray } from './storage-pool.js';

/** Element types. float32 is the data type; int32/int64 hold indices and shapes; bool holds masks;
 * float64 exists for reference computations (finite differences, theory checks). */
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool';

/** The storage class of any dtype's elements (`Tensor.data`). */
export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** The typed-array class that holds each dtype (bool as 0/1 bytes); `DTypeArrays['int64']` is `BigInt64Array`. */
export interface DTypeArrays {
  /** Single-precision floats. */
  float32: Float32Array;
  /** Double-precision floats. */
  float64: Float64Array;
  /** 32-bit signed integers. */
  int32: Int32Array;
  /** 64-bit signed integers, as bigint. */
  int64: BigInt64Array;
  /** Booleans as 0/1 bytes. */
  bool: Uint8Array;
}

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
} as const;

/** Bytes per element of `dtype`. @example bytesPerElement('int64') // 8 */
export function bytesPerElement(dtype: DType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

/**
 * A zero-filled typed array of `dtype` and `size` elements; large float arrays may be recycled storage
 * (see storage-pool.ts), whose old values stay when `zeroed` is false (for a kernel that writes every
 * element). @example allocate('float32', 4) // Float32Array(4) of zeros
 */
export function allocate<D extends DType>(dtype: D, size: number, zeroed = true): DTypeArrays[D] {
  checkTensorSize(size, `a ${dtype} tensor`);
  if (dtype === 'float32' || dtype === 'float64') return pooledFloatArray(dtype, size, zeroed) as DTypeArrays[D];
  return new CTORS[dtype](size) as DTypeArrays[D];
}

/** The dtype whose storage class `data` is. @example dtypeOf(new Int32Array(2)) // 'int32' */
export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}

/** @example isFloat('float64') // true */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** Reads element `i` of any typed array as a JS number (int64 via Number()). @example readNumber(new BigInt64Array([5n]), 0) // 5 */
export function readNumber(data: TypedArray, i: number): number {
  return typeof data[i] === 'bigint' ? Number(data[i]) : (data[i] as number);
}

/** Copies `values` (numbers) into a new array of `dtype`, rounding toward zero for integer types. @example fromNumbers('int64', [1.7, -2.2]) // BigInt64Array [1n, -2n] */
export function fromNumbers<D extends DType>(dtype: D, values: ArrayLike<number>): DTypeArrays[D] {
  const out = allocate(dtype, values.length);
  if (dtype === 'int64') {
    const o = out as BigInt64Array;
    for (let i = 0; i < values.length; i++) o[i] = BigInt(Math.trunc(values[i] as number));
  } else if (dtype === 'bool') {
    const o = out as Uint8Array;
    for (let i = 0; i < values.length; i++) o[i] = values[i] ? 1 : 0;
  } else {
    (out as Float32Array).set(values);
  }
  return out;
}

/** Converts a whole typed array to `dtype` (ONNX Cast semantics for the types we hold). @example convert(new Float32Array([1.5, 0]), 'bool') // Uint8Array [1, 0] */
export function convert<D extends DType>(data: TypedArray, dtype: D): DTypeArrays[D] {
  if (dtypeOf(data) === dtype) return data.slice() as DTypeArrays[D];
  const n = data.length;
  const out = allocate(dtype, n);
  if (dtype === 'int64') {
    const o = out as BigInt64Array;
    for (let i = 0; i < n; i++) {
      const v = readNumber(data, i);
      o[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    }
  } else if (dtype === 'bool') {
    const o = out as Uint8Array;
    for (let i = 0; i < n; i++) o[i] = readNumber(data, i) !== 0 ? 1 : 0;
  } else if (dtype === 'int32') {
    const o = out as Int32Array;
    for (let i = 0; i < n; i++) o[i] = Math.trunc(readNumber(data, i));
  } else {
    const o = out as Float32Array;
    for (let i = 0; i < n; i++) o[i] = readNumber(data, i);
  }
  return out;
}
