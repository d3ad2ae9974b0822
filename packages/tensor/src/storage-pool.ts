import type { Tensor } from './tensor.js';

// Reuse of large float storage. A fresh large typed array costs a page fault per 4 KiB on first touch
// (on some VMs ~10 µs each: more than a GEMM over the same array), and the C allocator hands memory
// back to the system after garbage collection, so a training loop would fault on every activation of
// every step. Storage whose owner knows it is dead (the autograd tape, for the gradients it consumed)
// is handed back with `recycle`; `allocate` (dtype.ts) takes such arrays first, zero-filled.
//
// Only whole, unshared host arrays of at least POOL_MIN_BYTES are pooled, keyed by dtype and length;
// each pooled-size array gets a serial number when allocated, so that a caller can tell storage it
// saw being created (after a `storageMark()`) from storage it must not touch.

/** Arrays below this many bytes are neither pooled nor tracked (the allocator handles them well). */
export const POOL_MIN_BYTES = 64 * 1024;

type FloatArray = Float32Array | Float64Array;

const free = { float32: new Map<number, Float32Array[]>(), float64: new Map<number, Float64Array[]>() };
/** Every pooled array, oldest first: a full pool drops the oldest to take a new one. */
let order: FloatArray[] = [];
const serials = new WeakMap<ArrayBufferLike, number>();
let serial = 0;
let pooledBytes = 0;
let limitBytes = 256 * 1024 * 1024;

/**
 * A float array of `size` elements for `allocate`: a recycled one when the pool has one of that dtype
 * and length (zero-filled unless `zeroed` is false), else a new one (zeros). Arrays of at least
 * POOL_MIN_BYTES get a serial number.
 */
export function pooledFloatArray(dtype: 'float32' | 'float64', size: number, zeroed = true): FloatArray {
  const bytes = size * (dtype === 'float32' ? 4 : 8);
  if (bytes < POOL_MIN_BYTES) return dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  const list = free[dtype].get(size);
  let arr = list?.pop();
  if (arr) {
    order.splice(order.lastIndexOf(arr), 1);
    pooledBytes -= bytes;
    if (zeroed) arr.fill(0);
  } else arr = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  serials.set(arr.buffer, ++serial);
  return arr;
}

/**
 * The current allocation point: storage allocated later compares newer with `allocatedSince`.
 * @example const mark = storageMark(); const y = matmul(a, b); allocatedSince(y, mark) // true
 */
export function storageMark(): number {
  return serial;
}

/** The array under `t` when it can be pooled: on the host, float, whole-buffer, at least POOL_MIN_BYTES. */
function poolable(t: Tensor): FloatArray | undefined {
  if (t.deviceStorage !== undefined || !t.onHost) return undefined;
  const d = t.data;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return undefined;
  if (d.byteLength < POOL_MIN_BYTES || d.byteOffset !== 0 || d.buffer.byteLength !== d.byteLength) return undefined;
  return d;
}

/**
 * Whether `t`'s storage is a poolable host array that `allocate` created after `mark` (so whoever took
 * the mark has seen every tensor that can share it).
 * @example allocatedSince(grad, markAtBackwardStart)
 */
export function allocatedSince(t: Tensor, mark: number): boolean {
  const d = poolable(t);
  return d !== undefined && (serials.get(d.buffer) ?? 0) > mark;
}

/**
 * Hands `t`'s storage back for reuse by later ops (a no-op unless it is a large float host array) and
 * makes `t` forget it: reading `t` afterwards throws RECYCLED. The caller guarantees that no other
 * tensor sharing the storage (a reshape of `t`) is read again, or passes those in `views` to forget it
 * too. Returns whether the storage was pooled.
 * @example recycle(scratch) // scratch.data now throws
 */
export function recycle(t: Tensor, views: readonly Tensor[] = []): boolean {
  const d = poolable(t);
  if (!d) return false;
  for (const v of views) if (v.onHost && v.deviceStorage === undefined && v.data.buffer === d.buffer) v.forgetStorage();
  t.forgetStorage();
  if (d.byteLength > limitBytes || listOf(d).includes(d)) return false;
  // Make room by dropping the longest-pooled arrays (sizes a program stopped using go first).
  while (pooledBytes + d.byteLength > limitBytes) {
    const old = order.shift() as FloatArray;
    const list = listOf(old);
    list.splice(list.indexOf(old), 1);
    pooledBytes -= old.byteLength;
  }
  listOf(d).push(d);
  order.push(d);
  pooledBytes += d.byteLength;
  serials.delete(d.buffer);
  return true;
}

/** The free list of `d`'s dtype and length (created empty). */
function listOf(d: FloatArray): FloatArray[] {
  const map = (d instanceof Float32Array ? free.float32 : free.float64) as Map<number, FloatArray[]>;
  let list = map.get(d.length);
  if (!list) map.set(d.length, (list = []));
  return list;
}

/**
 * Sets how many bytes of recycled storage the pool may hold (0 empties it and turns pooling off) and
 * returns the previous limit. Default 256 MiB. A full pool drops its longest-held arrays to take new ones.
 * @example const prev = setStoragePoolLimit(64 * 2 ** 20)
 */
export function setStoragePoolLimit(bytes: number): number {
  const prev = limitBytes;
  limitBytes = Math.max(0, bytes);
  if (pooledBytes > limitBytes) {
    free.float32.clear();
    free.float64.clear();
    order = [];
    pooledBytes = 0;
  }
  return prev;
}

/** Bytes of recycled storage waiting in the pool. @example storagePoolBytes() // 0 before any recycle */
export function storagePoolBytes(): number {
  return pooledBytes;
}
