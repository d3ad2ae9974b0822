import { eigh, gemm, NormkitError, Tensor } from '@normkit/tensor';
import { lssr } from '@normkit/theory';
import { type Dataset, loadFashionMnist, MLP, noGrad, type Sequential } from '@normkit/train';
import { firstSamples, trainClassifier } from './classifier.js';
import { fmtStat, meanStd, seedsOf } from './stats.js';
import type { Experiment, ExperimentOptions, Finding, Plot, Stat } from './types.js';

/**
 * One row of the LN-G experiment. `groups` is G of LN-G (1 = plain LayerNorm) or `'linear'` for the
 * baseline without norm or activation; `accuracy` is the test accuracy, `lssr` the LSSR (see
 * `representationLssr`) of the representation the head reads.
 */
export interface LngRow {
  [key: string]: unknown;
  groups: number | 'linear';
  accuracy: Stat;
  lssr: Stat;
}

const PAPER = 'paper 3: On the Nonlinearity of Layer Normalization';
/** Width of both hidden layers. */
const HIDDEN = 256;

interface LngSettings {
  trainSamples: number;
  epochs: number;
  testSamples: number;
  lssrSamples: number;
  groups: number[];
}

const settingsOf = (quick: boolean): LngSettings => ({
  trainSamples: quick ? 5000 : 60000,
  epochs: quick ? 1 : 3,
  testSamples: quick ? 2000 : 10000,
  lssrSamples: quick ? 2000 : 10000,
  groups: [1, 2, 4, 8, 16, 32, 128],
});

/**
 * LSSR (`lssr` of @normkit/theory: the smallest within-class / total sum of squares of any 1-D
 * projection) of the rows of `X` [n, d] with labels `labels`, computed exactly through a reduction to
 * C dimensions (C = classes), because `lssr` itself is O(d⁴) (≈ 30 s at d = 256).
 *
 * Why the reduction is exact: SSR(Xw) = 1 − wᵀS_B w / wᵀS_T w, and S_B = Σ_c n_c (m_c − m)(m_c − m)ᵀ
 * = B·D·Bᵀ. The maximiser of the Rayleigh quotient solves S_B w = λ S_T w on the range of S_T, so
 * w = S_T⁺ B D Bᵀ w / λ lies in the span of V = S_T⁺ B (d × C). Projections of X V are projections of
 * X (LSSR(XV) ≥ LSSR(X)) and contain the optimum, so LSSR(XV) = LSSR(X). S_T⁺ keeps the eigenvalues
 * above 1e-10·λ_max, `lssr`'s own rank tolerance.
 *
 * @example
 * ```ts
 * representationLssr(Tensor.from([[0], [0.1], [1], [1.1]], undefined, 'float64'), [0, 0, 1, 1]); // 0.0099…
 * ```
 */
export function representationLssr(X: Tensor, labels: readonly number[]): number {
  const [n, d] = X.shape as [number, number];
  if (X.rank !== 2 || labels.length !== n)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `representationLssr: X must be [n, d] with one label per row, got [${X.shape}] and ${labels.length} labels`,
    );
  const x = Float64Array.from(X.data as Float32Array | Float64Array);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j]! -= mean[j]!;
  const B = new Float64Array(d * classes.length);
  classes.forEach((c, k) => {
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] !== c) continue;
      count++;
      for (let j = 0; j < d; j++) B[j * classes.length + k]! += x[i * d + j]!;
    }
    for (let j = 0; j < d; j++) B[j * classes.length + k]! /= count;
  });
  const Xc = new Tensor([n, d], 'float64', x);
  const ST = gemm(Xc, Xc, undefined, { transA: true });
  const { values, vectors } = eigh(ST);
  const lam = values.data as Float64Array;
  const Q = vectors.data as Float64Array;
  const lmax = Math.max(...lam);
  // S_T⁺ = Q diag(1/λ) Qᵀ on the kept eigenvalues.
  const scaled = new Float64Array(d * d);
  for (let r = 0; r < d; r++) for (let k = 0; k < d; k++) scaled[r * d + k] = lam[k]! > 1e-10 * lmax ? Q[r * d + k]! / lam[k]! : 0;
  const QtB = gemm(vectors, new Tensor([d, classes.length], 'float64', B), undefined, { transA: true });
  const V = gemm(new Tensor([d, d], 'float64', scaled), QtB);
  const Z = gemm(Xc, V).toArray() as number[][];
  return lssr(Z, labels);
}

/** The input of the head: every layer of the MLP but the last (after the last LN-G, or the last Linear for the baseline). */
function hiddenFeatures(model: Sequential, ds: Dataset, n: number): { X: Tensor; labels: number[] } {
  const b = ds.batch(Int32Array.from({ length: n }, (_, i) => i));
  const X = noGrad(() => model.layers.slice(0, -1).reduce((h, m) => m.forward(h), b.x));
  return { X, labels: Array.from(b.y.data as Int32Array) };
}

/** Spearman rank correlation of two equally long sequences without ties in `xs`. */
function spearman(xs: readonly number[], ys: readonly number[]): number {
  const rank = (v: readonly number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    order.forEach(([, i], k) => {
      r[i] = k;
    });
    return r;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  const n = xs.length;
  const d2 = rx.reduce((s, r, i) => s + (r - ry[i]!) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

async function runConfig(
  groups: number | 'linear',
  seed: number,
  data: { train: Dataset; test: Dataset },
  s: LngSettings,
  opts: ExperimentOptions,
): Promise<{ accuracy: number; lssr: number; samplesPerSec: number }> {
  const norm = groups === 'linear' ? 'none' : groups === 1 ? 'ln' : 'lng';
  const model = new MLP({ norm, ...(norm === 'lng' && { groups: groups as number }), hidden: [HIDDEN, HIDDEN], activation: 'none', seed });
  const name = `mlp/${groups === 'linear' ? 'linear' : `LN-G G=${groups}`} seed ${seed}`;
  const r = await trainClassifier(
    { name, model, train: data.train, test: data.test, seed, epochs: s.epochs, batchSize: 128, lr: 1e-3 },
    opts,
  );
  const { X, labels } = hiddenFeatures(model, data.test, s.lssrSamples);
  return { accuracy: r.accuracy, lssr: representationLssr(X, labels), samplesPerSec: r.samplesPerSec };
}

function lngFindings(rows: LngRow[]): Finding[] {
  const lng = rows.filter((r): r is LngRow & { groups: number } => r.groups !== 'linear');
  const linear = rows.find((r) => r.groups === 'linear') as LngRow;
  const ln = lng[0] as LngRow & { groups: number };
  const best = lng.reduce((a, b) => (b.accuracy.mean > a.accuracy.mean ? b : a));
  const last = lng[lng.length - 1] as LngRow & { groups: number };
  const gs = lng.map((r) => r.groups);
  const accRho = spearman(
    gs,
    lng.map((r) => r.accuracy.mean),
  );
  const lssrRho = spearman(
    gs,
    lng.map((r) => r.lssr.mean),
  );
  // The same trends without the groups of 2 (LN of 2 features is a hard sign, see §3.2 of docs/PAPERS.md in the normkit repository).
  const wider = lng.filter((r) => HIDDEN / r.groups > 2);
  const rhoWider = (key: 'accuracy' | 'lssr') =>
    spearman(
      wider.map((r) => r.groups),
      wider.map((r) => r[key].mean),
    ).toFixed(2);
  const sep = (a: Stat, b: Stat) => a.mean - b.mean > 2 * Math.max(a.std, b.std, 1e-4);
  const accList = lng.map((r) => `G=${r.groups}: ${fmtStat(r.accuracy, { percent: true })}`).join(', ');
  const lssrList = lng.map((r) => `G=${r.groups}: ${r.lssr.mean.toFixed(4)}`).join(', ');
  return [
    {
      claim: 'LayerNorm alone is a nonlinearity: an MLP with LN and no activation beats the same MLP without LN (a linear classifier)',
      paper: PAPER,
      reproduced: sep(ln.accuracy, linear.accuracy) ? 'yes' : 'no',
      evidence: `LN (G=1) ${fmtStat(ln.accuracy, { percent: true })} vs linear ${fmtStat(linear.accuracy, { percent: true })} test accuracy${sep(ln.accuracy, linear.accuracy) ? '' : ' (difference within 2·std of the seeds)'}`,
    },
    {
      claim: 'Group partition amplifies the nonlinearity: accuracy grows with the number of groups G of LN-G',
      paper: PAPER,
      reproduced: accRho >= 0.8 && sep(last.accuracy, ln.accuracy) ? 'yes' : sep(best.accuracy, ln.accuracy) ? 'partly' : 'no',
      evidence: `${accList}; Spearman ρ(G, accuracy) = ${accRho.toFixed(2)} (${rhoWider('accuracy')} without groups of 2); best G=${best.groups}`,
    },
    {
      claim:
        'Group partition lowers the LSSR of the representation (more nonlinearity: classes become separable along one direction), and LN-Nets go below what a linear network reaches',
      paper: PAPER,
      reproduced: lssrRho <= -0.8 && last.lssr.mean < ln.lssr.mean ? 'yes' : lssrRho < 0 || last.lssr.mean < ln.lssr.mean ? 'partly' : 'no',
      evidence: `LSSR ${lssrList}; linear ${linear.lssr.mean.toFixed(4)}; Spearman ρ(G, LSSR) = ${lssrRho.toFixed(2)} (${rhoWider('lssr')} without groups of 2)`,
    },
  ];
}

function lngPlots(rows: LngRow[]): Plot[] {
  const lng = rows.filter((r) => r.groups !== 'linear');
  const linear = rows.find((r) => r.groups === 'linear') as LngRow;
  const gs = lng.map((r) => r.groups as number);
  const xr = [gs[0]!, gs[gs.length - 1]!];
  const plot = (id: string, title: string, label: string, key: 'accuracy' | 'lssr'): Plot => ({
    id,
    title,
    kind: 'line',
    x: { label: 'groups G (1 = LayerNorm)', log: true },
    y: { label },
    series: [
      {
        name: 'LN-G, no activation',
        points: lng.map((r) => [r.groups as number, r[key].mean]),
        band: lng.map((r) => [r[key].mean - r[key].std, r[key].mean + r[key].std]),
      },
      { name: 'linear (no norm, no activation)', points: xr.map((g) => [g, linear[key].mean]) },
    ],
  });
  return [
    plot('lng-accuracy', 'Test accuracy vs groups of LN-G (Fashion-MNIST, MLP without activation)', 'test accuracy', 'accuracy'),
    plot('lng-lssr', 'LSSR of the head’s input vs groups of LN-G', 'LSSR (lower = more separable)', 'lssr'),
  ];
}

/**
 * Paper 3's LN-G claim on Fashion-MNIST: an MLP with no activation, Flatten → Linear(784→256) → LN-G →
 * Linear(256→256) → LN-G → Linear(256→10) (`MLP` with `activation: 'none'`, norm `lng` with G groups,
 * `ln` for G = 1), for G ∈ {1, 2, 4, 8, 16, 32, 128} (128 = groups of 2), and the same MLP without
 * norm (a linear classifier). AdamW (lr 1e-3, weight decay 1e-2, constant), batch 128; full: 60k
 * training images × 3 epochs; quick: the first 5k × 1 epoch. Accuracy on the 10k test images (quick:
 * the first 2k).
 *
 * Rows `LngRow`: `groups`, `accuracy`, `lssr` — LSSR of the head's input (the output of the last
 * LN-G with its γ, β; for the baseline the last hidden Linear) over all 10 classes at once, on the
 * first 10k (quick: 2k) test images (see `representationLssr`).
 *
 * @example
 * ```ts
 * const r = await runExperiment(lngExperiment, { quick: true });
 * r.rows; // [{ groups: 1, accuracy: { mean, std, values }, lssr: … }, …, { groups: 'linear', … }]
 * ```
 */
export const lngExperiment: Experiment = {
  name: 'lng',
  title: 'LN-G: group partition amplifies LayerNorm’s nonlinearity (MLP without activations, Fashion-MNIST)',
  paper: PAPER,
  async run(opts) {
    const t0 = performance.now();
    const seeds = seedsOf(opts);
    const s = settingsOf(opts.quick);
    const fm = loadFashionMnist(opts.data);
    const data = { train: firstSamples(fm.train, s.trainSamples), test: firstSamples(fm.test, s.testSamples) };
    const configs: (number | 'linear')[] = [...s.groups, 'linear'];
    const rows: LngRow[] = [];
    let samplesPerSec = 0;
    for (const groups of configs) {
      const acc: number[] = [];
      const ls: number[] = [];
      for (const seed of seeds) {
        if (opts.signal?.aborted) break;
        const r = await runConfig(groups, seed, data, s, opts);
        acc.push(r.accuracy);
        ls.push(r.lssr);
        samplesPerSec = r.samplesPerSec;
      }
      rows.push({ groups, accuracy: meanStd(acc), lssr: meanStd(ls) });
    }
    return {
      experiment: 'lng',
      title: lngExperiment.title,
      quick: opts.quick,
      seeds,
      rows,
      findings: lngFindings(rows),
      plots: lngPlots(rows),
      seconds: (performance.now() - t0) / 1000,
      settings: {
        model:
          'Flatten → Linear(784→256) → LN-G → Linear(256→256) → LN-G → Linear(256→10), no activation; G=1 is LayerNorm; linear = no norm',
        trainSamples: data.train.size,
        testSamples: data.test.size,
        epochs: s.epochs,
        batchSize: 128,
        optimizer: 'AdamW lr 1e-3 (constant), weight decay 1e-2, β (0.9, 0.999)',
        lssr: `LSSR over all 10 classes of the head's input (after the last LN-G incl. γ, β; linear: after the 2nd Linear), first ${s.lssrSamples} test images, exact reduction to 10 dims then @normkit/theory lssr`,
        lastSamplesPerSec: Math.round(samplesPerSec),
      },
    };
  },
};
