// Device handles and reads: views share one reference-counted handle, dispose() is safe twice and
// frees the device memory once (when the last view goes), a read after dispose throws DISPOSED, the
// awaited read works on every storage, and a storage that reads only asynchronously makes `.data`
// throw an error naming `await t.read()`.
import { describe, expect, it } from 'vitest';
import { type DeviceStorage, NormkitError, Tensor } from '../src/index.js';

/** A fake device: values held in a closure, counting reads and disposals. */
function fakeStorage(values: number[], opts: { async?: boolean } = {}) {
  const counts = { reads: 0, disposed: 0 };
  const storage: DeviceStorage = {
    backend: opts.async ? 'async-dev' : 'sync-dev',
    handle: counts,
    ...(opts.async
      ? {
          readAsync: async () => {
            counts.reads++;
            return Float32Array.from(values);
          },
        }
      : {
          read: () => {
            counts.reads++;
            return Float32Array.from(values);
          },
        }),
    dispose: () => {
      counts.disposed++;
    },
  };
  return { storage, counts };
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof NormkitError ? e.code : `not a NormkitError: ${String(e)}`;
  }
  return undefined;
};

describe('device handles', () => {
  it('views share the handle: the storage is disposed once, after the last view', () => {
    const { storage, counts } = fakeStorage([1, 2, 3, 4, 5, 6]);
    const t = Tensor.fromDevice([2, 3], 'float32', storage);
    const v = t.reshape([3, 2]);
    expect(v.deviceStorage).toBe(storage);
    t.dispose();
    expect(counts.disposed).toBe(0); // the view still holds it
    expect(v.toFlatArray()).toEqual([1, 2, 3, 4, 5, 6]);
    v.dispose();
    v.dispose(); // safe twice
    t.dispose();
    expect(counts.disposed).toBe(1);
  });

  it('a read after dispose throws DISPOSED naming dtype and shape and what to do', async () => {
    const { storage } = fakeStorage([1, 2]);
    const t = Tensor.fromDevice([2], 'float32', storage);
    t.dispose();
    expect(codeOf(() => t.data)).toBe('DISPOSED');
    expect(() => t.data).toThrow(/float32 \[2\].*dispose\(\).*Read the values before disposing/);
    await expect(t.read()).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(codeOf(() => t.reshape([1, 2]))).toBe('DISPOSED');
    expect(t.deviceStorage).toBeUndefined();
    expect(t.isDisposed).toBe(true);
  });

  it('host tensors: dispose twice is safe and a later read throws DISPOSED', () => {
    const t = Tensor.from([1, 2, 3]);
    t.dispose();
    t.dispose();
    expect(codeOf(() => t.data)).toBe('DISPOSED');
  });

  it('the read-back is shared by views (one read for the handle)', async () => {
    const { storage, counts } = fakeStorage([5, 6, 7, 8]);
    const t = Tensor.fromDevice([4], 'float32', storage);
    const v = t.reshape([2, 2]);
    expect(Array.from(await t.read())).toEqual([5, 6, 7, 8]);
    expect(Array.from(v.data)).toEqual([5, 6, 7, 8]);
    expect(counts.reads).toBe(1);
  });
});

describe('reads', () => {
  it('await t.read() resolves host values at once', async () => {
    const t = Tensor.from([[1, 2]]);
    expect(await t.read()).toBe(t.data);
  });

  it('await t.read() on a synchronous device storage', async () => {
    const { storage } = fakeStorage([3, 4]);
    expect(Array.from(await Tensor.fromDevice([2], 'float32', storage).read())).toEqual([3, 4]);
  });

  it('an asynchronous-only storage: .data throws READ_ASYNC_ONLY naming the awaited read; read() works', async () => {
    const { storage, counts } = fakeStorage([1.5, -2], { async: true });
    const t = Tensor.fromDevice([2], 'float32', storage);
    expect(codeOf(() => t.data)).toBe('READ_ASYNC_ONLY');
    expect(() => t.data).toThrow(/async-dev.*await t\.read\(\)/);
    const [a, b] = await Promise.all([t.read(), t.read()]);
    expect(Array.from(a)).toEqual([1.5, -2]);
    expect(b).toBe(a);
    expect(counts.reads).toBe(1); // concurrent reads share one read-back
    expect(Array.from(t.data)).toEqual([1.5, -2]); // now on the host
    expect(t.get(1)).toBe(-2);
  });

  it('Tensor.fromDevice of a storage already held shares its count', () => {
    const { storage, counts } = fakeStorage([1]);
    const a = Tensor.fromDevice([1], 'float32', storage);
    const b = Tensor.fromDevice([1, 1], 'float32', storage);
    a.dispose();
    expect(counts.disposed).toBe(0);
    b.dispose();
    expect(counts.disposed).toBe(1);
  });
});
