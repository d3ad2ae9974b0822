import { GraphBuilder, type Model } from '@normkit/graph';
import { NormkitError, Rng, Tensor } from '@normkit/tensor';
import { type Array64, evaluateGraph64, executeGraph64 } from './evaluate.js';

/** Orthonormal basis of the plane 1ᵀy = 0 in R³ (columns e1, e2). */
const E1 = [1 / Math.SQRT2, -1 / Math.SQRT2, 0];
const E2 = [1 / Math.sqrt(6), 1 / Math.sqrt(6), -2 / Math.sqrt(6)];
/** Plane coordinates (2-D) → R³. */
const lift = (p: readonly [number, number]): number[] => [0, 1, 2].map((i) => p[0] * E1[i]! + p[1] * E2[i]!);
/** Centered R³ vector → plane coordinates. */
const drop = (y: readonly number[]): [number, number] => [
  y[0]! * E1[0]! + y[1]! * E1[1]!,
  y[0]! * E2[0]! + y[1]! * E2[1]! + y[2]! * E2[2]!,
];

/** Size of every pre-activation: |z| ≥ this, so ε_LN moves the LN output by < 1e-13 relative. */
const PRE_ACTIVATION_SCALE = 1e4;
/** Zoom widths H tried, in units of the gaps around R1 and of the F…R2 range (see `designMerge`). */
const ZOOM_WIDTHS = [0.1, 0.3, 1, 3, 10, 30, 100];
/** Random first-layer directions tried (the one keeping differently labelled points farthest apart wins). */
const PROJECTION_TRIES = 16;
/** Fold angles tried per zoom. */
const FOLD_CANDIDATES = 40;
/** Candidates (best by the margin at the extreme points) checked on every point with its error bound. */
const SHORTLIST = 12;
/** Largest angular distance to the fold angle we allow: keeps the far points out of the flat end of the cosine. */
const MAX_FOLD_DISTANCE = Math.PI - 0.3;
/** Rounding-error bounds are multiplied by this before they are taken off a margin. */
const ERROR_SAFETY = 8;
/** Unit roundoff of float64. */
const U64 = 2 ** -53;

/**
 * One LN layer of the construction. Its pre-activation, in plane coordinates, is
 * K·((s − x0)·e1 + H·e2) with K = PRE_ACTIVATION_SCALE / H, where s = uᵀy is the read-out of the
 * previous LN output (s = vᵀx for the first layer): a line seen from the origin, so the LN output's
 * angle is atan2(H, s − x0), a projective zoom that spreads the values near x0 over the circle.
 */
interface LayerPlan {
  /** Read-out direction (plane coordinates) of the previous LN output; unused for the first layer. */
  u: [number, number];
  x0: number;
  H: number;
}

/** A labelled dataset: `points[i]` ∈ R^dim, `labels[i]` ∈ {0, 1}. */
export interface LabelledPoints {
  points: number[][];
  labels: number[];
}

/** Input of `buildLnNet`. */
export interface LnNetOptions {
  /** ε of every LayerNormalization node (default 1e-5). */
  lnEpsilon?: number;
  /** Seed of the projection direction (default 0). */
  seed?: number;
}

/** The constructed LN-Net. */
export interface LnNet {
  model: Model;
  input: string;
  output: string;
  /** Number of LayerNormalization layers (each: MatMul → Add → LayerNormalization over 3 neurons). */
  depth: number;
  /** Neurons per layer (3). */
  width: number;
  /** Label runs of the points along the first projection (depth = max(1, runs − 2)). */
  runs: number;
  /** Merge layers: each removes one label run (depth = 1 + moves). */
  moves: number;
  /**
   * The smallest design margin of any layer, in read-out units (|y| = √3), after subtracting
   * ERROR_SAFETY × a first-order bound of the float64 rounding error carried to that layer: how far
   * every point stays from a wrong side however the evaluator rounds.
   */
  margin: number;
  /** predict(score) = score > 0 ? 1 : 0. */
  lnEpsilon: number;
}

/** LN over 3 neurons of a pre-activation given in plane coordinates (it is centered already): returns plane coordinates. */
function ln3(p: readonly [number, number], eps: number): [number, number] {
  const y = lift(p);
  const mu = (y[0]! + y[1]! + y[2]!) / 3;
  const c = y.map((v) => v - mu);
  const inv = 1 / Math.sqrt((c[0]! ** 2 + c[1]! ** 2 + c[2]! ** 2) / 3 + eps);
  return drop(c.map((v) => v * inv));
}

/** Label runs of the points in order of decreasing read-out s: each run lists its point indices. */
function runsBy(s: Float64Array, labels: readonly number[]): number[][] {
  const order = Array.from(s.keys()).sort((a, b) => s[b]! - s[a]!);
  const runs: number[][] = [];
  for (const i of order) {
    const r = runs[runs.length - 1];
    if (r && labels[r[0]!] === labels[i]) r.push(i);
    else runs.push([i]);
  }
  return runs;
}

/** Indices of the points of `group` with the largest and the smallest read-out. */
function extremes(s: Float64Array, group: readonly number[]): [number, number] {
  let hi = group[0]!;
  let lo = group[0]!;
  for (const i of group) {
    if (s[i]! > s[hi]!) hi = i;
    if (s[i]! < s[lo]!) lo = i;
  }
  return [hi, lo];
}

/** Read-out values with a bound of the float64 rounding error each carries. */
interface Readout {
  s: Float64Array;
  err: Float64Array;
}

/** The LN outputs (plane coordinates) of the zoom layer (x0, H) on read-out values, and their angles. */
function zoom(s: Float64Array, x0: number, H: number, eps: number): { y: [number, number][]; theta: Float64Array } {
  const K = PRE_ACTIVATION_SCALE / H;
  const y = Array.from(s, (v) => ln3([K * (v - x0), K * H], eps));
  return { y, theta: Float64Array.from(y, (p) => Math.atan2(p[1], p[0])) };
}

/**
 * The next read-out s' = uᵀy (u at angle ψ) of the zoom layer's outputs, and its error bound: the
 * incoming error times |ds'/ds| = |y × u|·dθ/ds, dθ/ds = H/((s − x0)² + H²), plus the rounding of
 * this layer — the pre-activation's first component K(s − x0) is computed from terms of size
 * K(|s| + |x0|), an error that moves the angle by that much times dθ/ds; its second component, the LN
 * and the read-out add a few ulps.
 */
function foldRead(r: Readout, y: readonly [number, number][], x0: number, H: number, psi: number): Readout {
  const c = Math.cos(psi);
  const sn = Math.sin(psi);
  const s = new Float64Array(y.length);
  const err = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const [y0, y1] = y[i]!;
    const d = r.s[i]! - x0;
    const dThetaDs = H / (d * d + H * H);
    const thetaErr = (r.err[i]! + 4 * U64 * (Math.abs(r.s[i]!) + Math.abs(x0) + 2)) * dThetaDs + 32 * U64;
    s[i] = y0 * c + y1 * sn;
    err[i] = thetaErr * Math.abs(y0 * sn - y1 * c) + 8 * U64;
  }
  return { s, err };
}

/** The read-outs of the points `idx`, in that order. */
const pick = (r: Readout, idx: readonly number[]): Readout => ({
  s: Float64Array.from(idx, (i) => r.s[i]!),
  err: Float64Array.from(idx, (i) => r.err[i]!),
});

/** Smallest of s − ERROR_SAFETY·err over the points `group`: where the group can reach, however it rounds. */
const lowest = (r: Readout, group: Iterable<number>) => {
  let v = Number.POSITIVE_INFINITY;
  for (const i of group) v = Math.min(v, r.s[i]! - ERROR_SAFETY * r.err[i]!);
  return v;
};
/** Largest of s + ERROR_SAFETY·err over the points `group`. */
const highest = (r: Readout, group: Iterable<number>) => {
  let v = Number.NEGATIVE_INFINITY;
  for (const i of group) v = Math.max(v, r.s[i]! + ERROR_SAFETY * r.err[i]!);
  return v;
};

/** A designed merge layer. */
interface Merge {
  plan: LayerPlan;
  psi: number;
  next: Readout;
  margin: number;
}

/**
 * One merge layer. Runs (by decreasing s): F, N, R1, R2, …; F and R1 share a label. A zoom (x0, H)
 * opens up the gaps near x0 on the circle and crowds the rest towards the ends; the fold at ψ between
 * F and R1 then puts N (which lies between them) nearest ψ, F among R1, and the rest beyond — one run
 * fewer. x0 runs from R1 (whose gaps to N and R2 become the new run boundaries) back to the F–N gap
 * (the boundary between the two merged zones, which must not be squeezed layer after layer); H runs
 * over a grid; ψ over FOLD_CANDIDATES angles. The margin is the smallest read-out gap between groups
 * that must stay apart, less ERROR_SAFETY × their rounding-error bounds. The zoom keeps the order of
 * s and the read-out is unimodal in the angle, so each group's extremes sit at its points of largest
 * and smallest s: the search scores candidates on those few points, and the best SHORTLIST are
 * checked on every point with its own error bound.
 */
function designMerge(r: Readout, runs: number[][], prev: [number, number], eps: number): Merge | undefined {
  const { s } = r;
  const [F, N, R1, R2] = runs as [number[], number[], number[], number[]];
  const FR1 = [...F, ...R1];
  const rest = runs.slice(3).flat();
  const [fHi, fLo] = extremes(s, F);
  const [nHi, nLo] = extremes(s, N);
  const [rHi, rLo] = extremes(s, R1);
  const [r2Hi] = extremes(s, R2);
  const [allHi, allLo] = extremes(s, [...s.keys()]);
  // Positions in `key`: 0 fHi, 1 fLo, 2 nHi, 3 nLo, 4 rHi, 5 rLo, 6 r2Hi, 7 allHi, 8 allLo.
  const key = pick(r, [fHi, fLo, nHi, nLo, rHi, rLo, r2Hi, allHi, allLo]);
  // Zoom centres from R1 back to the F–N boundary (the zone gap may need opening up as much as R1's),
  // and widths relative to both the gaps around R1 and the whole F…R2 range.
  const gapScale = Math.max(s[nLo]! - s[rHi]!, s[rHi]! - s[r2Hi]!, Number.MIN_VALUE);
  const fn = (s[fLo]! + s[nHi]!) / 2;
  const r1 = (s[rHi]! + s[rLo]!) / 2;
  const centres = [r1, (s[nLo]! + s[rHi]!) / 2, (s[rLo]! + s[r2Hi]!) / 2, fn, ...[0.25, 0.5, 0.75].map((t) => r1 + t * (fn - r1))];
  const widths = [...ZOOM_WIDTHS.map((w) => w * gapScale), ...ZOOM_WIDTHS.map((w) => w * (s[fLo]! - s[r2Hi]!))];
  const shortlist: { x0: number; H: number; psi: number; margin: number }[] = [];
  for (const x0 of centres) {
    for (const H of widths) {
      const { y, theta } = zoom(key.s, x0, H, eps);
      // Angles fall as s grows: F's largest angle is at its smallest s, R1's smallest at its largest s.
      const [tFlo, tRhi, tAllHi, tAllLo] = [theta[1]!, theta[4]!, theta[7]!, theta[8]!];
      for (let k = 1; k < FOLD_CANDIDATES; k++) {
        const psi = tFlo + ((tRhi - tFlo) * k) / FOLD_CANDIDATES;
        if (Math.max(tAllLo - psi, psi - tAllHi) > MAX_FOLD_DISTANCE) continue;
        const nx = foldRead(key, y, x0, H, psi);
        // N nearest ψ, then F ∪ R1, then the rest (whose nearest point is R2's first).
        const margin = Math.min(lowest(nx, [2, 3]) - highest(nx, [1, 4]), lowest(nx, [0, 5]) - highest(nx, [6]));
        shortlist.push({ x0, H, psi, margin });
      }
    }
  }
  // The extremes in s need not be the extremes of s ± error: check the best few on every point.
  shortlist.sort((a, b) => b.margin - a.margin);
  let best: Merge | undefined;
  for (const c of shortlist.slice(0, SHORTLIST)) {
    const next = foldRead(r, zoom(s, c.x0, c.H, eps).y, c.x0, c.H, c.psi);
    const margin = Math.min(lowest(next, N) - highest(next, FR1), lowest(next, FR1) - highest(next, rest));
    if (!best || margin > best.margin) best = { plan: { u: prev, x0: c.x0, H: c.H }, psi: c.psi, next, margin };
  }
  return best;
}

/**
 * Builds an LN-Net with 3 neurons per layer that classifies m labelled points (any labels) — the
 * ICML 2024 claim "3 neurons per layer, O(m) LN layers" (docs/PAPERS.md §3, `[V]` abstract) — with our own
 * construction `[derived here]` (the paper's "projection-merge" procedure was not retrievable):
 *
 * 1. The first layer reads s = vᵀx, v the best of 16 random directions (the one keeping differently
 *    labelled points farthest apart). Sorted by s, the labels form r runs F, N, R1, R2, … (F and R1
 *    share a label).
 * 2. Every layer's pre-activation is the line K·(s − x0, H) in the plane 1ᵀy = 0, so its LN output
 *    sits on the circle at angle atan2(H, s − x0): a projective zoom that opens up the values near x0
 *    to O(1) angles and crowds the far ones towards the two ends, order kept. The next layer reads
 *    s' = |y|cos(θ − ψ), which folds the circle at ψ. With ψ between F and R1, N (which lies between
 *    them) lands nearest ψ, F lands among R1, and R2, R3, … stay beyond: one run fewer per layer.
 *    The fold point sits in a wide, empty gap the zoom made, so no gap between two labels is
 *    squeezed quadratically (the earlier fold-the-circle construction squeezed the gaps next to its
 *    fold point, compounding, and stopped near m = 25); the zoom centre is chosen between R1 and the
 *    F–N boundary so that neither the new run boundaries nor the zone boundary shrink from layer to
 *    layer. Zoom centre, width and ψ are picked from a small grid by the margin they leave after
 *    subtracting a first-order bound of the float64 rounding error each point has picked up (a zoom
 *    of width H amplifies errors near its centre by up to √3/H): the network is verified to classify
 *    in float64, not only in exact arithmetic.
 * 3. At three runs (equal end labels) or fewer, the read-out is one MatMul + Add: score > 0 ⇔ the
 *    point lies on the arc of the middle (or last) run.
 *
 * Depth: max(1, r − 2) ≤ max(1, m − 2) LN layers — O(m), linear in m as the paper states. If no layer
 * keeps a positive margin, `CONSTRUCTION_FAILED` is thrown — never a wrong network. Measured
 * (`cd packages/theory && npm run bench`, bench/results.md): m = 1000 random points in 1–50
 * dimensions with random labels, every seed built and verified by both evaluators, ~3–5 s each; all
 * seeds up to m = 2000; at m = 3000 (1500 layers) the one-dimensional datasets fail (their closest
 * differently labelled points are ~2e-7 of the spread apart, and no projection can widen that).
 *
 * @example
 * ```ts
 * const data = randomLabelledPoints(200, 3, 7);
 * const net = buildLnNet(data);
 * net.depth;                       // ≤ 198
 * verifyLnNet(net, data).accuracy; // 1
 * ```
 */
export function buildLnNet(data: LabelledPoints, opts: LnNetOptions = {}): LnNet {
  const { points, labels } = data;
  const m = points.length;
  const eps = opts.lnEpsilon ?? 1e-5;
  if (m === 0 || labels.length !== m)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `buildLnNet: need m ≥ 1 points and as many labels (got ${m} points, ${labels.length} labels)`,
    );
  const dim = points[0]!.length;
  if (dim === 0 || points.some((p) => p.length !== dim))
    throw new NormkitError('INVALID_ARGUMENT', 'buildLnNet: every point must have the same dimension ≥ 1');
  if (points.some((p) => p.some((x) => !Number.isFinite(x))))
    throw new NormkitError('INVALID_ARGUMENT', 'buildLnNet: every coordinate must be a finite number');
  if (labels.some((l) => l !== 0 && l !== 1)) throw new NormkitError('INVALID_ARGUMENT', 'buildLnNet: labels must be 0 or 1');
  if (!(eps >= 0 && eps <= 1)) throw new NormkitError('INVALID_ARGUMENT', `buildLnNet: lnEpsilon must be in [0, 1], got ${eps}`);

  // 1. The projection: of PROJECTION_TRIES random directions, the one whose closest pair of
  // differently labelled neighbours is farthest apart (relative to the spread) — the first gap every
  // later layer must keep open.
  const rng = new Rng(opts.seed ?? 0);
  let v: number[] = [];
  let r: Readout | undefined;
  let bestGap = Number.NEGATIVE_INFINITY;
  for (let attempt = 0; attempt < (dim === 1 ? 1 : PROJECTION_TRIES); attempt++) {
    const dir = Array.from({ length: dim }, () => rng.normal());
    const s = Float64Array.from(points, (p) => p.reduce((acc, x, j) => acc + x * dir[j]!, 0));
    const order = Array.from(s.keys()).sort((i, j) => s[i]! - s[j]!);
    const spread = s[order[m - 1]!]! - s[order[0]!]!;
    let gap = Number.POSITIVE_INFINITY;
    for (let k = 1; k < m; k++)
      if (labels[order[k]!] !== labels[order[k - 1]!]) gap = Math.min(gap, (s[order[k]!]! - s[order[k - 1]!]!) / spread);
    if (gap > bestGap) {
      bestGap = gap;
      v = dir;
      const err = Float64Array.from(points, (p) => 2 * dim * U64 * p.reduce((acc, x, j) => acc + Math.abs(x * dir[j]!), 0));
      r = { s, err };
    }
  }
  if (!r || !(bestGap > 1e-12))
    throw new NormkitError(
      'DEGENERATE_INPUT',
      'buildLnNet: two differently labelled points have (nearly) the same projection on every direction tried — duplicate points with different labels? Remove or relabel them',
    );
  const initialRuns = runsBy(r.s, labels).length;

  // 2. Merge layers, one label run fewer each.
  const plans: LayerPlan[] = [];
  let prev: [number, number] = [0, 0];
  let margin = Number.POSITIVE_INFINITY;
  for (let runs = runsBy(r.s, labels); runs.length > 3; runs = runsBy(r.s, labels)) {
    const step = designMerge(r, runs, prev, eps);
    if (!step || !(step.margin > 0))
      throw new NormkitError(
        'CONSTRUCTION_FAILED',
        `buildLnNet: no layer merges two of the ${runs.length} label runs with a float64 margin (layer ${plans.length + 1}); the points are too close`,
        { layer: plans.length + 1 },
      );
    plans.push(step.plan);
    prev = [Math.cos(step.psi), Math.sin(step.psi)];
    r = step.next;
    margin = Math.min(margin, step.margin);
  }
  const moves = plans.length;

  // 3. The last layer zooms on the (≤ 3) runs; the read-out takes the arc of the middle run (or the last).
  const runs = runsBy(r.s, labels);
  const target = runs.length === 3 ? runs[1]! : runs[runs.length - 1]!;
  const outside = runs.filter((g) => g !== target).flat();
  const [tHi, tLo] = extremes(r.s, target);
  const x0 = (r.s[tHi]! + r.s[tLo]!) / 2;
  // Zoom widths relative to the target run's width and to the distance of its nearest neighbour.
  let nearest = Number.POSITIVE_INFINITY;
  for (const i of outside) nearest = Math.min(nearest, Math.abs(r.s[i]! - x0));
  const bases = [r.s[tHi]! - r.s[tLo]!, Number.isFinite(nearest) ? nearest : 1].filter((b) => b > 0);
  let last: { plan: LayerPlan; centre: number; thr: number; margin: number } | undefined;
  for (const H of bases.flatMap((b) => [1e-3, 1e-2, 0.1, 0.5, 1, 2, 10].map((w) => w * b))) {
    const { y, theta } = zoom(r.s, x0, H, eps);
    const centre = (theta[tHi]! + theta[tLo]!) / 2;
    const score = foldRead(r, y, x0, H, centre);
    const minIn = lowest(score, target);
    const maxOut = highest(score, outside);
    const mg = Number.isFinite(maxOut) ? (minIn - maxOut) / 2 : 1;
    if (!last || mg > last.margin)
      last = { plan: { u: prev, x0, H }, centre, thr: Number.isFinite(maxOut) ? (minIn + maxOut) / 2 : minIn - 1, margin: mg };
  }
  if (!last || !(last.margin > 0))
    throw new NormkitError('CONSTRUCTION_FAILED', 'buildLnNet: the final arcs overlap; the points are too close in float64');
  plans.push(last.plan);
  margin = Math.min(margin, last.margin);
  const sign = labels[target[0]!] === 1 ? 1 : -1;

  // Graph: layer li computes LN(K·(s·e1 + (−x0, H))) with s = uᵀh (s = vᵀx for li = 0).
  const gb = new GraphBuilder('lnnet');
  const x = gb.input('x', 'float64', ['N', dim]);
  const f64 = (vals: number[], shape: number[]) => new Tensor(shape, 'float64', Float64Array.from(vals));
  const ones = gb.constant('ln_scale', f64([1, 1, 1], [3]));
  const zeros = gb.constant('ln_bias', f64([0, 0, 0], [3]));
  let h = x;
  plans.forEach((pl, li) => {
    const K = PRE_ACTIVATION_SCALE / pl.H;
    const dl = lift([K, 0]);
    const readVec = li === 0 ? v : lift(pl.u);
    const W = readVec.flatMap((rj) => dl.map((dk) => rj * dk));
    const pre = gb.op('Add', [
      gb.op('MatMul', [h, gb.constant(`w${li}`, f64(W, [readVec.length, 3]))]),
      gb.constant(`b${li}`, f64(lift([-K * pl.x0, K * pl.H]), [3])),
    ]);
    h = gb.op('LayerNormalization', [pre, ones, zeros], { axis: -1, epsilon: { type: 'float', value: eps } }, { name: `ln${li}` });
  });
  const n = lift([Math.cos(last.centre), Math.sin(last.centre)]).map((c) => sign * c);
  const out = gb.op('Add', [
    gb.op('MatMul', [h, gb.constant('w_out', f64(n, [3, 1]))]),
    gb.constant('b_out', f64([-sign * last.thr], [1])),
  ]);
  gb.output(out, 'float64', ['N', 1]);
  return { model: gb.model(17), input: x, output: out, depth: plans.length, width: 3, runs: initialRuns, moves, margin, lnEpsilon: eps };
}

/**
 * Runs an LN-Net on labelled points with `@normkit/graph`'s executor (float64) and the independent
 * `evaluateGraph64`, and returns the accuracy of each (prediction: score > 0 ⇒ label 1).
 *
 * @example
 * ```ts
 * const data = randomLabelledPoints(20, 2, 1);
 * verifyLnNet(buildLnNet(data), data); // { accuracy: 1, independentAccuracy: 1, ... }
 * ```
 */
export function verifyLnNet(net: LnNet, data: LabelledPoints): { accuracy: number; independentAccuracy: number; minScore: number } {
  const m = data.points.length;
  const dim = data.points[0]!.length;
  const input: Array64 = { data: Float64Array.from(data.points.flat()), shape: [m, dim] };
  const a = executeGraph64(net.model, { [net.input]: input }, [net.output])[net.output]!.data;
  const b = evaluateGraph64(net.model, { [net.input]: input }, [net.output])[net.output]!.data;
  let okA = 0;
  let okB = 0;
  let minScore = Number.POSITIVE_INFINITY;
  for (let i = 0; i < m; i++) {
    const l = data.labels[i]!;
    if ((a[i]! > 0 ? 1 : 0) === l) okA++;
    if ((b[i]! > 0 ? 1 : 0) === l) okB++;
    minScore = Math.min(minScore, (l === 1 ? 1 : -1) * a[i]!);
  }
  return { accuracy: okA / m, independentAccuracy: okB / m, minScore };
}

/**
 * m points uniform in [−1, 1]^dim with uniformly random 0/1 labels, from a seeded `Rng`.
 *
 * @example
 * ```ts
 * randomLabelledPoints(3, 2, 0).points.length; // 3
 * ```
 */
export function randomLabelledPoints(m: number, dim: number, seed: number): LabelledPoints {
  if (!Number.isInteger(m) || m < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new NormkitError('INVALID_ARGUMENT', `randomLabelledPoints: m and dim must be positive integers, got m=${m}, dim=${dim}`);
  }
  const rng = new Rng(seed);
  const points = Array.from({ length: m }, () => Array.from({ length: dim }, () => rng.uniform(-1, 1)));
  const labels = Array.from({ length: m }, () => (rng.uniform() < 0.5 ? 0 : 1));
  return { points, labels };
}

/**
 * Depth (LN layers) of our construction for m points in the worst case: max(1, m − 2) — m points have
 * at most m label runs along the projection (m for alternating labels), three runs are separable, and
 * each layer after the first removes one run, so depth = max(1, runs − 2). For random labels
 * runs ≈ (m + 1)/2. `[derived here]` (see `buildLnNet`); the paper states O(m) `[V]` without a
 * constant we could read.
 *
 * @example
 * ```ts
 * lnNetDepthBound(1000); // 998
 * ```
 */
export function lnNetDepthBound(m: number): number {
  if (!Number.isInteger(m) || m < 1) throw new NormkitError('INVALID_ARGUMENT', `lnNetDepthBound: m must be a positive integer, got ${m}`);
  return Math.max(1, m - 2);
}

/**
 * VC-dimension lower bound of width-3 LN-Nets with L LN layers (plus a linear read-out): VC ≥ L + 2.
 * `[derived here]`, from `buildLnNet`: L + 2 collinear, equally spaced points have ≤ L + 2 runs under
 * any labelling, and L − 1 merge layers bring them to 3 runs, so ≤ L layers suffice — PROVIDED every
 * merge layer is found with a positive float64 margin (the constructor throws otherwise). That proviso
 * is checked exhaustively by `shatter` for L ≤ 10 (all 2^(L+2) labellings; tests run L ≤ 5) and for
 * the alternating labelling (the one with most runs) up to L = 398, and is not proved for general L.
 * It matches docs/PAPERS.md §3.1's recollection "≥ L + 2", which is `[R, unverified]`; a smaller net realises
 * each labelling, and a net with exactly L layers does too (pad with order-preserving zoom layers).
 *
 * @example
 * ```ts
 * lnNetVcLowerBound(10); // 12
 * ```
 */
export function lnNetVcLowerBound(depth: number): number {
  if (!Number.isInteger(depth) || depth < 1)
    throw new NormkitError('INVALID_ARGUMENT', `lnNetVcLowerBound: depth must be a positive integer, got ${depth}`);
  return depth + 2;
}

/**
 * The shattering construction behind `lnNetVcLowerBound`: takes depth + 2 points on a line in R^dim
 * (x_i = i·e_1), builds the LN-Net for each of the 2^(depth+2) labellings and checks that every one is
 * classified correctly with at most `depth` LN layers. Exponential in depth: meant for depth ≤ 12.
 *
 * @example
 * ```ts
 * shatter(4); // { points: 6, labellings: 64, shattered: true, maxDepth: 4 }
 * ```
 */
export function shatter(depth: number, dim = 2): { points: number; labellings: number; shattered: boolean; maxDepth: number } {
  if (!Number.isInteger(depth) || depth < 1 || depth > 16)
    throw new NormkitError('INVALID_ARGUMENT', `shatter: depth must be an integer in [1, 16], got ${depth}`);
  const m = depth + 2;
  const points = Array.from({ length: m }, (_, i) => Array.from({ length: dim }, (_, j) => (j === 0 ? i : 0)));
  let shattered = true;
  let maxDepth = 0;
  for (let mask = 0; mask < 2 ** m; mask++) {
    const labels = points.map((_, i) => (mask >> i) & 1);
    const net = buildLnNet({ points, labels });
    maxDepth = Math.max(maxDepth, net.depth);
    const r = verifyLnNet(net, { points, labels });
    if (r.accuracy !== 1 || net.depth > depth) shattered = false;
  }
  return { points: m, labellings: 2 ** m, shattered, maxDepth };
}

/** Input of `lnNet` (the CLI's `normkit theory lnnet`). */
export interface LnNetInput {
  points: number;
  dim: number;
  seed: number;
}

/**
 * The calculator behind `normkit theory lnnet`: m random points in [−1, 1]^dim with random labels
 * (seeded), the LN-Net built for them, and its accuracy when run as a graph.
 *
 * @example
 * ```ts
 * lnNet({ points: 1000, dim: 3, seed: 0 }); // { depth: 467, runs: 469, width: 3, accuracy: 1, verified: true, ... }
 * ```
 */
export function lnNet(input: LnNetInput): {
  /** null when the construction could not be completed (then `error` says why). */
  depth: number | null;
  width: number;
  accuracy: number | null;
  /** Every point classified correctly by both evaluators. */
  verified: boolean;
  /** max(1, m − 2): the depth for the worst labelling (alternating labels along the projection). */
  depthBound: number;
  /** Label runs along the first projection; depth = max(1, runs − 2). */
  runs: number | null;
  /** Smallest design margin net of the float64 error bound (see `LnNet.margin`). */
  margin: number | null;
  independentAccuracy: number | null;
  moves: number;
  provenance: string;
  /** Set when the construction could not be completed in float64 (see `buildLnNet`). */
  error?: string;
} {
  const data = randomLabelledPoints(input.points, input.dim, input.seed);
  const provenance = '[V] claim (3 neurons, O(m) layers); construction and depth bound max(1, m−2) [derived here]';
  try {
    const net = buildLnNet(data, { seed: input.seed });
    const r = verifyLnNet(net, data);
    return {
      depth: net.depth,
      width: net.width,
      accuracy: r.accuracy,
      verified: r.accuracy === 1 && r.independentAccuracy === 1,
      depthBound: lnNetDepthBound(input.points),
      runs: net.runs,
      margin: net.margin,
      independentAccuracy: r.independentAccuracy,
      moves: net.moves,
      provenance,
    };
  } catch (e) {
    if (!(e instanceof NormkitError) || e.code !== 'CONSTRUCTION_FAILED') throw e;
    return {
      depth: null,
      width: 3,
      accuracy: null,
      verified: false,
      depthBound: lnNetDepthBound(input.points),
      runs: null,
      margin: null,
      independentAccuracy: null,
      moves: 0,
      provenance,
      error: e.message,
    };
  }
}
