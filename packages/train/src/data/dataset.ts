import { fmtShape, NormkitError, Rng, Tensor } from '@normkit/tensor';
import { indexSeed, permutation } from './random.js';

/** One batch: inputs, integer labels and the dataset indices they came from. */
export interface Batch {
  /** Inputs `[B, ...sampleShape]` (float32 for images). */
  readonly x: Tensor;
  /** Labels `[B]`, int32 (class indices, as `gather`-based cross-entropy wants them). */
  readonly y: Tensor;
  /** Index of each row in the dataset the batch was drawn from. */
  readonly indices: Int32Array;
}

/**
 * A finite, indexable set of labelled samples. `batch(indices)` builds the tensors of those samples
 * on demand, so a dataset can keep compact storage (uint8 images) and convert per batch.
 */
export interface Dataset {
  /** Number of samples. */
  readonly size: number;
  /** Shape of one input, e.g. `[1, 28, 28]`. */
  readonly sampleShape: readonly number[];
  /** Number of classes (labels are `0..classes-1`). */
  readonly classes: number;
  /** The samples at `indices`, in that order. */
  batch(indices: ArrayLike<number>): Batch;
}

/** Options of `ImageDataset`: the affine map applied to `pixel / 255`. */
export interface ImageDatasetOptions {
  /** Subtracted from `pixel / 255` (default 0). */
  mean?: number;
  /** Divides `pixel / 255 - mean` (default 1). */
  std?: number;
}

/**
 * uint8 images `[N, C, H, W]` with uint8 labels, kept as bytes (60000×784 is 47 MB instead of 188 MB
 * of float32) and converted per batch to float32 `(pixel / 255 - mean) / std` — in [0, 1] by default.
 *
 * @example
 * ```ts
 * const ds = new ImageDataset(new Uint8Array([0, 255, 128, 64]), new Uint8Array([3]), [1, 2, 2], 10);
 * ds.batch([0]).x.shape; // [1, 1, 2, 2]
 * ```
 */
export class ImageDataset implements Dataset {
  readonly size: number;
  readonly sampleShape: readonly number[];
  readonly classes: number;
  /** The raw pixels, `size × prod(sampleShape)` bytes. */
  readonly images: Uint8Array;
  /** The raw labels, `size` bytes. */
  readonly labels: Uint8Array;
  private readonly lut = new Float32Array(256);
  private readonly sampleSize: number;

  constructor(images: Uint8Array, labels: Uint8Array, sampleShape: readonly number[], classes: number, opts: ImageDatasetOptions = {}) {
    this.sampleSize = sampleShape.reduce((a, b) => a * b, 1);
    if (images.length !== labels.length * this.sampleSize)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `ImageDataset: ${labels.length} labels need ${labels.length * this.sampleSize} pixels of shape ${fmtShape(sampleShape)} but got ${images.length}; pass images and labels of the same split`,
        { images: images.length, labels: labels.length, sampleShape },
      );
    const { mean = 0, std = 1 } = opts;
    if (!(std > 0)) throw new NormkitError('INVALID_ARGUMENT', `ImageDataset: std must be positive, got ${std}`);
    for (let v = 0; v < 256; v++) this.lut[v] = (v / 255 - mean) / std;
    this.images = images;
    this.labels = labels;
    this.size = labels.length;
    this.sampleShape = Object.freeze([...sampleShape]);
    this.classes = classes;
  }

  batch(indices: ArrayLike<number>): Batch {
    const idx = checkIndices(indices, this.size, 'ImageDataset.batch');
    const n = this.sampleSize;
    const x = new Float32Array(idx.length * n);
    const y = new Int32Array(idx.length);
    for (let b = 0; b < idx.length; b++) {
      const src = idx[b]! * n;
      for (let k = 0; k < n; k++) x[b * n + k] = this.lut[this.images[src + k]!]!;
      y[b] = this.labels[idx[b]!]!;
    }
    return { x: new Tensor([idx.length, ...this.sampleShape], 'float32', x), y: new Tensor([idx.length], 'int32', y), indices: idx };
  }
}

/**
 * A dataset over in-memory tensors: inputs `x` `[N, ...]` (float32 or float64) and int32 labels `y` `[N]`.
 * Used for the synthetic sets.
 *
 * @example
 * ```ts
 * const ds = new TensorDataset(Tensor.randn([4, 2], 0), Tensor.from([0, 1, 1, 0], undefined, 'int32'));
 * ds.batch([3, 0]).y.toFlatArray(); // [0, 0]
 * ```
 */
export class TensorDataset implements Dataset {
  readonly size: number;
  readonly sampleShape: readonly number[];
  readonly classes: number;

  constructor(
    readonly x: Tensor,
    readonly y: Tensor,
    classes?: number,
  ) {
    if (x.dtype !== 'float32' && x.dtype !== 'float64')
      throw new NormkitError('DTYPE_MISMATCH', `TensorDataset: x must be float32 or float64, got ${x.dtype}`);
    if (y.dtype !== 'int32' || y.rank !== 1 || x.rank < 1 || y.shape[0] !== x.shape[0])
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `TensorDataset: needs x [N, ...] and int32 y [N], got x ${fmtShape(x.shape)} and y ${y.dtype} ${fmtShape(y.shape)}`,
        { x: x.shape, y: y.shape },
      );
    this.size = y.shape[0]!;
    this.sampleShape = x.shape.slice(1);
    let max = -1;
    for (const v of y.data as Int32Array) max = Math.max(max, v);
    this.classes = classes ?? max + 1;
  }

  batch(indices: ArrayLike<number>): Batch {
    const idx = checkIndices(indices, this.size, 'TensorDataset.batch');
    const n = this.x.size / Math.max(1, this.size);
    const src = this.x.data as Float32Array | Float64Array;
    const x = this.x.dtype === 'float64' ? new Float64Array(idx.length * n) : new Float32Array(idx.length * n);
    const labels = this.y.data as Int32Array;
    const y = new Int32Array(idx.length);
    for (let b = 0; b < idx.length; b++) {
      x.set(src.subarray(idx[b]! * n, (idx[b]! + 1) * n), b * n);
      y[b] = labels[idx[b]!]!;
    }
    return { x: new Tensor([idx.length, ...this.sampleShape], this.x.dtype, x), y: new Tensor([idx.length], 'int32', y), indices: idx };
  }
}

/**
 * The samples of `base` at `indices` (in that order), as a dataset of its own; batch indices refer to
 * the subset. `subset.sourceIndices` maps them back to `base`.
 *
 * @example
 * ```ts
 * const first100 = subset(train, Int32Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function subset(base: Dataset, indices: ArrayLike<number>): Dataset & { readonly sourceIndices: Int32Array } {
  const sourceIndices = checkIndices(indices, base.size, 'subset');
  return {
    size: sourceIndices.length,
    sampleShape: base.sampleShape,
    classes: base.classes,
    sourceIndices,
    batch(idx) {
      const local = checkIndices(idx, sourceIndices.length, 'subset.batch');
      const b = base.batch(local.map((i) => sourceIndices[i]!));
      return { x: b.x, y: b.y, indices: local };
    },
  };
}

/** Options of `splitValidation`. */
export interface ValidationSplitOptions {
  /** Held-out samples: a count (integer ≥ 1) or a fraction in (0, 1). Default 0 (no validation set). */
  validation?: number;
  /** Seed of the permutation that picks the held-out samples (default 0). */
  seed?: number;
  /** Keep only the first `limit` training samples (file order) after holding out validation. */
  limit?: number;
}

/**
 * Splits `ds` into a training and a validation set: the validation set is the last k entries of a
 * seeded permutation of `0..N-1` (so it does not depend on `limit`); the training set is every other
 * sample in file order, cut to the first `limit`. The two never share a sample.
 *
 * @example
 * ```ts
 * const { train, validation } = splitValidation(data.train, { validation: 5000, seed: 1, limit: 20000 });
 * ```
 */
export function splitValidation(
  ds: Dataset,
  opts: ValidationSplitOptions = {},
): { train: Dataset & { readonly sourceIndices: Int32Array }; validation: Dataset & { readonly sourceIndices: Int32Array } } {
  const { validation = 0, seed = 0, limit } = opts;
  const k = validation > 0 && validation < 1 ? Math.round(validation * ds.size) : validation;
  if (!Number.isInteger(k) || k < 0 || k >= ds.size)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `splitValidation: validation must be a fraction in (0, 1) or a count in [0, ${ds.size - 1}] for ${ds.size} samples, got ${validation}`,
    );
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new NormkitError('INVALID_ARGUMENT', `splitValidation: limit must be a positive integer, got ${limit}`);
  const held = permutation(ds.size, new Rng(indexSeed(seed))).subarray(ds.size - k);
  const isHeld = new Uint8Array(ds.size);
  for (const i of held) isHeld[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < ds.size && (limit === undefined || rest.length < limit); i++) if (!isHeld[i]) rest.push(i);
  return { train: subset(ds, rest), validation: subset(ds, held) };
}

function checkIndices(indices: ArrayLike<number>, size: number, where: string): Int32Array {
  const idx = Int32Array.from(indices);
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] !== indices[i] || idx[i]! < 0 || idx[i]! >= size)
      throw new NormkitError('INDEX_OUT_OF_RANGE', `${where}: index ${indices[i]} is not an integer in [0, ${size})`, {
        index: indices[i],
        size,
      });
  }
  return idx;
}
