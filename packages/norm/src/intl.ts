import { defineOp, fmtShape, NormkitError, runOp, type Tensor } from '@normkit/tensor';
import { centerRowsF64, type F64, f64, requireFloat, tensorOf, transposeF64, uncenterGradRows } from './internal.js';
import { newtonBackward, newtonForward } from './newton.js';
import { lossTensor, matchInputs, upstream } from './recorded-op.js';

/** Options of the INTL whitening (winci-ai/INTL `Whitening2dIterNorm`). */
export interface IntlWhitenOptions {
  /** 0: "channel whitening" over the N×N sample Gram matrix (default); 1: "batch whitening" over the D×D covariance. */
  axis?: 0 | 1;
  /** Newton iterations. Default 4. */
  iters?: number;
  /** σ = (1 − ε)·Σ + ε·I (`w_eps`). Default 0. */
  epsilon?: number;
}

/** Options of `traceLoss`. */
export interface TraceLossOptions {
  /** 0: variance of each sample over its D features (default); 1: variance of each feature over the batch. */
  axis?: 0 | 1;
}

/** Options of `intlLoss`. */
export interface IntlLossOptions extends IntlWhitenOptions {
  /** Trade-off β. Default `intlBeta(batch)` for axis 0, `intlBeta(embedding dim)` for axis 1. */
  beta?: number;
}

function matrix2d(op: string, x: Tensor): { N: number; D: number } {
  requireFloat(op, x);
  if (x.rank !== 2)
    throw new NormkitError('SHAPE_MISMATCH', `${op}: expected embeddings [N, D], got ${fmtShape(x.shape)}`, { op, shape: x.shape });
  const N = x.shape[0] as number;
  const D = x.shape[1] as number;
  return { N, D };
}

function intlState(op: string, x: Tensor, o: IntlWhitenOptions) {
  const { N, D } = matrix2d(op, x);
  const axis = o.axis ?? 0;
  const eps = o.epsilon ?? 0;
  const X = f64(x);
  // Rows of A are whitened against each other: samples (axis 0) or features (axis 1).
  const [r, c, A] = axis === 0 ? [N, D, X] : [D, N, transposeF64(X, N, D)];
  if (c < 2)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${op}: need at least 2 ${axis === 0 ? 'features' : 'samples'} for the unbiased covariance, got ${fmtShape(x.shape)}`,
      { op },
    );
  const { Ac } = centerRowsF64(A, r, c);
  const st = newtonForward(Ac, r, c, (1 - eps) / (c - 1), eps, o.iters ?? 4);
  return { N, D, axis, r, c, st };
}

/** The op `intlWhiten` (input x), differentiated by `intlWhitenBackward`. */
const INTL_WHITEN = defineOp<IntlWhitenOptions>({
  name: 'intlWhiten',
  grad: (dy, { inputs, attrs }) => matchInputs(inputs, [intlWhitenBackward(dy, inputs[0] as Tensor, attrs).dx]),
});

/**
 * INTL's IterNorm whitening of embeddings x [N, D]: axis 0 centers each sample over its features
 * and whitens with the N×N Gram G = X_c·X_cᵀ/(D − 1); axis 1 centers each feature over the batch
 * and whitens with Σ = X_cᵀ·X_c/(N − 1). σ = (1 − ε)·Σ + ε·I, T = `iters` (4) Newton steps.
 * A recorded, differentiable op (input x).
 *
 * @example
 * ```ts
 * const t = intlWhiten(Tensor.randn([256, 64], 1), { axis: 0 });
 * ```
 */
export function intlWhiten(x: Tensor, opts: IntlWhitenOptions = {}): Tensor {
  return runOp(INTL_WHITEN, [x], opts, () => {
    const { N, D, axis, r, c, st } = intlState('intlWhiten', x, opts);
    return tensorOf(x.dtype as 'float32', [N, D], axis === 0 ? st.Y : transposeF64(st.Y, r, c));
  });
}

/**
 * Backward of `intlWhiten`.
 *
 * @example
 * ```ts
 * const { dx } = intlWhitenBackward(dt, x, { axis: 0 });
 * ```
 */
export function intlWhitenBackward(dy: Tensor, x: Tensor, opts: IntlWhitenOptions = {}): { dx: Tensor } {
  const { N, D, axis, r, c, st } = intlState('intlWhitenBackward', x, opts);
  const G = f64(dy);
  const dA = uncenterGradRows(newtonBackward(axis === 0 ? G : transposeF64(G, N, D), st), r, c);
  return { dx: tensorOf(x.dtype as 'float32', [N, D], axis === 0 ? dA : transposeF64(dA, r, c)) };
}

function rowsFor(t: Tensor, axis: 0 | 1): { A: F64; r: number; c: number } {
  const { N, D } = matrix2d('traceLoss', t);
  const X = f64(t);
  return axis === 0 ? { A: X, r: N, c: D } : { A: transposeF64(X, N, D), r: D, c: N };
}

/**
 * INTL trace loss TL(t) = Σ_j (Σ̂_jj − 1)², Σ̂_jj the unbiased variance of each sample over its
 * features (axis 0) or of each feature over the batch (axis 1).
 *
 * @example
 * ```ts
 * traceLoss(intlWhiten(z), { axis: 0 });
 * ```
 */
export function traceLoss(t: Tensor, opts: TraceLossOptions = {}): number {
  const { A, r, c } = rowsFor(t, opts.axis ?? 0);
  const { Ac } = centerRowsF64(A, r, c);
  let tl = 0;
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += (Ac[i * c + k] as number) ** 2;
    tl += (s / (c - 1) - 1) ** 2;
  }
  return tl;
}

/**
 * Backward of `traceLoss`: ∂(dLoss·TL)/∂t.
 *
 * @example
 * ```ts
 * const { dx } = traceLossBackward(1, t, { axis: 0 });
 * ```
 */
export function traceLossBackward(dLoss: number, t: Tensor, opts: TraceLossOptions = {}): { dx: Tensor } {
  const axis = opts.axis ?? 0;
  const { A, r, c } = rowsFor(t, axis);
  const { Ac } = centerRowsF64(A, r, c);
  const G = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += (Ac[i * c + k] as number) ** 2;
    const f = (dLoss * 2 * (s / (c - 1) - 1) * 2) / (c - 1);
    for (let k = 0; k < c; k++) G[i * c + k] = f * (Ac[i * c + k] as number);
  }
  return { dx: tensorOf(t.dtype as 'float32', t.shape, axis === 0 ? G : transposeF64(G, r, c)) };
}

/** The op `traceLossTensor` (input t), differentiated by `traceLossBackward`. */
const TRACE_LOSS_TENSOR = defineOp<TraceLossOptions>({
  name: 'traceLossTensor',
  grad: (dy, { inputs, attrs }) => matchInputs(inputs, [traceLossBackward(upstream(dy), inputs[0] as Tensor, attrs).dx]),
});

/**
 * `traceLoss` as a recorded, differentiable op: the loss as a rank-0 tensor of t's dtype, so that a
 * training objective can be built from it.
 *
 * @example
 * ```ts
 * const { value, grads } = valueAndGrads(() => traceLossTensor(intlWhiten(z), { axis: 0 }), [z]); // @normkit/train
 * ```
 */
export function traceLossTensor(t: Tensor, opts: TraceLossOptions = {}): Tensor {
  return runOp(TRACE_LOSS_TENSOR, [t], opts, () => lossTensor(traceLoss(t, opts), t.dtype));
}

/**
 * Σ_j (C_jj − 1)² for a covariance matrix C (the trace loss of whitened data with covariance C).
 *
 * @example
 * ```ts
 * traceLossFromCovariance(Tensor.from([[0.5, 0], [0, 1]])); // 0.25
 * ```
 */
export function traceLossFromCovariance(C: Tensor): number {
  requireFloat('traceLossFromCovariance', C, 'C');
  if (C.rank !== 2 || C.shape[0] !== C.shape[1])
    throw new NormkitError('SHAPE_MISMATCH', `traceLossFromCovariance: C must be square, got ${fmtShape(C.shape)}`);
  const n = C.shape[0] as number;
  const d = C.data as Float32Array;
  let s = 0;
  for (let i = 0; i < n; i++) s += ((d[i * n + i] as number) - 1) ** 2;
  return s;
}

function normalizeRows(X: F64, N: number, D: number): { Xn: F64; norms: F64 } {
  const Xn = new Float64Array(X.length);
  const norms = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let k = 0; k < D; k++) s += (X[i * D + k] as number) ** 2;
    const nr = Math.max(Math.sqrt(s), 1e-12);
    norms[i] = nr;
    for (let k = 0; k < D; k++) Xn[i * D + k] = (X[i * D + k] as number) / nr;
  }
  return { Xn, norms };
}

/**
 * INTL's alignment loss: 2 − 2·mean_i cos(a_i, b_i) over the rows of a, b [N, D].
 *
 * @example
 * ```ts
 * normMseLoss(z1, z2); // 0 when every row pair points the same way
 * ```
 */
export function normMseLoss(a: Tensor, b: Tensor): number {
  const { N, D } = matrix2d('normMseLoss', a);
  if (b.shape[0] !== N || b.shape[1] !== D)
    throw new NormkitError('SHAPE_MISMATCH', `normMseLoss: a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)} differ`);
  const A = normalizeRows(f64(a), N, D).Xn;
  const B = normalizeRows(f64(b), N, D).Xn;
  let s = 0;
  for (let i = 0; i < A.length; i++) s += (A[i] as number) * (B[i] as number);
  return 2 - (2 * s) / N;
}

/**
 * Backward of `normMseLoss`.
 *
 * @example
 * ```ts
 * const { da, db } = normMseLossBackward(1, z1, z2);
 * ```
 */
export function normMseLossBackward(dLoss: number, a: Tensor, b: Tensor): { da: Tensor; db: Tensor } {
  const { N, D } = matrix2d('normMseLossBackward', a);
  const na = normalizeRows(f64(a), N, D);
  const nb = normalizeRows(f64(b), N, D);
  const grad = (self: { Xn: F64; norms: F64 }, other: F64) => {
    const G = new Float64Array(N * D);
    for (let i = 0; i < N; i++) {
      let dot = 0;
      for (let k = 0; k < D; k++) dot += (self.Xn[i * D + k] as number) * (other[i * D + k] as number);
      const nr = self.norms[i] as number;
      const c = (-2 * dLoss) / N;
      for (let k = 0; k < D; k++) G[i * D + k] = (c * ((other[i * D + k] as number) - (self.Xn[i * D + k] as number) * dot)) / nr;
    }
    return G;
  };
  return { da: tensorOf(a.dtype as 'float32', a.shape, grad(na, nb.Xn)), db: tensorOf(b.dtype as 'float32', b.shape, grad(nb, na.Xn)) };
}

/** The op `normMseLossTensor` (inputs a, b), differentiated by `normMseLossBackward`. */
const NORM_MSE_LOSS_TENSOR = defineOp<undefined>({
  name: 'normMseLossTensor',
  grad: (dy, { inputs }) => {
    const { da, db } = normMseLossBackward(upstream(dy), inputs[0] as Tensor, inputs[1] as Tensor);
    return matchInputs(inputs, [da, db]);
  },
});

/**
 * `normMseLoss` as a recorded, differentiable op: a rank-0 tensor of a's dtype.
 *
 * @example
 * ```ts
 * normMseLossTensor(z1, z2).toFlatArray(); // [0] when every row pair points the same way
 * ```
 */
export function normMseLossTensor(a: Tensor, b: Tensor): Tensor {
  return runOp(NORM_MSE_LOSS_TENSOR, [a, b], undefined, () => lossTensor(normMseLoss(a, b), a.dtype));
}

/**
 * INTL's trade-off β = 0.01·(log2(n) − 3), n the batch size (axis 0) or embedding size (axis 1):
 * 0.05 at batch 256, 0.10 at embedding 8192.
 *
 * @example
 * ```ts
 * intlBeta(256); // 0.05
 * ```
 */
export function intlBeta(n: number): number {
  return 0.01 * (Math.log2(n) - 3);
}

function crops2(op: string, crops: readonly Tensor[]): void {
  if (crops.length < 2) throw new NormkitError('INVALID_ARGUMENT', `${op}: need at least 2 crops (views), got ${crops.length}`, { op });
  const s0 = crops[0]?.shape ?? [];
  for (const c of crops)
    if (c.shape.join() !== s0.join())
      throw new NormkitError('SHAPE_MISMATCH', `${op}: every crop must have shape ${fmtShape(s0)}, got ${fmtShape(c.shape)}`, { op });
}

function betaOf(crops: readonly Tensor[], o: IntlLossOptions): number {
  if (o.beta !== undefined) return o.beta;
  const [N, D] = crops[0]?.shape ?? [1, 1];
  return intlBeta((o.axis ?? 0) === 0 ? (N as number) : (D as number));
}

/**
 * The full INTL objective over K ≥ 2 crops' embeddings [N, D]: with t_k = intlWhiten(crop_k),
 * L = (1/(K−1))·Σ_{i≥1} [normMse(t_i, t_0) + β·(TL(t_i) + TL(t_0))], β = intlBeta(batch) by default.
 *
 * @example
 * ```ts
 * const loss = intlLoss([z0, z1], { axis: 0 }); // β = 0.01·(log2(N) − 3)
 * ```
 */
export function intlLoss(crops: readonly Tensor[], opts: IntlLossOptions = {}): number {
  crops2('intlLoss', crops);
  const beta = betaOf(crops, opts);
  const t = crops.map((c) => intlWhiten(c, opts));
  const tl = t.map((x) => traceLoss(x, { axis: opts.axis ?? 0 }));
  let loss = 0;
  for (let i = 1; i < t.length; i++) loss += normMseLoss(t[i] as Tensor, t[0] as Tensor) + beta * ((tl[i] as number) + (tl[0] as number));
  return loss / (t.length - 1);
}

/**
 * Backward of `intlLoss`: ∂(dLoss·L)/∂crop_k for every crop.
 *
 * @example
 * ```ts
 * const { dCrops } = intlLossBackward(1, [z0, z1]);
 * ```
 */
export function intlLossBackward(dLoss: number, crops: readonly Tensor[], opts: IntlLossOptions = {}): { dCrops: Tensor[] } {
  crops2('intlLossBackward', crops);
  const beta = betaOf(crops, opts);
  const axis = opts.axis ?? 0;
  const K = crops.length;
  const w = dLoss / (K - 1);
  const t = crops.map((c) => intlWhiten(c, opts));
  const dt = t.map((x) => new Float64Array(x.size));
  const acc = (k: number, g: Tensor) => {
    const src = g.data as Float32Array;
    const dst = dt[k] as F64;
    for (let i = 0; i < dst.length; i++) dst[i]! += src[i] as number;
  };
  for (let i = 1; i < K; i++) {
    const { da, db } = normMseLossBackward(w, t[i] as Tensor, t[0] as Tensor);
    acc(i, da);
    acc(0, db);
    acc(i, traceLossBackward(w * beta, t[i] as Tensor, { axis }).dx);
    acc(0, traceLossBackward(w * beta, t[0] as Tensor, { axis }).dx);
  }
  return {
    dCrops: crops.map((c, k) => intlWhitenBackward(tensorOf(c.dtype as 'float32', c.shape, dt[k] as F64), c, opts).dx),
  };
}

/** The op `intlLossTensor` (inputs: the crops), differentiated by `intlLossBackward`. */
const INTL_LOSS_TENSOR = defineOp<IntlLossOptions>({
  name: 'intlLossTensor',
  grad: (dy, { inputs, attrs }) => matchInputs(inputs, intlLossBackward(upstream(dy), inputs as Tensor[], attrs).dCrops),
});

/**
 * `intlLoss` as a recorded, differentiable op over the crops: a rank-0 tensor of the crops' dtype.
 *
 * @example
 * ```ts
 * const loss = intlLossTensor([z0, z1], { axis: 0 }); // differentiable w.r.t. z0 and z1
 * ```
 */
export function intlLossTensor(crops: readonly Tensor[], opts: IntlLossOptions = {}): Tensor {
  return runOp(INTL_LOSS_TENSOR, crops, opts, () => lossTensor(intlLoss(crops, opts), (crops[0] as Tensor).dtype));
}

/**
 * The EMA ("momentum") variant of the INTL objective, `intl_m` in winci-ai/INTL (docs/PAPERS.md §4.3): a
 * key encoder, an exponential moving average of the online one (`emaUpdate`), embeds crop 0; each
 * online crop i is pulled towards it. With t = intlWhiten(·):
 * L = (1/n)·Σ_i [normMse(t_i, t_key) + β·TL(t_i)] over the n online crops. The key is a target, not
 * a variable: no gradient flows into it (stop-gradient), so there is no β·TL(t_key) term.
 *
 * @example
 * ```ts
 * const key = encodeWith(emaWeights, crop0);            // [N, D], e.g. from the key encoder
 * const loss = intlMomentumLoss([z1, z2], key);         // z1, z2: online embeddings of crops 1, 2
 * ```
 */
export function intlMomentumLoss(crops: readonly Tensor[], key: Tensor, opts: IntlLossOptions = {}): number {
  momentumInputs('intlMomentumLoss', crops, key);
  const beta = betaOf([key], opts);
  const tKey = intlWhiten(key, opts);
  let loss = 0;
  for (const c of crops) {
    const t = intlWhiten(c, opts);
    loss += normMseLoss(t, tKey) + beta * traceLoss(t, { axis: opts.axis ?? 0 });
  }
  return loss / crops.length;
}

/**
 * Backward of `intlMomentumLoss`: ∂(dLoss·L)/∂crop_i for every online crop (the key gets none).
 *
 * @example
 * ```ts
 * const { dCrops } = intlMomentumLossBackward(1, [z1, z2], key);
 * ```
 */
export function intlMomentumLossBackward(
  dLoss: number,
  crops: readonly Tensor[],
  key: Tensor,
  opts: IntlLossOptions = {},
): { dCrops: Tensor[] } {
  momentumInputs('intlMomentumLossBackward', crops, key);
  const beta = betaOf([key], opts);
  const axis = opts.axis ?? 0;
  const w = dLoss / crops.length;
  const tKey = intlWhiten(key, opts);
  return {
    dCrops: crops.map((c) => {
      const t = intlWhiten(c, opts);
      const dt = f64(normMseLossBackward(w, t, tKey).da);
      const dTl = traceLossBackward(w * beta, t, { axis }).dx.data;
      for (let i = 0; i < dt.length; i++) dt[i]! += dTl[i] as number;
      return intlWhitenBackward(tensorOf(c.dtype as 'float32', c.shape, dt), c, opts).dx;
    }),
  };
}

/** The op `intlMomentumLossTensor` (inputs: the online crops, then the key), differentiated by `intlMomentumLossBackward`. */
const INTL_MOMENTUM_LOSS_TENSOR = defineOp<IntlLossOptions>({
  name: 'intlMomentumLossTensor',
  grad: (dy, { inputs, attrs }) => {
    const crops = inputs.slice(0, -1) as Tensor[];
    const { dCrops } = intlMomentumLossBackward(upstream(dy), crops, inputs[inputs.length - 1] as Tensor, attrs);
    return matchInputs(inputs, [...dCrops, undefined]); // the key is a stop-gradient target
  },
});

/**
 * `intlMomentumLoss` as a recorded, differentiable op: a rank-0 tensor of the crops' dtype. The key is
 * an input with no gradient (stop-gradient): nothing flows back into the key encoder.
 *
 * @example
 * ```ts
 * const loss = intlMomentumLossTensor([z1, z2], noGrad(() => keyEncoder.forward(crop0)));
 * ```
 */
export function intlMomentumLossTensor(crops: readonly Tensor[], key: Tensor, opts: IntlLossOptions = {}): Tensor {
  return runOp(INTL_MOMENTUM_LOSS_TENSOR, [...crops, key], opts, () =>
    lossTensor(intlMomentumLoss(crops, key, opts), (crops[0] as Tensor).dtype),
  );
}

function momentumInputs(op: string, crops: readonly Tensor[], key: Tensor): void {
  if (crops.length < 1) throw new NormkitError('INVALID_ARGUMENT', `${op}: need at least 1 online crop, got 0`, { op });
  crops2(op, [key, ...crops]);
}

/**
 * The key encoder's update in momentum methods (INTL's `intl_m`, BYOL, MoCo), in place:
 * target ← m·target + (1 − m)·online, m = 0.996 (ImageNet) or 0.999 (CIFAR) in INTL's configs.
 * Returns `target`.
 *
 * @example
 * ```ts
 * for (const [name, w] of online) emaUpdate(key.get(name)!, w, 0.996);
 * ```
 */
export function emaUpdate(target: Tensor, online: Tensor, momentum: number): Tensor {
  requireFloat('emaUpdate', target);
  requireFloat('emaUpdate', online);
  if (!(momentum >= 0 && momentum <= 1))
    throw new NormkitError('INVALID_ARGUMENT', `emaUpdate: momentum must be in [0, 1], got ${momentum}`, { op: 'emaUpdate' });
  if (target.shape.join() !== online.shape.join() || target.dtype !== online.dtype)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `emaUpdate: target ${target.dtype} ${fmtShape(target.shape)} and online ${online.dtype} ${fmtShape(online.shape)} must match`,
      { op: 'emaUpdate' },
    );
  const t = target.data as Float32Array | Float64Array;
  const o = online.data as Float32Array | Float64Array;
  for (let i = 0; i < t.length; i++) t[i] = momentum * (t[i] as number) + (1 - momentum) * (o[i] as number);
  return target;
}
