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

/** Angles (radians, plane coordinates) where each layer puts the largest, middle and smallest value of its input line: an arc of 1.2 rad. */
const ANCHOR = [-0.6, 0, 0.6] as const;
/** Smallest width (radians) of the interval of admissible fold angles we accept. */
const MIN_ROOM = 1e-9;
/** Fold angles tried per admissible interval. */
const FOLD_CANDIDATES = 8;
/** Prefer the exact-merge fold (see buildLnNet). */
const EXACT_MERGE = true;

/** One LN layer of the construction: pre-activation in plane coordinates is c + s·d, s = a linear function of the previous layer. */
interface LayerPlan {
  /** Read-out direction u (plane coordinates) of the previous LN output (unused for the first layer). */
  u: [number, number];
  c: [number, number];
  d: [number, number];
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
  /** Fold layers (depth = 1 + moves): run merges plus end-run halvings. */
  moves: number;
  /** The simulated (design-time) margin: min gap between the score of any point and 0, relative. */
  margin: number;
  /** predict(score) = score > 0 ? 1 : 0. */
  lnEpsilon: number;
}

/** Angle of a plane vector. */
const ang = (p: readonly [number, number]) => Math.atan2(p[1], p[0]);

/** LN over 3 neurons of a pre-activation given in plane coordinates (it is centered already): returns plane coordinates. */
function ln3(p: readonly [number, number], eps: number): [number, number] {
  const y = lift(p);
  const mu = (y[0]! + y[1]! + y[2]!) / 3;
  const c = y.map((v) => v - mu);
  const inv = 1 / Math.sqrt((c[0]! ** 2 + c[1]! ** 2 + c[2]! ** 2) / 3 + eps);
  return drop(c.map((v) => v * inv));
}

/** A line c + s·d whose direction at s = s_i is ANCHOR[i] (i = 0, 1, 2), scaled so |c + s d| ≥ 1e3 on [sMin, sMax]. */
function lineThroughAnchors(
  s: readonly [number, number, number],
  sMin: number,
  sMax: number,
): { c: [number, number]; d: [number, number] } {
  // Unknowns (cx, cy, dx, dy): cross(dir_i, c + s_i d) = 0 → −sinα(cx + s dx) + cosα(cy + s dy) = 0.
  const rows = s.map((si, i) => {
    const al = ANCHOR[i]!;
    return [-Math.sin(al), Math.cos(al), -Math.sin(al) * si, Math.cos(al) * si];
  });
  // Null vector of the 3×4 system: cofactors (generalized cross product).
  const det3 = (m: number[][]) =>
    m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
    m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
    m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);
  const nv = [0, 1, 2, 3].map((j) => {
    const minor = rows.map((r) => r.filter((_, k) => k !== j));
    return (j % 2 === 0 ? 1 : -1) * det3(minor);
  });
  let c: [number, number] = [nv[0]!, nv[1]!];
  let d: [number, number] = [nv[2]!, nv[3]!];
  const at = (t: number): [number, number] => [c[0] + t * d[0], c[1] + t * d[1]];
  const p0 = at(s[0]);
  if (p0[0] * Math.cos(ANCHOR[0]) + p0[1] * Math.sin(ANCHOR[0]) < 0) {
    c = [-c[0], -c[1]];
    d = [-d[0], -d[1]];
  }
  // Smallest |c + t d| over t ∈ [sMin, sMax] (the line's closest point, clamped).
  const dd = d[0] * d[0] + d[1] * d[1];
  const tStar = Math.min(sMax, Math.max(sMin, dd > 0 ? -(c[0] * d[0] + c[1] * d[1]) / dd : sMin));
  const q = at(tStar);
  const scale = 1e3 / Math.hypot(q[0], q[1]);
  return { c: [c[0] * scale, c[1] * scale], d: [d[0] * scale, d[1] * scale] };
}

/** Whether a label sequence (front → back) is separable by a line on the circle: ≤ 2 runs, or 3 runs with equal ends. */
function separable(seq: readonly number[]): boolean {
  let runs = seq.length > 0 ? 1 : 0;
  for (let i = 1; i < seq.length; i++) if (seq[i] !== seq[i - 1]) runs++;
  return runs <= 2 || (runs === 3 && seq[0] === seq[seq.length - 1]);
}

/**
 * Builds an LN-Net with 3 neurons per layer that classifies m labelled points (any labels) — the
 * ICML 2024 claim "3 neurons per layer, O(m) LN layers" (PAPERS.md §3, `[V]` abstract) — with our own
 * construction `[derived here]` (the paper's "projection-merge" procedure was not retrievable):
 *
 * 1. Layer 1 projects x to s = vᵀx (v random, so the m values are distinct) and maps s onto a line
 *    c + s·d in the plane 1ᵀy = 0; LayerNormalization (the pre-activation is already centered) sends
 *    it to the circle of radius √3 (ε_LN shrinks it by ≤ 1e-12 at our scale), in the order of s, on an
 *    arc of 1.2 rad. The labels along the arc form r runs R_1 … R_r.
 * 2. Every later layer is rank one: s = uᵀy with u at angle ψ, pre-activation c + s·d, LN. Since
 *    s = |y|cos(φ − ψ), the layer FOLDS the circle about ψ: points are re-ordered by their angular
 *    distance to ψ, then laid out again on an arc by the line (c, d). With ψ chosen in
 *    ((a + b₂)/2, min((b₁ + c₁)/2, (φ₁ + d₁)/2)) — a = last angle of R_1, [b₁, b₂] = R_2, c₁ = first of R_3,
 *    φ₁ = first of R_1, d₁ = first of R_4 — the two halves of R_2 come first, then R_1 and R_3 together,
 *    then R_4, …: the fold merges R_1 into R_3 and removes one run. The interval is non-empty iff
 *    width(R_1) < d₁ − b₂; otherwise the mirror image (merge R_r into R_{r−2}) is used, and if neither
 *    fits, a self-fold halves the narrower end run (one extra layer, no run removed). Within the interval
 *    we prefer ψ at the midpoint of R_1's centre and R_3's first point (R_1 lands on that point); else
 *    the fold angle and output line (of several candidates) that keep the smallest gap between
 *    differently labelled neighbours largest.
 * 3. Three runs (always with equal end labels) are separable by a line cutting the circle: the
 *    read-out is one MatMul + Add with score > 0 ⇔ label 1.
 *
 * Depth: 1 + (r − 3) merge layers (+ halving layers when used) for r ≥ 3 runs, so without halvings
 * depth ≤ max(1, m − 2): O(m), linear in m as the paper states.
 *
 * Float64 limit (found here, a real limitation of this construction): the fold's critical point
 * squeezes the gaps next to ψ quadratically and the squeeze compounds from layer to layer; the
 * construction designs each layer from the float64-simulated outputs (ε_LN included), keeps the
 * best of several fold angles and output lines, and throws `CONSTRUCTION_FAILED` when two runs can no
 * longer be told apart. In practice that happens beyond ~20–30 random points; exact-arithmetic
 * evaluation would be needed for m = 1000.
 *
 * @example
 * ```ts
 * const data = randomLabelledPoints(12, 3, 7);
 * const net = buildLnNet(data);
 * net.depth;                       // ≤ 10
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
  if (labels.some((l) => l !== 0 && l !== 1)) throw new NormkitError('INVALID_ARGUMENT', 'buildLnNet: labels must be 0 or 1');

  // 1. A projection with distinct values (random direction; retried with new seeds if two collide).
  const rng = new Rng(opts.seed ?? 0);
  let v: number[] = [];
  let s: number[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    v = Array.from({ length: dim }, () => rng.normal());
    s = points.map((p) => p.reduce((acc, x, j) => acc + x * v[j]!, 0));
    const sorted = [...s].sort((a, b) => a - b);
    const spread = sorted[m - 1]! - sorted[0]!;
    let minGap = Number.POSITIVE_INFINITY;
    for (let i = 1; i < m; i++) minGap = Math.min(minGap, sorted[i]! - sorted[i - 1]!);
    if (m === 1 || minGap > 1e-9 * Math.max(1, spread)) break;
    if (attempt === 19)
      throw new NormkitError(
        'DEGENERATE_INPUT',
        'buildLnNet: points have coinciding projections (duplicate points?); remove duplicates or relabel them consistently',
      );
  }
  const plans: LayerPlan[] = [];
  // The line of a layer: the largest input value goes to angle −0.6, the smallest to +0.6, the middle value to 0.
  const design = (sv: number[]): { c: [number, number]; d: [number, number] } => {
    let hi = Number.NEGATIVE_INFINITY;
    let lo = Number.POSITIVE_INFINITY;
    for (const x of sv) {
      hi = Math.max(hi, x);
      lo = Math.min(lo, x);
    }
    if (!(hi > lo)) hi = lo + 1;
    return lineThroughAnchors([hi, (hi + lo) / 2, lo], lo, hi);
  };
  /** Candidate lines: the middle anchor at several rank quantiles of the values. */
  const designs = (sv: number[]): { c: [number, number]; d: [number, number] }[] => {
    const sorted = [...sv].sort((a, b) => b - a);
    const hi = sorted[0]!;
    const lo = sorted[sorted.length - 1]!;
    if (!(hi > lo)) return [design(sv)];
    const out = [design(sv)];
    for (const q of [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98]) {
      const mid = sorted[Math.min(sorted.length - 2, Math.max(1, Math.round(q * (sorted.length - 1))))]!;
      if (mid < hi && mid > lo) out.push(lineThroughAnchors([hi, mid, lo], lo, hi));
    }
    return out;
  };
  /** Smallest angular gap between neighbours (in angle order) with different labels. */
  const boundaryGap = (theta: number[]): { gap: number; runs: number } => {
    const ord = Array.from({ length: m }, (_, i) => i).sort((a, b) => theta[a]! - theta[b]!);
    let g = Number.POSITIVE_INFINITY;
    let runs = 1;
    for (let k = 1; k < m; k++)
      if (labels[ord[k]!] !== labels[ord[k - 1]!]) {
        runs++;
        g = Math.min(g, theta[ord[k]!]! - theta[ord[k - 1]!]!);
      }
    return { gap: g, runs };
  };
  let line = design(s);
  plans.push({ u: [0, 0], ...line });
  let state: [number, number][] = s.map((sv) => ln3([line.c[0] + sv * line.d[0], line.c[1] + sv * line.d[1]], eps));

  const runsOf = (theta: number[]) => {
    const ord = Array.from({ length: m }, (_, i) => i).sort((a, b) => theta[a]! - theta[b]!);
    const runs: { first: number; last: number; label: number; members: number[] }[] = [];
    for (const i of ord) {
      const r = runs[runs.length - 1];
      if (r && r.label === labels[i]) {
        r.last = i;
        r.members.push(i);
      } else runs.push({ first: i, last: i, label: labels[i]!, members: [i] });
    }
    return { ord, runs };
  };
  /** A fold angle that merges the first run into the third (runs read in increasing angle), or undefined. */
  const foldFront = (theta: number[], runs: { first: number; last: number }[]): { lo: number; hi: number; room: number } | undefined => {
    const [r1, r2, r3, r4] = runs;
    const phi1 = theta[r1!.first]!;
    const a = theta[r1!.last]!;
    const b1 = theta[r2!.first]!;
    const b2 = theta[r2!.last]!;
    const c1 = theta[r3!.first]!;
    const d1 = r4 ? theta[r4.first]! : Number.POSITIVE_INFINITY;
    const lo = (a + b2) / 2;
    const hi = Math.min((b1 + c1) / 2, (phi1 + d1) / 2);
    return hi - lo > MIN_ROOM ? { lo, hi, room: hi - lo } : undefined;
  };
  let moves = 0;
  for (;;) {
    const theta = state.map(ang);
    const { ord, runs } = runsOf(theta);
    if (separable(ord.map((i) => labels[i]!))) break;
    // Merge the first run into the third (or, mirrored, the last into the third from the end).
    const front = foldFront(theta, runs);
    const back = foldFront(
      theta.map((t) => -t),
      [...runs].reverse().map((r) => ({ first: r.last, last: r.first })),
    );
    const cands: number[] = [];
    for (const [iv, sign] of [
      [front, 1],
      [back, -1],
    ] as const) {
      if (!iv) continue;
      for (let k = 1; k < FOLD_CANDIDATES; k++) cands.push(sign * (iv.lo + ((iv.hi - iv.lo) * k) / FOLD_CANDIDATES));
    }
    // Self-folds of an end run (halve its width, keep all runs): used when no merge fits, or when every
    // merge would shrink the smallest gap between differently labelled neighbours by more than 4×.
    const halvings: number[] = [];
    {
      const first = runs[0]!;
      const last = runs[runs.length - 1]!;
      const wFront = theta[first.last]! - theta[first.first]!;
      const wBack = theta[last.last]! - theta[last.first]!;
      if (wFront > 0) halvings.push(theta[first.first]! + wFront * 0.55);
      if (wBack > 0) halvings.push(theta[last.last]! - wBack * 0.55);
    }
    const curGap = boundaryGap(theta).gap;
    // Pick the fold angle and the output line that keep the smallest gap between differently labelled neighbours largest.
    type Choice = { gap: number; u: [number, number]; line: { c: [number, number]; d: [number, number] }; next: [number, number][] };
    const search = (angles: number[], maxRuns: number, plain = false): Choice | undefined => {
      let best: Choice | undefined;
      for (const psi of angles) {
        const u: [number, number] = [Math.cos(psi), Math.sin(psi)];
        const sv = state.map((y) => y[0] * u[0] + y[1] * u[1]);
        for (const ln of plain ? [design(sv)] : designs(sv)) {
          const next = sv.map((x) => ln3([ln.c[0] + x * ln.d[0], ln.c[1] + x * ln.d[1]], eps));
          const { gap, runs: r } = boundaryGap(next.map(ang));
          if (r <= maxRuns && (!best || gap > best.gap)) best = { gap, u, line: ln, next };
        }
      }
      return best;
    };
    // Exact merge: ψ at the midpoint of the end run's centre and the first point of the run it joins,
    // so that run lands ON that point (its own spread is squeezed by the fold, the gaps further away are
    // moved isometrically). Preferred whenever it is admissible.
    const exact: number[] = [];
    if (front && runs.length >= 3) {
      const r1 = runs[0]!;
      const psi = ((theta[r1.first]! + theta[r1.last]!) / 2 + theta[runs[2]!.first]!) / 2;
      if (psi > front.lo && psi < front.hi) exact.push(psi);
    }
    if (back && runs.length >= 3) {
      const rr = runs[runs.length - 1]!;
      const psi = ((theta[rr.first]! + theta[rr.last]!) / 2 + theta[runs[runs.length - 3]!.last]!) / 2;
      if (-psi > back.lo && -psi < back.hi) exact.push(psi);
    }
    let best = EXACT_MERGE ? search(exact, runs.length - 1, true) : undefined;
    if (!best) best = search(cands, runs.length - 1);
    if (!best || best.gap < 0.25 * curGap) {
      const h = search(halvings, runs.length);
      if (h && (!best || h.gap > best.gap)) best = h;
    }
    if (!best) {
      throw new NormkitError(
        'CONSTRUCTION_FAILED',
        `buildLnNet: no fold at layer ${plans.length + 1} merged two runs in float64 (runs: ${runs.length}); the points are too close`,
        {
          layer: plans.length + 1,
        },
      );
    }

    const { u, next } = best;
    line = best.line;
    plans.push({ u, ...line });
    state = next;
    moves++;
  }
  const order = runsOf(state.map(ang)).ord;
  const seqOf = (ord: number[]) => ord.map((i) => labels[i]!);

  // 3. Read-out: the contiguous arc of one label (the last run, or the middle run of a 3-run sequence).
  const seq = seqOf(order);
  const runs: { start: number; end: number; label: number }[] = [];
  seq.forEach((l, i) => {
    const r = runs[runs.length - 1];
    if (r && r.label === l) r.end = i;
    else runs.push({ start: i, end: i, label: l });
  });
  const target = runs.length === 3 ? runs[1]! : runs[runs.length - 1]!;
  const theta = state.map(ang);
  const inT = order.slice(target.start, target.end + 1);
  const center = (theta[inT[0]!]! + theta[inT[inT.length - 1]!]!) / 2;
  const n: [number, number] = [Math.cos(center), Math.sin(center)];
  const proj = state.map((y) => y[0] * n[0] + y[1] * n[1]);
  const inSet = new Set(inT);
  let minIn = Number.POSITIVE_INFINITY;
  let maxOut = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < m; i++) {
    if (inSet.has(i)) minIn = Math.min(minIn, proj[i]!);
    else maxOut = Math.max(maxOut, proj[i]!);
  }
  const thr = Number.isFinite(maxOut) ? (minIn + maxOut) / 2 : minIn - 1;
  const sign = target.label === 1 ? 1 : -1;
  const margin = Number.isFinite(maxOut) ? (minIn - maxOut) / 2 : 1;
  if (!(margin > 0))
    throw new NormkitError('CONSTRUCTION_FAILED', 'buildLnNet: the final arcs overlap; the points are too close in float64');

  // Graph.
  const gb = new GraphBuilder('lnnet');
  const x = gb.input('x', 'float64', ['N', dim]);
  const f64 = (vals: number[], shape: number[]) => new Tensor(shape, 'float64', Float64Array.from(vals));
  const ones = gb.constant('ln_scale', f64([1, 1, 1], [3]));
  const zeros = gb.constant('ln_bias', f64([0, 0, 0], [3]));
  let h = x;
  plans.forEach((pl, li) => {
    const dl = lift(pl.d);
    const bl = lift(pl.c);
    let Wflat: number[];
    let rows: number;
    if (li === 0) {
      rows = dim;
      Wflat = v.flatMap((vj) => dl.map((dk) => vj * dk));
    } else {
      rows = 3;
      const ul = lift(pl.u);
      Wflat = ul.flatMap((uj) => dl.map((dk) => uj * dk));
    }
    const pre = gb.op('Add', [gb.op('MatMul', [h, gb.constant(`w${li}`, f64(Wflat, [rows, 3]))]), gb.constant(`b${li}`, f64(bl, [3]))]);
    h = gb.op('LayerNormalization', [pre, ones, zeros], { axis: -1, epsilon: { type: 'float', value: eps } }, { name: `ln${li}` });
  });
  const nl = lift(n).map((vv) => sign * vv);
  const out = gb.op('Add', [gb.op('MatMul', [h, gb.constant('w_out', f64(nl, [3, 1]))]), gb.constant('b_out', f64([-sign * thr], [1]))]);
  gb.output(out, 'float64', ['N', 1]);
  return { model: gb.model(17), input: x, output: out, depth: plans.length, width: 3, moves, margin, lnEpsilon: eps };
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
 * Depth (LN layers) of our construction for m points when every merge fits (no halving layer):
 * max(1, m − 2) — m points have at most m label runs, three runs are separable, each layer removes
 * one run. `[derived here]` (see `buildLnNet`); the paper states O(m) `[V]` without a constant we
 * could read.
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
 * any labelling, and L − 1 merge layers bring them to 3 runs, so ≤ L layers suffice — PROVIDED no
 * halving layer is needed. That proviso is checked exhaustively by `shatter` for L ≤ 8 (all 2^(L+2)
 * labellings) and not proved for general L. It matches PAPERS.md §3.1's recollection "≥ L + 2", which
 * is `[R, unverified]`; a smaller net (extra layers only add depth) realises each labelling, so a net
 * with exactly L layers does too (pad with folds whose ψ lies outside the arc: order-preserving).
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
 * lnNet({ points: 16, dim: 2, seed: 0 }); // { depth: ≤ 14, width: 3, accuracy: 1, verified: true, ... }
 * ```
 */
export function lnNet(input: LnNetInput): {
  /** null when the construction could not be completed (then `error` says why). */
  depth: number | null;
  width: number;
  accuracy: number | null;
  /** Every point classified correctly by both evaluators. */
  verified: boolean;
  depthBound: number;
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
      independentAccuracy: null,
      moves: 0,
      provenance,
      error: e.message,
    };
  }
}
