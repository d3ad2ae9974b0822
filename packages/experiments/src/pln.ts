import { gemm, mul, NormkitError, Rng, relu, sigmoid, Tensor } from '@normkit/tensor';
import { type Activation, approximationWidth, buildApproximator, evaluateGraph64 } from '@normkit/theory';
import {
  AdamW,
  computeGrads,
  deriveSeed,
  Linear,
  loadFashionMnist,
  Module,
  mse,
  noGrad,
  Parameter,
  PLN,
  ViT,
  warmupCosine,
} from '@normkit/train';
import { firstSamples, trainClassifier } from './classifier.js';
import { fmtStat, meanStd, seedsOf } from './stats.js';
import type { Experiment, ExperimentOptions, Finding, Plot, Stat } from './types.js';

const PAPER = 'paper 2: Parallel Layer Normalization for Universal Approximation';

/** The hidden nonlinearity of the one-hidden-layer regressors: PLN with groups of 2, ReLU or the sigmoid. */
export type RegressorActivation = 'pln' | 'relu' | 'sigmoid';

const ACTIVATIONS: readonly RegressorActivation[] = ['pln', 'relu', 'sigmoid'];
/** The theory's name of each activation's width bound. */
const THEORY_ACTIVATION: Record<RegressorActivation, Activation> = { pln: 'pln2', relu: 'relu', sigmoid: 'sigmoid' };

/** One approximation row: a trained regressor's sup error against the width bound's ε for its N. */
export interface PlnApproxRow {
  [key: string]: unknown;
  target: string;
  activation: RegressorActivation;
  neurons: number;
  /** Sup error of the trained network on the fine grid, over seeds. */
  supError: Stat;
  /** Sup error, on the same grid, of @normkit/theory's construction (`buildApproximator`) with at most N neurons. */
  construction: Stat;
  /** ε guaranteed for every L-Lipschitz target by the theory's width bound with N neurons (see `boundForWidth`). */
  bound: number;
}

/** One transformer row: test accuracy of ViT-tiny with LayerNorm or PLN. */
export interface PlnVitRow {
  [key: string]: unknown;
  arch: 'vit';
  norm: 'pln' | 'ln';
  accuracy: Stat;
}

/** An L-Lipschitz target on [0, 1]. */
export interface ApproximationTarget {
  name: string;
  f: (x: number) => number;
}

/**
 * The L-Lipschitz targets: L·|x − 0.5|, L·sin(2πkx)/(2πk) for k = 1, 3, and a seeded random
 * piecewise-linear function (8 pieces between sorted uniform breakpoints, slopes uniform in [−1, 1]
 * rescaled so the steepest is ±L, value 0 at x = 0).
 *
 * @example
 * ```ts
 * approximationTargets(1, 0)[0].f(0); // 0.5
 * ```
 */
export function approximationTargets(lipschitz: number, seed: number): ApproximationTarget[] {
  const rng = new Rng(deriveSeed(seed, 'pln/random-pwl'));
  const pieces = 8;
  const inner = Array.from({ length: pieces - 1 }, () => rng.uniform()).sort((a, b) => a - b);
  const knots = [0, ...inner, 1];
  const raw = Array.from({ length: pieces }, () => rng.uniform(-1, 1));
  const top = Math.max(...raw.map(Math.abs));
  const slopes = raw.map((s) => (lipschitz * s) / top);
  const values = [0];
  for (let i = 0; i < pieces; i++) values.push(values[i]! + slopes[i]! * (knots[i + 1]! - knots[i]!));
  const pwl = (x: number) => {
    let i = 0;
    while (i < pieces - 1 && x > knots[i + 1]!) i++;
    return values[i]! + slopes[i]! * (x - knots[i]!);
  };
  const sine = (k: number) => (x: number) => (lipschitz * Math.sin(2 * Math.PI * k * x)) / (2 * Math.PI * k);
  return [
    { name: 'L·|x−0.5|', f: (x) => lipschitz * Math.abs(x - 0.5) },
    { name: 'L·sin(2πx)/(2π)', f: sine(1) },
    { name: 'L·sin(6πx)/(6π)', f: sine(3) },
    { name: 'random piecewise-linear', f: pwl },
  ];
}

/**
 * The ε that @normkit/theory's width bound (`approximationWidth`) guarantees with N hidden neurons on
 * [0, 1]: the largest number of pieces n whose width fits in N, and ε = L/(2n). PLN-2 (staircase):
 * width 2(n − 1) ≤ N, so n = ⌊N/2⌋ + 1 and ε = L/(N + 2) for even N; ReLU: n = N, ε = L/(2N);
 * sigmoid: width n − 1, so ε = L/(2(N + 1)).
 *
 * @example
 * ```ts
 * boundForWidth('pln', 16, 1); // { epsilon: 0.0555…, pieces: 9, formula: '2(⌈L(b−a)/(2ε)⌉ − 1)' }
 * ```
 */
export function boundForWidth(
  activation: RegressorActivation,
  neurons: number,
  lipschitz: number,
): { epsilon: number; pieces: number; formula: string } {
  const width = (n: number) => approximationWidth({ lipschitz, epsilon: lipschitz / (2 * n), activation: THEORY_ACTIVATION[activation] });
  let n = 1;
  while (width(n + 1).width <= neurons) n++;
  const b = width(n);
  if (b.width > neurons)
    throw new NormkitError('INVALID_ARGUMENT', `boundForWidth: ${neurons} neurons are too few for any ${activation} construction`);
  return { epsilon: b.idealError, pieces: n, formula: b.formula };
}

/** Sup error on `grid` of the theory's construction with at most N neurons for target f. */
function constructionError(
  activation: RegressorActivation,
  neurons: number,
  lipschitz: number,
  f: (x: number) => number,
  grid: Float64Array,
): number {
  const { pieces } = boundForWidth(activation, neurons, lipschitz);
  const ap = buildApproximator({ lipschitz, epsilon: lipschitz / (2 * pieces), activation: THEORY_ACTIVATION[activation], f });
  const y = evaluateGraph64(ap.model, { [ap.input]: { data: grid, shape: [grid.length, 1] } }, [ap.output])[ap.output]!.data;
  return grid.reduce((m, x, i) => Math.max(m, Math.abs(f(x) - y[i]!)), 0);
}

/**
 * Several independent one-hidden-layer regressors Linear(1→N_k) → act → Linear(N_k→1) side by side,
 * trained at once: the hidden layers are concatenated (every hidden neuron reads the scalar input on
 * its own, PLN's groups of 2 never straddle two networks), and the readout is block-diagonal (a
 * constant mask), so network k's parameters get exactly the gradient of its own loss when the loss is
 * the sum of the networks' MSEs, and AdamW (per coordinate, no clipping) updates each as if alone.
 * Each network starts as PyTorch-default `Linear` layers seeded by its own name.
 *
 * @example
 * ```ts
 * const bank = new RegressorBank([{ name: 'a', neurons: 4 }, { name: 'b', neurons: 8 }], 'pln', 0);
 * bank.forward(x).shape; // [M, 2] for x [M, 1]
 * ```
 */
export class RegressorBank extends Module {
  readonly w1: Parameter;
  readonly b1: Parameter;
  readonly readout: Parameter;
  readonly b2: Parameter;
  readonly mask: Tensor;
  readonly pln: PLN | undefined;

  constructor(
    widths: readonly { name: string; neurons: number }[],
    readonly activation: RegressorActivation,
    seed: number,
  ) {
    super();
    const H = widths.reduce((s, w) => s + w.neurons, 0);
    const K = widths.length;
    const w1 = new Float32Array(H);
    const b1 = new Float32Array(H);
    const v = new Float32Array(H * K);
    const mask = new Float32Array(H * K);
    const b2 = new Float32Array(K);
    let off = 0;
    widths.forEach(({ name, neurons }, k) => {
      if (activation === 'pln' && neurons % 2 !== 0)
        throw new NormkitError('INVALID_ARGUMENT', `RegressorBank: a PLN-2 network needs an even width, got ${neurons} for ${name}`);
      const l1 = new Linear(1, neurons, { seed: deriveSeed(seed, `${name}/in`) });
      const l2 = new Linear(neurons, 1, { seed: deriveSeed(seed, `${name}/out`) });
      w1.set(l1.weight.value.data as Float32Array, off);
      b1.set(l1.bias!.value.data as Float32Array, off);
      for (let j = 0; j < neurons; j++) {
        v[(off + j) * K + k] = (l2.weight.value.data as Float32Array)[j]!;
        mask[(off + j) * K + k] = 1;
      }
      b2[k] = (l2.bias!.value.data as Float32Array)[0]!;
      off += neurons;
    });
    this.w1 = this.param('w1', new Parameter(new Tensor([1, H], 'float32', w1)));
    this.b1 = this.param('b1', new Parameter(new Tensor([H], 'float32', b1), true));
    this.readout = this.param('readout', new Parameter(new Tensor([H, K], 'float32', v)));
    this.b2 = this.param('b2', new Parameter(new Tensor([K], 'float32', b2), true));
    this.mask = this.buffer('mask', new Tensor([H, K], 'float32', mask));
    this.pln = activation === 'pln' ? this.child('pln', new PLN(H, { groupSize: 2 })) : undefined;
  }

  /** x [M, 1] → the K networks' outputs [M, K]. */
  forward(x: Tensor): Tensor {
    const pre = gemm(x, this.w1.value, this.b1.value);
    const h = this.pln ? this.pln.forward(pre) : this.activation === 'relu' ? relu(pre) : sigmoid(pre);
    return gemm(h, mul(this.readout.value, this.mask), this.b2.value);
  }
}

interface PlnSettings {
  lipschitz: number;
  neurons: number[];
  gridPoints: number;
  steps: number;
  lr: number;
  vitTrain: number;
  vitTest: number;
  vitEpochs: number;
}

const settingsOf = (quick: boolean): PlnSettings => ({
  lipschitz: 1,
  neurons: [4, 8, 16, 32, 64],
  gridPoints: quick ? 128 : 256,
  steps: quick ? 300 : 3000,
  lr: 1e-2,
  vitTrain: quick ? 256 : 5000,
  vitTest: quick ? 256 : 2000,
  vitEpochs: quick ? 1 : 2,
});

const gridOf = (points: number) => Float64Array.from({ length: points }, (_, i) => i / (points - 1));
const column = (grid: Float64Array) =>
  new Tensor(
    [grid.length, 1],
    'float32',
    Float32Array.from(grid, (x) => x),
  );
const targetsTensor = (grid: Float64Array, fs: readonly ((x: number) => number)[]) =>
  new Tensor(
    [grid.length, fs.length],
    'float32',
    Float32Array.from({ length: grid.length * fs.length }, (_, i) => fs[i % fs.length]!(grid[Math.floor(i / fs.length)]!)),
  );

/**
 * Trains one bank (every target × width for one activation and seed) by full-batch AdamW (weight
 * decay 0, cosine decay from `lr` to 0) on the training grid; returns each network's sup error on
 * the fine grid (10× denser), indexed [target][width].
 */
async function fitBank(
  activation: RegressorActivation,
  targets: readonly ApproximationTarget[],
  seed: number,
  s: PlnSettings,
  opts: ExperimentOptions,
): Promise<number[][]> {
  const nets = targets.flatMap((t) => s.neurons.map((neurons) => ({ name: `${t.name}/${neurons}`, neurons, f: t.f })));
  const bank = new RegressorBank(nets, activation, seed);
  const grid = gridOf(s.gridPoints);
  const X = column(grid);
  const Y = targetsTensor(
    grid,
    nets.map((n) => n.f),
  );
  const K = Tensor.scalar(nets.length, 'float32');
  const params = bank.parameters();
  const opt = new AdamW(params, { lr: s.lr, weightDecay: 0 });
  const schedule = warmupCosine({ baseLr: s.lr, totalSteps: s.steps });
  const run = `approx/${activation} seed ${seed}`;
  for (let step = 0; step < s.steps && !opts.signal?.aborted; step++) {
    opt.lr = schedule(step);
    const loss = computeGrads(() => mul(mse(bank.forward(X), Y), K), params);
    opt.step();
    opt.zeroGrad();
    if (step % 100 === 99 || step === s.steps - 1) {
      opts.onProgress?.({ run, done: step + 1, total: s.steps, loss });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  const fine = gridOf(10 * (s.gridPoints - 1) + 1);
  const out = noGrad(() => bank.forward(column(fine))).data as Float32Array;
  const sup = nets.map((n, k) => fine.reduce((m, x, i) => Math.max(m, Math.abs(out[i * nets.length + k]! - n.f(x))), 0));
  return targets.map((_, t) => sup.slice(t * s.neurons.length, (t + 1) * s.neurons.length));
}

/** Every approximation row: each activation's bank per seed, the constructions, the bounds. */
async function approximationRows(seeds: readonly number[], s: PlnSettings, opts: ExperimentOptions): Promise<PlnApproxRow[]> {
  const L = s.lipschitz;
  const fine = gridOf(10 * (s.gridPoints - 1) + 1);
  const names = approximationTargets(L, 0).map((t) => t.name);
  // sup[activation][seed][target][width], cons likewise.
  const sup = new Map<RegressorActivation, number[][][]>();
  const cons = new Map<RegressorActivation, number[][][]>();
  for (const act of ACTIVATIONS) {
    sup.set(act, []);
    cons.set(act, []);
    for (const seed of seeds) {
      const targets = approximationTargets(L, seed);
      sup.get(act)!.push(await fitBank(act, targets, seed, s, opts));
      cons.get(act)!.push(targets.map((t) => s.neurons.map((n) => constructionError(act, n, L, t.f, fine))));
    }
  }
  return names.flatMap((target, t) =>
    ACTIVATIONS.flatMap((activation) =>
      s.neurons.map((neurons, k) => ({
        target,
        activation,
        neurons,
        supError: meanStd(sup.get(activation)!.map((bySeed) => bySeed[t]![k]!)),
        construction: meanStd(cons.get(activation)!.map((bySeed) => bySeed[t]![k]!)),
        bound: boundForWidth(activation, neurons, L).epsilon,
      })),
    ),
  );
}

/** ViT-tiny with LayerNorm and with PLN (group size 8) on a Fashion-MNIST subset, per seed. */
async function vitRows(
  seeds: readonly number[],
  s: PlnSettings,
  opts: ExperimentOptions,
): Promise<{ rows: PlnVitRow[]; samplesPerSec: number }> {
  const fm = loadFashionMnist(opts.data);
  const train = firstSamples(fm.train, s.vitTrain);
  const test = firstSamples(fm.test, s.vitTest);
  const rows: PlnVitRow[] = [];
  let samplesPerSec = 0;
  for (const norm of ['ln', 'pln'] as const) {
    const acc: number[] = [];
    for (const seed of seeds) {
      if (opts.signal?.aborted) break;
      const model = new ViT({ norm, ...(norm === 'pln' && { groupSize: 8 }), seed });
      const name = `vit/${norm} seed ${seed}`;
      const r = await trainClassifier({ name, model, train, test, seed, epochs: s.vitEpochs, batchSize: 64, lr: 1e-3 }, opts);
      acc.push(r.accuracy);
      samplesPerSec = r.samplesPerSec;
    }
    rows.push({ arch: 'vit', norm, accuracy: meanStd(acc) });
  }
  return { rows, samplesPerSec };
}

/** Least-squares slope of log(error) against log(N). */
function logLogSlope(ns: readonly number[], errs: readonly number[]): number {
  const xs = ns.map(Math.log);
  const ys = errs.map((e) => Math.log(Math.max(e, 1e-12)));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}

function approximationFindings(rows: PlnApproxRow[]): Finding[] {
  const targets = [...new Set(rows.map((r) => r.target))];
  const of = (t: string, a: RegressorActivation) => rows.filter((r) => r.target === t && r.activation === a);
  /** PLN vs `other`, per (target, N): how often PLN's trained sup error is ≤ the other's, and the geometric mean of the ratios. */
  const versus = (other: RegressorActivation) => {
    const pairs = targets.flatMap((t) => of(t, 'pln').map((p, k) => [p.supError.mean, of(t, other)[k]!.supError.mean] as const));
    const wins = pairs.filter(([p, o]) => p <= o).length;
    const ratio = Math.exp(pairs.reduce((a, [p, o]) => a + Math.log(p / o), 0) / pairs.length);
    return {
      wins,
      ratio,
      text: `PLN ≤ ${other} in ${wins}/${pairs.length} (target, N) pairs, geometric-mean ratio PLN/${other} ${ratio.toFixed(2)}`,
    };
  };
  const relu = versus('relu');
  const sig = versus('sigmoid');
  const slopes = (a: RegressorActivation) =>
    targets.map((t) => {
      const rs = of(t, a);
      return logLogSlope(
        rs.map((r) => r.neurons),
        rs.map((r) => r.supError.mean),
      );
    });
  const fmtSlopes = (a: RegressorActivation) =>
    slopes(a)
      .map((v, i) => `${targets[i]} ${v.toFixed(2)}`)
      .join(', ');
  const pln = rows.filter((r) => r.activation === 'pln');
  // 0.1 % slack: with ε(N) = L/(2n) exactly the construction attains the bound (its softsign tails add ~1e-12·ε).
  const within = pln.filter((r) => r.supError.mean <= r.bound * 1.001).length;
  const consWithin = pln.filter((r) => r.construction.mean <= r.bound * 1.001).length;
  const ps = slopes('pln');
  return [
    {
      claim:
        'PLN (groups of 2) as the only nonlinearity approximates as well as ReLU and the sigmoid with the same number of hidden neurons',
      paper: PAPER,
      reproduced: relu.ratio <= 1.1 && sig.ratio <= 1.1 ? 'yes' : relu.ratio <= 1.5 || sig.ratio <= 1.1 ? 'partly' : 'no',
      evidence: `trained by AdamW: ${relu.text}; ${sig.text}. The theory's own bounds differ by 2N/(N+2) ≈ 2 at large N (PLN-2 uses 2 neurons per step, ReLU 1 per piece)`,
    },
    {
      claim: 'The sup error of a PLN-2 network falls with the width N at the bound’s rate ε(N) = L/(N + 2), i.e. log-log slope ≈ −1',
      paper: PAPER,
      reproduced: ps.every((v) => v <= -0.8) ? 'yes' : ps.some((v) => v < -0.3) ? 'partly' : 'no',
      evidence: `log-log slopes of the trained sup error vs N (4…64): PLN ${fmtSlopes('pln')}; ReLU ${fmtSlopes('relu')}; sigmoid ${fmtSlopes('sigmoid')}`,
    },
    {
      claim: 'A PLN-2 network with N neurons reaches the width bound’s ε(N) for every L-Lipschitz target',
      paper: PAPER,
      reproduced: within === pln.length ? 'yes' : consWithin === pln.length ? 'partly' : 'no',
      evidence: `within ε(N) (0.1 % slack): the theory's construction in ${consWithin}/${pln.length} (target, N) cases, the AdamW-trained PLN net in ${within}/${pln.length}`,
    },
  ];
}

function vitFinding(rows: PlnVitRow[]): Finding {
  const ln = rows.find((r) => r.norm === 'ln')!.accuracy;
  const pln = rows.find((r) => r.norm === 'pln')!.accuracy;
  const gap = pln.mean - ln.mean;
  const noise = 2 * Math.max(ln.std, pln.std, 1e-4);
  return {
    claim: 'Replacing LayerNorm by PLN (group size 8) improves a transformer',
    paper: PAPER,
    reproduced: gap > noise ? 'yes' : 'no',
    evidence: `ViT-tiny test accuracy: PLN ${fmtStat(pln, { percent: true })} vs LN ${fmtStat(ln, { percent: true })} (difference ${(100 * gap).toFixed(2)} points, 2·std = ${(100 * noise).toFixed(2)}${Math.abs(gap) <= noise ? ': within the seed noise, no measurable difference at this scale' : ''})`,
  };
}

function plnPlots(rows: PlnApproxRow[], vit: PlnVitRow[]): Plot[] {
  const targets = [...new Set(rows.map((r) => r.target))];
  const label: Record<RegressorActivation, string> = { pln: 'PLN-2', relu: 'ReLU', sigmoid: 'sigmoid' };
  const approx = targets.map(
    (t, i): Plot => ({
      id: `pln-approx-${i}`,
      title: `Sup error vs hidden neurons, target ${t} (L = 1)`,
      kind: 'line',
      x: { label: 'hidden neurons N', log: true },
      y: { label: 'sup error on the fine grid', log: true },
      series: ACTIVATIONS.flatMap((a) => {
        const rs = rows.filter((r) => r.target === t && r.activation === a);
        return [
          {
            name: `${label[a]} (AdamW)`,
            points: rs.map((r): [number, number] => [r.neurons, r.supError.mean]),
            band: rs.map((r): [number, number] => [Math.max(r.supError.mean - r.supError.std, 1e-12), r.supError.mean + r.supError.std]),
          },
          { name: `${label[a]} bound ε(N)`, points: rs.map((r): [number, number] => [r.neurons, r.bound]) },
        ];
      }),
    }),
  );
  const vitPlot: Plot = {
    id: 'pln-vit',
    title: 'ViT-tiny on Fashion-MNIST: LayerNorm vs PLN (group size 8)',
    kind: 'bar',
    x: { label: 'norm', categories: vit.map((r) => r.norm.toUpperCase()) },
    y: { label: 'test accuracy' },
    series: [
      {
        name: 'test accuracy',
        points: vit.map((r, i): [number, number] => [i, r.accuracy.mean]),
        band: vit.map((r): [number, number] => [r.accuracy.mean - r.accuracy.std, r.accuracy.mean + r.accuracy.std]),
      },
    ],
  };
  return [...approx, vitPlot];
}

/**
 * Paper 2's claims at small scale.
 *
 * Approximation: one-hidden-layer networks Linear(1→N) → act → Linear(N→1) with act = PLN with groups
 * of 2 (with γ, β, ε 1e-5), ReLU or the sigmoid, N ∈ {4, 8, 16, 32, 64}, fit by full-batch AdamW
 * (lr 1e-2, cosine to 0, weight decay 0, MSE; 3000 steps, quick 300) on 256 (quick 128) evenly
 * spaced points of [0, 1] to the 1-Lipschitz targets of `approximationTargets`. Rows `PlnApproxRow`:
 * the sup error on the 10× denser grid (2551 points, quick 1271), the sup error of @normkit/theory's construction with ≤ N
 * neurons, and the bound ε(N) of `boundForWidth`.
 *
 * Transformer: ViT-tiny (28×28, patch 4, d 64, 4 blocks, 4 heads, MLP 128) with every LayerNorm or
 * PLN (group size 8), AdamW lr 1e-3 (constant, weight decay 1e-2), batch 64, trained on the first 5000
 * Fashion-MNIST training images for 2 epochs (quick: 256 × 1), accuracy on the first 2000 test images
 * (quick: 256). Rows `PlnVitRow`.
 *
 * @example
 * ```ts
 * const r = await runExperiment(plnExperiment, { quick: true });
 * r.rows.filter((row) => row.activation === 'pln'); // supError, construction, bound per target and N
 * ```
 */
export const plnExperiment: Experiment = {
  name: 'pln',
  title: 'PLN as activation and normalization: approximation vs width, and PLN in a ViT',
  paper: PAPER,
  async run(opts) {
    const t0 = performance.now();
    const seeds = seedsOf(opts);
    const s = settingsOf(opts.quick);
    const approx = await approximationRows(seeds, s, opts);
    const tApprox = (performance.now() - t0) / 1000;
    const vit = await vitRows(seeds, s, opts);
    const bounds = Object.fromEntries(
      ACTIVATIONS.map((a) => [
        a,
        `${approximationWidth({ lipschitz: 1, epsilon: 0.1, activation: THEORY_ACTIVATION[a] }).formula} neurons for ε, inverted: ε(N) = L/(2n), n the most pieces whose width ≤ N`,
      ]),
    );
    return {
      experiment: 'pln',
      title: plnExperiment.title,
      quick: opts.quick,
      seeds,
      rows: [...approx, ...vit.rows],
      findings: [...approximationFindings(approx), vitFinding(vit.rows)],
      plots: plnPlots(approx, vit.rows),
      seconds: (performance.now() - t0) / 1000,
      settings: {
        approximation: `Linear(1→N) → act → Linear(N→1), N ∈ {${s.neurons.join(', ')}}, L = ${s.lipschitz}, ${s.gridPoints} training points on [0, 1], sup error on ${10 * (s.gridPoints - 1) + 1} points; full-batch AdamW lr ${s.lr}, cosine to 0, weight decay 0, ${s.steps} steps; PLN = groups of 2 with γ, β, ε_LN 1e-5; PyTorch-default init`,
        bounds: `@normkit/theory approximationWidth (pln → pln2 staircase, relu, sigmoid): ${Object.entries(bounds)
          .map(([a, b]) => `${a}: ${b}`)
          .join('; ')}`,
        construction: '@normkit/theory buildApproximator for the same target with ≤ N neurons, evaluated in float64 on the fine grid',
        vit: `ViT-tiny (28×28, patch 4, d 64, 4 blocks, 4 heads, MLP 128), LN vs PLN group size 8; first ${s.vitTrain} training images × ${s.vitEpochs} epochs, batch 64, AdamW lr 1e-3 constant, weight decay 1e-2; accuracy on the first ${s.vitTest} test images`,
        approximationSeconds: Math.round(tApprox),
        vitSamplesPerSec: Math.round(vit.samplesPerSec),
      },
    };
  },
};
