import { allocate, type DType, type DTypeArrays, fmtShape, NormkitError, Tensor } from '@normkit/tensor';

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, bool: 1 };

/**
 * A tensor whose values are read only when first asked for (`.data`, `read()`) and can be dropped
 * again with `release()`; the next access reads them again. It is how a model larger than memory is
 * held: `loadModel` gives big initializers as lazy tensors reading their bytes from the file on
 * demand, a pass that derives a weight from one makes another (`LazyTensor.derive`), the executor
 * releases each after the last node that reads it, and `saveModel` writes one at a time, releasing
 * each after it is written. Shape and dtype are known without reading.
 *
 * @example
 * ```ts
 * const w = new LazyTensor([2, 2], 'float32', () => new Float32Array([1, 2, 3, 4]));
 * w.loaded;   // false
 * w.data[3];  // 4 (read now)
 * w.release(); w.loaded; // false
 * ```
 */
export class LazyTensor<D extends DType = DType> extends Tensor<D> {
  private values: DTypeArrays[D] | undefined;
  private readonly load: () => DTypeArrays[D];
  /** How many times the values were read (for tests and diagnostics). */
  loads = 0;

  constructor(shape: readonly number[], dtype: D, load: () => DTypeArrays[D]) {
    // Built empty, then given its real shape: nothing of the tensor's size is allocated here.
    super([0], dtype, allocate(dtype, 0) as DTypeArrays[D]);
    (this as { shape: readonly number[] }).shape = Object.freeze([...shape]);
    this.load = load;
  }

  /**
   * A lazy tensor computed from `from` when read: `compute` gets `from` (read for it, then released
   * again if it was not already read) and returns the values. Keeps a derivation of a weight of a model
   * larger than memory from holding it.
   * @example LazyTensor.derive(w, w.shape, 'float32', (src) => Float32Array.from(src.data as Float32Array, (v) => v * 2))
   */
  static derive<D extends DType>(
    from: Tensor,
    shape: readonly number[],
    dtype: D,
    compute: (from: Tensor) => DTypeArrays[D],
  ): LazyTensor<D> {
    return new LazyTensor(shape, dtype, () => {
      const held = !isLazy(from) || from.loaded;
      try {
        return compute(from);
      } finally {
        if (!held) (from as LazyTensor).release();
      }
    });
  }

  /** The values, read now if they are not held. @example w.data */
  override get data(): DTypeArrays[D] {
    if (this.values !== undefined) return this.values;
    const v = this.load();
    const size = this.size;
    if (v.length !== size || !(v instanceof (allocate(this.dtype, 0).constructor as new () => DTypeArrays[D])))
      throw new NormkitError(
        'CORRUPT_TENSOR',
        `lazy tensor ${this.dtype} ${fmtShape(this.shape)}: its reader gave ${v.length} values of another kind than ${size} ${this.dtype} values`,
        { shape: this.shape, dtype: this.dtype },
      );
    this.loads += 1;
    this.values = v;
    return v;
  }

  /** The values (read now if not held). @example await w.read() */
  override async read(): Promise<DTypeArrays[D]> {
    return this.data;
  }

  /** Whether the values are held now. @example w.loaded // false until read */
  get loaded(): boolean {
    return this.values !== undefined;
  }

  /** Bytes the values take when held. @example new LazyTensor([1024], 'float32', f).byteLength // 4096 */
  get byteLength(): number {
    return this.size * BYTES[this.dtype];
  }

  /** Drops the held values (memory is freed once nothing else refers to them); reading again reads anew. @example w.release() */
  release(): void {
    this.values = undefined;
  }

  /** Same as `release()`: a lazy tensor can always be read again. @example w.dispose() */
  override dispose(): void {
    this.release();
  }
}

/**
 * Whether `t` is a `LazyTensor` (values read on demand, releasable).
 * @example isLazy(model.graph.initializers.get('w')!) // true for a weight loadModel streams
 */
export function isLazy(t: Tensor | undefined): t is LazyTensor {
  return t instanceof LazyTensor;
}

/**
 * Drops the values that the lazy tensors among `tensors` hold; returns how many held some.
 * @example releaseLazy(model.graph.initializers.values()) // after a pass that read weights
 */
export function releaseLazy(tensors: Iterable<Tensor>): number {
  let n = 0;
  for (const t of tensors)
    if (isLazy(t) && t.loaded) {
      t.release();
      n++;
    }
  return n;
}
