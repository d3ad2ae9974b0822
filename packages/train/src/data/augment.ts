import { fmtShape, NormkitError, Rng, Tensor } from '@normkit/tensor';
import { indexSeed } from './random.js';

/**
 * A random transformation of an image batch `[B, C, H, W]` (float32 or float64) that draws all its
 * randomness from `rng`: the same seed gives the same output on every machine. Each sample gets its
 * own draw; the channels of a sample share it.
 */
export type Augmentation = (x: Tensor, rng: Rng) => Tensor;

/** A crop window in the pixel coordinates of the unpadded image; it may reach past the borders (zeros there). */
export interface CropBox {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/** Options of `randomResizedCrop`. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the padded image (default [0.25, 1]). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio width/height, drawn log-uniformly (default [3/4, 4/3]). */
  ratio?: readonly [number, number];
  /** Zero pixels added on every side before cropping (default 2). */
  padding?: number;
}

/** Options of `randomErasing`. */
export interface RandomErasingOptions {
  /** Probability to erase a rectangle in a sample (default 0.5). */
  p?: number;
  /** Range of the rectangle's area as a fraction of the image (default [0.02, 0.33]). */
  scale?: readonly [number, number];
  /** Range of its aspect ratio, drawn log-uniformly (default [0.3, 3.3]). */
  ratio?: readonly [number, number];
  /** The fill: a number (default 0) or 'random' for standard normal noise. */
  value?: number | 'random';
}

/** Tries before a random box search gives up (torchvision's value). */
const BOX_ATTEMPTS = 10;

/**
 * Random resized crop with padding (SimCLR's main augmentation): pad by `padding` zeros, pick a
 * window whose area is a `scale` fraction of the padded image and whose aspect ratio lies in `ratio`
 * (10 tries, then a centre crop, as torchvision does), and resize it back to H×W by bilinear
 * interpolation. Defaults for 28×28: scale [0.25, 1] (SimCLR's 0.08 would leave ~8×8 pixels),
 * ratio [3/4, 4/3], padding 2.
 *
 * @example
 * ```ts
 * const views = randomResizedCrop({ scale: [0.3, 1] })(batch.x, new Rng(batch.seed));
 * ```
 */
export function randomResizedCrop(opts: RandomResizedCropOptions = {}): Augmentation {
  const { scale = [0.25, 1], ratio = [3 / 4, 4 / 3], padding = 2 } = opts;
  checkRange(scale, 'randomResizedCrop', 'scale', 1);
  checkRange(ratio, 'randomResizedCrop', 'ratio');
  if (!Number.isInteger(padding) || padding < 0)
    throw new NormkitError('INVALID_ARGUMENT', `randomResizedCrop: padding must be a non-negative integer, got ${padding}`);
  return (x, rng) => {
    const [b, , h, w] = imageDims(x, 'randomResizedCrop');
    const boxes: CropBox[] = [];
    for (let i = 0; i < b; i++) {
      const box = sampleBox(rng, h + 2 * padding, w + 2 * padding, scale, ratio) ?? centerBox(h + 2 * padding, w + 2 * padding, ratio);
      boxes.push({ ...box, top: box.top - padding, left: box.left - padding });
    }
    return cropResize(x, boxes);
  };
}

/**
 * Crops window `boxes[i]` of sample i and resizes it to the batch's H×W by bilinear interpolation
 * (half-pixel centres, `align_corners = false`; samples clamp to the window's edge pixels; pixels
 * outside the image read as 0). A window equal to the whole image returns the image unchanged.
 *
 * @example
 * ```ts
 * const zoomed = cropResize(x, [{ top: 7, left: 7, height: 14, width: 14 }]); // 2× zoom on the centre
 * ```
 */
export function cropResize(x: Tensor, boxes: readonly CropBox[]): Tensor {
  const [b, c, h, w] = imageDims(x, 'cropResize');
  if (boxes.length !== b)
    throw new NormkitError('SHAPE_MISMATCH', `cropResize: ${boxes.length} boxes for a batch of ${b}; pass one box per sample`);
  const src = x.data as Float32Array | Float64Array;
  const out = new (src.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(src.length);
  const plane = h * w;
  for (let s = 0; s < b; s++) {
    const box = boxes[s]!;
    if (!(box.height >= 1 && box.width >= 1))
      throw new NormkitError('INVALID_ARGUMENT', `cropResize: box ${s} must be at least 1×1, got ${box.height}×${box.width}`);
    const ys = axisSamples(h, box.top, box.height);
    const xs = axisSamples(w, box.left, box.width);
    for (let ch = 0; ch < c; ch++) {
      const base = (s * c + ch) * plane;
      const at = (yy: number, xx: number) => (yy < 0 || yy >= h || xx < 0 || xx >= w ? 0 : src[base + yy * w + xx]!);
      for (let i = 0; i < h; i++) {
        const y0 = ys.lo[i]!;
        const y1 = ys.hi[i]!;
        const fy = ys.frac[i]!;
        for (let j = 0; j < w; j++) {
          const x0 = xs.lo[j]!;
          const x1 = xs.hi[j]!;
          const fx = xs.frac[j]!;
          const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
          const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
          out[base + i * w + j] = top * (1 - fy) + bottom * fy;
        }
      }
    }
  }
  return new Tensor(x.shape, x.dtype, out);
}

/**
 * Mirrors each sample left–right with probability `p` (default 0.5, SimCLR's).
 *
 * @example
 * ```ts
 * horizontalFlip({ p: 1 })(x, new Rng(0)); // every image mirrored
 * ```
 */
export function horizontalFlip(opts: { p?: number } = {}): Augmentation {
  const { p = 0.5 } = opts;
  checkProbability(p, 'horizontalFlip');
  return (x, rng) => {
    const [b, c, h, w] = imageDims(x, 'horizontalFlip');
    const src = x.data as Float32Array | Float64Array;
    const out = src.slice();
    for (let s = 0; s < b; s++) {
      if (!(rng.uniform() < p)) continue;
      for (let row = s * c * h; row < (s + 1) * c * h; row++) for (let j = 0; j < w; j++) out[row * w + j] = src[row * w + w - 1 - j]!;
    }
    return new Tensor(x.shape, x.dtype, out);
  };
}

/**
 * Adds N(0, std²) noise to every pixel of a sample with probability `p` — the 28×28 stand-in for
 * SimCLR's Gaussian blur. Defaults: std 0.1 (on [0, 1] pixels), p 0.5; `clip` (off by default)
 * clamps the result, e.g. `[0, 1]`.
 *
 * @example
 * ```ts
 * gaussianNoise({ std: 0.05, p: 1, clip: [0, 1] })(x, new Rng(3));
 * ```
 */
export function gaussianNoise(opts: { std?: number; p?: number; clip?: readonly [number, number] } = {}): Augmentation {
  const { std = 0.1, p = 0.5, clip } = opts;
  checkProbability(p, 'gaussianNoise');
  if (!(std >= 0)) throw new NormkitError('INVALID_ARGUMENT', `gaussianNoise: std must be ≥ 0, got ${std}`);
  if (clip) checkRange(clip, 'gaussianNoise', 'clip', Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
  const [lo, hi] = clip ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  return (x, rng) => {
    const [b] = imageDims(x, 'gaussianNoise');
    const n = x.size / b;
    const out = (x.data as Float32Array | Float64Array).slice();
    for (let s = 0; s < b; s++) {
      if (!(rng.uniform() < p)) continue;
      for (let k = s * n; k < (s + 1) * n; k++) out[k] = Math.min(hi, Math.max(lo, out[k]! + rng.normal(0, std)));
    }
    return new Tensor(x.shape, x.dtype, out);
  };
}

/**
 * Random erasing (Zhong et al., torchvision's `RandomErasing`): with probability `p`, fills a
 * rectangle of area `scale` × H·W and aspect ratio in `ratio` (10 tries; none fits → no erasing) with
 * `value` in every channel. Defaults: p 0.5, scale [0.02, 0.33], ratio [0.3, 3.3], value 0.
 *
 * @example
 * ```ts
 * randomErasing({ p: 1, value: 'random' })(x, new Rng(4));
 * ```
 */
export function randomErasing(opts: RandomErasingOptions = {}): Augmentation {
  const { p = 0.5, scale = [0.02, 0.33], ratio = [0.3, 3.3], value = 0 } = opts;
  checkProbability(p, 'randomErasing');
  checkRange(scale, 'randomErasing', 'scale', 1);
  checkRange(ratio, 'randomErasing', 'ratio');
  return (x, rng) => {
    const [b, c, h, w] = imageDims(x, 'randomErasing');
    const out = (x.data as Float32Array | Float64Array).slice();
    for (let s = 0; s < b; s++) {
      if (!(rng.uniform() < p)) continue;
      const box = sampleBox(rng, h, w, scale, ratio);
      if (!box) continue;
      for (let ch = 0; ch < c; ch++)
        for (let i = box.top; i < box.top + box.height; i++)
          for (let j = box.left; j < box.left + box.width; j++)
            out[((s * c + ch) * h + i) * w + j] = value === 'random' ? rng.normal() : value;
    }
    return new Tensor(x.shape, x.dtype, out);
  };
}

/**
 * Applies augmentations in order, all drawing from the one `rng`.
 *
 * @example
 * ```ts
 * const aug = compose([randomResizedCrop(), horizontalFlip(), gaussianNoise(), randomErasing()]);
 * ```
 */
export function compose(augmentations: readonly Augmentation[]): Augmentation {
  return (x, rng) => augmentations.reduce((t, aug) => aug(t, rng), x);
}

/**
 * The self-supervised default for 28×28 images: random resized crop, horizontal flip, Gaussian noise
 * and random erasing, each with its defaults (see each function).
 *
 * @example
 * ```ts
 * const [v1, v2] = augmentViews(sslAugmentation(), batch.x, batch.seed);
 * ```
 */
export function sslAugmentation(): Augmentation {
  return compose([randomResizedCrop(), horizontalFlip(), gaussianNoise(), randomErasing()]);
}

/**
 * `count` independently augmented views of one batch; view v uses `new Rng(indexSeed(seed, v))`,
 * so the views are reproducible from the batch's seed alone (pass `LoaderBatch.seed`).
 *
 * @example
 * ```ts
 * const [a, b] = augmentViews(sslAugmentation(), batch.x, batch.seed); // two views for INTL
 * ```
 */
export function augmentViews(aug: Augmentation, x: Tensor, seed: number, count = 2): Tensor[] {
  return Array.from({ length: count }, (_, v) => aug(x, new Rng(indexSeed(seed, v))));
}

/** Torchvision's random box search: area fraction in `scale`, log-uniform ratio; undefined when no try fits. */
function sampleBox(
  rng: Rng,
  h: number,
  w: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox | undefined {
  const [logLo, logHi] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let t = 0; t < BOX_ATTEMPTS; t++) {
    const area = h * w * rng.uniform(scale[0], scale[1]);
    const r = Math.exp(rng.uniform(logLo, logHi));
    const bw = Math.round(Math.sqrt(area * r));
    const bh = Math.round(Math.sqrt(area / r));
    if (bw < 1 || bh < 1 || bw > w || bh > h) continue;
    return { top: rng.int(h - bh + 1), left: rng.int(w - bw + 1), height: bh, width: bw };
  }
  return undefined;
}

/** Torchvision's fallback: the largest centred window whose ratio is clamped into `ratio`. */
function centerBox(h: number, w: number, ratio: readonly [number, number]): CropBox {
  let [bh, bw] = [h, w];
  if (w / h < ratio[0]) bh = Math.round(w / ratio[0]);
  else if (w / h > ratio[1]) bw = Math.round(h * ratio[1]);
  return { top: Math.floor((h - bh) / 2), left: Math.floor((w - bw) / 2), height: bh, width: bw };
}

/** For each of `n` output pixels: the two source pixels and the weight of the second, clamped to the window. */
function axisSamples(n: number, start: number, length: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const frac = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const pos = Math.min(length - 1, Math.max(0, ((i + 0.5) * length) / n - 0.5));
    const k = Math.floor(pos);
    lo[i] = start + k;
    hi[i] = start + Math.min(k + 1, length - 1);
    frac[i] = pos - k;
  }
  return { lo, hi, frac };
}

function imageDims(x: Tensor, op: string): [number, number, number, number] {
  if (x.rank !== 4 || (x.dtype !== 'float32' && x.dtype !== 'float64'))
    throw new NormkitError('SHAPE_MISMATCH', `${op}: expects a float image batch [B, C, H, W], got ${x.dtype} ${fmtShape(x.shape)}`, {
      shape: x.shape,
    });
  return x.shape as [number, number, number, number];
}

function checkProbability(p: number, op: string): void {
  if (!(p >= 0 && p <= 1)) throw new NormkitError('INVALID_ARGUMENT', `${op}: p must be a probability in [0, 1], got ${p}`);
}

function checkRange(range: readonly [number, number], op: string, name: string, max = Number.POSITIVE_INFINITY, min = 0): void {
  const [lo, hi] = range;
  if (!(lo > min && lo <= hi && hi <= max))
    throw new NormkitError('INVALID_ARGUMENT', `${op}: ${name} must be [lo, hi] with ${min} < lo ≤ hi ≤ ${max}, got [${lo}, ${hi}]`);
}
