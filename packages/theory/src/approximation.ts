import { GraphBuilder, type Model } from '@normkit/graph';
import { NormkitError, Tensor } from '@normkit/tensor';
import { type Array64, evaluateGraph64, executeGraph64, maxAbsDiff } from './evaluate.js';

/** Activation of the one-hidden-layer network. `pln2` = PLN with group size 2, `pln` = PLN with `groupSize`, `pls` = grouped RMSNorm (default group size 1). */
export type Activation = 'pln2' | 'pln' | 'pls' | 'relu' | 'sigmoid';

/** Input of `approximationWidth`. */
export interface WidthOptions {
  /** Lipschitz constant L ≥ 0 of the target on the interval. */
  lipschitz: number;
  /** Sup-norm error ε > 0. */
  epsilon: number;
  /** Default 'pln2'. */
  activation?: Activation;
  /** Group size of 'pln' (≥ 2, default 2) and 'pls' (≥ 1, default 1); ignored otherwise. */
  groupSize?: number;
  /** Domain [a, b] (default [0, 1]). */
  interval?: [number, number];
}

/** A width bound with its derivation. */
export interface WidthBound {
  activation: Activation;
  groupSize: number;
  /** n = ⌈L(b−a)/(2ε)⌉: pieces of the piecewise-constant (or piecewise-linear, ReLU) approximant. */
  pieces: number;
  /** Steps (n − 1) or ReLU ramps (n). */
  units: number;
  neuronsPerUnit: number;
  /** Hidden neurons = units × neuronsPerUnit. */
  width: number;
  /** L(b−a)/(2n) ≤ ε: the error of the ideal (hard-step / exact) approximant. */
  idealError: number;
  formula: string;
  provenance: string;
}

/** ⌈r⌉ that does not round 10.000000000000002 up to 11 (ratios like 1/(2·0.05) should be exact). */
function ceilRatio(r: number): number {
  const k = Math.round(r);
  return Math.abs(r - k) <= 1e-9 * Math.max(1, Math.abs(r)) ? k : Math.ceil(r);
}

function checkWidthOptions(o: WidthOptions, where: string): { L: number; eps: number; a: number; b: number; act: Activation; k: number } {
  const { lipschitz: L, epsilon: eps } = o;
  const act = o.activation ?? 'pln2';
  const [a, b] = o.interval ?? [0, 1];
  if (!(Number.isFinite(L) && L >= 0))
    throw new NormkitError('INVALID_ARGUMENT', `${where}: lipschitz must be a finite number ≥ 0, got ${L}`);
  if (!(Number.isFinite(eps) && eps > 0))
    throw new NormkitError('INVALID_ARGUMENT', `${where}: epsilon must be a finite number > 0, got ${eps}`);
  if (!(Number.isFinite(a) && Number.isFinite(b) && b > a))
    throw new NormkitError('INVALID_ARGUMENT', `${where}: interval must be [a, b] with a < b, got [${a}, ${b}]`);
  if (!['pln2', 'pln', 'pls', 'relu', 'sigmoid'].includes(act)) {
    throw new NormkitError('INVALID_ARGUMENT', `${where}: activation must be one of pln2, pln, pls, relu, sigmoid; got "${act}"`);
  }
  const k = act === 'pln2' ? 2 : act === 'pln' ? (o.groupSize ?? 2) : act === 'pls' ? (o.groupSize ?? 1) : 1;
  if (!Number.isInteger(k) || k < (act === 'pln' ? 2 : 1)) {
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${where}: groupSize of ${act} must be an integer ≥ ${act === 'pln' ? 2 : 1} (a 1-feature LN group is constant 0), got ${k}`,
    );
  }
  return { L, eps, a, b, act, k };
}

/**
 * Width of a one-hidden-layer network that approximates EVERY L-Lipschitz f on [a, b] to sup error ε,
 * by the staircase / interpolation constructions built by `buildApproximator`. n = ⌈L(b−a)/(2ε)⌉.
 *
 * | activation | width | provenance |
 * |---|---|---|
 * | pln2 | 2(n − 1) | `[D]` docs/PAPERS.md §2.1 (oracle 11), our construction — not the paper's constant |
 * | pln, group k | k(n − 1) | `[derived here]`: one LN group is one step (below) |
 * | pls, group k | k(n − 1); k = 1 gives n − 1 | `[derived here]`: RMS of [v] is v/√(v²+ε), a softsign |
 * | relu | n | `[derived here]`: piecewise-linear interpolation at n + 1 knots, error ≤ Lh/2 |
 * | sigmoid | n − 1 | `[derived here]`: classical sigmoid staircase |
 *
 * Derivation (all step activations): split [a, b] into n pieces of length h = (b−a)/n; the level of
 * piece k is f at its midpoint, so |f − level| ≤ Lh/2 ≤ ε on the piece; the n − 1 jumps are one unit
 * each. Why one LN group is only one step: for scalar x the group's centered pre-activation C(wx+b)
 * moves on a line, its direction sweeps one arc of angle < π, so aᵀLN(wx+b) has at most one
 * stationary point (see `singleLnStationaryPoints`) — a group cannot make two jumps.
 * For ReLU: g(x) = f(a) + Σ_{i<n} c_i ReLU(x − x_i) interpolates f at x_i = a + ih; on a piece,
 * |f − g| ≤ 2λ(1−λ)Lh ≤ Lh/2. These are upper bounds from constructions; the papers' exact minimum
 * widths (docs/PAPERS.md §6 gap) were not retrievable, so no lower bound is claimed.
 *
 * With LN's ε_LN > 0 a PLN/PLS unit is a softsign, not a hard step: see `buildApproximator` for the
 * exact residual, and for the case L(b−a)/(2ε) ∈ ℕ (no slack).
 *
 * @example
 * ```ts
 * approximationWidth({ lipschitz: 1, epsilon: 0.05 }).width;                      // 18 (oracle 11)
 * approximationWidth({ lipschitz: 1, epsilon: 0.05, activation: 'relu' }).width;  // 10
 * ```
 */
export function approximationWidth(opts: WidthOptions): WidthBound {
  const { L, eps, a, b, act, k } = checkWidthOptions(opts, 'approximationWidth');
  const n = Math.max(1, ceilRatio((L * (b - a)) / (2 * eps)));
  const units = act === 'relu' ? n : n - 1;
  const neuronsPerUnit = act === 'pln2' || act === 'pln' || act === 'pls' ? k : 1;
  const table: Record<Activation, { formula: string; provenance: string }> = {
    pln2: { formula: '2(⌈L(b−a)/(2ε)⌉ − 1)', provenance: '[D] docs/PAPERS.md §2.1 (our staircase construction, not the paper’s constant)' },
    pln: { formula: 'k(⌈L(b−a)/(2ε)⌉ − 1)', provenance: '[derived here] one LN group = one step' },
    pls: { formula: 'k(⌈L(b−a)/(2ε)⌉ − 1)', provenance: '[derived here] RMS group of [v, 0, …] = softsign step' },
    relu: { formula: '⌈L(b−a)/(2ε)⌉', provenance: '[derived here] piecewise-linear interpolation' },
    sigmoid: { formula: '⌈L(b−a)/(2ε)⌉ − 1', provenance: '[derived here] sigmoid staircase' },
  };
  return {
    activation: act,
    groupSize: neuronsPerUnit,
    pieces: n,
    units,
    neuronsPerUnit,
    width: units * neuronsPerUnit,
    idealError: (L * (b - a)) / (2 * n),
    ...table[act],
  };
}

/**
 * Hidden width of the PLN-2 staircase, 2(⌈L/(2ε)⌉ − 1), on [0, 1] (docs/PAPERS.md §2.1 `[D]`, oracle 11).
 *
 * @example
 * ```ts
 * staircaseWidth(1, 0.05);  // 18
 * staircaseWidth(2, 0.01);  // 198
 * staircaseWidth(10, 0.1);  // 98
 * ```
 */
export function staircaseWidth(lipschitz: number, epsilon: number): number {
  return approximationWidth({ lipschitz, epsilon, activation: 'pln2' }).width;
}

/** Input of `buildApproximator`. */
export interface ApproximatorOptions extends WidthOptions {
  /** The target; must be `lipschitz`-Lipschitz on the interval. Default: the L-Lipschitz sine (L(b−a)/2π)·sin(2π(x−a)/(b−a)). */
  f?: (x: number) => number;
  /** ε of the LayerNormalization / RMSNormalization nodes (default 1e-5, PyTorch's and the PLN code's default). */
  lnEpsilon?: number;
  /** Budget for the softsign/sigmoid tails, as a fraction of ε (default 1e-12). */
  tailFraction?: number;
}

/** A constructed one-hidden-layer approximator. */
export interface Approximator {
  model: Model;
  /** Graph input name ([N, 1]), hidden value name ([N, width], after γ/β), output name ([N, 1]). */
  input: string;
  hidden: string;
  output: string;
  /** Readout: output = hidden · weights + bias. */
  readout: { weights: number[]; bias: number };
  bound: WidthBound;
  width: number;
  /** Jump positions t_k (steps) or ReLU knots. */
  knots: number[];
  /** Slope s of the step units (0 for ReLU). */
  slope: number;
  lnEpsilon: number;
  /** Proven bound on the tails' contribution (0 for ReLU). */
  tailBound: number;
  /** Proven sup error for every L-Lipschitz f: idealError + tailBound. */
  universalBound: number;
  /** Whether universalBound ≤ ε (false exactly when L(b−a)/(2ε) is an integer and ε_LN > 0: no slack for the tails). */
  universal: boolean;
  /** The target function approximated (the given `f`, or the default L-Lipschitz sine). */
  f: (x: number) => number;
  lipschitz: number;
  epsilon: number;
  interval: [number, number];
}

/** The default target: L-Lipschitz, not extremal (its slope reaches L only at isolated points). */
export function defaultTarget(lipschitz: number, interval: [number, number] = [0, 1]): (x: number) => number {
  const [a, b] = interval;
  const len = b - a;
  return (x) => ((lipschitz * len) / (2 * Math.PI)) * Math.sin((2 * Math.PI * (x - a)) / len);
}

/**
 * Builds the network behind `approximationWidth` for a given f, as a `@normkit/graph` model with input
 * `x: [N, 1]` (float64) and output `[N, 1]`, with exactly `approximationWidth(...).width` hidden neurons.
 *
 * - pln2 / pln (group k): MatMul → Add → Reshape [−1, G, k] → LayerNormalization(axis −1, ε_LN) →
 *   Reshape [−1, G·k] → Mul γ → Add β → MatMul → Add. Group j gets pre-activation [s(x − t_j), 0, …, 0];
 *   its first output is √(k−1)·v/√(v² + ε'), v = s(x − t_j), ε' = ε_LN k²/(k−1) (for k = 2: the
 *   softsign u/√(u²+ε_LN), u = v/2).
 * - pls (group k): the same with RMSNormalization; first output √k·v/√(v² + kε_LN).
 * - sigmoid: MatMul → Add → Sigmoid → MatMul → Add.   relu: MatMul → Add → Relu → MatMul → Add.
 *
 * Output g = c + Σ_j (Δ_j/2)·σ̂_j with σ̂_j ∈ (−1, 1) the normalized unit, levels y_k = f(midpoint of
 * piece k), Δ_j = y_{j+1} − y_j, c = (y_1 + y_n)/2.
 *
 * Residual, exactly `[derived here]`: with σ_j = (1 + σ̂_j)/2, for x in the right half of piece k
 * (x = t_k − d, 0 ≤ d ≤ h/2) the nearest unit gives the convex combination (1−σ_k)y_k + σ_k y_{k+1}
 * with σ_k ≤ 1/2, whose distance to f(x) is ≤ (1−σ_k)L(h/2−d) + σ_k L(h/2+d) ≤ Lh/2 (the left half
 * is symmetric); every other jump is ≥ (i − ½)h away for its i-th nearest on each side, and a softsign
 * misses its limit by ≤ ε'/(2v²), so the tails add ≤ Σ_i 2·Lh·ε'/(4s²(i−½)²h²) = π²Lε'/(4s²h).
 * Hence sup|f − g| ≤ L(b−a)/(2n) + π²Lε'n/(4s²(b−a)) for EVERY L-Lipschitz f; s is chosen so the tail
 * is ≤ tailFraction·ε. For the sigmoid, 1 − σ(u) ≤ e^{−u} gives tail ≤ 2Lh·e^{−sh/2}/(1 − e^{−sh}).
 *
 * No slack: when L(b−a)/(2ε) is an integer, L(b−a)/(2n) = ε exactly, and for ε_LN > 0 the universal
 * bound exceeds ε by the (tiny, ≤ tailFraction·ε) tail; `universal` is then false and the claim of
 * width 2(n−1) for all f holds only in the hard-step limit ε_LN → 0 (docs/PAPERS.md §2.1). The network is
 * still verified for the given f by `verifyApproximator`, which certifies the actual sup error.
 *
 * @example
 * ```ts
 * const ap = buildApproximator({ lipschitz: 1, epsilon: 0.05, activation: 'pln2' });
 * ap.width;                              // 18
 * verifyApproximator(ap).verified;       // true
 * ```
 */
export function buildApproximator(opts: ApproximatorOptions): Approximator {
  const { L, eps, a, b, act, k } = checkWidthOptions(opts, 'buildApproximator');
  const bound = approximationWidth(opts);
  const f = opts.f ?? defaultTarget(L, [a, b]);
  const lnEps = opts.lnEpsilon ?? 1e-5;
  if (!(lnEps >= 0)) throw new NormkitError('INVALID_ARGUMENT', `buildApproximator: lnEpsilon must be ≥ 0, got ${lnEps}`);
  const tau = (opts.tailFraction ?? 1e-12) * eps;
  const n = bound.pieces;
  const h = (b - a) / n;
  const gb = new GraphBuilder(`approx_${act}`);
  const x = gb.input('x', 'float64', ['N', 1]);
  const f64 = (v: number[], shape: number[]) => new Tensor(shape, 'float64', Float64Array.from(v));
  const base = {
    bound,
    width: bound.width,
    f,
    lipschitz: L,
    epsilon: eps,
    interval: [a, b] as [number, number],
    lnEpsilon: lnEps,
    input: x,
  };

  if (act === 'relu') {
    const knots = Array.from({ length: n }, (_, i) => a + i * h);
    const vals = Array.from({ length: n + 1 }, (_, i) => f(a + i * h));
    const slopes = Array.from({ length: n }, (_, i) => (vals[i + 1]! - vals[i]!) / h);
    const weights = slopes.map((s, i) => (i === 0 ? s : s - slopes[i - 1]!));
    const pre = gb.op('Add', [
      gb.op('MatMul', [x, gb.constant('w1', f64(new Array(n).fill(1), [1, n]))]),
      gb.constant(
        'b1',
        f64(
          knots.map((t) => -t),
          [n],
        ),
      ),
    ]);
    const hidden = gb.op('Relu', [pre]);
    const y = gb.op('Add', [gb.op('MatMul', [hidden, gb.constant('w2', f64(weights, [n, 1]))]), gb.constant('c', f64([vals[0]!], [1]))]);
    gb.output(y, 'float64', ['N', 1]);
    const ideal = bound.idealError;
    return {
      ...base,
      model: gb.model(17),
      hidden,
      output: y,
      readout: { weights, bias: vals[0]! },
      knots,
      slope: 0,
      tailBound: 0,
      universalBound: ideal,
      universal: ideal <= eps,
    };
  }

  const levels = Array.from({ length: n }, (_, i) => f(a + (i + 0.5) * h));
  const knots = Array.from({ length: n - 1 }, (_, i) => a + (i + 1) * h);
  const deltas = knots.map((_, j) => levels[j + 1]! - levels[j]!);
  const G = knots.length;
  if (G === 0) {
    // One piece: the constant f(midpoint) is within L(b−a)/2 ≤ ε; no hidden neuron.
    const y = gb.op('Add', [gb.op('MatMul', [x, gb.constant('w', f64([0], [1, 1]))]), gb.constant('c', f64([levels[0]!], [1]))]);
    gb.output(y, 'float64', ['N', 1]);
    return {
      ...base,
      model: gb.model(17),
      hidden: '',
      output: y,
      readout: { weights: [], bias: levels[0]! },
      knots,
      slope: 0,
      tailBound: 0,
      universalBound: bound.idealError,
      universal: bound.idealError <= eps,
    };
  }
  let slope: number;
  let tailBound: number;
  let hidden: string;
  let weights: number[];
  let bias: number;
  if (act === 'sigmoid') {
    slope = (2 / h) * (Math.log((4 * L * h) / tau) + 1);
    tailBound = (2 * L * h * Math.exp((-slope * h) / 2)) / (1 - Math.exp(-slope * h));
    const pre = gb.op('Add', [
      gb.op('MatMul', [x, gb.constant('w1', f64(new Array(G).fill(slope), [1, G]))]),
      gb.constant(
        'b1',
        f64(
          knots.map((t) => -slope * t),
          [G],
        ),
      ),
    ]);
    hidden = gb.op('Sigmoid', [pre]);
    weights = deltas;
    bias = levels[0]!;
  } else {
    const rms = act === 'pls';
    const amp = rms ? Math.sqrt(k) : Math.sqrt(k - 1);
    const epsPrime = rms ? lnEps * k : (lnEps * k * k) / (k - 1);
    slope = Math.max(1 / h, Math.sqrt((Math.PI ** 2 * L * epsPrime * n) / (4 * (b - a) * tau)));
    tailBound = (Math.PI ** 2 * L * epsPrime * n) / (4 * slope * slope * (b - a));
    const W = G * k;
    const w1 = new Array<number>(W).fill(0);
    const b1 = new Array<number>(W).fill(0);
    weights = new Array<number>(W).fill(0);
    knots.forEach((t, j) => {
      w1[j * k] = slope;
      b1[j * k] = -slope * t;
      weights[j * k] = deltas[j]! / (2 * amp);
    });
    bias = (levels[0]! + levels[n - 1]!) / 2;
    const pre = gb.op('Add', [gb.op('MatMul', [x, gb.constant('w1', f64(w1, [1, W]))]), gb.constant('b1', f64(b1, [W]))]);
    const grouped = gb.op('Reshape', [pre, gb.constant('group_shape', Tensor.from([-1, G, k], undefined, 'int64'))]);
    const normed = rms
      ? gb.op('RMSNormalization', [grouped, gb.constant('ones', f64(new Array(k).fill(1), [k]))], {
          axis: -1,
          epsilon: { type: 'float', value: lnEps },
        })
      : gb.op(
          'LayerNormalization',
          [grouped, gb.constant('ones', f64(new Array(k).fill(1), [k])), gb.constant('zeros', f64(new Array(k).fill(0), [k]))],
          {
            axis: -1,
            epsilon: { type: 'float', value: lnEps },
          },
        );
    const flat = gb.op('Reshape', [normed, gb.constant('flat_shape', Tensor.from([-1, W], undefined, 'int64'))]);
    hidden = gb.op('Add', [
      gb.op('Mul', [flat, gb.constant('gamma', f64(new Array(W).fill(1), [W]))]),
      gb.constant('beta', f64(new Array(W).fill(0), [W])),
    ]);
  }
  const nh = weights.length;
  const y = gb.op('Add', [gb.op('MatMul', [hidden, gb.constant('w2', f64(weights, [nh, 1]))]), gb.constant('c', f64([bias], [1]))]);
  gb.output(y, 'float64', ['N', 1]);
  const universalBound = bound.idealError + tailBound;
  return {
    ...base,
    model: gb.model(act === 'pls' ? 23 : 17),
    hidden,
    output: y,
    readout: { weights, bias },
    knots,
    slope,
    tailBound,
    universalBound,
    universal: universalBound <= eps,
  };
}

/** Options of `verifyApproximator`. */
export interface VerifyOptions {
  /** Points of the initial uniform grid (default max(4097, min(16·width + 1, 2e8/width)), at most 200001). */
  gridPoints?: number;
  /** Budget of extra points for refining cells the certificate cannot close (default 200000). */
  refinePoints?: number;
}

/** What `verifyApproximator` found. */
export interface ApproximationCheck {
  /** max |f − g| over all evaluated grid points (independent float64 evaluator of the graph). */
  supError: number;
  /** max |f − g| over the points run through `@normkit/graph`'s executor (float64). */
  executorSupError: number;
  /** Points run through the executor: the whole initial grid, or an even sample of it when width × points > 4e6, plus the worst point. */
  executorPoints: number;
  /** Proven bound on sup over the whole interval of |f − g| (grid + monotone-unit certificate between points). */
  certifiedBound: number;
  /** Float64 rounding allowance added to the certificate. */
  roundoff: number;
  gridPoints: number;
  /** Cells that were split because the certificate did not close on them at first. */
  refinedCells: number;
  /** max |executor − independent evaluator| on the executor's points. */
  evaluatorAgreement: number;
  /** Every hidden unit evaluated monotone along the grid (the certificate's premise). */
  monotoneUnits: boolean;
  /** certifiedBound + roundoff ≤ ε, both sup errors ≤ ε, and the two evaluators agree. */
  verified: boolean;
}

/**
 * Checks an approximator by construction: runs its graph with the independent float64 evaluator
 * (`evaluateGraph64`) on a dense grid and certifies the sup error between grid points; runs the same
 * graph with `@normkit/graph`'s `execute` (float64) on that grid (an even sample of it for very wide
 * networks, plus the worst point) and requires both to agree to 1e-9 and to be within ε.
 *
 * Certificate `[derived here]`: every hidden unit is monotone in x (softsign, sigmoid and ReLU of an
 * affine function of x; each PLN coordinate is a fixed multiple of one softsign). So on a cell
 * [x_i, x_{i+1}] of width δ the output lies in [c + Σ_j min(w_j h_j(x_i), w_j h_j(x_{i+1})), c + Σ_j max(…)],
 * and f, being L-Lipschitz, lies in [(f_i + f_{i+1} − Lδ)/2, (f_i + f_{i+1} + Lδ)/2]. The largest gap
 * between the two intervals bounds |f − g| on the cell. Cells where that bound exceeds ε are split
 * (16 sub-cells, repeatedly, within `refinePoints`). The bound is rigorous up to float64 rounding,
 * for which `roundoff` = 2⁻⁴⁰·(|c| + Σ|w_j|·max|h_j| + max|f|) is added.
 *
 * @example
 * ```ts
 * const check = verifyApproximator(buildApproximator({ lipschitz: 2, epsilon: 0.01 }));
 * check.verified; // true
 * ```
 */
export function verifyApproximator(ap: Approximator, opts: VerifyOptions = {}): ApproximationCheck {
  const [a, b] = ap.interval;
  const L = ap.lipschitz;
  const W = ap.readout.weights.length;
  // Work is O(points × width): cap the default grid at ~2e8 unit evaluations.
  const n0 = Math.min(200001, Math.max(4097, opts.gridPoints ?? Math.min(16 * W + 1, Math.floor(2e8 / Math.max(1, W)))));
  let budget = opts.refinePoints ?? 200000;
  const chunk = Math.max(1, Math.floor(2_000_000 / Math.max(1, W)));
  let monotone = true;
  let maxAbsHidden = 0;
  let maxAbsF = 0;
  let supError = 0;
  let worstX = a;
  let points = 0;

  /** Evaluates sorted point sequences; returns per-sequence cell bounds. */
  const evalSegments = (segments: number[][]): { cells: { lo: number; hi: number; bound: number }[] }[] => {
    const flat = segments.flat();
    const res: { cells: { lo: number; hi: number; bound: number }[] }[] = segments.map(() => ({ cells: [] }));
    const segOf: number[] = [];
    segments.forEach((s, i) => {
      for (let k = 0; k < s.length; k++) segOf.push(i);
    });
    let prev: { seg: number; x: number; f: number; contrib: Float64Array } | undefined;
    for (let start = 0; start < flat.length; start += chunk) {
      const xs = flat.slice(start, start + chunk);
      const input: Array64 = { data: Float64Array.from(xs), shape: [xs.length, 1] };
      const names = ap.hidden ? [ap.hidden, ap.output] : [ap.output];
      const out = evaluateGraph64(ap.model, { [ap.input]: input }, names);
      const g = out[ap.output]!.data;
      const hid = ap.hidden ? out[ap.hidden]!.data : new Float64Array(0);
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        const fx = ap.f(x);
        maxAbsF = Math.max(maxAbsF, Math.abs(fx));
        const err = Math.abs(fx - g[i]!);
        if (err > supError) {
          supError = err;
          worstX = x;
        }
        points++;
        const contrib = new Float64Array(W);
        for (let j = 0; j < W; j++) {
          const hv = hid[i * W + j]!;
          maxAbsHidden = Math.max(maxAbsHidden, Math.abs(hv) * Math.abs(ap.readout.weights[j]!));
          contrib[j] = ap.readout.weights[j]! * hv;
        }
        const seg = segOf[start + i]!;
        if (prev && prev.seg === seg) {
          let lo = ap.readout.bias;
          let hi = ap.readout.bias;
          for (let j = 0; j < W; j++) {
            const p = prev.contrib[j]!;
            const q = contrib[j]!;
            lo += Math.min(p, q);
            hi += Math.max(p, q);
          }
          const delta = x - prev.x;
          const fm = (prev.f + fx) / 2;
          const bound = Math.max(hi - (fm - (L * delta) / 2), fm + (L * delta) / 2 - lo);
          res[seg]!.cells.push({ lo: prev.x, hi: x, bound });
        }
        prev = { seg, x, f: fx, contrib };
      }
      // Monotonicity premise: each unit's contribution never reverses direction along a segment.
      if (ap.hidden && xs.length > 2) {
        for (let j = 0; j < W && monotone; j++) {
          let dir = 0;
          for (let i = 1; i < xs.length; i++) {
            if (segOf[start + i] !== segOf[start + i - 1]) continue;
            const d = hid[i * W + j]! - hid[(i - 1) * W + j]!;
            const s = Math.abs(d) < 1e-13 ? 0 : Math.sign(d);
            if (s !== 0 && dir !== 0 && s !== dir) monotone = false;
            if (s !== 0) dir = s;
          }
        }
      }
    }
    return res;
  };

  const grid = Array.from({ length: n0 }, (_, i) => (i === n0 - 1 ? b : a + ((b - a) * i) / (n0 - 1)));
  let cells = evalSegments([grid])[0]!.cells;
  const roundoff = () => 2 ** -40 * (Math.abs(ap.readout.bias) + maxAbsHidden * Math.max(1, W) + maxAbsF);
  let refinedCells = 0;
  const settled: number[] = [];
  for (let round = 0; round < 12; round++) {
    const bad = cells.filter((c) => c.bound + roundoff() > ap.epsilon);
    for (const c of cells) if (!(c.bound + roundoff() > ap.epsilon)) settled.push(c.bound);
    if (bad.length === 0 || budget < 17) {
      for (const c of bad) settled.push(c.bound);
      cells = [];
      break;
    }
    const take = bad.slice(0, Math.floor(budget / 17));
    for (const c of bad.slice(take.length)) settled.push(c.bound);
    budget -= take.length * 17;
    refinedCells += take.length;
    const segs = take.map((c) => Array.from({ length: 17 }, (_, i) => (i === 16 ? c.hi : c.lo + ((c.hi - c.lo) * i) / 16)));
    cells = evalSegments(segs).flatMap((s) => s.cells);
  }
  for (const c of cells) settled.push(c.bound);
  const certifiedBound = settled.reduce((m, v) => Math.max(m, v), 0);
  // @normkit/graph's executor on (a sample of) the same grid, plus the worst point found: it must agree
  // with the independent evaluator, and its own sup error must be ≤ ε too.
  const stride = Math.max(1, Math.ceil((n0 * Math.max(1, W)) / 4e6));
  const sample = grid.filter((_, i) => i % stride === 0 || i === n0 - 1);
  sample.push(worstX);
  const sampleIn: Array64 = { data: Float64Array.from(sample), shape: [sample.length, 1] };
  const ex = executeGraph64(ap.model, { [ap.input]: sampleIn }, [ap.output])[ap.output]!.data;
  const own = evaluateGraph64(ap.model, { [ap.input]: sampleIn }, [ap.output])[ap.output]!.data;
  const evaluatorAgreement = maxAbsDiff(ex, own);
  let executorSupError = 0;
  sample.forEach((x, i) => {
    executorSupError = Math.max(executorSupError, Math.abs(ap.f(x) - ex[i]!));
  });
  const ro = roundoff();
  const agreeTol = 1e-9 * Math.max(1, maxAbsF + Math.abs(ap.readout.bias) + maxAbsHidden * Math.max(1, W));
  return {
    supError,
    certifiedBound,
    roundoff: ro,
    gridPoints: points,
    refinedCells,
    evaluatorAgreement,
    monotoneUnits: monotone,
    executorSupError,
    executorPoints: sample.length,
    verified:
      monotone &&
      certifiedBound + ro <= ap.epsilon &&
      supError <= ap.epsilon &&
      executorSupError <= ap.epsilon &&
      evaluatorAgreement <= agreeTol,
  };
}

/** Input of `plnWidth` (the CLI's `normkit theory pln-width`). */
export interface PlnWidthInput {
  lipschitz: number;
  epsilon: number;
  activation?: Activation;
  groupSize?: number;
  interval?: [number, number];
  /** Target to build and check (default: the L-Lipschitz sine, see `defaultTarget`). */
  f?: (x: number) => number;
  lnEpsilon?: number;
}

/** Output of `plnWidth`. */
export interface PlnWidthResult {
  width: number;
  supError: number;
  verified: boolean;
  construction: {
    activation: Activation;
    groupSize: number;
    pieces: number;
    units: number;
    formula: string;
    provenance: string;
    interval: [number, number];
    target: string;
    slope: number;
    lnEpsilon: number;
    certifiedBound: number;
    gridPoints: number;
    universalBound: number;
    universal: boolean;
    nodes: number;
  };
}

/**
 * The calculator behind `normkit theory pln-width`: the width bound, and the network that realises it,
 * built as a graph and verified (`verifyApproximator`) on the given (default: sine) target.
 *
 * @example
 * ```ts
 * plnWidth({ lipschitz: 1, epsilon: 0.05, activation: 'pln2' });
 * // { width: 18, supError: 0.04918…, verified: true, construction: { pieces: 10, universal: false, … } }
 * ```
 */
export function plnWidth(input: PlnWidthInput): PlnWidthResult {
  const ap = buildApproximator(input);
  const check = verifyApproximator(ap);
  return {
    width: ap.width,
    supError: check.supError,
    verified: check.verified,
    construction: {
      activation: ap.bound.activation,
      groupSize: ap.bound.groupSize,
      pieces: ap.bound.pieces,
      units: ap.bound.units,
      formula: ap.bound.formula,
      provenance: ap.bound.provenance,
      interval: ap.interval,
      target: input.f ? 'given f' : `(L(b−a)/2π)·sin(2π(x−a)/(b−a))`,
      slope: ap.slope,
      lnEpsilon: ap.lnEpsilon,
      certifiedBound: check.certifiedBound,
      gridPoints: check.gridPoints,
      universalBound: ap.universalBound,
      universal: ap.universal,
      nodes: ap.model.graph.nodes.length,
    },
  };
}
