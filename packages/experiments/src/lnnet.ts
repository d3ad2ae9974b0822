import { NormkitError, type Tensor } from '@normkit/tensor';
import { buildLnNet } from '@normkit/theory';
import {
  AdamW,
  deriveSeed,
  evaluate,
  indexSeed,
  type LabelledSet,
  LayerNorm,
  Linear,
  type Module,
  noGrad,
  randomLabels,
  Sequential,
  train,
  warmupCosine,
} from '@normkit/train';
import { meanStd, seedsOf } from './stats.js';
import type { Experiment, ExperimentOptions, Finding, Plot, Stat } from './types.js';

// Paper 3 (LN-Nets): a network of linear layers and LayerNorms only, 3 neurons wide, with O(m) LN
// layers classifies any m labelled points. @normkit/theory's `buildLnNet` constructs such a net; here
// gradient descent trains the same architecture from a standard initialisation, to see whether it
// finds a net of that depth (or less) that fits random labels.

/** The sizes of a run. */
interface LnnetConfig {
  /** Numbers of points m. */
  points: readonly number[];
  /** Input dimensions. */
  dims: readonly number[];
  /** Full-batch AdamW steps per run. */
  steps: number;
  /** Wider nets, compared at a few depths on a few m. */
  wide: { widths: readonly number[]; points: readonly number[]; depths: readonly number[] };
  /** Width-3 nets whose hidden w→w weights start near the identity (see `lnNetModel`). */
  identity: { points: readonly number[]; dims: readonly number[]; depths: readonly (number | 'constructed')[] };
}

const FULL: LnnetConfig = {
  points: [20, 50, 100, 200],
  dims: [2, 10],
  steps: 2000,
  wide: { widths: [8, 32], points: [100, 200], depths: [2, 8] },
  identity: { points: [50, 100], dims: [2], depths: [8, 'constructed'] },
};

const QUICK: LnnetConfig = {
  points: [20, 100],
  dims: [10],
  steps: 500,
  wide: { widths: [32], points: [100], depths: [4] },
  identity: { points: [], dims: [], depths: [] },
};

/** Peak learning rate of AdamW (picked from {1e-3, 1e-2, 1e-1} on m = 50, dim 2, depths 2–16, one seed). */
const LR = 1e-2;
/** Linear warm-up steps as a fraction of the run, before the cosine decay to 0. */
const WARMUP_FRACTION = 0.05;
/** Progress is reported every this many steps. */
const PROGRESS_EVERY = 50;
/** Scale of the random part of a near-identity hidden weight: W = I + IDENTITY_NOISE·W₀. */
const IDENTITY_NOISE = 0.3;

/** Weight initialisation: PyTorch's default U(±1/√in), or near-identity hidden w→w layers. */
type Init = 'default' | 'identity';

/**
 * The LN-Net of paper 3 as a trainable module: Linear(n→w) → [LN(w) → Linear(w→w)] × (depth − 1) →
 * LN(w) → Linear(w→2), no activation — `depth` LayerNorms, the architecture `buildLnNet` constructs
 * (its LNs have γ = 1, β = 0; here they are learnt). With `init: 'identity'` each hidden w→w weight
 * starts at I + 0.3·W₀ (W₀ the default draw), so that the layers start close to order-preserving maps.
 *
 * @example
 * ```ts
 * const net = lnNetModel(2, 3, 8, 0);
 * net.forward(randomLabels(50, 2).x).shape; // [50, 2]
 * ```
 */
export function lnNetModel(inFeatures: number, width: number, depth: number, seed: number, init: Init = 'default'): Sequential {
  if (!Number.isInteger(depth) || depth < 1)
    throw new NormkitError('INVALID_ARGUMENT', `lnNetModel: depth (LayerNorm count) must be a positive integer, got ${depth}`);
  const linear = (i: number, fanIn: number, fanOut: number) => new Linear(fanIn, fanOut, { seed: deriveSeed(seed, String(i)) });
  const layers: Module[] = [linear(0, inFeatures, width)];
  for (let i = 1; i < depth; i++) {
    const hidden = linear(i, width, width);
    if (init === 'identity') {
      const w = hidden.weight.value.data as Float32Array;
      for (let r = 0; r < width; r++)
        for (let c = 0; c < width; c++) w[r * width + c] = (r === c ? 1 : 0) + IDENTITY_NOISE * w[r * width + c]!;
    }
    layers.push(new LayerNorm(width), hidden);
  }
  layers.push(new LayerNorm(width), linear(depth, width, 2));
  return new Sequential(...layers);
}

/** The depth (LN layers) of `buildLnNet`'s construction for a labelled set, verified by construction. */
function constructedDepth(data: LabelledSet): number {
  const [m, dim] = data.x.shape as [number, number];
  const x = data.x.data as Float32Array;
  const points = Array.from({ length: m }, (_, i) => Array.from(x.subarray(i * dim, (i + 1) * dim)));
  return buildLnNet({ points, labels: Array.from(data.y.data as Int32Array) }).depth;
}

/** Depths 2, 4, 8, … below `top`, then `top`. */
function depthGrid(top: number): number[] {
  const grid: number[] = [];
  for (let d = 2; d < top; d *= 2) grid.push(d);
  return [...grid, Math.max(top, 1)];
}

/** Range (max − min) over the points of the logit difference z₁ − z₀: ~0 when the net maps every point alike. */
function logitRange(out: Tensor): number {
  const o = out.data as Float32Array;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < o.length; i += 2) {
    const d = o[i + 1]! - o[i]!;
    lo = Math.min(lo, d);
    hi = Math.max(hi, d);
  }
  return hi - lo;
}

/** One run: trains the LN-Net full batch and returns its train accuracy and the logit range at init. */
async function fitRun(
  data: LabelledSet,
  net: { width: number; depth: number; seed: number; init: Init },
  steps: number,
  opts: ExperimentOptions,
  run: string,
): Promise<{ accuracy: number; initRange: number }> {
  const model = lnNetModel(data.x.shape[1] as number, net.width, net.depth, net.seed, net.init);
  const initRange = logitRange(noGrad(() => model.forward(data.x)));
  const optimizer = new AdamW(model.parameters(), { lr: LR, weightDecay: 0 });
  const schedule = warmupCosine({ baseLr: LR, totalSteps: steps, warmupSteps: Math.round(WARMUP_FRACTION * steps) });
  const batch = [{ x: data.x, y: data.y }];
  await train(model, batch, {
    optimizer,
    schedule,
    epochs: steps,
    signal: opts.signal,
    onProgress: (p) => {
      if (p.phase === 'step' && (p.step % PROGRESS_EVERY === 0 || p.step === steps))
        opts.onProgress?.({ run, done: p.step, total: steps, loss: p.loss });
    },
  });
  if (opts.signal?.aborted) throw new NormkitError('ABORTED', `lnnet: aborted during ${run}`, { run });
  return { accuracy: (await evaluate(model, batch)).accuracy, initRange };
}

/** A row of the results table. */
interface LnnetRow extends Record<string, unknown> {
  points: number;
  dim: number;
  width: number;
  depth: number;
  init: Init;
  trainAccuracy: Stat;
  /** Logit-difference range over the points at initialisation (collapse: ~1e-7). */
  initLogitRange: Stat;
  /** `buildLnNet`'s depth on each seed's points. */
  constructedDepth: Stat;
}

/** Everything of one (m, dim): each seed's data set and its constructed depth. */
interface PointSet {
  points: number;
  dim: number;
  data: LabelledSet[];
  depths: number[];
}

function pointSets(cfg: LnnetConfig, seeds: readonly number[]): PointSet[] {
  return cfg.points.flatMap((m) =>
    cfg.dims.map((dim) => {
      const data = seeds.map((s) => randomLabels(m, dim, { seed: indexSeed(s, m, dim) }));
      return { points: m, dim, data, depths: data.map(constructedDepth) };
    }),
  );
}

/** Trains one configuration on every seed and summarises it as a row. */
async function configRow(
  set: PointSet,
  width: number,
  depth: number,
  init: Init,
  cfg: LnnetConfig,
  seeds: readonly number[],
  opts: ExperimentOptions,
): Promise<LnnetRow> {
  const acc: number[] = [];
  const ranges: number[] = [];
  for (const [k, s] of seeds.entries()) {
    const run = `lnnet m=${set.points} dim=${set.dim} width=${width} depth=${depth}${init === 'identity' ? ' identity-init' : ''} seed ${s}`;
    const seed = indexSeed(s, set.points, set.dim, width, depth);
    const r = await fitRun(set.data[k]!, { width, depth, seed, init }, cfg.steps, opts, run);
    acc.push(r.accuracy);
    ranges.push(r.initRange);
  }
  const { points, dim } = set;
  return {
    points,
    dim,
    width,
    depth,
    init,
    trainAccuracy: meanStd(acc),
    initLogitRange: meanStd(ranges),
    constructedDepth: meanStd(set.depths),
  };
}

/** The depths to train width-3 nets at: 2, 4, 8, … and the largest constructed depth over the seeds. */
const topDepth = (set: PointSet) => Math.max(...set.depths);

async function runAll(cfg: LnnetConfig, seeds: readonly number[], opts: ExperimentOptions): Promise<LnnetRow[]> {
  const rows: LnnetRow[] = [];
  for (const set of pointSets(cfg, seeds)) {
    for (const depth of depthGrid(topDepth(set))) rows.push(await configRow(set, 3, depth, 'default', cfg, seeds, opts));
    if (cfg.identity.points.includes(set.points) && cfg.identity.dims.includes(set.dim))
      for (const d of cfg.identity.depths)
        rows.push(await configRow(set, 3, d === 'constructed' ? topDepth(set) : d, 'identity', cfg, seeds, opts));
    if (cfg.wide.points.includes(set.points))
      for (const width of cfg.wide.widths)
        for (const depth of cfg.wide.depths) rows.push(await configRow(set, width, depth, 'default', cfg, seeds, opts));
  }
  return rows;
}

const pct = (s: Stat) => `${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)} %`;

function findings(rows: readonly LnnetRow[]): Finding[] {
  const paper = 'paper 3: LN-Nets';
  const narrow = rows.filter((r) => r.width === 3 && r.init === 'default');
  const sets = [...new Set(narrow.map((r) => `${r.points}/${r.dim}`))];
  const fitted: string[] = [];
  const notFitted: string[] = [];
  for (const key of sets) {
    const own = narrow.filter((r) => `${r.points}/${r.dim}` === key);
    const best = own.reduce((a, b) => (b.trainAccuracy.mean > a.trainAccuracy.mean ? b : a));
    const top = own[own.length - 1]!;
    const line = `m=${best.points} dim=${best.dim}: best ${pct(best.trainAccuracy)} at depth ${best.depth}, ${pct(top.trainAccuracy)} at the constructive depth ${top.depth}`;
    (best.trainAccuracy.values.every((v) => v === 1) ? fitted : notFitted).push(line);
  }
  const collapsed = narrow.filter((r) => r.initLogitRange.mean < 1e-4);
  const out: Finding[] = [
    {
      claim: 'A width-3 LN-Net with O(m) LN layers classifies any m labelled points (existence, checked by buildLnNet).',
      paper,
      reproduced: 'yes',
      evidence: `buildLnNet built a width-3 net with 100 % train accuracy for every data set and seed; depths ${sets
        .map((k) => {
          const r = narrow.find((x) => `${x.points}/${x.dim}` === k)!;
          return `m=${r.points} dim=${r.dim}: ${r.constructedDepth.values.join('/')}`;
        })
        .join('; ')}.`,
    },
    {
      claim:
        'Gradient descent finds such a net: a trained width-3 LN-Net at (or below) the constructive depth reaches 100 % train accuracy.',
      paper,
      reproduced: notFitted.length === 0 ? 'yes' : fitted.length === 0 ? 'no' : 'partly',
      evidence: `100 % on every seed: ${fitted.length ? fitted.join('; ') : 'none'}. Not: ${notFitted.length ? notFitted.join('; ') : 'none'}.${
        collapsed.length
          ? ` At the default init the deep nets map every point to nearly the same output (logit range < 1e-4 at depth ≥ ${Math.min(...collapsed.map((r) => r.depth))}), so no gradient signal reaches the early layers.`
          : ''
      }`,
    },
  ];
  const wideRows = rows.filter((r) => r.width > 3);
  if (wideRows.length) {
    const desc = wideRows.map((r) => {
      const base = narrow.find((n) => n.points === r.points && n.dim === r.dim && n.depth === r.depth);
      return `m=${r.points} dim=${r.dim} depth ${r.depth}: width ${r.width} ${pct(r.trainAccuracy)}${base ? ` vs width 3 ${pct(base.trainAccuracy)}` : ''}`;
    });
    const helps = wideRows.every((r) => {
      const base = narrow.find((n) => n.points === r.points && n.dim === r.dim && n.depth === r.depth);
      return !base || r.trainAccuracy.mean >= base.trainAccuracy.mean;
    });
    out.push({
      claim: 'Width makes the fit easy for gradient descent (wider LN-Nets reach higher train accuracy at the same depth).',
      paper,
      reproduced: helps ? 'yes' : 'partly',
      evidence: `${desc.join('; ')}.`,
    });
  }
  const ident = rows.filter((r) => r.init === 'identity');
  if (ident.length) {
    out.push({
      claim: 'Diagnostic (not a claim of the paper): does a near-identity init of the hidden layers rescue the deep width-3 nets?',
      paper,
      reproduced: ident.every((r) => r.trainAccuracy.values.every((v) => v === 1)) ? 'yes' : 'no',
      evidence: `${ident
        .map(
          (r) =>
            `m=${r.points} dim=${r.dim} depth ${r.depth}: ${pct(r.trainAccuracy)} (init logit range ${r.initLogitRange.mean.toPrecision(2)})`,
        )
        .join('; ')}.`,
    });
  }
  return out;
}

function plots(rows: readonly LnnetRow[], dims: readonly number[]): Plot[] {
  return dims.map((dim) => {
    const narrow = rows.filter((r) => r.width === 3 && r.init === 'default' && r.dim === dim);
    const ms = [...new Set(narrow.map((r) => r.points))];
    return {
      id: `lnnet-accuracy-vs-depth-dim${dim}`,
      title: `Width-3 LN-Nets, dim ${dim}: train accuracy vs depth (diamond: constructive depth, 100 % by construction)`,
      kind: 'line',
      x: { label: 'depth (LayerNorm layers)', log: true },
      y: { label: 'train accuracy' },
      series: ms.flatMap((m) => {
        const own = narrow.filter((r) => r.points === m);
        return [
          {
            name: `m=${m} trained`,
            points: own.map((r) => [r.depth, r.trainAccuracy.mean] as [number, number]),
            band: own.map(
              (r) => [r.trainAccuracy.mean - r.trainAccuracy.std, r.trainAccuracy.mean + r.trainAccuracy.std] as [number, number],
            ),
          },
          { name: `m=${m} constructed`, points: [[own[0]!.constructedDepth.mean, 1] as [number, number]] },
        ];
      }),
    };
  });
}

/**
 * LN-Nets fit random labels (paper 3). For m random points in R^dim with random binary labels
 * (`randomLabels`, seeded), `buildLnNet` constructs a width-3 LN-Net that classifies them (its depth is
 * `constructedDepth`), and gradient descent trains the same architecture (`lnNetModel`: Linear → [LN →
 * Linear] × (depth − 1) → LN → Linear, no activation) full batch with AdamW (lr 1e-2, no weight decay,
 * 5 % warm-up then cosine to 0) at depths 2, 4, 8, … up to the largest constructed depth over the
 * seeds. Wider nets (8, 32) at a few depths, and width-3 nets with near-identity hidden layers, for
 * comparison. Rows: `{ points, dim, width, depth, init, trainAccuracy, initLogitRange, constructedDepth }`.
 *
 * @example
 * ```ts
 * const r = await runExperiment(lnnetExperiment, { quick: true });
 * r.rows.filter((row) => row.width === 3);
 * ```
 */
export const lnnetExperiment: Experiment = {
  name: 'lnnet',
  title: 'LN-Nets: can gradient descent fit random labels at the constructive depth?',
  paper: 'paper 3: LN-Nets (linear + LayerNorm networks, width 3, O(m) layers)',
  async run(opts) {
    const t0 = performance.now();
    const cfg = opts.quick ? QUICK : FULL;
    const seeds = seedsOf(opts);
    const rows = await runAll(cfg, seeds, opts);
    return {
      experiment: 'lnnet',
      title: this.title,
      quick: opts.quick,
      seeds,
      rows,
      findings: findings(rows),
      plots: plots(rows, cfg.dims),
      seconds: (performance.now() - t0) / 1000,
      settings: {
        points: cfg.points,
        dims: cfg.dims,
        data: 'randomLabels: x ~ N(0, I), labels uniform in {0, 1}, seed indexSeed(seed, m, dim)',
        optimizer: `AdamW lr ${LR}, weight decay 0, full batch, ${cfg.steps} steps, ${Math.round(WARMUP_FRACTION * cfg.steps)} warm-up steps then cosine to 0`,
        architecture: 'Linear(dim→w) → [LN(w) → Linear(w→w)] × (depth − 1) → LN(w) → Linear(w→2), no activation',
        depths: 'width 3: 2, 4, 8, … below the largest constructed depth over the seeds, then that depth',
        wide: cfg.wide,
        identityInit: { ...cfg.identity, weight: `I + ${IDENTITY_NOISE}·U(±1/√w)` },
      },
    };
  },
};
