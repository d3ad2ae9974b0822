// Private helpers shared by the operators: float64 copies, parameter checks, the row-normalization
// core (forward and backward for LN-style statistics) and small dense float64 matrix routines.
import {
  cast,
  fmtShape,
  getBackend,
  type NormBackwardOptions,
  type NormBackwardResult,
  NormkitError,
  normalizeAxis,
  shapesEqual,
  sizeOf,
  Tensor,
} from '@normkit/tensor';

export type F64 = Float64Array;
export type FloatDType = 'float32' | 'float64';

/** Throws unless `x` is a float tensor. */
export function requireFloat(op: string, x: Tensor, name = 'x'): FloatDType {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') {
    throw new NormkitError(
      'DTYPE_MISMATCH',
      `${op}: ${name} must be float32 or float64, got ${x.dtype} ${fmtShape(x.shape)}; cast it first`,
      { op, shape: x.shape },
    );
  }
  return x.dtype;
}

/** Throws unless the upstream gradient dy has x's shape (a backward pass reads them element by element). */
export function requireGradShape(op: string, dy: Tensor, x: Tensor): void {
  if (!shapesEqual(dy.shape, x.shape))
    throw new NormkitError('SHAPE_MISMATCH', `${op}: dy ${fmtShape(dy.shape)} must have the shape of x ${fmtShape(x.shape)}`, {
      op,
      shape: dy.shape,
    });
}

/** The values of a tensor as a float64 copy. */
export function f64(t: Tensor): F64 {
  return Float64Array.from(t.data as Float32Array);
}

/** A tensor of `dtype` holding float64 values `data`. */
export function tensorOf(dtype: FloatDType, shape: readonly number[], data: F64): Tensor {
  return dtype === 'float64' ? new Tensor(shape, 'float64', data) : new Tensor(shape, 'float32', Float32Array.from(data));
}

/** `p` cast to `dtype` when it differs (parameters of a float64 input may be float32). */
export function asDtype(p: Tensor, dtype: FloatDType): Tensor {
  return p.dtype === dtype ? p : cast(p, dtype);
}

/** Normalized axis with a NormkitError naming the op. */
export function axisOf(op: string, axis: number, rank: number, shape: readonly number[]): number {
  return normalizeAxis(axis, rank, op, shape);
}

/** Checks that `p` has exactly `n` elements (any shape), naming op and parameter. */
export function requireSize(op: string, name: string, p: Tensor | undefined, n: number, what: string): void {
  if (p && p.size !== n) {
    throw new NormkitError('SHAPE_MISMATCH', `${op}: ${name} ${fmtShape(p.shape)} must have ${n} elements (${what})`, {
      op,
      shape: p.shape,
    });
  }
}

/**
 * Expands a parameter that broadcasts (right-aligned, numpy rules) to `normShape` into `d` float64
 * values, or undefined. Throws a NormkitError when it does not broadcast.
 */
export function expandParam(op: string, name: string, p: Tensor | undefined, normShape: readonly number[]): F64 | undefined {
  if (!p) return undefined;
  const d = sizeOf(normShape);
  const src = p.data as Float32Array;
  if (p.size === d) return Float64Array.from(src);
  const st = broadcastInto(op, name, p.shape, normShape);
  const out = new Float64Array(d);
  const str = normShape.map((_, i) => sizeOf(normShape.slice(i + 1)));
  for (let j = 0; j < d; j++) {
    let rem = j;
    let off = 0;
    for (let k = 0; k < normShape.length; k++) {
      const q = Math.floor(rem / (str[k] as number));
      rem -= q * (str[k] as number);
      off += q * (st[k] as number);
    }
    out[j] = src[off] as number;
  }
  return out;
}

/** Strides of `pShape` broadcast into `target` (0 on broadcast dims); throws when incompatible. */
function broadcastInto(op: string, name: string, pShape: readonly number[], target: readonly number[]): number[] {
  const lead = pShape.length - target.length;
  for (let i = 0; i < lead; i++) {
    if (pShape[i] !== 1)
      throw new NormkitError(
        'SHAPE_MISMATCH',
        `${op}: ${name} ${fmtShape(pShape)} does not broadcast to the normalized shape ${fmtShape(target)}`,
        { op },
      );
  }
  const ps = pShape.slice(Math.max(0, lead));
  const off = target.length - ps.length;
  const pStr = ps.map((_, i) => sizeOf(ps.slice(i + 1)));
  return target.map((dim, i) => {
    const k = i - off;
    if (k < 0) return 0;
    const pd = ps[k] as number;
    if (pd === dim) return pStr[k] as number;
    if (pd === 1) return 0;
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `${op}: ${name} ${fmtShape(pShape)} does not broadcast to the normalized shape ${fmtShape(target)}`,
      { op },
    );
  });
}

/** Sums a gradient over `normShape` (flattened, length d) back to a parameter's shape (reverse broadcast). */
export function reduceToParam(full: F64, normShape: readonly number[], p: Tensor): F64 {
  const d = full.length;
  if (p.size === d) return full;
  const st = broadcastInto('backward', 'parameter', p.shape, normShape);
  const out = new Float64Array(p.size);
  const str = normShape.map((_, i) => sizeOf(normShape.slice(i + 1)));
  for (let j = 0; j < d; j++) {
    let rem = j;
    let off = 0;
    for (let k = 0; k < normShape.length; k++) {
      const q = Math.floor(rem / (str[k] as number));
      rem -= q * (str[k] as number);
      off += q * (st[k] as number);
    }
    out[off]! += full[j] as number;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Row-normalization core: rows of length d, statistic s = mean(|x_c|^p), x̂ = x_c · a where
// a = (s + ε)^(-1/p) ('var' mode) or a = 1/(sqrt(s) + ε) ('std' mode, p = 2, ONNX MVN).
// ---------------------------------------------------------------------------------------------

export interface RowSpec {
  center: boolean;
  p: number;
  eps: number;
  epsMode?: 'var' | 'std';
}

export interface RowStats {
  xhat: F64;
  /** Per-row mean (0 when not centering). */
  mean: F64;
  /** Per-row statistic s = mean(|x_c|^p). */
  s: F64;
  /** Per-row factor a. */
  a: F64;
}

export function rowForward(X: ArrayLike<number>, rows: number, d: number, spec: RowSpec): RowStats {
  const xhat = new Float64Array(rows * d);
  const mean = new Float64Array(rows);
  const S = new Float64Array(rows);
  const A = new Float64Array(rows);
  const { center, p, eps } = spec;
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    let mu = 0;
    if (center) {
      for (let j = 0; j < d; j++) mu += X[off + j] as number;
      mu /= d;
    }
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = (X[off + j] as number) - mu;
      s += p === 2 ? v * v : Math.abs(v) ** p;
    }
    s /= d;
    const a = spec.epsMode === 'std' ? 1 / (Math.sqrt(s) + eps) : (s + eps) ** (-1 / p);
    mean[r] = mu;
    S[r] = s;
    A[r] = a;
    for (let j = 0; j < d; j++) xhat[off + j] = ((X[off + j] as number) - mu) * a;
  }
  return { xhat, mean, s: S, a: A };
}

/** Given G = ∂L/∂x̂ (rows × d), returns ∂L/∂x for the row normalization of X. */
export function rowBackward(G: ArrayLike<number>, X: ArrayLike<number>, rows: number, d: number, spec: RowSpec): F64 {
  const st = rowForward(X, rows, d, spec);
  const dx = new Float64Array(rows * d);
  const { center, p, eps } = spec;
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    const a = st.a[r] as number;
    const s = st.s[r] as number;
    const mu = st.mean[r] as number;
    let gx = 0; // Σ g_i x_c,i
    for (let j = 0; j < d; j++) gx += (G[off + j] as number) * ((X[off + j] as number) - mu);
    // ∂a/∂s: 'var' mode −a/(p(s+ε)); 'std' mode −a²/(2√s).
    let coef: number;
    if (spec.epsMode === 'std') coef = s > 0 ? (-a * a) / (2 * Math.sqrt(s)) : 0;
    else coef = -a / (p * (s + eps));
    // ∂s/∂x_c,j = (p/d)|x_c,j|^(p−1) sign(x_c,j)
    let msum = 0;
    for (let j = 0; j < d; j++) {
      const v = (X[off + j] as number) - mu;
      const ds = p === 2 ? (2 / d) * v : (p / d) * Math.abs(v) ** (p - 1) * Math.sign(v);
      const g = a * (G[off + j] as number) + gx * coef * ds;
      dx[off + j] = g;
      msum += g;
    }
    if (center) {
      msum /= d;
      for (let j = 0; j < d; j++) dx[off + j]! -= msum;
    }
  }
  return dx;
}

/**
 * The backward of LN (`center`) or RMSNorm on the active backend's fused kernel
 * (`Backend.layerNormBackward` / `rmsNormBackward`: WebAssembly SIMD on the CPU backend) when x and dy
 * are float32 and the backend has one; otherwise undefined, and the caller runs the float64 path.
 */
export function backendNormBackward(center: boolean, dy: Tensor, x: Tensor, opts: NormBackwardOptions): NormBackwardResult | undefined {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
  const backend = getBackend();
  const kernel = center ? backend.layerNormBackward : backend.rmsNormBackward;
  return kernel?.call(backend, dy, x, opts);
}

/** A gradient over the normalized block (`normShape`, d values) as parameter `p`'s gradient: its shape, summed over broadcast axes. */
export function gradToParam(full: Tensor, normShape: readonly number[], p: Tensor): Tensor {
  if (p.size === full.size) return new Tensor(p.shape, full.dtype, full.data);
  return tensorOf(full.dtype as FloatDType, p.shape, reduceToParam(f64(full), normShape, p));
}

// ---------------------------------------------------------------------------------------------
// Layout helpers: view x as [outer, C, inner] around a channel axis.
// ---------------------------------------------------------------------------------------------

export function channelView(shape: readonly number[], axis: number): { outer: number; C: number; inner: number } {
  return { outer: sizeOf(shape.slice(0, axis)), C: (shape[axis] as number) ?? 1, inner: sizeOf(shape.slice(axis + 1)) };
}

/** [outer, C, inner] → [C, outer·inner] (channel-major rows). */
export function toChannelRows(X: ArrayLike<number>, outer: number, C: number, inner: number): F64 {
  const out = new Float64Array(outer * C * inner);
  const m = outer * inner;
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < C; c++) {
      const src = (o * C + c) * inner;
      const dst = c * m + o * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = X[src + i] as number;
    }
  return out;
}

/** Inverse of `toChannelRows`. */
export function fromChannelRows(R: ArrayLike<number>, outer: number, C: number, inner: number): F64 {
  const out = new Float64Array(outer * C * inner);
  const m = outer * inner;
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < C; c++) {
      const dst = (o * C + c) * inner;
      const src = c * m + o * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = R[src + i] as number;
    }
  return out;
}

/** Permutes a row-major float64 array: out has shape perm.map(i => shape[i]). */
export function permuteF64(X: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): F64 {
  const rank = shape.length;
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  const inStr = shape.map((_, i) => sizeOf(shape.slice(i + 1)));
  const outShape = perm.map((p) => shape[p] as number);
  const srcStr = perm.map((p) => inStr[p] as number);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < n; o++) {
    out[o] = X[src] as number;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]!++;
      src += srcStr[k] as number;
      if ((idx[k] as number) < (outShape[k] as number)) break;
      src -= (srcStr[k] as number) * (outShape[k] as number);
      idx[k] = 0;
    }
  }
  return out;
}

/** Inverse permutation. */
export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

// ---------------------------------------------------------------------------------------------
// Dense float64 matrices (row-major).
// ---------------------------------------------------------------------------------------------

/** C = A (n×k) · B (k×m). */
export function matmulF64(A: F64, B: F64, n: number, k: number, m: number): F64 {
  const C = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < k; t++) {
      const a = A[i * k + t] as number;
      if (a === 0) continue;
      const bo = t * m;
      const co = i * m;
      for (let j = 0; j < m; j++) C[co + j]! += a * (B[bo + j] as number);
    }
  return C;
}

/** Aᵀ for A (n×m). */
export function transposeF64(A: F64, n: number, m: number): F64 {
  const T = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) T[j * n + i] = A[i * m + j] as number;
  return T;
}

export function eyeF64(n: number): F64 {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  return I;
}

/** Σ = α·A·Aᵀ + ε·I for A (r×c). */
export function gramF64(A: F64, r: number, c: number, alpha: number, eps: number): F64 {
  const S = new Float64Array(r * r);
  for (let i = 0; i < r; i++)
    for (let j = i; j < r; j++) {
      let s = 0;
      for (let t = 0; t < c; t++) s += (A[i * c + t] as number) * (A[j * c + t] as number);
      const v = alpha * s + (i === j ? eps : 0);
      S[i * r + j] = v;
      S[j * r + i] = v;
    }
  return S;
}

/** Centers each row of A (r×c) over its c columns; returns [centered, means]. */
export function centerRowsF64(A: ArrayLike<number>, r: number, c: number): { Ac: F64; mean: F64 } {
  const Ac = new Float64Array(r * c);
  const mean = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let t = 0; t < c; t++) s += A[i * c + t] as number;
    const mu = c > 0 ? s / c : 0;
    mean[i] = mu;
    for (let t = 0; t < c; t++) Ac[i * c + t] = (A[i * c + t] as number) - mu;
  }
  return { Ac, mean };
}

/** Removes the row means of a gradient (the adjoint of row centering), in place. */
export function uncenterGradRows(G: F64, r: number, c: number): F64 {
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let t = 0; t < c; t++) s += G[i * c + t] as number;
    const mu = s / c;
    for (let t = 0; t < c; t++) G[i * c + t]! -= mu;
  }
  return G;
}

/** Adds the Gram-matrix adjoint: for Σ = α·A·Aᵀ (+εI), ∂L/∂A += α·(Σ̄ + Σ̄ᵀ)·A. */
export function gramBackward(Sbar: F64, A: F64, r: number, c: number, alpha: number, into: F64): F64 {
  const Ssym = new Float64Array(r * r);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < r; j++) Ssym[i * r + j] = alpha * ((Sbar[i * r + j] as number) + (Sbar[j * r + i] as number));
  const add = matmulF64(Ssym, A, r, r, c);
  for (let i = 0; i < into.length; i++) into[i]! += add[i] as number;
  return into;
}
