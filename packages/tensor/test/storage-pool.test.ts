// The storage pool: recycled large float storage is handed out again (zero-filled) by later
// allocations of the same dtype and length; recycled tensors refuse to be read (RECYCLED); small
// arrays, views and storage older than a mark are left alone.
import {
  add,
  allocate,
  allocatedSince,
  NormkitError,
  recycle,
  setStoragePoolLimit,
  storageMark,
  storagePoolBytes,
  Tensor,
} from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';

const BIG = 1 << 15; // 128 KiB of float32: pooled

describe('storage pool', () => {
  afterEach(() => {
    setStoragePoolLimit(256 * 2 ** 20);
  });

  it('reuses recycled storage, zero-filled, for the next array of that dtype and length', () => {
    const t = Tensor.full([BIG], 3);
    const buffer = t.data.buffer;
    expect(recycle(t)).toBe(true);
    expect(storagePoolBytes()).toBeGreaterThanOrEqual(BIG * 4);
    const again = allocate('float32', BIG);
    expect(again.buffer).toBe(buffer);
    expect(again.every((v) => v === 0)).toBe(true);
    expect(allocate('float64', BIG / 2).buffer).not.toBe(buffer); // another dtype: fresh
  });

  it('a recycled tensor and the views passed along throw RECYCLED when read; shape and dtype stay', () => {
    const t = add(Tensor.ones([BIG]), 1);
    const view = t.reshape([2, BIG / 2]);
    recycle(t, [view]);
    expect(t.shape).toEqual([BIG]);
    expect(() => t.data).toThrow(NormkitError);
    expect(() => view.data).toThrow(/storage was recycled after a backward pass/);
    try {
      void t.data;
    } catch (e) {
      expect((e as NormkitError).code).toBe('RECYCLED');
    }
  });

  it('leaves small arrays, views into larger buffers and non-float storage alone', () => {
    const small = Tensor.ones([16]);
    expect(recycle(small)).toBe(false);
    expect(small.data[0]).toBe(1);
    const whole = new Float32Array(2 * BIG);
    const part = new Tensor([BIG], 'float32', whole.subarray(BIG));
    expect(recycle(part)).toBe(false);
    expect(recycle(new Tensor([BIG], 'int32'))).toBe(false);
  });

  it('tells storage allocated after a mark from older storage', () => {
    const old = Tensor.zeros([BIG]);
    const mark = storageMark();
    const fresh = add(old, 1);
    expect(allocatedSince(fresh, mark)).toBe(true);
    expect(allocatedSince(fresh.reshape([BIG / 2, 2]), mark)).toBe(true); // a reshape shares the storage
    expect(allocatedSince(old, mark)).toBe(false);
    expect(allocatedSince(Tensor.ones([4]), mark)).toBe(false); // too small to be tracked
  });

  it('holds at most its limit, dropping the longest-held arrays; a limit of 0 empties it', () => {
    setStoragePoolLimit(BIG * 4);
    const [a, b, c] = [Tensor.zeros([BIG]), Tensor.zeros([BIG]), Tensor.zeros([BIG])];
    const bBuffer = b.data.buffer;
    expect(recycle(a)).toBe(true);
    expect(recycle(b)).toBe(true); // a is dropped to make room
    expect(storagePoolBytes()).toBe(BIG * 4);
    expect(allocate('float32', BIG).buffer).toBe(bBuffer);
    expect(recycle(Tensor.zeros([2 * BIG]))).toBe(false); // larger than the whole pool
    setStoragePoolLimit(0);
    expect(storagePoolBytes()).toBe(0);
    expect(recycle(c)).toBe(false);
    expect(() => c.data).toThrow(/recycled/); // c is forgotten all the same: the caller gave it up
  });
});
