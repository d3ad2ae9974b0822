// Independent, deliberately naive reference implementations: the formulas the tensor tests and the
// backend conformance suite check kernels against. Nothing here calls the package's kernels: every
// value is computed with plain loops over multi-indices, in float64.
import type { Tensor } from '@normkit/tensor';

/** Tiny deterministic generator for test inputs (mulberry32), separate from the package's Rng. @example const rnd = mulberry(1); rnd() // in [0, 1) */
export function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Number of elements of a shape (the references' own, not the package's `sizeOf`). @example prod([2, 3]) // 6 */
export const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Multi-index of flat index `i` in row-major `shape`. @example unravel(5, [2, 3]) // [1, 2] */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] as number;
    idx[d] = i % n;
    i = Math.floor(i / n);
  }
  return idx;
}

/** Flat row-major index of multi-index `idx`. @example ravel([1, 2], [2, 3]) // 5 */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < shape.length; d++) off = off * (shape[d] as number) + (idx[d] as number);
  return off;
}

/** NumPy broadcast of any number of shapes (reference version, throws on mismatch). @example refBroadcast([2, 1], [3]) // [2, 3] */
export function refBroadcast(...shapes: (readonly number[])[]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const dims = shapes.map((s) => s[s.length - r + i] ?? 1);
    const big = dims.filter((d) => d !== 1);
    if (new Set(big).size > 1) throw new Error('mismatch');
    out.push(big[0] ?? 1);
  }
  return out;
}

/** Reads a broadcast operand at an output multi-index. @example bget([1, 2, 3], [3], [1, 2]) // 3 */
export function bget(data: ArrayLike<number>, shape: readonly number[], outIdx: readonly number[]): number {
  const off = outIdx.length - shape.length;
  const idx = shape.map((d, i) => (d === 1 ? 0 : (outIdx[i + off] as number)));
  return data[ravel(idx, shape)] as number;
}

/** `n` uniform float32 values in [lo, hi). @example randArray(4, mulberry(1), 0, 1) */
export function randArray(n: number, rnd: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rnd();
  return a;
}

/** A random shape of rank [minRank, maxRank] with dims in [1, maxDim]. @example randShape(mulberry(1), 1, 3, 5) */
export function randShape(rnd: () => number, minRank: number, maxRank: number, maxDim: number): number[] {
  const r = minRank + Math.floor(rnd() * (maxRank - minRank + 1));
  return Array.from({ length: r }, () => 1 + Math.floor(rnd() * maxDim));
}

/** Triple-loop matmul, float64 accumulation: [M,K]·[K,N]. @example refMatmul([1, 2], [3, 4], 1, 2, 1) // [11] */
export function refMatmul(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number, aOff = 0, bOff = 0): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (a[aOff + i * K + k] as number) * (b[bOff + k * N + j] as number);
      c[i * N + j] = s;
    }
  return c;
}

/** What `refNormBackward` returns: the gradients and, per element, the size of the terms that make them. */
export interface RefNormBackward {
  dx: Float64Array;
  dg: Float64Array;
  db: Float64Array;
  /** Per element of dx: a·(|ĝ_j| + mean|ĝ| + |x̂_j|·mean|ĝx̂|), the size of the terms that make dx_j. */
  dxScale: Float64Array;
  /**
   * Per feature: Σ|dy|·(|x̂| + 1) and Σ|dy| over the rows. The + 1: x̂ = (x − μ)·a carries an absolute
   * error (of the float32 mean) on x̂'s own scale, 1, as the forward's y does, not one relative to x̂.
   */
  dgScale: Float64Array;
  dbScale: Float64Array;
}

/** erfc in float64: Taylor series below z = 3, continued fraction above (~1e-15). @example erfcRef(0) // 1 */
export function erfcRef(z: number): number {
  if (z < 3) {
    let sum = 0;
    let term = z;
    for (let n = 0; n < 200 && Math.abs(term) > 1e-18; ) {
      sum += term / (2 * n + 1);
      n++;
      term *= (-z * z) / n;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let k = 80; k >= 1; k--) f = k / 2 / (z + f);
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
}

/** Reference C = α·op(A)·op(B) + β·C0 by triple loop. @example refGemm(a, b, c0, M, K, N, false, true, 1, 1) */
export function refGemm(
  A: Float32Array,
  B: Float32Array,
  C0: Float32Array,
  M: number,
  K: number,
  N: number,
  tA: boolean,
  tB: boolean,
  alpha: number,
  beta: number,
) {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[tA ? k * M + i : i * K + k]! * B[tB ? j * K + k : k * N + j]!;
      out[i * N + j] = alpha * s + beta * C0[i * N + j]!;
    }
  return out;
}

/** Reference reduction: groups every element by its index with the reduced axes zeroed. @example refReduce(x, [2, 3], [1], (v) => Math.max(...v), true) */
export function refReduce(data: Float32Array, shape: number[], axes: number[], f: (v: number[]) => number, keep: boolean) {
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  for (let i = 0; i < data.length; i++) {
    const idx = unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v));
    const k = ravel(idx, keptShape);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(data[i]!);
  }
  const out = Array.from({ length: prod(keptShape) }, (_, k) => f(groups.get(k) ?? []));
  return { shape: keep ? keptShape : shape.filter((_, i) => !axes.includes(i)), values: out };
}

/** Direct N-d convolution loops (no im2col), zero padding. @example refConv(x, [1, 3, 5, 5], w, [4, 3, 3, 3], undefined, [1, 1], [1, 1, 1, 1], [1, 1], 1).shape // [1, 4, 5, 5] */
export function refConv(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  bias: Float32Array | undefined,
  strides: number[],
  pads: number[],
  dil: number[],
  group: number,
) {
  const sp = xs.length - 2;
  const [N, C] = xs as [number, number];
  const Cout = ws[0]!;
  const Cg = C / group;
  const inSp = xs.slice(2);
  const kSp = ws.slice(2);
  const outSp = inSp.map((d, i) => Math.floor((d + pads[i]! + pads[i + sp]! - (dil[i]! * (kSp[i]! - 1) + 1)) / strides[i]!) + 1);
  const outShape = [N, Cout, ...outSp];
  const out = new Float64Array(prod(outShape));
  for (let o = 0; o < out.length; o++) {
    const [n, co, ...pos] = unravel(o, outShape) as [number, number, ...number[]];
    const g = Math.floor(co / (Cout / group));
    let s = bias ? bias[co]! : 0;
    for (let ci = 0; ci < Cg; ci++) {
      for (let k = 0; k < prod(kSp); k++) {
        const kk = unravel(k, kSp);
        const ii = pos.map((p, d) => p * strides[d]! - pads[d]! + kk[d]! * dil[d]!);
        if (ii.some((v, d) => v < 0 || v >= inSp[d]!)) continue;
        s += x[ravel([n, g * Cg + ci, ...ii], xs)]! * w[ravel([co, ci, ...kk], ws)]!;
      }
    }
    out[o] = s;
  }
  return { shape: outShape, data: out };
}

/** Reference pooling by direct window loops. @example refPool('max', x, [1, 1, 4, 4], [2, 2], [2, 2], [0, 0, 0, 0], [1, 1], false, false).shape // [1, 1, 2, 2] */
export function refPool(
  kind: 'max' | 'avg',
  x: Float32Array,
  xs: number[],
  k: number[],
  s: number[],
  pads: number[],
  dil: number[],
  ceil: boolean,
  includePad: boolean,
) {
  const sp = k.length;
  const inSp = xs.slice(2);
  const outSp = inSp.map((d, i) => {
    const span = d + pads[i]! + pads[i + sp]! - ((k[i]! - 1) * dil[i]! + 1);
    let o = (ceil ? Math.ceil(span / s[i]!) : Math.floor(span / s[i]!)) + 1;
    if (ceil && (o - 1) * s[i]! >= d + pads[i]!) o--;
    return o;
  });
  const outShape = [xs[0]!, xs[1]!, ...outSp];
  const out = new Float64Array(prod(outShape));
  for (let o = 0; o < out.length; o++) {
    const [n, c, ...pos] = unravel(o, outShape) as [number, number, ...number[]];
    let acc = kind === 'max' ? -Infinity : 0;
    let cnt = 0;
    let padCnt = 0;
    for (let t = 0; t < prod(k); t++) {
      const kk = unravel(t, k);
      const ii = pos.map((p, d) => p * s[d]! - pads[d]! + kk[d]! * dil[d]!);
      if (ii.every((v, d) => v >= -pads[d]! && v < inSp[d]! + pads[d + sp]!)) padCnt++;
      if (ii.some((v, d) => v < 0 || v >= inSp[d]!)) continue;
      const v = x[ravel([n, c, ...ii], xs)]!;
      acc = kind === 'max' ? Math.max(acc, v) : acc + v;
      cnt++;
    }
    out[o] = kind === 'max' ? acc : acc / (includePad ? padCnt : cnt);
  }
  return { shape: outShape, data: out };
}

/**
 * Float64 reference over rows of d: LN y = (x − μ)/sqrt(σ² + ε)·γ + β with μ = Σx/d and the biased
 * σ² = Σ(x − μ)²/d (two passes, float64); RMS y = x/sqrt(Σx²/d + ε)·γ + β.
 * @example refNorm('ln', x, rows, d, gamma, beta, 1e-5).y
 */
export function refNorm(
  kind: 'ln' | 'rms',
  x: ArrayLike<number>,
  rows: number,
  d: number,
  g?: ArrayLike<number>,
  b?: ArrayLike<number>,
  eps = 1e-5,
) {
  const y = new Float64Array(rows * d);
  const mean = new Float64Array(rows);
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    if (kind === 'ln') {
      for (let j = 0; j < d; j++) mu += x[r * d + j]!;
      mu /= d;
    }
    let ss = 0;
    for (let j = 0; j < d; j++) ss += (x[r * d + j]! - mu) ** 2;
    const a = 1 / Math.sqrt(ss / d + eps);
    mean[r] = mu;
    inv[r] = a;
    for (let j = 0; j < d; j++) y[r * d + j] = (x[r * d + j]! - mu) * a * (g ? g[j]! : 1) + (b ? b[j]! : 0);
  }
  return { y, mean, inv };
}

/** softmax(scale·QKᵀ)·V per head with plain float64 loops. @example refAttention(qkv, 4, 1 / Math.sqrt(16)) */
export function refAttention(qkv: Tensor, H: number, scale: number): Float64Array {
  const [B, T, threeD] = qkv.shape as [number, number, number];
  const D = threeD / 3;
  const dh = D / H;
  const x = qkv.data;
  const at = (b: number, t: number, part: number, h: number, k: number) => Number(x[((b * T + t) * 3 + part) * D + h * dh + k]);
  const out = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const s = Array.from({ length: T }, (_, j) => {
          let v = 0;
          for (let k = 0; k < dh; k++) v += at(b, i, 0, h, k) * at(b, j, 1, h, k);
          return v * scale;
        });
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, v) => a + v, 0);
        for (let k = 0; k < dh; k++) {
          let v = 0;
          for (let j = 0; j < T; j++) v += (e[j]! / z) * at(b, j, 2, h, k);
          out[(b * T + i) * D + h * dh + k] = v;
        }
      }
  return out;
}

/**
 * Float64 reference over rows of d (row r uses γ block r mod period): μ = Σx/d (0 for RMS), two-pass
 * σ², a = 1/sqrt(σ² + ε), x̂ = (x − μ)·a, ĝ = dy·γ, and dx_j = Σ_i ĝ_i·∂x̂_i/∂x_j with the Jacobian
 * ∂x̂_i/∂x_j = a·(δ_ij − c/d − x̂_i·x̂_j/d) summed term by term (c = 1 for LN, 0 for RMS);
 * dγ = Σ dy·x̂, dβ = Σ dy.
 * @example refNormBackward(true, x, dy, rows, d, 1, gamma).dx
 */
export function refNormBackward(
  center: boolean,
  x: Float32Array,
  dy: Float32Array,
  rows: number,
  d: number,
  period: number,
  g?: Float32Array,
): RefNormBackward {
  const F = period * d;
  const r: RefNormBackward = {
    dx: new Float64Array(rows * d),
    dg: new Float64Array(F),
    db: new Float64Array(F),
    dxScale: new Float64Array(rows * d),
    dgScale: new Float64Array(F),
    dbScale: new Float64Array(F),
  };
  const c = center ? 1 : 0;
  for (let row = 0; row < rows; row++) {
    const off = row * d;
    const po = (row % period) * d;
    let mu = 0;
    for (let j = 0; j < d; j++) mu += c * x[off + j]!;
    mu /= d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += (x[off + j]! - mu) ** 2;
    const a = 1 / Math.sqrt(ss / d + 1e-5);
    const xh = Array.from({ length: d }, (_, j) => (x[off + j]! - mu) * a);
    const gh = Array.from({ length: d }, (_, j) => dy[off + j]! * (g ? g[po + j]! : 1));
    let mg = 0;
    let mgx = 0;
    for (let i = 0; i < d; i++) {
      mg += Math.abs(gh[i]!) / d;
      mgx += Math.abs(gh[i]! * xh[i]!) / d;
    }
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += gh[i]! * a * ((i === j ? 1 : 0) - c / d - (xh[i]! * xh[j]!) / d);
      r.dx[off + j] = s;
      r.dxScale[off + j] = a * (Math.abs(gh[j]!) + mg + Math.abs(xh[j]!) * mgx);
      r.dg[po + j]! += dy[off + j]! * xh[j]!;
      r.db[po + j]! += dy[off + j]!;
      r.dgScale[po + j]! += Math.abs(dy[off + j]!) * (Math.abs(xh[j]!) + 1);
      r.dbScale[po + j]! += Math.abs(dy[off + j]!);
    }
  }
  return r;
}
