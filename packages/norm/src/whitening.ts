import { cholesky, defineOp, eigh, fmtShape, NormkitError, runOp, Tensor } from '@normkit/tensor';
import {
  centerRowsF64,
  type F64,
  f64,
  fromChannelRows,
  gramBackward,
  gramF64,
  matmulF64,
  requireFloat,
  tensorOf,
  toChannelRows,
  transposeF64,
  uncenterGradRows,
} from './internal.js';
import { affineBackwardRows, applyAffineRows, type ChannelGroupOptions, channelGroups, type WhiteningGradients } from './iter-norm.js';
import { affineOp, matchInputs, withoutKeys } from './recorded-op.js';

/** A spectral function g(λ) with optional derivative (used by the backward; else a finite difference). */
export type SpectralFunction =
  | ((lambda: number) => number)
  | {
      /** g(λ) for each eigenvalue λ of the covariance Σ = U·Λ·Uᵀ; the transform applies U·g(Λ)·Uᵀ. */
      g: (lambda: number) => number;
      /** g′(λ), for the backward; absent: a central finite difference of g. */
      dg?: (lambda: number) => number;
    };

/** Options of `whiten`. */
export interface WhiteningOptions extends ChannelGroupOptions {
  /** 'zca' (D·Λ^(−1/2)·Dᵀ, default), 'pca' (Λ^(−1/2)·Dᵀ, rows by decreasing variance) or 'cholesky' (L⁻¹ with Σ = L·Lᵀ). */
  method?: 'zca' | 'pca' | 'cholesky';
  /** Σ = x_c·x_cᵀ/m + ε·I. Default 1e-5. */
  epsilon?: number;
  /** γ [C]. Default: none. */
  scale?: Tensor;
  /** β [C]. Default: none. */
  bias?: Tensor;
}

/** Options of `spectralTransform`. */
export interface SpectralTransformOptions extends ChannelGroupOptions {
  /** Σ = x_c·x_cᵀ/m + ε·I. Default 0 (Σ must then be positive definite for negative powers). */
  epsilon?: number;
}

/**
 * The built-in power family of spectral transforms, g(λ) = λ^(−p): output eigenvalues λ^(1−2p)
 * (p = 0.5 whitens, p = 0 is the identity).
 *
 * @example
 * ```ts
 * spectralTransform(x, powerFunction(0.25));
 * ```
 */
export function powerFunction(p: number): {
  /** g(λ) = λ^(−p). */
  g: (lambda: number) => number;
  /** g′(λ) = −p·λ^(−p−1). */
  dg: (lambda: number) => number;
} {
  return { g: (l) => l ** -p, dg: (l) => -p * l ** (-p - 1) };
}

function resolveG(g: number | SpectralFunction): { g: (l: number) => number; dg: (l: number) => number } {
  if (typeof g === 'number') return powerFunction(g);
  const fn = typeof g === 'function' ? g : g.g;
  const dg = typeof g === 'function' ? undefined : g.dg;
  return {
    g: fn,
    dg:
      dg ??
      ((l) => {
        const h = 1e-6 * Math.max(Math.abs(l), 1e-12);
        return (fn(l + h) - fn(l - h)) / (2 * h);
      }),
  };
}

/** Symmetric eigendecomposition through @normkit/tensor's `eigh` (float64): ascending w, V columns. */
function eigF64(S: F64, n: number): { w: F64; V: F64 } {
  const { values, vectors } = eigh(new Tensor([n, n], 'float64', S));
  return { w: values.data as F64, V: Float64Array.from(vectors.data as F64) };
}

function checkSpectrum(op: string, w: F64, needPositive: boolean): void {
  for (const l of w) {
    if (needPositive && !(l > 0)) {
      throw new NormkitError(
        'NOT_POSITIVE_DEFINITE',
        `${op}: the covariance has eigenvalue ${l}; add epsilon > 0 or use more samples than channels per group`,
        { op },
      );
    }
  }
}

/** W = V·diag(f(w))·Vᵀ. */
function spectralMatrixF64(w: F64, V: F64, n: number, f: (l: number) => number): F64 {
  const fw = w.map(f);
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (V[i * n + k] as number) * (fw[k] as number) * (V[j * n + k] as number);
      W[i * n + j] = s;
    }
  return W;
}

/** Σ̄ for W = f(Σ) given W̄ (Daleckii–Krein). */
function spectralAdjoint(dW: F64, w: F64, V: F64, n: number, f: (l: number) => number, df: (l: number) => number): F64 {
  const Vt = transposeF64(V, n, n);
  const M = matmulF64(matmulF64(Vt, dW, n, n, n), V, n, n, n);
  const scale = Math.max(...w.map(Math.abs), 1e-300);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const li = w[i] as number;
      const lj = w[j] as number;
      const K = Math.abs(li - lj) > 1e-9 * scale ? (f(li) - f(lj)) / (li - lj) : df(0.5 * (li + lj));
      M[i * n + j]! *= K;
    }
  return matmulF64(matmulF64(V, M, n, n, n), Vt, n, n, n);
}

interface EigState {
  W: F64;
  Y: F64;
  w: F64;
  V: F64;
  L?: F64;
}

type Method = 'zca' | 'pca' | 'cholesky' | { g: (l: number) => number; dg: (l: number) => number };

/** Lower-triangular inverse by forward substitution. */
function lowerInverse(L: F64, n: number): F64 {
  const W = new Float64Array(n * n);
  for (let col = 0; col < n; col++) {
    for (let i = col; i < n; i++) {
      let s = i === col ? 1 : 0;
      for (let k = col; k < i; k++) s -= (L[i * n + k] as number) * (W[k * n + col] as number);
      W[i * n + col] = s / (L[i * n + i] as number);
    }
  }
  return W;
}

function eigForward(op: string, Ac: F64, r: number, c: number, eps: number, method: Method): EigState {
  const Sigma = gramF64(Ac, r, c, 1 / c, eps);
  if (method === 'cholesky') {
    let L: F64;
    try {
      L = Float64Array.from(cholesky(new Tensor([r, r], 'float64', Sigma)).data as F64);
    } catch (e) {
      throw new NormkitError(
        'NOT_POSITIVE_DEFINITE',
        `${op}: the covariance is not positive definite (${(e as Error).message}); add epsilon > 0`,
        { op },
      );
    }
    const W = lowerInverse(L, r);
    return { W, Y: matmulF64(W, Ac, r, r, c), w: new Float64Array(0), V: new Float64Array(0), L };
  }
  const { w, V } = eigF64(Sigma, r);
  if (method === 'pca') {
    checkSpectrum(op, w, true);
    // Deterministic signs: the largest-magnitude component of every eigenvector is positive.
    for (let k = 0; k < r; k++) {
      let best = 0;
      for (let i = 1; i < r; i++) if (Math.abs(V[i * r + k] as number) > Math.abs(V[best * r + k] as number)) best = i;
      if ((V[best * r + k] as number) < 0) for (let i = 0; i < r; i++) V[i * r + k] = -(V[i * r + k] as number);
    }
    const W = new Float64Array(r * r);
    for (let row = 0; row < r; row++) {
      const k = r - 1 - row; // decreasing eigenvalue
      const s = 1 / Math.sqrt(w[k] as number);
      for (let j = 0; j < r; j++) W[row * r + j] = s * (V[j * r + k] as number);
    }
    return { W, Y: matmulF64(W, Ac, r, r, c), w, V };
  }
  const f = method === 'zca' ? (l: number) => 1 / Math.sqrt(l) : method.g;
  checkSpectrum(op, w, method === 'zca');
  const W = spectralMatrixF64(w, V, r, f);
  return { W, Y: matmulF64(W, Ac, r, r, c), w, V };
}

function eigBackward(dY: F64, Ac: F64, r: number, c: number, st: EigState, method: Method): F64 {
  const { W, w, V } = st;
  const dW = matmulF64(dY, transposeF64(Ac, r, c), r, c, r);
  const dA = matmulF64(transposeF64(W, r, r), dY, r, r, c);
  let Sbar: F64;
  if (method === 'cholesky') {
    const L = st.L as F64;
    const Wt = transposeF64(W, r, r);
    const Lbar = matmulF64(matmulF64(Wt, dW, r, r, r), Wt, r, r, r).map((v) => -v);
    for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) Lbar[i * r + j] = 0;
    const Phi = matmulF64(transposeF64(L, r, r), Lbar, r, r, r);
    for (let i = 0; i < r; i++) {
      Phi[i * r + i]! *= 0.5;
      for (let j = i + 1; j < r; j++) Phi[i * r + j] = 0;
    }
    Sbar = matmulF64(matmulF64(Wt, Phi, r, r, r), W, r, r, r);
  } else if (method === 'pca') {
    // W[row] = w_k^(-1/2)·V[:, k]ᵀ with k = r − 1 − row.
    const Vbar = new Float64Array(r * r);
    const wbar = new Float64Array(r);
    for (let row = 0; row < r; row++) {
      const k = r - 1 - row;
      const lk = w[k] as number;
      const s = 1 / Math.sqrt(lk);
      for (let j = 0; j < r; j++) {
        const g = dW[row * r + j] as number;
        Vbar[j * r + k] = g * s;
        wbar[k]! += (g * (V[j * r + k] as number) * -0.5 * s) / lk;
      }
    }
    const Vt = transposeF64(V, r, r);
    const M = matmulF64(Vt, Vbar, r, r, r);
    for (let i = 0; i < r; i++)
      for (let j = 0; j < r; j++)
        M[i * r + j] = i === j ? (wbar[i] as number) : (M[i * r + j] as number) / ((w[j] as number) - (w[i] as number));
    Sbar = matmulF64(matmulF64(V, M, r, r, r), Vt, r, r, r);
  } else {
    const f = method === 'zca' ? (l: number) => 1 / Math.sqrt(l) : method.g;
    const df = method === 'zca' ? (l: number) => -0.5 * l ** -1.5 : method.dg;
    Sbar = spectralAdjoint(dW, w, V, r, f, df);
  }
  return gramBackward(Sbar, Ac, r, c, 1 / c, dA);
}

function runGroups(
  op: string,
  x: Tensor,
  o: ChannelGroupOptions & { epsilon?: number; scale?: Tensor; bias?: Tensor },
  eps: number,
  method: Method,
): Tensor {
  const dt = requireFloat(op, x);
  const { outer, C, inner, m, G, d } = channelGroups(op, x, o);
  const R = toChannelRows(x.data as Float32Array, outer, C, inner);
  const Y = new Float64Array(R.length);
  for (let g = 0; g < G; g++) {
    const { Ac } = centerRowsF64(R.subarray(g * d * m, (g + 1) * d * m), d, m);
    Y.set(eigForward(op, Ac, d, m, eps, method).Y, g * d * m);
  }
  applyAffineRows(Y, C, m, o.scale && f64(o.scale), o.bias && f64(o.bias));
  return tensorOf(dt, x.shape, fromChannelRows(Y, outer, C, inner));
}

function runGroupsBackward(
  op: string,
  dy: Tensor,
  x: Tensor,
  o: ChannelGroupOptions & { scale?: Tensor; bias?: Tensor },
  eps: number,
  method: Method,
): WhiteningGradients {
  const dt = requireFloat(op, x);
  const { outer, C, inner, m, G, d } = channelGroups(op, x, o);
  for (const [name, t] of [
    ['scale', o.scale],
    ['bias', o.bias],
  ] as const) {
    if (t && t.size !== C) throw new NormkitError('SHAPE_MISMATCH', `${op}: ${name} ${fmtShape(t.shape)} must have ${C} elements`, { op });
  }
  const R = toChannelRows(x.data as Float32Array, outer, C, inner);
  const DY = toChannelRows(dy.data as Float32Array, outer, C, inner);
  const Xhat = new Float64Array(R.length);
  const states: { Ac: F64; st: EigState }[] = [];
  for (let g = 0; g < G; g++) {
    const { Ac } = centerRowsF64(R.subarray(g * d * m, (g + 1) * d * m), d, m);
    const st = eigForward(op, Ac, d, m, eps, method);
    Xhat.set(st.Y, g * d * m);
    states.push({ Ac, st });
  }
  const { G: Gr, ds, db } = affineBackwardRows(DY, Xhat, C, m, o.scale && f64(o.scale));
  const dR = new Float64Array(R.length);
  for (let g = 0; g < G; g++) {
    const { Ac, st } = states[g] as { Ac: F64; st: EigState };
    const dA = eigBackward(Gr.subarray(g * d * m, (g + 1) * d * m), Ac, d, m, st, method);
    dR.set(uncenterGradRows(dA, d, m), g * d * m);
  }
  const out: WhiteningGradients = { dx: tensorOf(dt, x.shape, fromChannelRows(dR, outer, C, inner)) };
  if (o.scale) out.dScale = tensorOf(dt, o.scale.shape, ds);
  if (o.bias) out.dBias = tensorOf(dt, o.bias.shape, db);
  return out;
}

/** The op `whiten` (inputs x, scale, bias), differentiated by `whitenBackward`. */
const WHITEN = affineOp<Omit<WhiteningOptions, 'scale' | 'bias'>>('whiten', whitenBackward);

/** Attributes of the op `spectralTransform`: the spectral function and the options. */
interface SpectralAttrs {
  g: number | SpectralFunction;
  options: SpectralTransformOptions;
}

/** The op `spectralTransform` (input x), differentiated by `spectralTransformBackward`. */
const SPECTRAL_TRANSFORM = defineOp<SpectralAttrs>({
  name: 'spectralTransform',
  grad: (dy, { inputs, attrs }) => matchInputs(inputs, [spectralTransformBackward(dy, inputs[0] as Tensor, attrs.g, attrs.options).dx]),
});

/**
 * Whitening through the eigendecomposition (DBN-style) of each channel group of x [N, C, ...]:
 * center over the m = N·spatial samples, Σ = x_c·x_cᵀ/m + ε·I, then ZCA (D·Λ^(−1/2)·Dᵀ), PCA
 * (Λ^(−1/2)·Dᵀ) or Cholesky (L⁻¹) whitening, then γ, β. Uses `eigh` / `cholesky` of @normkit/tensor.
 * A recorded, differentiable op (inputs x, scale, bias).
 *
 * @example
 * ```ts
 * const y = whiten(Tensor.randn([256, 4], 1, { dtype: 'float64' }), { method: 'zca' }); // cov(y) ≈ I
 * ```
 */
export function whiten(x: Tensor, opts: WhiteningOptions = {}): Tensor {
  return runOp(WHITEN, [x, opts.scale, opts.bias], withoutKeys(opts, 'scale', 'bias'), () =>
    runGroups('whiten', x, opts, opts.epsilon ?? 1e-5, opts.method ?? 'zca'),
  );
}

/**
 * Backward of `whiten`: through the eigendecomposition (Daleckii–Krein for ZCA, eigenvector
 * derivatives for PCA) or the Cholesky factorization.
 *
 * @example
 * ```ts
 * const { dx } = whitenBackward(dy, x, { method: 'cholesky' });
 * ```
 */
export function whitenBackward(dy: Tensor, x: Tensor, opts: WhiteningOptions = {}): WhiteningGradients {
  return runGroupsBackward('whitenBackward', dy, x, opts, opts.epsilon ?? 1e-5, opts.method ?? 'zca');
}

/**
 * Spectral transformation (INTL, ICLR 2024): ST_g(Z) = U·g(Λ)·Uᵀ·Z for each channel group of
 * x [N, C, ...] (centered over the samples, Σ = Z·Zᵀ/m + ε·I = U·Λ·Uᵀ). The output covariance has
 * eigenvalues λ·g(λ)². `g` is a function or a number p for the power family λ^(−p). A recorded,
 * differentiable op (input x).
 *
 * @example
 * ```ts
 * spectralTransform(x, 0.5);                 // ZCA whitening (p = 0.5)
 * spectralTransform(x, (l) => 1 / (1 + l));  // any g
 * ```
 */
export function spectralTransform(x: Tensor, g: number | SpectralFunction, opts: SpectralTransformOptions = {}): Tensor {
  return runOp(SPECTRAL_TRANSFORM, [x], { g, options: opts }, () =>
    runGroups('spectralTransform', x, opts, opts.epsilon ?? 0, resolveG(g)),
  );
}

/**
 * Backward of `spectralTransform` (Daleckii–Krein divided differences of g).
 *
 * @example
 * ```ts
 * const { dx } = spectralTransformBackward(dy, x, 0.25);
 * ```
 */
export function spectralTransformBackward(
  dy: Tensor,
  x: Tensor,
  g: number | SpectralFunction,
  opts: SpectralTransformOptions = {},
): WhiteningGradients {
  return runGroupsBackward('spectralTransformBackward', dy, x, opts, opts.epsilon ?? 0, resolveG(g));
}

/**
 * The matrix U·g(Λ)·Uᵀ of a symmetric Σ (the map `spectralTransform` applies).
 *
 * @example
 * ```ts
 * spectralMatrix(Tensor.from([[4, 0], [0, 1]], undefined, 'float64'), 0.5).toArray(); // [[0.5, 0], [0, 1]]
 * ```
 */
export function spectralMatrix(sigma: Tensor, g: number | SpectralFunction): Tensor {
  const dt = requireFloat('spectralMatrix', sigma, 'sigma');
  if (sigma.rank !== 2 || sigma.shape[0] !== sigma.shape[1])
    throw new NormkitError('SHAPE_MISMATCH', `spectralMatrix: sigma must be square, got ${fmtShape(sigma.shape)}`);
  const n = sigma.shape[0] as number;
  const { w, V } = eigF64(f64(sigma), n);
  return tensorOf(dt, [n, n], spectralMatrixF64(w, V, n, resolveG(g).g));
}

/**
 * The whitening matrix of a covariance Σ: 'zca' Σ^(−1/2), 'pca' Λ^(−1/2)·Dᵀ, 'cholesky' L⁻¹.
 *
 * @example
 * ```ts
 * whiteningMatrix(Tensor.from([[4, 0], [0, 9]], undefined, 'float64')).toArray(); // [[0.5, 0], [0, 1/3]]
 * ```
 */
export function whiteningMatrix(sigma: Tensor, method: 'zca' | 'pca' | 'cholesky' = 'zca'): Tensor {
  const dt = requireFloat('whiteningMatrix', sigma, 'sigma');
  if (sigma.rank !== 2 || sigma.shape[0] !== sigma.shape[1])
    throw new NormkitError('SHAPE_MISMATCH', `whiteningMatrix: sigma must be square, got ${fmtShape(sigma.shape)}`);
  const n = sigma.shape[0] as number;
  const S = f64(sigma);
  if (method === 'cholesky')
    return tensorOf(dt, [n, n], lowerInverse(Float64Array.from(cholesky(new Tensor([n, n], 'float64', S)).data as F64), n));
  // Reuse eigForward on a matrix whose Gram equals Σ is not possible in general; decompose directly.
  const { w, V } = eigF64(S, n);
  checkSpectrum('whiteningMatrix', w, true);
  if (method === 'zca')
    return tensorOf(
      dt,
      [n, n],
      spectralMatrixF64(w, V, n, (l) => 1 / Math.sqrt(l)),
    );
  const W = new Float64Array(n * n);
  for (let row = 0; row < n; row++) {
    const k = n - 1 - row;
    for (let j = 0; j < n; j++) W[row * n + j] = (V[j * n + k] as number) / Math.sqrt(w[k] as number);
  }
  return tensorOf(dt, [n, n], W);
}
