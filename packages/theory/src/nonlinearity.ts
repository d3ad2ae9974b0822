import { NormkitError } from '@normkit/tensor';
import type { Matrix } from './linalg64.js';
import { symmetricEigen64 } from './linalg64.js';
import { parallelNorm64 } from './ln.js';

/** A scalar-input linear–LN–linear network f(x) = aᵀ PLN_g(w x + b) + c (g = groupSize; g = d is one LN). */
export interface ScalarLnNet {
  w: number[];
  b: number[];
  a: number[];
  c?: number;
  /** LN ε (default 0). */
  eps?: number;
  /** Group size of the (parallel) LN; default: the whole width (a single LN). */
  groupSize?: number;
}

/**
 * Evaluates a scalar-input linear–(P)LN–linear network, float64.
 *
 * @example
 * ```ts
 * const f = scalarLnNet({ w: [1, -1], b: [0, 0], a: [1, 0] });
 * f(2); // 1  (LN([2, -2]) = [1, -1])
 * ```
 */
export function scalarLnNet(net: ScalarLnNet): (x: number) => number {
  const d = net.w.length;
  if (d < 2 || net.b.length !== d || net.a.length !== d) {
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `scalarLnNet: w, b and a must have the same length ≥ 2 (got ${net.w.length}, ${net.b.length}, ${net.a.length})`,
    );
  }
  const g = net.groupSize ?? d;
  const eps = net.eps ?? 0;
  const c = net.c ?? 0;
  return (x) =>
    parallelNorm64(
      net.w.map((wi, i) => wi * x + net.b[i]!),
      g,
      eps,
    ).reduce((s, v, i) => s + v * net.a[i]!, c);
}

/**
 * Stationary points of a single-LN network f(x) = aᵀLN(w x + b) + c, analytically. `[D]` (docs/PAPERS.md
 * §2.1, oracle 10; consistent with the `[V3]` summary of PLN v2): with w̃ = Cw, b̃ = Cb, A = aᵀw̃,
 * B = aᵀb̃ and Q(x) = α x² + 2β x + γ (α = |w̃|²/d, β = w̃ᵀb̃/d, γ = |b̃|²/d + ε), f(x) − c = (A x + B)/√Q(x)
 * and f′(x) = [(Aβ − Bα) x + (Aγ − Bβ)] / Q(x)^{3/2}. The numerator is AFFINE in x, so f has at most
 * one stationary point (or is constant). Returns the points (0 or 1) and whether f is constant.
 *
 * @example
 * ```ts
 * singleLnStationaryPoints({ w: [1, 0, -1], b: [0, 1, 0], a: [0, 1, 0] }); // { points: [0], constant: false }
 * ```
 */
export function singleLnStationaryPoints(net: ScalarLnNet): { points: number[]; constant: boolean } {
  const d = net.w.length;
  if (d < 2 || net.b.length !== d || net.a.length !== d)
    throw new NormkitError('INVALID_ARGUMENT', 'singleLnStationaryPoints: w, b, a must have the same length ≥ 2');
  const eps = net.eps ?? 0;
  const center = (v: number[]) => {
    const m = v.reduce((s, x) => s + x, 0) / d;
    return v.map((x) => x - m);
  };
  const wt = center(net.w);
  const bt = center(net.b);
  const dot = (u: number[], v: number[]) => u.reduce((s, x, i) => s + x * v[i]!, 0);
  const A = dot(net.a, wt);
  const B = dot(net.a, bt);
  const al = dot(wt, wt) / d;
  const be = dot(wt, bt) / d;
  const ga = dot(bt, bt) / d + eps;
  const p = A * be - B * al;
  const q = A * ga - B * be;
  // Rounding scale of p and q: |a|·(|w̃| + |b̃|)·(α + |β| + γ) (A, B themselves may be rounding noise).
  const scale = Math.max(
    Math.sqrt(dot(net.a, net.a)) * (Math.sqrt(dot(wt, wt)) + Math.sqrt(dot(bt, bt))) * (al + Math.abs(be) + ga),
    1e-300,
  );
  if (Math.abs(p) <= 1e-12 * scale) return Math.abs(q) <= 1e-12 * scale ? { points: [], constant: true } : { points: [], constant: false };
  const x = -q / p;
  // Where Q(x) = 0 (ε = 0 and wx + b constant across features) f is undefined: not a stationary point.
  const Qx = al * x * x + 2 * be * x + ga;
  return { points: Qx > 0 ? [x] : [], constant: false };
}

/**
 * Counts the stationary points of any scalar function on [lo, hi] numerically: sign changes of the
 * finite differences on a grid of `n` points (differences below `tol`·range, or below the float64
 * rounding floor of the values, count as zero).
 *
 * @example
 * ```ts
 * countStationaryPoints(Math.sin, 0, 10); // 3
 * ```
 */
export function countStationaryPoints(f: (x: number) => number, lo: number, hi: number, n = 20001, tol = 1e-12): number {
  if (!(hi > lo) || n < 3)
    throw new NormkitError('INVALID_ARGUMENT', `countStationaryPoints: need lo < hi and n ≥ 3 (got [${lo}, ${hi}], n=${n})`);
  const ys = Array.from({ length: n }, (_, i) => f(lo + ((hi - lo) * i) / (n - 1)));
  const bad = ys.findIndex((y) => !Number.isFinite(y));
  if (bad >= 0) {
    throw new NormkitError(
      'NON_FINITE',
      `countStationaryPoints: f(${lo + ((hi - lo) * bad) / (n - 1)}) is ${ys[bad]}; the function must be finite on [lo, hi] (an LN with ε = 0 of a constant vector is 0/0)`,
    );
  }
  const range = Math.max(...ys) - Math.min(...ys);
  const maxAbs = Math.max(...ys.map(Math.abs));
  // Differences below the rounding floor of the values are noise, not slope.
  const floor = Math.max(tol * range, 256 * 2 ** -52 * maxAbs, 1e-300);
  let prev = 0;
  let count = 0;
  for (let i = 1; i < n; i++) {
    const d = ys[i]! - ys[i - 1]!;
    const s = Math.abs(d) <= floor ? 0 : Math.sign(d);
    if (s === 0) continue;
    if (prev !== 0 && s !== prev) count++;
    prev = s;
  }
  return count;
}

/**
 * Sum of Squares Ratio of a 1-D projection: within-class sum of squares over total sum of squares of
 * `values` (0 = perfectly separated classes collapsed to points, 1 = class means coincide). `[R]`
 * (docs/PAPERS.md §3.1: our reconstruction of the paper's SSR, unverified).
 *
 * @example
 * ```ts
 * ssr([0, 0, 1, 1], [0, 0, 1, 1]); // 0
 * ssr([0, 1, 0, 1], [0, 0, 1, 1]); // 1
 * ```
 */
export function ssr(values: readonly number[], labels: readonly number[]): number {
  if (values.length !== labels.length || values.length < 2)
    throw new NormkitError('INVALID_ARGUMENT', 'ssr: need ≥ 2 values and one label each');
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const total = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  const groups = new Map<number, number[]>();
  values.forEach((v, i) => {
    const g = groups.get(labels[i]!);
    if (g) g.push(v);
    else groups.set(labels[i]!, [v]);
  });
  let within = 0;
  for (const g of groups.values()) {
    const m = g.reduce((s, v) => s + v, 0) / g.length;
    within += g.reduce((s, v) => s + (v - m) ** 2, 0);
  }
  return total > 0 ? within / total : 1;
}

/**
 * Linear SSR: the smallest SSR of any 1-D projection wᵀx of the rows of X, i.e. the smallest
 * generalized eigenvalue of (S_W, S_T) on the range of S_T. `[R]` (docs/PAPERS.md §3.1, reconstructed). A
 * linear map of the features cannot lower it (`[D]`: every projection of A x is a projection of x),
 * while an LN-Net can.
 *
 * @example
 * ```ts
 * lssr([[1, 1], [-1, -1], [1, -1], [-1, 1]], [0, 0, 1, 1]); // 1 (XOR: both class means are 0)
 * lssr([[0], [0.1], [1], [1.1]], [0, 0, 1, 1]);             // 0.0099…
 * ```
 */
export function lssr(X: Matrix, labels: readonly number[]): number {
  const n = X.length;
  const d = X[0]?.length ?? 0;
  if (n < 2 || d < 1 || labels.length !== n || X.some((r) => r.length !== d))
    throw new NormkitError('INVALID_ARGUMENT', 'lssr: X must be n×d (n ≥ 2) with one label per row');
  const mean = Array.from({ length: d }, (_, j) => X.reduce((s, r) => s + r[j]!, 0) / n);
  const ST: Matrix = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const SW: Matrix = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const classes = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const g = classes.get(l);
    if (g) g.push(i);
    else classes.set(l, [i]);
  });
  for (const idx of classes.values()) {
    const mc = Array.from({ length: d }, (_, j) => idx.reduce((s, i) => s + X[i]![j]!, 0) / idx.length);
    for (const i of idx)
      for (let p = 0; p < d; p++)
        for (let q = 0; q < d; q++) {
          SW[p]![q]! += (X[i]![p]! - mc[p]!) * (X[i]![q]! - mc[q]!);
          ST[p]![q]! += (X[i]![p]! - mean[p]!) * (X[i]![q]! - mean[q]!);
        }
  }
  // Restrict to the range of S_T: S_T = V Λ Vᵀ, keep λ > tol·λ_max, M = Λ^{-1/2} Vᵀ S_W V Λ^{-1/2}.
  const { values, vectors } = symmetricEigen64(ST);
  const lmax = Math.max(...values);
  if (!(lmax > 0)) return 1;
  const keep = values.map((v, i) => [v, i] as const).filter(([v]) => v > 1e-10 * lmax);
  const k = keep.length;
  const P: Matrix = Array.from({ length: d }, (_, r) => keep.map(([v, i]) => vectors[r]![i]! / Math.sqrt(v)));
  const M: Matrix = Array.from({ length: k }, (_, a) =>
    Array.from({ length: k }, (_, b) => {
      let s = 0;
      for (let p = 0; p < d; p++) for (let q = 0; q < d; q++) s += P[p]![a]! * SW[p]![q]! * P[q]![b]!;
      return s;
    }),
  );
  return Math.max(0, Math.min(1, symmetricEigen64(M).values[0]!));
}

/**
 * How group partition (LN-G) changes LSSR: for each group size g, the LSSR of the features
 * PLN_g(X W + b) (rows of X through a linear layer, then LayerNorm on contiguous groups of g). The
 * paper's claim `[V]`: LN's nonlinearity is amplified by group partition; the measure is our
 * reconstruction `[R]`. Also returns the LSSR of X itself (a linear layer alone cannot go below it).
 *
 * @example
 * ```ts
 * // XOR through h = [x1 − x2, 1, x2 − x1, 1]: LN-G with groups of 2 separates it, one LN of 4 does not.
 * lssrByGroupSize(XOR, [0, 0, 1, 1], [[1, 0, -1, 0], [-1, 0, 1, 0]], [0, 1, 0, 1], [2, 4]);
 * // { input: 1, linear: 1, byGroup: [{ groupSize: 2, lssr: 0 }, { groupSize: 4, lssr: … }] }
 * ```
 */
export function lssrByGroupSize(
  X: Matrix,
  labels: readonly number[],
  W: Matrix,
  b: readonly number[],
  groupSizes: readonly number[],
  eps = 1e-5,
): { input: number; linear: number; byGroup: { groupSize: number; lssr: number }[] } {
  const width = W[0]?.length ?? 0;
  if (W.length !== (X[0]?.length ?? -1) || b.length !== width)
    throw new NormkitError('INVALID_ARGUMENT', 'lssrByGroupSize: W must be d_in×width and b of length width');
  const H = X.map((x) => Array.from({ length: width }, (_, j) => x.reduce((s, v, i) => s + v * W[i]![j]!, b[j]!)));
  return {
    input: lssr(X, labels),
    linear: lssr(H, labels),
    byGroup: groupSizes.map((g) => ({
      groupSize: g,
      lssr: lssr(
        H.map((h) => parallelNorm64(h, g, eps)),
        labels,
      ),
    })),
  };
}
