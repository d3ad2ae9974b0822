import { normMseLossTensor, whiten } from '@normkit/norm';
import { eigh, NormkitError, Rng, Tensor } from '@normkit/tensor';
import {
  AdamW,
  type Augmentation,
  augmentViews,
  BatchNorm,
  Conv2d,
  compose,
  computeGrads,
  DataLoader,
  type Dataset,
  evaluate,
  Flatten,
  gaussianNoise,
  horizontalFlip,
  indexSeed,
  intlObjective,
  Linear,
  loadFashionMnist,
  MaxPool2d,
  type Module,
  noGrad,
  permutation,
  ReLU,
  randomErasing,
  randomResizedCrop,
  Sequential,
  subset,
  TensorDataset,
  train,
  warmupCosine,
} from '@normkit/train';
import { meanStd, seedsOf } from './stats.js';
import type { Experiment, ExperimentOptions, Finding, Plot, Stat } from './types.js';

// Paper 4 (INTL): IterNorm whitening of the embeddings with a trace loss keeps self-supervised
// learning away from dimensional collapse and drives the embedding spectrum towards equal
// eigenvalues; plain alignment of two views collapses. A small CNN is pre-trained on Fashion-MNIST
// without labels by each objective, then judged by a linear probe, 5-NN and the effective rank of its
// embedding covariance.

/** The objectives and baselines compared. */
export const INTL_METHODS = ['intl', 'iternorm', 'zca', 'none', 'random', 'pixels', 'supervised'] as const;
export type IntlMethod = (typeof INTL_METHODS)[number];
/** The self-supervised objectives (two augmented views). */
const SSL_METHODS = ['intl', 'iternorm', 'zca', 'none'] as const;
type SslMethod = (typeof SSL_METHODS)[number];

/** The sizes of a run. */
interface IntlConfig {
  /** Images of the training subset (pre-training and the probe's training features). */
  trainImages: number;
  /** Test images (probe and k-NN accuracy). */
  testImages: number;
  /** Test images whose embedding covariance gives the spectrum and the effective rank. */
  spectrumImages: number;
  batch: number;
  epochs: number;
  /** Channels of the two convolutions. */
  channels: readonly [number, number];
  /** Encoder feature size and projector embedding size (> batch, so that INTL's N×N sample Gram is full rank). */
  featureDim: number;
  embedDim: number;
  /** Channels per group of the ZCA baseline (< batch, so that each group's covariance is full rank). */
  zcaGroupSize: number;
  /** Epochs of the linear probe. */
  probeEpochs: number;
}

const FULL: IntlConfig = {
  trainImages: 2048,
  testImages: 2000,
  spectrumImages: 1024,
  batch: 128,
  epochs: 4,
  channels: [8, 16],
  featureDim: 64,
  embedDim: 256,
  zcaGroupSize: 32,
  probeEpochs: 30,
};

const QUICK: IntlConfig = {
  trainImages: 256,
  testImages: 400,
  spectrumImages: 256,
  batch: 64,
  epochs: 2,
  channels: [4, 8],
  featureDim: 32,
  embedDim: 128,
  zcaGroupSize: 16,
  probeEpochs: 20,
};

/** Pre-training optimiser: AdamW, peak lr, decoupled weight decay (not on biases and norm gains). */
const LR = 2e-3;
const WEIGHT_DECAY = 1e-4;
/** Linear-probe optimiser (multinomial logistic regression on standardised features). */
const PROBE_LR = 1e-2;
/** Newton iterations of INTL's IterNorm, and its whitening axis (0: over the N×N sample Gram). */
const ITERS = 4;
const AXIS = 0;
/** Neighbours of the k-NN probe. */
const K = 5;
/** Floor of the normalised eigenvalues in the spectrum plots (log axis). */
const SPECTRUM_FLOOR = 1e-12;

/** INTL's trade-off β = 0.01·(log2(batch) − 3). */
const intlBetaOf = (batch: number) => 0.01 * (Math.log2(batch) - 3);

/**
 * The encoder: [Conv 3×3 (padding 1) → BatchNorm2d → ReLU → MaxPool 2] × 2 → Flatten → Linear to
 * `featureDim` features (the representation the probes read).
 *
 * @example
 * ```ts
 * sslEncoder([8, 16], 64, 0).forward(Tensor.zeros([2, 1, 28, 28])).shape; // [2, 64]
 * ```
 */
export function sslEncoder(channels: readonly [number, number], featureDim: number, seed: number): Sequential {
  const [c1, c2] = channels;
  const conv = (i: number, cin: number, cout: number) => new Conv2d(cin, cout, 3, { padding: 1, seed: indexSeed(seed, i) });
  return new Sequential(
    conv(0, 1, c1),
    new BatchNorm(c1, { layout: 'channels' }),
    new ReLU(),
    new MaxPool2d(2),
    conv(1, c1, c2),
    new BatchNorm(c2, { layout: 'channels' }),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(c2 * 7 * 7, featureDim, { seed: indexSeed(seed, 2) }),
  );
}

/**
 * The projector: Linear → BatchNorm1d → ReLU → Linear, features to the embedding the SSL loss reads.
 *
 * @example
 * ```ts
 * sslProjector(64, 64, 0).forward(Tensor.randn([4, 64], 1)).shape; // [4, 64]
 * ```
 */
export function sslProjector(featureDim: number, embedDim: number, seed: number): Sequential {
  return new Sequential(
    new Linear(featureDim, embedDim, { seed: indexSeed(seed, 3) }),
    new BatchNorm(embedDim),
    new ReLU(),
    new Linear(embedDim, embedDim, { seed: indexSeed(seed, 4) }),
  );
}

/**
 * The self-supervised loss of two views' embeddings [N, D]: `intl` — IterNorm (T = 4, axis 0) and
 * the trace loss with β = 0.01·(log2 N − 3) (`intlObjective`); `iternorm` — the same with β = 0;
 * `zca` — ZCA whitening of each view over the batch (`whiten`, in channel groups of `zcaGroupSize`,
 * all channels by default), then the alignment loss; `none` — the
 * alignment loss 2 − 2·mean cos(z₁, z₂) alone (`normMseLossTensor`).
 *
 * @example
 * ```ts
 * sslLoss('intl', z1, z2); // a differentiable scalar
 * ```
 */
export function sslLoss(method: SslMethod, z1: Tensor, z2: Tensor, zcaGroupSize = z1.shape[1] as number): Tensor {
  const n = z1.shape[0] as number;
  if (method === 'intl') return intlObjective([z1, z2], { axis: AXIS, iters: ITERS, beta: intlBetaOf(n) });
  if (method === 'iternorm') return intlObjective([z1, z2], { axis: AXIS, iters: ITERS, beta: 0 });
  if (method === 'zca') {
    const w = (z: Tensor) => whiten(z, { method: 'zca', groupSize: zcaGroupSize });
    return normMseLossTensor(w(z1), w(z2));
  }
  return normMseLossTensor(z1, z2);
}

/**
 * Eigenvalues (descending, float64) of the covariance of the rows of x [n, d]. When n ≤ d it
 * decomposes the n×n Gram matrix X_c·X_cᵀ/(n − 1) instead, which has the same non-zero eigenvalues
 * (the other d − n are 0).
 *
 * @example
 * ```ts
 * covarianceSpectrum(Tensor.from([[1, 0], [-1, 0], [0, 2], [0, -2]])); // [8/3, 2/3]
 * ```
 */
export function covarianceSpectrum(x: Tensor): number[] {
  const [n, d] = x.shape as [number, number];
  if (x.rank !== 2 || n < 2)
    throw new NormkitError('SHAPE_MISMATCH', `covarianceSpectrum (intl experiment): need rows [n ≥ 2, d], got [${x.shape.join(', ')}]`);
  const v = x.data as Float32Array;
  const xc = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += v[i * d + j]!;
    mean /= n;
    for (let i = 0; i < n; i++) xc[i * d + j] = v[i * d + j]! - mean;
  }
  // Gram over the smaller side: [d, d] (columns·columns) when d < n, else [n, n] (rows·rows).
  const byCols = d < n;
  const m = byCols ? d : n;
  const at = byCols ? (k: number, a: number) => xc[k * d + a]! : (k: number, a: number) => xc[a * d + k]!;
  const len = byCols ? n : d;
  const g = new Float64Array(m * m);
  for (let a = 0; a < m; a++)
    for (let b = a; b < m; b++) {
      let s = 0;
      for (let k = 0; k < len; k++) s += at(k, a) * at(k, b);
      g[a * m + b] = g[b * m + a] = s / (n - 1);
    }
  const values = Array.from(eigh(new Tensor([m, m], 'float64', g)).values.data as Float64Array).reverse();
  return byCols ? values : [...values, ...new Array<number>(d - n).fill(0)];
}

/**
 * Effective rank exp(H(p)) of a spectrum, p_i = λ_i/Σλ over the non-negative eigenvalues (Roy &
 * Vetterli): d for equal eigenvalues, 1 when one direction holds all the variance.
 *
 * @example
 * ```ts
 * effectiveRank([1, 1, 1, 1]); // 4
 * effectiveRank([1, 0, 0]);    // 1
 * ```
 */
export function effectiveRank(eigenvalues: readonly number[]): number {
  const pos = eigenvalues.map((l) => Math.max(l, 0));
  const total = pos.reduce((s, l) => s + l, 0);
  if (!(total > 0)) return 0;
  let h = 0;
  for (const l of pos) if (l > 0) h -= (l / total) * Math.log(l / total);
  return Math.exp(h);
}

/** The rows of `module(x)` over a dataset, in eval mode without gradients, as one [n, d] tensor. */
function embed(module: Module, ds: Dataset, batch = 512): Tensor {
  const was = module.training;
  module.eval();
  const parts: Float32Array[] = [];
  let d = 0;
  for (let s = 0; s < ds.size; s += batch) {
    const idx = Int32Array.from({ length: Math.min(batch, ds.size - s) }, (_, i) => s + i);
    const out = noGrad(() => module.forward(ds.batch(idx).x));
    d = out.shape[1] as number;
    parts.push(out.data as Float32Array);
  }
  module.train(was);
  const all = new Float32Array(ds.size * d);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Tensor([ds.size, d], 'float32', all);
}

/** `module` applied to the rows of x [n, d] in eval mode without gradients. */
function embedRows(module: Module, x: Tensor): Tensor {
  return embed(module, new TensorDataset(x, Tensor.zeros([x.shape[0] as number], 'int32'), 1));
}

/** Labels of a dataset, in order. */
const labelsOf = (ds: Dataset) => ds.batch(Int32Array.from({ length: ds.size }, (_, i) => i)).y;

/** Standardises the columns of `x` by the mean and std of `ref`'s columns. */
function standardize(x: Tensor, ref: Tensor): Tensor {
  const [n, d] = ref.shape as [number, number];
  const r = ref.data as Float32Array;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += r[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sq[j]! += (r[i * d + j]! - mean[j]!) ** 2 / n;
  const v = x.data as Float32Array;
  const out = Float32Array.from(v, (val, k) => (val - mean[k % d]!) / Math.sqrt(sq[k % d]! + 1e-8));
  return new Tensor(x.shape, 'float32', out);
}

/** Linear-probe test accuracy: multinomial logistic regression (AdamW, cosine) on standardised features. */
async function linearProbe(
  trainF: Tensor,
  trainY: Tensor,
  testF: Tensor,
  testY: Tensor,
  cfg: IntlConfig,
  seed: number,
  signal?: AbortSignal,
): Promise<number> {
  const head = new Linear(trainF.shape[1] as number, 10, { seed });
  const loader = new DataLoader(new TensorDataset(standardize(trainF, trainF), trainY, 10), { batchSize: 256, seed });
  const totalSteps = cfg.probeEpochs * loader.numBatches;
  const optimizer = new AdamW(head.parameters(), { lr: PROBE_LR, weightDecay: 0 });
  await train(head, loader, { optimizer, epochs: cfg.probeEpochs, schedule: warmupCosine({ baseLr: PROBE_LR, totalSteps }), signal });
  const test = new TensorDataset(standardize(testF, trainF), testY, 10);
  return (await evaluate(head, new DataLoader(test, { batchSize: 1000, shuffle: false }))).accuracy;
}

/**
 * k-NN accuracy of test rows against labelled training rows: cosine similarity, majority vote of the
 * k nearest (a tie goes to the class of the nearest neighbour among the tied ones).
 *
 * @example
 * ```ts
 * knnAccuracy(trainFeatures, trainLabels, testFeatures, testLabels, 5); // fraction in [0, 1]
 * ```
 */
export function knnAccuracy(trainF: Tensor, trainY: Tensor, testF: Tensor, testY: Tensor, k = K): number {
  const d = trainF.shape[1] as number;
  const unit = (t: Tensor) => {
    const v = Float64Array.from(t.data as Float32Array);
    for (let i = 0; i < v.length; i += d) {
      let s = 0;
      for (let j = 0; j < d; j++) s += v[i + j]! ** 2;
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
      for (let j = 0; j < d; j++) v[i + j]! *= inv;
    }
    return v;
  };
  const [a, b] = [unit(trainF), unit(testF)];
  const [ya, yb] = [trainY.data as Int32Array, testY.data as Int32Array];
  let correct = 0;
  for (let q = 0; q < yb.length; q++) {
    const best: [number, number][] = []; // (similarity, label), descending
    for (let i = 0; i < ya.length; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j]! * b[q * d + j]!;
      if (best.length < k || s > best[best.length - 1]![0]) {
        best.push([s, ya[i]!]);
        best.sort((u, v) => v[0] - u[0]);
        if (best.length > k) best.pop();
      }
    }
    const votes = new Map<number, number>();
    for (const [, l] of best) votes.set(l, (votes.get(l) ?? 0) + 1);
    const top = Math.max(...votes.values());
    const label = best.find(([, l]) => votes.get(l) === top)![1];
    if (label === yb[q]) correct++;
  }
  return correct / yb.length;
}

/** The data of one seed: training subset, test subset, spectrum images. */
interface SeedData {
  train: Dataset;
  test: Dataset;
  spectrum: Dataset;
}

function seedData(fm: { train: Dataset; test: Dataset }, cfg: IntlConfig, seed: number): SeedData {
  const trainIdx = permutation(fm.train.size, new Rng(indexSeed(seed, 1))).subarray(0, cfg.trainImages);
  const testIdx = permutation(fm.test.size, new Rng(indexSeed(seed, 2))).subarray(0, cfg.testImages);
  return {
    train: subset(fm.train, trainIdx),
    test: subset(fm.test, testIdx),
    spectrum: subset(fm.test, testIdx.subarray(0, cfg.spectrumImages)),
  };
}

/** The SimCLR-style views for 28×28 images (each augmentation with its defaults). */
const views = (): Augmentation => compose([randomResizedCrop(), horizontalFlip(), gaussianNoise(), randomErasing()]);

/** What one trained (or baseline) model gives. */
interface Outcome {
  linearProbe: number;
  knn: number;
  effectiveRank: number;
  featureRank: number;
  embeddingDim: number;
  /** Spectrum of the embedding covariance after each epoch (index 0: at initialisation). */
  spectra: number[][];
  secondsPerStep?: number;
}

/** The encoder + projector of one seed (the same initial weights for every method of that seed). */
const sslNet = (cfg: IntlConfig, seed: number) => {
  const encoder = sslEncoder(cfg.channels, cfg.featureDim, seed);
  const projector = sslProjector(cfg.featureDim, cfg.embedDim, seed);
  return { encoder, projector, full: new Sequential(encoder, projector) };
};

function optimizerFor(model: Module, steps: number): { optimizer: AdamW; schedule: (s: number) => number } {
  return {
    optimizer: new AdamW(model.parameters(), { lr: LR, weightDecay: WEIGHT_DECAY }),
    schedule: warmupCosine({ baseLr: LR, totalSteps: steps, warmupSteps: Math.max(1, Math.round(0.1 * steps)) }),
  };
}

/** Pre-trains encoder + projector with an SSL loss on two views per image; returns spectra per epoch and s/step. */
async function pretrain(method: SslMethod, data: SeedData, cfg: IntlConfig, seed: number, opts: ExperimentOptions) {
  const net = sslNet(cfg, seed);
  const loader = new DataLoader(data.train, { batchSize: cfg.batch, seed: indexSeed(seed, 3), dropLast: true });
  const total = cfg.epochs * loader.numBatches;
  const { optimizer, schedule } = optimizerFor(net.full, total);
  const aug = views();
  const spectra = [covarianceSpectrum(embed(net.full, data.spectrum))];
  const run = `intl/${method} seed ${seed}`;
  const t0 = performance.now();
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    for (const b of loader) {
      if (opts.signal?.aborted) throw new NormkitError('ABORTED', `intl: aborted during ${run}`, { run });
      optimizer.lr = schedule(optimizer.stepCount);
      const [v1, v2] = augmentViews(aug, b.x, b.seed) as [Tensor, Tensor];
      const loss = computeGrads(() => sslLoss(method, net.full.forward(v1), net.full.forward(v2), cfg.zcaGroupSize), optimizer.parameters);
      if (!Number.isFinite(loss))
        throw new NormkitError('NON_FINITE_LOSS', `intl: ${run} has loss ${loss} at step ${optimizer.stepCount}; lower the learning rate`);
      optimizer.step();
      optimizer.zeroGrad();
      opts.onProgress?.({ run, done: optimizer.stepCount, total, loss });
    }
    spectra.push(covarianceSpectrum(embed(net.full, data.spectrum)));
  }
  return { net, spectra, secondsPerStep: (performance.now() - t0) / 1000 / total };
}

/** Supervised baseline: the same encoder + a linear head, cross-entropy on the clean training images, same epochs. */
async function supervised(data: SeedData, cfg: IntlConfig, seed: number, opts: ExperimentOptions) {
  const encoder = sslEncoder(cfg.channels, cfg.featureDim, seed);
  const model = new Sequential(encoder, new Linear(cfg.featureDim, 10, { seed: indexSeed(seed, 5) }));
  const loader = new DataLoader(data.train, { batchSize: cfg.batch, seed: indexSeed(seed, 3), dropLast: true });
  const total = cfg.epochs * loader.numBatches;
  const spectra = [covarianceSpectrum(embed(encoder, data.spectrum))];
  const run = `intl/supervised seed ${seed}`;
  const t0 = performance.now();
  await train(model, loader, {
    ...optimizerFor(model, total),
    epochs: cfg.epochs,
    signal: opts.signal,
    onProgress: (p) => {
      if (p.phase === 'step') opts.onProgress?.({ run, done: p.step, total, loss: p.loss });
      if (p.phase === 'epoch') spectra.push(covarianceSpectrum(embed(encoder, data.spectrum)));
    },
  });
  if (opts.signal?.aborted) throw new NormkitError('ABORTED', `intl: aborted during ${run}`, { run });
  return { encoder, spectra, secondsPerStep: (performance.now() - t0) / 1000 / total };
}

/**
 * Probes the features of `encoder` (raw pixels when absent) and reads the spectrum of the embedding
 * (`projector` of the features; the features themselves without one). `spectra`: the embedding spectra
 * recorded during training, whose last one is the final spectrum.
 */
async function judge(
  nets: { encoder?: Module; projector?: Module; spectra?: number[][] },
  data: SeedData,
  cfg: IntlConfig,
  seed: number,
  signal?: AbortSignal,
): Promise<Outcome> {
  const feats = (ds: Dataset) => (nets.encoder ? embed(nets.encoder, ds) : flatPixels(ds));
  const [trF, teF, spF] = [feats(data.train), feats(data.test), feats(data.spectrum)];
  const [trY, teY] = [labelsOf(data.train), labelsOf(data.test)];
  const featureSpectrum = covarianceSpectrum(spF);
  const spectra = nets.spectra ?? [nets.projector ? covarianceSpectrum(embedRows(nets.projector, spF)) : featureSpectrum];
  const finalSpectrum = spectra[spectra.length - 1]!;
  return {
    linearProbe: await linearProbe(trF, trY, teF, teY, cfg, indexSeed(seed, 6), signal),
    knn: knnAccuracy(trF, trY, teF, teY),
    effectiveRank: effectiveRank(finalSpectrum),
    featureRank: effectiveRank(featureSpectrum),
    embeddingDim: finalSpectrum.length,
    spectra,
  };
}

/** Raw pixels as [n, 784] rows. */
function flatPixels(ds: Dataset): Tensor {
  const x = ds.batch(Int32Array.from({ length: ds.size }, (_, i) => i)).x;
  return new Tensor([ds.size, x.size / ds.size], 'float32', x.data as Float32Array);
}

/** One method on one seed. */
async function runMethod(method: IntlMethod, data: SeedData, cfg: IntlConfig, seed: number, opts: ExperimentOptions): Promise<Outcome> {
  if (method === 'pixels') return judge({}, data, cfg, seed, opts.signal);
  if (method === 'random') return judge(sslNet(cfg, seed), data, cfg, seed, opts.signal);
  if (method === 'supervised') {
    const s = await supervised(data, cfg, seed, opts);
    return { ...(await judge(s, data, cfg, seed, opts.signal)), secondsPerStep: s.secondsPerStep };
  }
  const p = await pretrain(method, data, cfg, seed, opts);
  return { ...(await judge({ ...p.net, spectra: p.spectra }, data, cfg, seed, opts.signal)), secondsPerStep: p.secondsPerStep };
}

/** A row of the results table. */
interface IntlRow extends Record<string, unknown> {
  method: IntlMethod;
  linearProbe: Stat;
  knn: Stat;
  /** Effective rank of the embedding covariance (projector output; encoder features for `supervised`; pixels for `pixels`). */
  effectiveRank: Stat;
  /** Effective rank of the encoder features' covariance (what the probes read). */
  featureRank: Stat;
  embeddingDim: number;
  /** Mean effective rank of the embedding after each epoch (first: at initialisation). */
  rankByEpoch?: number[];
  secondsPerStep?: Stat;
}

function summarize(method: IntlMethod, outs: readonly Outcome[]): IntlRow {
  const row: IntlRow = {
    method,
    linearProbe: meanStd(outs.map((o) => o.linearProbe)),
    knn: meanStd(outs.map((o) => o.knn)),
    effectiveRank: meanStd(outs.map((o) => o.effectiveRank)),
    featureRank: meanStd(outs.map((o) => o.featureRank)),
    embeddingDim: outs[0]!.embeddingDim,
  };
  if (outs[0]!.spectra.length > 1)
    row.rankByEpoch = outs[0]!.spectra.map((_, e) => meanStd(outs.map((o) => effectiveRank(o.spectra[e]!))).mean);
  if (outs[0]!.secondsPerStep !== undefined) row.secondsPerStep = meanStd(outs.map((o) => o.secondsPerStep!));
  return row;
}

const pct = (s: Stat) => `${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)} %`;
const num = (s: Stat) => `${s.mean.toFixed(1)} ± ${s.std.toFixed(1)}`;

function findings(rows: readonly IntlRow[], dim: number): Finding[] {
  const paper = 'paper 4: INTL (spectral transformation, IterNorm with trace loss)';
  const r = Object.fromEntries(rows.map((x) => [x.method, x])) as Record<IntlMethod, IntlRow>;
  // a beats b on a metric when their mean ± std intervals do not overlap.
  const above = (a: IntlMethod, b: IntlMethod, k: 'linearProbe' | 'knn') => r[a][k].mean - r[a][k].std > r[b][k].mean + r[b][k].std;
  const beats = (a: IntlMethod, b: IntlMethod) => above(a, b, 'linearProbe') && above(a, b, 'knn');
  const line = (m: IntlMethod) => `${m} ${pct(r[m].linearProbe)} probe / ${pct(r[m].knn)} 5-NN / rank ${num(r[m].effectiveRank)}`;
  const rule = '(a method beats another when the mean ± std intervals of both the probe and 5-NN accuracy are disjoint)';
  const intlHigher = r.intl.effectiveRank.mean > r.none.effectiveRank.mean;
  return [
    {
      claim: 'Plain alignment of two views (no whitening) collapses: the embedding effective rank falls far below its dimension.',
      paper,
      reproduced: r.none.effectiveRank.mean < dim / 4 ? 'yes' : r.none.effectiveRank.mean < r.intl.effectiveRank.mean ? 'partly' : 'no',
      evidence: `effective rank of the ${dim}-d embedding: none ${num(r.none.effectiveRank)} (by epoch: ${r.none.rankByEpoch?.map((v) => v.toFixed(1)).join(' → ')}), random init ${num(r.random.effectiveRank)}.`,
    },
    {
      claim: 'INTL keeps a high effective rank (spectrum towards equal eigenvalues) and beats plain alignment and the untrained encoder.',
      paper,
      reproduced:
        intlHigher && beats('intl', 'none') && beats('intl', 'random') ? 'yes' : intlHigher && beats('intl', 'none') ? 'partly' : 'no',
      evidence: `intl rank by epoch ${r.intl.rankByEpoch?.map((v) => v.toFixed(1)).join(' → ')} of ${dim}; ${line('intl')}; ${line('none')}; ${line('random')}; raw ${line('pixels')} ${rule}.`,
    },
    {
      claim: 'The trace loss is needed: INTL (β > 0) beats the same IterNorm whitening without it (β = 0).',
      paper,
      reproduced: beats('intl', 'iternorm') ? 'yes' : beats('iternorm', 'intl') ? 'no' : 'partly',
      evidence: `${line('intl')}; ${line('iternorm')} (by epoch ${r.iternorm.rankByEpoch?.map((v) => v.toFixed(1)).join(' → ')}) ${rule}.`,
    },
    {
      claim: 'INTL is at least as good as hard (ZCA) whitening and approaches supervised training.',
      paper,
      reproduced: !beats('zca', 'intl') && !beats('supervised', 'intl') ? 'yes' : !beats('zca', 'intl') ? 'partly' : 'no',
      evidence: `${line('intl')}; ${line('zca')}; supervised ${pct(r.supervised.linearProbe)} probe / ${pct(r.supervised.knn)} 5-NN ${rule}.`,
    },
  ];
}

/** Normalised spectrum λ_i/Σλ as plot points (index from 1), floored for the log axis, to 4 significant digits. */
function spectrumPoints(spectrum: readonly number[]): [number, number][] {
  const total = spectrum.reduce((s, l) => s + Math.max(l, 0), 0) || 1;
  return spectrum.map((l, i) => [i + 1, Number(Math.max(l / total, SPECTRUM_FLOOR).toPrecision(4))]);
}

function plots(outcomes: ReadonlyMap<IntlMethod, Outcome[]>, rows: readonly IntlRow[]): Plot[] {
  const spectral = INTL_METHODS.filter((m) => m !== 'pixels');
  const finalPlot: Plot = {
    id: 'intl-spectrum-final',
    title: 'Embedding covariance spectrum after pre-training (seed 0; λ_i / Σλ)',
    kind: 'line',
    x: { label: 'eigenvalue index' },
    y: { label: 'normalised eigenvalue', log: true },
    series: spectral.map((m) => {
      const s = outcomes.get(m)![0]!.spectra;
      return { name: m, points: spectrumPoints(s[s.length - 1]!) };
    }),
  };
  const perEpoch: Plot[] = SSL_METHODS.map((m) => ({
    id: `intl-spectrum-epochs-${m}`,
    title: `Embedding spectrum by epoch, ${m} (seed 0; epoch 0 = initialisation)`,
    kind: 'line',
    x: { label: 'eigenvalue index' },
    y: { label: 'normalised eigenvalue', log: true },
    series: outcomes.get(m)![0]!.spectra.map((s, e) => ({ name: `epoch ${e}`, points: spectrumPoints(s) })),
  }));
  const rankPlot: Plot = {
    id: 'intl-rank-by-epoch',
    title: 'Effective rank of the embedding during pre-training (mean over seeds)',
    kind: 'line',
    x: { label: 'epoch' },
    y: { label: 'effective rank' },
    series: rows
      .filter((x) => x.rankByEpoch)
      .map((x) => ({ name: x.method, points: x.rankByEpoch!.map((v, e) => [e, v] as [number, number]) })),
  };
  return [finalPlot, ...perEpoch, rankPlot];
}

/**
 * Self-supervised pre-training with INTL vs IterNorm without trace loss, ZCA whitening and plain
 * alignment on a Fashion-MNIST subset (paper 4), with the untrained encoder, raw pixels and supervised
 * training as baselines. Each seed draws its training subset, test subset, initial weights (shared by
 * all methods of the seed) and augmentations. Rows: `{ method, linearProbe, knn, effectiveRank,
 * featureRank, embeddingDim, rankByEpoch, secondsPerStep }`; plots: the embedding spectra (final, and
 * by epoch per objective) and the effective rank by epoch.
 *
 * @example
 * ```ts
 * const r = await runExperiment(intlExperiment, { quick: true });
 * r.rows.find((row) => row.method === 'none')?.effectiveRank;
 * ```
 */
export const intlExperiment: Experiment = {
  name: 'intl',
  title: 'INTL: IterNorm with trace loss against dimensional collapse in self-supervised learning',
  paper: 'paper 4: spectral transformation and IterNorm with trace loss (INTL)',
  async run(opts) {
    const t0 = performance.now();
    const cfg = opts.quick ? QUICK : FULL;
    const seeds = seedsOf(opts);
    const outcomes = new Map<IntlMethod, Outcome[]>(INTL_METHODS.map((m) => [m, []]));
    const fashion = loadFashionMnist(opts.data);
    for (const seed of seeds) {
      const data = seedData(fashion, cfg, seed);
      for (const m of INTL_METHODS) outcomes.get(m)!.push(await runMethod(m, data, cfg, seed, opts));
    }
    const rows = INTL_METHODS.map((m) => summarize(m, outcomes.get(m)!));
    return {
      experiment: 'intl',
      title: this.title,
      quick: opts.quick,
      seeds,
      rows,
      findings: findings(rows, cfg.embedDim),
      plots: plots(outcomes, rows),
      seconds: (performance.now() - t0) / 1000,
      settings: {
        ...cfg,
        data: 'Fashion-MNIST: per seed a random training subset (pre-training, probe training features) and test subset; spectra on the first spectrumImages of the test subset',
        augmentation:
          'two views: randomResizedCrop (scale 0.25–1, pad 2) → horizontalFlip → gaussianNoise (std 0.1, p 0.5) → randomErasing (p 0.5)',
        optimizer: `AdamW lr ${LR}, weight decay ${WEIGHT_DECAY} (not on biases/norm gains), 10 % warm-up then cosine to 0, dropLast batches`,
        intl: `IterNorm T = ${ITERS}, axis ${AXIS}, β = 0.01·(log2(batch) − 3) = ${intlBetaOf(cfg.batch)}; iternorm: β = 0`,
        zca: `whiten (ZCA, ε 1e-5, groups of ${cfg.zcaGroupSize} channels) of each view over the batch, then 2 − 2·mean cos`,
        supervised: 'encoder + Linear head, cross-entropy on the clean images, same optimiser, epochs and batches',
        linearProbe: `Linear(features → 10) on standardised frozen features, AdamW lr ${PROBE_LR}, ${cfg.probeEpochs} epochs, batch 256, cosine`,
        knn: `${K}-NN, cosine similarity, test features against the training subset's`,
        effectiveRank: 'exp(entropy of λ/Σλ) of the covariance of the embedding of the spectrum images (eval mode)',
      },
    };
  },
};
