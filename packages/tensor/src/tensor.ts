import { allocate, type DType, type DTypeArrays, dtypeOf, fromNumbers, readNumber, type TypedArray } from './dtype.js';
import { fmtShape, NormkitError } from './errors.js';
import { defineOp, type GradFn, runOp } from './op-registry.js';
import { Rng } from './random.js';
import { sizeOf, stridesOf, validateShape } from './shape.js';

/**
 * Where a tensor's elements live. CPU tensors hold a typed array; a device backend (gpu.js) holds a
 * handle instead and reads back only when the caller asks for values. A backend that can read only
 * asynchronously (WebGPU) gives `readAsync` and no `read`: `tensor.data` then throws READ_ASYNC_ONLY
 * and `await tensor.read()` is the way to the values.
 */
export interface DeviceStorage {
  /** Name of the backend that owns the handle. */
  readonly backend: string;
  /** Backend-specific handle (a gpu.js texture, a WebGPU buffer, ...). */
  readonly handle: unknown;
  /** Reads the values back to the host, blocking. Absent on backends that read only asynchronously. */
  read?(): TypedArray;
  /** Reads the values back to the host, awaited (every kernel queued before it has run). */
  readAsync?(): Promise<TypedArray>;
  /** Releases the device memory (called once, when the last tensor using the handle is disposed). */
  dispose?(): void;
}

/**
 * A backend-owned handle shared by a device tensor and its views (reshapes), reference-counted like
 * tfjs's `dataId`: the device memory is released when the last tensor using it is disposed. The values
 * read back are cached here, so a view never reads twice.
 */
interface DeviceRef {
  readonly storage: DeviceStorage;
  refs: number;
  host?: TypedArray;
  pending?: Promise<TypedArray>;
}

// Every live handle per storage object: `Tensor.fromDevice` of a storage already held shares its count.
const deviceRefs = new WeakMap<DeviceStorage, DeviceRef>();

/** Nested arrays of numbers, for `tensor([[1, 2], [3, 4]])`. */
export type NestedArray = number | boolean | readonly NestedArray[];

/**
 * An n-dimensional array: a shape, a dtype and contiguous row-major storage.
 * Reshape-like operations (`reshape`) share storage with the original: treat tensors as immutable.
 *
 * @example
 * ```ts
 * const x = Tensor.from([[1, 2, 3], [4, 5, 6]]); // float32 [2, 3]
 * x.shape;     // [2, 3]
 * x.toArray(); // [[1, 2, 3], [4, 5, 6]]
 * ```
 */
export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  private host: DTypeArrays[D] | undefined;
  private device: DeviceRef | undefined;
  private disposed = false;

  constructor(shape: readonly number[], dtype: D, data?: DTypeArrays[D]) {
    validateShape(shape, 'Tensor');
    const size = sizeOf(shape);
    if (data !== undefined) {
      if (dtypeOf(data) !== dtype)
        throw new NormkitError('DTYPE_MISMATCH', `Tensor: data is ${dtypeOf(data)} but dtype ${dtype} was asked for`);
      if (data.length !== size)
        throw new NormkitError('SHAPE_MISMATCH', `Tensor: shape ${fmtShape(shape)} needs ${size} elements but data has ${data.length}`, {
          shape,
        });
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.host = data ?? allocate(dtype, size);
  }

  /**
   * A tensor whose values live on a device until read. Tensors made from the same `storage` (views)
   * share one reference count: the storage is disposed when the last of them is.
   * @example Tensor.fromDevice([2, 2], 'float32', { backend: 'gpu', handle: tex, read: () => download(tex) })
   */
  static fromDevice<D extends DType>(shape: readonly number[], dtype: D, storage: DeviceStorage): Tensor<D> {
    validateShape(shape, 'Tensor.fromDevice');
    let ref = deviceRefs.get(storage);
    if (ref === undefined || ref.refs <= 0) {
      ref = { storage, refs: 0 };
      deviceRefs.set(storage, ref);
    }
    ref.refs += 1;
    // Construct as an empty tensor, then take the real shape: device tensors have no host array to check.
    const t = new Tensor([0], dtype, allocate(dtype, 0) as DTypeArrays[D]).withoutCheck(shape);
    t.host = ref.host as DTypeArrays[D] | undefined;
    t.device = ref;
    return t;
  }

  /** Internal: same object with a shape set without the element-count check (used for device tensors). */
  private withoutCheck(shape: readonly number[]): this {
    (this as { shape: readonly number[] }).shape = Object.freeze([...shape]);
    return this;
  }

  /**
   * Builds a tensor from nested arrays or a typed array.
   * @example Tensor.from([1, 2, 3]); Tensor.from(new Int32Array([1, 2]), [2]); Tensor.from([[1, 2]], undefined, 'int64')
   */
  static from(values: NestedArray | TypedArray, shape?: readonly number[], dtype?: DType): Tensor {
    if (ArrayBuffer.isView(values)) {
      const d = dtype ?? dtypeOf(values);
      const data = d === dtypeOf(values) ? values : fromNumbers(d, Array.from(values as ArrayLike<number | bigint>, Number));
      return new Tensor(shape ?? [values.length], d, data);
    }
    const inferred: number[] = [];
    let v: NestedArray = values;
    while (Array.isArray(v)) {
      inferred.push(v.length);
      v = v[0] as NestedArray;
    }
    const flat: number[] = [];
    const walk = (x: NestedArray, depth: number) => {
      if (Array.isArray(x)) {
        if (x.length !== inferred[depth])
          throw new NormkitError(
            'RAGGED_ARRAY',
            `Tensor.from: ragged nested array (dimension ${depth} has lengths ${inferred[depth]} and ${x.length})`,
          );
        for (const y of x) walk(y, depth + 1);
      } else {
        if (depth !== inferred.length)
          throw new NormkitError('RAGGED_ARRAY', 'Tensor.from: ragged nested array (a number where an array was expected)');
        flat.push(Number(x));
      }
    };
    walk(values, 0);
    const d = dtype ?? (typeof v === 'boolean' ? 'bool' : 'float32');
    return new Tensor(shape ?? inferred, d, fromNumbers(d, flat));
  }

  /** A scalar (rank-0) tensor. @example Tensor.scalar(3) // shape [] */
  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return new Tensor([], dtype, fromNumbers(dtype, [value]));
  }

  /** All zeros. @example Tensor.zeros([2, 3]) */
  static zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return new Tensor(shape, dtype);
  }

  /** All ones. @example Tensor.ones([2, 2]) */
  static ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return Tensor.full(shape, 1, dtype);
  }

  /** Every element set to `value`. @example Tensor.full([2], 7, 'int64') */
  static full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
    const t = new Tensor(shape, dtype);
    const data = t.data;
    if (data instanceof BigInt64Array) data.fill(BigInt(Math.trunc(value)));
    else data.fill(value);
    return t;
  }

  /** `[start, start + step, ...)` up to `stop` (exclusive), like `np.arange`. @example Tensor.arange(0, 5) */
  static arange(start: number, stop?: number, step = 1, dtype: DType = 'float32'): Tensor {
    if (stop === undefined) {
      stop = start;
      start = 0;
    }
    if (step === 0) throw new NormkitError('INVALID_ARGUMENT', 'arange: step must not be 0');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    const vals = new Array<number>(n);
    for (let i = 0; i < n; i++) vals[i] = start + i * step;
    return new Tensor([n], dtype, fromNumbers(dtype, vals));
  }

  /** Seeded standard-normal samples (see `Rng`). @example Tensor.randn([4, 8], 42) */
  static randn(shape: readonly number[], seed: number, { mean = 0, std = 1, dtype = 'float32' as 'float32' | 'float64' } = {}): Tensor {
    const rng = new Rng(seed);
    const t = new Tensor(shape, dtype);
    const data = t.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) data[i] = rng.normal(mean, std);
    return t;
  }

  /** Seeded uniform samples in [lo, hi). @example Tensor.rand([4], 1, { lo: -1, hi: 1 }) */
  static rand(shape: readonly number[], seed: number, { lo = 0, hi = 1, dtype = 'float32' as 'float32' | 'float64' } = {}): Tensor {
    const rng = new Rng(seed);
    const t = new Tensor(shape, dtype);
    const data = t.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) data[i] = rng.uniform(lo, hi);
    return t;
  }

  /** Number of elements. @example Tensor.zeros([2, 3]).size // 6 */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** @example Tensor.zeros([2, 3]).rank // 2 */
  get rank(): number {
    return this.shape.length;
  }

  /** @example Tensor.zeros([2, 3]).strides // [3, 1] */
  get strides(): number[] {
    return stridesOf(this.shape);
  }

  /**
   * The values on the host, reading them back from the device first if needed (blocking). On a
   * backend that reads only asynchronously (WebGPU) it throws READ_ASYNC_ONLY: use `await t.read()`.
   * @example Tensor.from([1, 2]).data // Float32Array [1, 2]
   */
  get data(): DTypeArrays[D] {
    if (this.host !== undefined) return this.host;
    const ref = this.liveRef('data');
    if (ref.host === undefined) {
      const read = ref.storage.read;
      if (!read)
        throw new NormkitError(
          'READ_ASYNC_ONLY',
          `Tensor ${this.describeForError()}: its values are on the "${ref.storage.backend}" device, which reads back only asynchronously; use \`await t.read()\` (or run the graph with Executor.runAsync) instead of .data`,
          { shape: this.shape, dtype: this.dtype, backend: ref.storage.backend },
        );
      ref.host = read.call(ref.storage);
    }
    this.host = ref.host as DTypeArrays[D];
    return this.host;
  }

  /**
   * The values on the host, awaited: on a device backend this waits until every kernel queued before
   * it has run and the values have come back (tfjs `data()`, onnxruntime-web `getData()`); on the host
   * it resolves at once. Views share the read. Rejects with DISPOSED after `dispose()`.
   * @example const values = await matmul(a, b).read(); // Float32Array
   */
  async read(): Promise<DTypeArrays[D]> {
    if (this.host !== undefined) return this.host;
    const ref = this.liveRef('read()');
    if (ref.host === undefined) {
      const { storage } = ref;
      ref.pending ??= storage.readAsync
        ? storage.readAsync()
        : Promise.resolve().then(() => (storage.read as () => TypedArray).call(storage));
      try {
        ref.host = await ref.pending;
      } finally {
        ref.pending = undefined;
      }
    }
    if (this.disposed) this.liveRef('read()');
    this.host = ref.host as DTypeArrays[D];
    return this.host;
  }

  /** The device handle of a tensor that is not disposed, or the error that says why there is none. */
  private liveRef(what: string): DeviceRef {
    if (this.disposed)
      throw new NormkitError(
        'DISPOSED',
        `Tensor ${this.describeForError()}: ${what} after dispose(); its storage was released. Read the values before disposing, or keep the tensor (and its views) alive while they are used`,
        { shape: this.shape, dtype: this.dtype },
      );
    if (this.device === undefined)
      throw new NormkitError(
        'RECYCLED',
        `Tensor ${fmtShape(this.shape)}: its storage was recycled after a backward pass (an intermediate result of computeGrads, or of valueAndGrads with recycle); read the values inside the function, or turn recycling off`,
        { shape: this.shape },
      );
    return this.device;
  }

  private describeForError(): string {
    return `${this.dtype} ${fmtShape(this.shape)}`;
  }

  /**
   * Forgets the host values, whose storage `recycle` handed back for reuse: reading them afterwards
   * throws RECYCLED instead of returning another tensor's values. Call `recycle`, not this.
   * @example intermediate.forgetStorage()
   */
  forgetStorage(): void {
    if (this.device === undefined) this.host = undefined;
  }

  /** The device storage, when a device backend holds this tensor's values (undefined once disposed). @example t.deviceStorage?.backend // 'gpu' */
  get deviceStorage(): DeviceStorage | undefined {
    return this.disposed ? undefined : this.device?.storage;
  }

  /** Whether the values are already on the host (no read-back needed). @example Tensor.from([1]).onHost // true */
  get onHost(): boolean {
    return this.host !== undefined;
  }

  /** Whether `dispose()` was called. @example t.dispose(); t.isDisposed // true */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Releases this tensor's hold on its storage; device memory is freed when the last tensor sharing
   * the handle (its views) is disposed. Safe to call twice; reading afterwards throws DISPOSED.
   * @example t.dispose()
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.host = undefined;
    const ref = this.device;
    if (ref === undefined) return;
    ref.refs -= 1;
    if (ref.refs === 0) {
      ref.host = undefined;
      deviceRefs.delete(ref.storage);
      ref.storage.dispose?.();
    }
  }

  /**
   * A view with another shape of the same size, sharing storage. `-1` infers one dimension. The op
   * `reshape` (recorded for gradients) is this method. @example Tensor.arange(0, 6).reshape([2, -1]) // shape [2, 3]
   */
  reshape(shape: readonly number[]): Tensor<D> {
    const out = inferReshape(this.shape, shape);
    return runOp(RESHAPE, [this], { shape: out }, () => {
      if (this.host !== undefined || this.device === undefined) return new Tensor(out, this.dtype, this.data);
      return Tensor.fromDevice(out, this.dtype, this.liveRef('reshape').storage);
    }) as Tensor<D>;
  }

  /** Element at a multi-index, as a number. @example t.get(0, 1) */
  get(...index: number[]): number {
    if (index.length !== this.rank)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `get: expected ${this.rank} indices for shape ${fmtShape(this.shape)}, got ${index.length}`,
      );
    let off = 0;
    const strides = this.strides;
    for (let i = 0; i < index.length; i++) {
      const k = index[i] as number;
      if (k < 0 || k >= (this.shape[i] as number))
        throw new NormkitError('INDEX_OUT_OF_RANGE', `get: index ${k} out of range for dimension ${i} of shape ${fmtShape(this.shape)}`);
      off += k * (strides[i] as number);
    }
    return readNumber(this.data, off);
  }

  /** The values as a flat array of JS numbers. @example Tensor.from([[1, 2], [3, 4]]).toFlatArray() // [1, 2, 3, 4] */
  toFlatArray(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, Number);
  }

  /** The values as nested arrays (a number for a scalar). @example Tensor.from([[1, 2]]).toArray() // [[1, 2]] */
  toArray(): NestedArray {
    const flat = this.toFlatArray();
    if (this.rank === 0) return flat[0] as number;
    const build = (dim: number, off: number): NestedArray[] => {
      const n = this.shape[dim] as number;
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(dim === this.rank - 1 ? (flat[off + i] as number) : build(dim + 1, off + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /** A copy of this tensor (host storage). @example const copy = t.clone() */
  clone(): Tensor<D> {
    return new Tensor(this.shape, this.dtype, this.data.slice() as DTypeArrays[D]);
  }

  /** @example String(Tensor.zeros([2])) // 'Tensor(float32, [2])' */
  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)})`;
  }
}

/**
 * The gradient of any op that only changes the shape (reshape, squeeze, unsqueeze, flatten): dy
 * reshaped back to the input's shape. @example defineOp({ name: 'myLib.view', grad: reshapeGrad })
 */
export const reshapeGrad: GradFn = (dy, { inputs: [x] }) => [dy.reshape((x as Tensor).shape)];
const RESHAPE = defineOp<{ shape: readonly number[] }>({ name: 'reshape', grad: reshapeGrad });

/** Resolves a reshape target (with one `-1` and ONNX's `0` = copy-dim left to the caller) against `from`. @example inferReshape([2, 3], [-1]) // [6] */
export function inferReshape(from: readonly number[], to: readonly number[]): number[] {
  const size = sizeOf(from);
  const out = [...to];
  const neg = out.indexOf(-1);
  if (neg !== out.lastIndexOf(-1)) throw new NormkitError('INVALID_SHAPE', `reshape: target ${fmtShape(to)} has more than one -1`);
  if (neg >= 0) {
    const known = sizeOf(out.filter((_, i) => i !== neg));
    if (known === 0 || size % known !== 0)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `reshape: cannot infer -1 reshaping ${fmtShape(from)} (${size} elements) to ${fmtShape(to)}`,
      );
    out[neg] = size / known;
  }
  if (sizeOf(out) !== size)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `reshape: cannot reshape ${fmtShape(from)} (${size} elements) to ${fmtShape(to)} (${sizeOf(out)} elements)`,
      { from, to },
    );
  return out;
}
