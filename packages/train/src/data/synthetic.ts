import { NormkitError, Rng, Tensor } from '@normkit/tensor';

/** A labelled point set: inputs `[m, n]` and int32 labels `[m]`. */
export interface LabelledSet {
  readonly x: Tensor;
  readonly y: Tensor;
}

/** Options shared by the synthetic sets. */
export interface SyntheticOptions {
  /** Seed of the xoshiro128** `Rng` (default 0). */
  seed?: number;
  /** dtype of `x` (default float32; float64 for the exact-arithmetic theory checks). */
  dtype?: 'float32' | 'float64';
}

/**
 * m points in Rⁿ drawn i.i.d. from N(0, I) with labels drawn uniformly from `0..classes-1`, independent
 * of the points (the memorization setting of the LN-Net results: any labelling must be fit).
 *
 * @example
 * ```ts
 * const { x, y } = randomLabels(100, 8, { classes: 2, seed: 1 }); // x [100, 8], y [100]
 * ```
 */
export function randomLabels(m: number, n: number, opts: SyntheticOptions & { classes?: number } = {}): LabelledSet {
  const { seed = 0, dtype = 'float32', classes = 2 } = opts;
  checkCount(m, 'randomLabels', 'm');
  checkCount(n, 'randomLabels', 'n');
  checkCount(classes, 'randomLabels', 'classes');
  const rng = new Rng(seed);
  const x = Tensor.zeros([m, n], dtype);
  const xd = x.data as Float32Array | Float64Array;
  for (let i = 0; i < xd.length; i++) xd[i] = rng.normal();
  const y = Int32Array.from({ length: m }, () => rng.int(classes));
  return { x, y: new Tensor([m], 'int32', y) };
}

/**
 * Two interleaved spirals in R² (class 0 and its point reflection, class 1), m/2 points each (class 0
 * gets the extra point when m is odd): point t ∈ [0, 1) of a spiral sits at radius t and angle
 * 2π·turns·t (+π for class 1), plus N(0, noise²) on each coordinate.
 *
 * @example
 * ```ts
 * const { x, y } = twoSpirals(400, { turns: 1.5, noise: 0.02, seed: 0 }); // x [400, 2]
 * ```
 */
export function twoSpirals(m: number, opts: SyntheticOptions & { turns?: number; noise?: number } = {}): LabelledSet {
  const { seed = 0, dtype = 'float32', turns = 1.5, noise = 0 } = opts;
  checkCount(m, 'twoSpirals', 'm');
  if (!(turns > 0 && noise >= 0))
    throw new NormkitError('INVALID_ARGUMENT', `twoSpirals: turns must be > 0 and noise ≥ 0, got turns ${turns}, noise ${noise}`);
  const rng = new Rng(seed);
  const x = Tensor.zeros([m, 2], dtype);
  const xd = x.data as Float32Array | Float64Array;
  const y = new Int32Array(m);
  const perClass = [Math.ceil(m / 2), Math.floor(m / 2)];
  for (let i = 0; i < m; i++) {
    const label = i < perClass[0]! ? 0 : 1;
    const t = (label === 0 ? i : i - perClass[0]!) / perClass[label]!;
    const angle = 2 * Math.PI * turns * t + label * Math.PI;
    xd[2 * i] = t * Math.cos(angle) + rng.normal(0, noise);
    xd[2 * i + 1] = t * Math.sin(angle) + rng.normal(0, noise);
    y[i] = label;
  }
  return { x, y: new Tensor([m], 'int32', y) };
}

/**
 * A mixture of k isotropic Gaussians in Rⁿ: centres drawn from N(0, separation²·I), each point picks
 * a component uniformly and gets N(0, std²·I) around its centre; its label is the component.
 *
 * @example
 * ```ts
 * const { x, y, centers } = gaussianMixture(300, 2, { k: 3, separation: 4, std: 1, seed: 2 });
 * ```
 */
export function gaussianMixture(
  m: number,
  n: number,
  opts: SyntheticOptions & { k?: number; separation?: number; std?: number } = {},
): LabelledSet & { readonly centers: Tensor } {
  const { seed = 0, dtype = 'float32', k = 2, separation = 3, std = 1 } = opts;
  checkCount(m, 'gaussianMixture', 'm');
  checkCount(n, 'gaussianMixture', 'n');
  checkCount(k, 'gaussianMixture', 'k');
  if (!(separation >= 0 && std >= 0))
    throw new NormkitError('INVALID_ARGUMENT', `gaussianMixture: separation and std must be ≥ 0, got ${separation} and ${std}`);
  const rng = new Rng(seed);
  const centers = Float64Array.from({ length: k * n }, () => rng.normal(0, separation));
  const x = Tensor.zeros([m, n], dtype);
  const xd = x.data as Float32Array | Float64Array;
  const y = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const c = rng.int(k);
    y[i] = c;
    for (let j = 0; j < n; j++) xd[i * n + j] = centers[c * n + j]! + rng.normal(0, std);
  }
  return {
    x,
    y: new Tensor([m], 'int32', y),
    centers: new Tensor([k, n], dtype, dtype === 'float64' ? centers : Float32Array.from(centers)),
  };
}

function checkCount(v: number, op: string, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new NormkitError('INVALID_ARGUMENT', `${op}: ${name} must be a positive integer, got ${v}`);
}
