import { loadavg } from 'node:os';
import { analyzeFoldability, Executor, foldLayerNorms, type Model } from '@normkit/graph';
import { encodeModel } from '@normkit/onnx';
import { NormkitError, Rng, Tensor } from '@normkit/tensor';
import {
  AdamW,
  DataLoader,
  type Dataset,
  exportModel,
  loadFashionMnist,
  MLP,
  type Module,
  type NormKind,
  noGrad,
  permutation,
  subset,
  train,
  ViT,
} from '@normkit/train';
import { meanStd, seedsOf } from './stats.js';
import type { Experiment, ExperimentOptions, Finding, Plot, Stat } from './types.js';

// Paper 1 ("Enjoy your LayerNorm with the computational efficiency of RMSNorm"): LN's centring folds
// exactly into the layers upstream (column-centred weights), and CBWC + RMSNorm stays competitive
// with LN. Trains MLP and ViT-tiny on Fashion-MNIST with ln / rms / cbwc / none (and a ViT whose
// residual sources are not centred), then checks, on the exported graphs: the fold pipeline on
// every LN model, a CBWC model's RMSNorm against the LN it should equal, and inference time in the
// normkit Executor and in onnxruntime-node.
//
// Rows (one per trained configuration, then one "ln → folded" row per architecture):
// - `arch`, `norm`;
// - `accuracy`: test accuracy over seeds (from the exported model run in onnxruntime-node);
// - `trainSecondsPer1000Samples`: training wall time per 1000 samples (the ViT trains on a subset);
// - `inferenceMs`: `{ normkit, onnxruntime }`, median ms of one forward pass of a test batch (seed-0
//   model, interleaved rounds); `fastestMs`: the fastest round; `speedVsLn`: fastest / LN's fastest
//   per runtime (< 1 is faster; on a shared machine the fastest round is the least disturbed one);
// - `lossVsLn` (CBWC rows): the training losses against LN's with the same seed (same initial weights,
//   same batches): the largest |Δ| over the first 10 steps, and the first step where |Δ| > 1e-3;
// - `cbwcAsLn` (CBWC rows): the model exported as is vs with every RMSNorm written as LayerNorm
//   (`normAs: 'ln'`): max |Δlogit|, relative to max |logit|, argmax agreement, over seeds;
// - `folding` (folded rows): LNs in the graph, foldable ones, whether the folded model is equivalent
//   (fold verification passed, same argmax on every test image, same accuracy), max |Δlogit|.

type Arch = 'mlp' | 'vit';

/** One trained configuration; `centerSources: false` gives the ViT whose CBWC is partly broken. */
interface Config {
  arch: Arch;
  norm: NormKind;
  centerSources?: boolean;
  label: string;
}

const NORMS: NormKind[] = ['ln', 'rms', 'cbwc', 'none'];
const UNCENTRED = 'cbwc (uncentred sources)';
const CONFIGS: Config[] = [
  ...NORMS.map((norm): Config => ({ arch: 'mlp', norm, label: norm })),
  ...NORMS.map((norm): Config => ({ arch: 'vit', norm, label: norm })),
  { arch: 'vit', norm: 'cbwc', centerSources: false, label: UNCENTRED },
];

/** How much of each architecture's training a mode runs. */
interface ArchScale {
  /** Training images (a seeded random subset); undefined: all 60,000. */
  trainImages?: number;
  batchSize: number;
  epochs: number;
}

interface Scale {
  mlp: ArchScale;
  vit: ArchScale;
  /** Test images every model is evaluated on (in onnxruntime-node). */
  testImages: number;
  /** Test images on which the normkit Executor also runs the original and the folded model. */
  executorImages: number;
  /** Test images on which the module's own forward is compared with its export. */
  exportCheckImages: number;
  /** Forward passes of `batch` test images; interleaved rounds per architecture and runtime. */
  timing: { batch: number; rounds: Record<Arch, Record<Runtime, number>> };
  /** Points of each learning curve. */
  curvePoints: number;
}

const FULL: Scale = {
  mlp: { trainImages: 30_000, batchSize: 128, epochs: 1 },
  vit: { trainImages: 4096, batchSize: 64, epochs: 1 },
  testImages: 10_000,
  executorImages: 256,
  exportCheckImages: 256,
  timing: { batch: 128, rounds: { mlp: { normkit: 60, onnxruntime: 60 }, vit: { normkit: 8, onnxruntime: 40 } } },
  curvePoints: 16,
};

const QUICK: Scale = {
  mlp: { trainImages: 1024, batchSize: 128, epochs: 1 },
  vit: { trainImages: 64, batchSize: 32, epochs: 1 },
  testImages: 256,
  executorImages: 32,
  exportCheckImages: 32,
  timing: { batch: 32, rounds: { mlp: { normkit: 5, onnxruntime: 5 }, vit: { normkit: 2, onnxruntime: 5 } } },
  curvePoints: 4,
};

const LR = 1e-3;
const CLASSES = 10;

/** Test images as flat float32 pixels and int labels. */
interface Images {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

/** Two models' logits on the same images. */
interface Comparison {
  images: number;
  maxAbsDiff: number;
  /** max |Δ| / max |reference logit|. */
  maxRelDiff: number;
  /** Images whose argmax is the same. */
  sameArgmax: number;
}

interface FoldCheck {
  total: number;
  foldable: number;
  /** Verification of `foldLayerNorms` (normkit Executor, seeded random inputs) passed. */
  verified: boolean;
  /** Original vs folded, onnxruntime-node, every test image. */
  ort: Comparison;
  /** Original vs folded, normkit Executor, the first `executorImages` test images. */
  executor: Comparison;
  accuracyFolded: number;
  /** Folded LNs whose β went into the MatMuls reading them (no Add left after the RMSNorm). */
  biasFolded: number;
  folded: Model;
}

/** One configuration trained with one seed, exported and checked. */
interface Trained {
  config: Config;
  seed: number;
  accuracy: number;
  secondsPer1000: number;
  losses: number[];
  exported: Model;
  /** The module's eval forward vs its export in onnxruntime-node. */
  exportCheck: Comparison;
  fold?: FoldCheck;
  asLn?: Comparison;
}

type OrtModule = typeof import('onnxruntime-node');
/** onnxruntime-node, loaded on demand, and the intra-op threads its sessions use. */
interface Ort {
  ort: OrtModule;
  threads: number;
}
type Runtime = 'normkit' | 'onnxruntime';
type Timing = Record<Runtime, number>;
/** Per runtime: median and fastest ms over the rounds, and each round's time relative to LN's in the same round. */
interface Timed {
  median: Timing;
  fastest: Timing;
  vsLn: Record<Runtime, number[]>;
}
const RUNTIMES: Runtime[] = ['normkit', 'onnxruntime'];

/**
 * Paper 1: LN vs RMSNorm vs CBWC + RMSNorm on Fashion-MNIST (MLP 784-256-256-10 and ViT-tiny), the
 * fold pipeline on every trained LN model, CBWC's RMSNorm against LN with and without centred
 * sources, and inference time in the normkit Executor and onnxruntime-node.
 *
 * @example
 * ```ts
 * const r = await runExperiment(cbwcExperiment, { quick: true });
 * r.rows.find((row) => row.norm === 'ln → folded'); // { arch: 'mlp', folding: { total: 2, foldable: 2, equivalent: true, ... } }
 * ```
 */
export const cbwcExperiment: Experiment = {
  name: 'cbwc',
  title: 'LN vs RMSNorm vs CBWC + RMSNorm: accuracy, exact folding and inference time (MLP and ViT-tiny, Fashion-MNIST)',
  paper: 'paper 1: Enjoy your LayerNorm with the computational efficiency of RMSNorm',
  async run(opts) {
    const t0 = performance.now();
    const scale = opts.quick ? QUICK : FULL;
    const seeds = seedsOf(opts);
    const data = loadFashionMnist(opts.data);
    const test = imagesOf(data.test, scale.testImages);
    const ort = await loadOrt(opts.threads ?? 1);
    const load = [loadavg()[0] as number];
    const runs: Trained[] = [];
    // Seed-major: the configurations take turns, so changes of load on the machine spread over all.
    for (const seed of seeds)
      for (const config of CONFIGS) {
        runs.push(await trainOne(config, seed, { train: data.train, test, scale, opts, ort }));
        opts.signal?.throwIfAborted();
      }
    const timings = new Map<string, Timed>();
    for (const arch of ['mlp', 'vit'] as const) {
      const models = timedModels(runs, arch, seeds[0] as number);
      const x = tensorOf(test, Math.min(scale.timing.batch, test.n));
      for (const [k, v] of await timeInference(models, x, scale.timing.rounds[arch], ort)) timings.set(`${arch}/${k}`, v);
    }
    return {
      experiment: 'cbwc',
      title: cbwcExperiment.title,
      quick: opts.quick,
      seeds,
      rows: [...CONFIGS.map((c) => configRow(c, runs, timings)), ...(['mlp', 'vit'] as const).map((a) => foldRow(a, runs, timings))],
      findings: findingsOf(runs, timings),
      plots: [...(['mlp', 'vit'] as const).map((a) => curvePlot(a, runs, scale.curvePoints)), accuracyPlot(runs)],
      seconds: (performance.now() - t0) / 1000,
      settings: settingsOf(scale, opts, runs, [...load, loadavg()[0] as number]),
    };
  },
};

interface RunContext {
  train: Dataset;
  test: Images;
  scale: Scale;
  opts: ExperimentOptions;
  ort: Ort;
}

/** Trains one configuration with one seed, evaluates its export, and runs the fold / as-LN checks. */
async function trainOne(config: Config, seed: number, ctx: RunContext): Promise<Trained> {
  const arch = ctx.scale[config.arch];
  const model: Module =
    config.arch === 'mlp'
      ? new MLP({ norm: config.norm, seed })
      : new ViT({ norm: config.norm, seed, centerSources: config.centerSources });
  const ds =
    arch.trainImages === undefined
      ? ctx.train
      : subset(ctx.train, permutation(ctx.train.size, new Rng(seed)).subarray(0, arch.trainImages));
  const loader = new DataLoader(ds, { batchSize: arch.batchSize, seed });
  const name = `${config.arch}/${config.label} seed ${seed}`;
  const total = arch.epochs * loader.numBatches;
  const r = await train(model, loader, {
    optimizer: new AdamW(model.parameters(), { lr: LR }),
    epochs: arch.epochs,
    signal: ctx.opts.signal,
    onProgress: (p) => {
      if (p.phase === 'step') ctx.opts.onProgress?.({ run: name, done: p.step, total, loss: p.loss });
    },
  });
  ctx.opts.signal?.throwIfAborted();
  model.eval();
  const exported = exportModel(model);
  const logits = await ortLogits(ctx.ort, exported, ctx.test);
  const k = ctx.scale.exportCheckImages;
  const own = noGrad(() => model.forward(tensorOf(ctx.test, k)).toFlatArray());
  const trained: Trained = {
    config,
    seed,
    accuracy: accuracyOf(logits, ctx.test.y),
    secondsPer1000: 1000 / r.samplesPerSec,
    losses: r.losses,
    exported,
    exportCheck: compareLogits(Float32Array.from(own), logits.subarray(0, k * CLASSES)),
  };
  if (config.norm === 'ln') trained.fold = await foldCheck(exported, logits, ctx);
  if (config.norm === 'cbwc')
    trained.asLn = compareLogits(logits, await ortLogits(ctx.ort, exportModel(model, { normAs: 'ln' }), ctx.test));
  return trained;
}

/** Folds every foldable LN of an exported LN model and compares it with the original on test images. */
async function foldCheck(original: Model, logits: Float32Array, ctx: RunContext): Promise<FoldCheck> {
  const verdicts = analyzeFoldability(original).layerNorms;
  const { model: folded, report, verification } = foldLayerNorms(original.clone(), { force: true });
  if (report.folded.length !== verdicts.filter((v) => v.foldable).length)
    throw new NormkitError(
      'INTERNAL',
      `cbwc: foldLayerNorms folded ${report.folded.length} LNs but analyzeFoldability found a different count`,
      {
        report: report.folded.map((f) => f.name),
      },
    );
  const foldedLogits = await ortLogits(ctx.ort, folded, ctx.test);
  const k = ctx.scale.executorImages;
  const x = tensorOf(ctx.test, k);
  return {
    total: verdicts.length,
    foldable: verdicts.filter((v) => v.foldable).length,
    verified: verification?.equivalent === true,
    ort: compareLogits(logits, foldedLogits),
    executor: compareLogits(executorLogits(original, x), executorLogits(folded, x)),
    accuracyFolded: accuracyOf(foldedLogits, ctx.test.y),
    biasFolded: report.folded.filter((f) => (f.biasFoldedInto?.length ?? 0) > 0).length,
    folded,
  };
}

/** The first `n` images of a split, as flat arrays. */
function imagesOf(ds: Dataset, n: number): Images {
  const count = Math.min(n, ds.size);
  const b = ds.batch(Int32Array.from({ length: count }, (_, i) => i));
  return { x: b.x.data as Float32Array, y: b.y.data as Int32Array, n: count };
}

/** The first `k` images as a [k, 1, 28, 28] tensor. */
function tensorOf(images: Images, k: number): Tensor {
  const per = images.x.length / images.n;
  return new Tensor([k, 1, 28, 28], 'float32', images.x.slice(0, k * per));
}

async function loadOrt(threads: number): Promise<Ort> {
  const ort = await import('onnxruntime-node');
  ort.env.logLevel = 'error';
  return { ort, threads };
}

function ortSession({ ort, threads }: Ort, model: Model) {
  return ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
}

/** The model's logits on every image, in onnxruntime-node, 500 images per run. */
async function ortLogits(ort: Ort, model: Model, images: Images): Promise<Float32Array> {
  const session = await ortSession(ort, model);
  const per = images.x.length / images.n;
  const out = new Float32Array(images.n * CLASSES);
  try {
    for (let s = 0; s < images.n; s += 500) {
      const n = Math.min(500, images.n - s);
      const x = new ort.ort.Tensor('float32', images.x.subarray(s * per, (s + n) * per), [n, 1, 28, 28]);
      const res = await session.run({ pixels: x });
      out.set(res.logits?.data as Float32Array, s * CLASSES);
    }
  } finally {
    await session.release();
  }
  return out;
}

function executorLogits(model: Model, x: Tensor): Float32Array {
  return Float32Array.from(new Executor(model).run({ pixels: x }).outputs.logits?.toFlatArray() ?? []);
}

function argmaxRow(logits: ArrayLike<number>, row: number): number {
  let best = 0;
  for (let c = 1; c < CLASSES; c++) if ((logits[row * CLASSES + c] as number) > (logits[row * CLASSES + best] as number)) best = c;
  return best;
}

function accuracyOf(logits: Float32Array, labels: Int32Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (argmaxRow(logits, i) === labels[i]) correct++;
  return correct / labels.length;
}

/** `b` against the reference `a`: max |Δ|, relative to max |a|, and rows with the same argmax. */
function compareLogits(a: Float32Array, b: Float32Array): Comparison {
  let maxAbsDiff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(a[i] as number));
  }
  const images = a.length / CLASSES;
  let sameArgmax = 0;
  for (let r = 0; r < images; r++) if (argmaxRow(a, r) === argmaxRow(b, r)) sameArgmax++;
  return { images, maxAbsDiff, maxRelDiff: scale > 0 ? maxAbsDiff / scale : maxAbsDiff, sameArgmax };
}

/** Several comparisons (one per seed) as one: worst differences, summed images and agreements. */
function mergeComparisons(cs: Comparison[]): Comparison {
  return {
    images: cs.reduce((s, c) => s + c.images, 0),
    maxAbsDiff: Math.max(...cs.map((c) => c.maxAbsDiff)),
    maxRelDiff: Math.max(...cs.map((c) => c.maxRelDiff)),
    sameArgmax: cs.reduce((s, c) => s + c.sameArgmax, 0),
  };
}

/** The seed's exported models of an architecture that are timed: ln, the folded LN, cbwc, rms, none. */
function timedModels(runs: Trained[], arch: Arch, seed: number): { key: string; model: Model }[] {
  const mine = runs.filter((r) => r.config.arch === arch && r.seed === seed && r.config.centerSources !== false);
  const byLabel = (l: string) => mine.filter((r) => r.config.label === l).map((r) => ({ key: l, model: r.exported }));
  const folded = mine.find((r) => r.fold)?.fold?.folded;
  return [...byLabel('ln'), ...(folded ? [{ key: 'folded', model: folded }] : []), ...['cbwc', 'rms', 'none'].flatMap(byLabel)];
}

/**
 * One forward pass of the batch `x` per model, in the normkit Executor and in onnxruntime-node: per
 * runtime, a warm-up round, then `rounds` rounds that run every model once, in an order reversed
 * every other round (so a change of load on the machine touches every model alike).
 */
async function timeInference(
  models: { key: string; model: Model }[],
  x: Tensor,
  rounds: Record<Runtime, number>,
  { ort, threads }: Ort,
): Promise<Map<string, Timed>> {
  const feed = { pixels: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) };
  const sessions = await Promise.all(models.map((m) => ortSession({ ort, threads }, m.model)));
  try {
    const executors = models.map((m) => new Executor(m.model));
    const per: Record<Runtime, number[][]> = {
      normkit: await timeRounds(
        executors.map((ex) => () => ex.run({ pixels: x })),
        rounds.normkit,
      ),
      onnxruntime: await timeRounds(
        sessions.map((s) => () => s.run(feed)),
        rounds.onnxruntime,
      ),
    };
    const ln = models.findIndex((m) => m.key === 'ln');
    const of = (f: (ms: number[], rt: Runtime) => number | number[], i: number) =>
      Object.fromEntries(RUNTIMES.map((rt) => [rt, f(per[rt][i] ?? [], rt)]));
    const timed = (i: number): Timed => ({
      median: of((ms) => quantile(ms, 0.5), i) as Timing,
      fastest: of((ms) => Math.min(...ms), i) as Timing,
      vsLn: of((ms, rt) => ms.map((t, r) => t / (per[rt][ln]?.[r] ?? Number.NaN)), i) as Timed['vsLn'],
    });
    return new Map(models.map((m, i) => [m.key, timed(i)]));
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** Ms of each of `fns` in each of `rounds` rounds (after a warm-up round), order reversed every other round. */
async function timeRounds(fns: (() => unknown)[], rounds: number): Promise<number[][]> {
  const ms = fns.map(() => [] as number[]);
  const order = fns.map((_, i) => i);
  for (let round = -1; round < rounds; round++)
    for (const i of round % 2 === 0 ? order : [...order].reverse()) {
      const t = performance.now();
      await (fns[i] as () => unknown)();
      if (round >= 0) ms[i]?.push(performance.now() - t);
    }
  return ms;
}

/** The q-quantile of `v` (linear interpolation between order statistics). */
function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return (s[lo] as number) + ((s[Math.min(lo + 1, s.length - 1)] as number) - (s[lo] as number)) * (pos - lo);
}

/** Fastest time relative to LN's fastest, per runtime (< 1: faster than LN). */
function speedVsLn(t: Timed | undefined, ln: Timed | undefined): Timing | undefined {
  return t && ln && { normkit: t.fastest.normkit / ln.fastest.normkit, onnxruntime: t.fastest.onnxruntime / ln.fastest.onnxruntime };
}

/** Training losses of a run against LN's with the same seed: largest |Δ| over the first 10 steps, first step with |Δ| > 1e-3. */
function lossVsLn(r: Trained, ln: Trained | undefined): { first10: number; divergesAt: number | undefined } {
  const d = (r.losses ?? []).map((l, i) => Math.abs(l - (ln?.losses[i] ?? Number.NaN)));
  const at = d.findIndex((x) => !(x <= 1e-3));
  return { first10: Math.max(...d.slice(0, 10)), divergesAt: at < 0 ? undefined : at + 1 };
}

const runsOf = (runs: Trained[], c: Config) => runs.filter((r) => r.config === c);
const statOf = (runs: Trained[], f: (r: Trained) => number): Stat => meanStd(runs.map(f));
const configOf = (arch: Arch, label: string) => CONFIGS.find((c) => c.arch === arch && c.label === label) as Config;

function comparisonCell(c: Comparison): Record<string, unknown> {
  return { maxLogitDiff: c.maxAbsDiff, relative: c.maxRelDiff, sameArgmax: `${c.sameArgmax}/${c.images}` };
}

function configRow(c: Config, runs: Trained[], timings: Map<string, Timed>): Record<string, unknown> {
  const mine = runsOf(runs, c);
  const asLn = mine.flatMap((r) => (r.asLn ? [r.asLn] : []));
  const t = timings.get(`${c.arch}/${c.label}`);
  return {
    arch: c.arch,
    norm: c.label,
    accuracy: statOf(mine, (r) => r.accuracy),
    trainSecondsPer1000Samples: statOf(mine, (r) => r.secondsPer1000),
    inferenceMs: t?.median,
    fastestMs: t?.fastest,
    speedVsLn: c.label === 'ln' ? undefined : speedVsLn(t, timings.get(`${c.arch}/ln`)),
    ...(asLn.length > 0 && { cbwcAsLn: comparisonCell(mergeComparisons(asLn)), lossVsLn: lossCell(runs, mine) }),
  };
}

/** Per seed: largest |Δloss| vs LN over the first 10 steps, and the first step where |Δ| > 1e-3 ('none'). */
function lossCell(runs: Trained[], mine: Trained[]): { first10Steps: number; divergesAtStep: (number | 'never')[] } {
  const ln = runsOf(runs, configOf(mine[0]?.config.arch ?? 'mlp', 'ln'));
  const per = mine.map((r) =>
    lossVsLn(
      r,
      ln.find((l) => l.seed === r.seed),
    ),
  );
  return { first10Steps: Math.max(...per.map((p) => p.first10)), divergesAtStep: per.map((p) => p.divergesAt ?? 'never') };
}

function foldRow(arch: Arch, runs: Trained[], timings: Map<string, Timed>): Record<string, unknown> {
  const folds = runsOf(runs, configOf(arch, 'ln')).flatMap((r) => (r.fold ? [{ ...r.fold, accuracy: r.accuracy }] : []));
  const ort = mergeComparisons(folds.map((f) => f.ort));
  const folded = timings.get(`${arch}/folded`);
  return {
    arch,
    norm: 'ln → folded',
    accuracy: meanStd(folds.map((f) => f.accuracyFolded)),
    inferenceMs: folded?.median,
    fastestMs: folded?.fastest,
    speedVsLn: speedVsLn(folded, timings.get(`${arch}/ln`)),
    folding: {
      total: folds[0]?.total ?? 0,
      foldable: Math.min(...folds.map((f) => f.foldable)),
      equivalent: folds.every((f) => f.verified && f.ort.sameArgmax === f.ort.images && f.accuracyFolded === f.accuracy),
      models: folds.length,
      biasFolded: folds[0]?.biasFolded ?? 0,
      ...comparisonCell(ort),
      executor: `max ${mergeComparisons(folds.map((f) => f.executor)).maxAbsDiff.toExponential(1)} on ${folds[0]?.executor.images ?? 0} images`,
    },
  };
}

/** `label` against LN on `arch`: accuracy difference and pooled seed std, both in percentage points. */
function versusLn(runs: Trained[], arch: Arch, label: string): { competitive: boolean; text: string } {
  const ln = statOf(runsOf(runs, configOf(arch, 'ln')), (r) => r.accuracy);
  const other = statOf(runsOf(runs, configOf(arch, label)), (r) => r.accuracy);
  const diff = (other.mean - ln.mean) * 100;
  const pooled = Math.sqrt((ln.std ** 2 + other.std ** 2) / 2) * 100;
  const pct = (s: Stat) => `${(s.mean * 100).toFixed(2)} ± ${(s.std * 100).toFixed(2)} %`;
  return {
    competitive: diff >= -Math.max(2 * pooled, 0.5),
    text: `${arch}: ln ${pct(ln)}, ${label} ${pct(other)} (Δ ${diff >= 0 ? '+' : ''}${diff.toFixed(2)} pp, pooled seed std ${pooled.toFixed(2)} pp)`,
  };
}

const COMPETITIVE_RULE = 'competitive = mean accuracy no more than max(2 pooled seed stds, 0.5 pp) below LN';

function verdict(oks: boolean[]): Finding['reproduced'] {
  return oks.every(Boolean) ? 'yes' : oks.some(Boolean) ? 'partly' : 'no';
}

function competitiveFinding(runs: Trained[], label: string, archs: Arch[], claim: string, paper: string, extra = ''): Finding {
  const vs = archs.map((a) => versusLn(runs, a, label));
  return {
    claim,
    paper,
    reproduced: verdict(vs.map((v) => v.competitive)),
    evidence: `${vs.map((v) => v.text).join('; ')}; ${COMPETITIVE_RULE}.${extra}`,
  };
}

/** How closely CBWC's training losses follow LN's from the same initial weights and batches. */
function trajectoryText(runs: Trained[], archs: Arch[]): string {
  const parts = archs.map((a) => {
    const { first10Steps, divergesAtStep } = lossCell(runs, runsOf(runs, configOf(a, 'cbwc')));
    return `${a}: within ${first10Steps.toExponential(1)} over the first 10 steps, first step more than 1e-3 apart ${divergesAtStep.join(' / ')} (per seed)`;
  });
  return ` With every source centred, the network is the same function of its parameters as the LN network (LN discards the mean the centring removes), so from the same initial weights and batches it trains along LN's path up to rounding; its training losses vs LN's: ${parts.join('; ')}.`;
}

function foldFinding(runs: Trained[]): Finding {
  const parts = (['mlp', 'vit'] as const).map((arch) => {
    const folds = runsOf(runs, configOf(arch, 'ln')).flatMap((r) => (r.fold ? [{ ...r.fold, accuracy: r.accuracy }] : []));
    const c = mergeComparisons(folds.map((f) => f.ort));
    const ok = folds.every(
      (f) => f.foldable === f.total && f.verified && f.ort.sameArgmax === f.ort.images && f.accuracyFolded === f.accuracy,
    );
    const text = `${arch}: ${folds[0]?.foldable}/${folds[0]?.total} LNs foldable in each of ${folds.length} trained models, same argmax on ${c.sameArgmax}/${c.images} test images, accuracy ${folds.every((f) => f.accuracyFolded === f.accuracy) ? 'identical' : 'changed'}, max |Δlogit| ${c.maxAbsDiff.toExponential(1)} (relative ${c.maxRelDiff.toExponential(1)})`;
    return { ok, text };
  });
  return {
    claim:
      "LN's centring folds exactly into the linear layers upstream: the trained LN model, converted to RMSNorm by centring its sources' weights, computes the same predictions",
    paper: 'paper 1: foldable LayerNorm',
    reproduced: verdict(parts.map((p) => p.ok)),
    evidence: `${parts.map((p) => p.text).join('; ')} (onnxruntime-node; the fold pipeline also verified each model in the normkit Executor).`,
  };
}

function exactnessFinding(runs: Trained[]): Finding {
  const asLn = (arch: Arch, label: string) =>
    mergeComparisons(runsOf(runs, configOf(arch, label)).flatMap((r) => (r.asLn ? [r.asLn] : [])));
  const centred = (['mlp', 'vit'] as const).map((a) => ({ a, c: asLn(a, 'cbwc') }));
  const broken = asLn('vit', UNCENTRED);
  const fmt = (c: Comparison) => `max |Δlogit| ${c.maxAbsDiff.toExponential(1)}, same argmax ${c.sameArgmax}/${c.images}`;
  return {
    claim:
      "A CBWC network's RMSNorm equals LayerNorm of the same activations when every source feeding the norm is column-centred, and only then",
    paper: 'paper 1: foldable LayerNorm',
    reproduced: verdict([...centred.map(({ c }) => c.maxAbsDiff <= 1e-4), broken.maxRelDiff > 1e-3]),
    evidence: `RMSNorm vs the same model exported with LN (normAs 'ln'): ${centred.map(({ a, c }) => `${a} cbwc ${fmt(c)}`).join('; ')}; vit with uncentred class token, positions and patch embedding: ${fmt(broken)} (relative ${broken.maxRelDiff.toExponential(1)}).`,
  };
}

function speedFinding(runs: Trained[], timings: Map<string, Timed>): Finding {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  /** Speed-up over LN of `label` on `arch` in `rt`: fastest vs fastest, and the median of the per-round ratios. */
  const speedup = (arch: Arch, rt: Runtime, label: string) => {
    const t = timings.get(`${arch}/${label}`);
    const ln = timings.get(`${arch}/ln`);
    const fastest = (ln?.fastest[rt] ?? Number.NaN) / (t?.fastest[rt] ?? Number.NaN) - 1;
    const paired = 1 / quantile(t?.vsLn[rt] ?? [Number.NaN], 0.5) - 1;
    const ms = `${ln?.fastest[rt].toFixed(2)} → ${t?.fastest[rt].toFixed(2)} ms`;
    return { fastest, text: `${arch}/${rt} ${ms} (${pct(fastest)}; paired median ${pct(paired)})` };
  };
  const cells = (['mlp', 'vit'] as const).flatMap((arch) => RUNTIMES.map((rt) => speedup(arch, rt, 'folded')));
  const cbwc = (['mlp', 'vit'] as const).flatMap((arch) => RUNTIMES.map((rt) => speedup(arch, rt, 'cbwc').text));
  const bias = (['mlp', 'vit'] as const).map((a) => {
    const f = runsOf(runs, configOf(a, 'ln')).find((r) => r.fold)?.fold;
    return `${a} ${f?.biasFolded}/${f?.foldable}`;
  });
  const train = (['mlp', 'vit'] as const).map((a) => {
    const t = (l: string) => statOf(runsOf(runs, configOf(a, l)), (r) => r.secondsPer1000).mean;
    return `${a} ${(t('cbwc') / t('ln')).toFixed(2)}×`;
  });
  return {
    claim: 'Replacing LN by the folded RMSNorm speeds up inference (paper: 2–12 % end to end)',
    paper: 'paper 1: foldable LayerNorm',
    reproduced: cells.every((c) => c.fastest >= 0.02) ? 'yes' : cells.every((c) => c.fastest <= 0) ? 'no' : 'partly',
    evidence: `speed-up of the folded model over LN (fastest of the interleaved rounds; in brackets also the median of the per-round paired speed-ups): ${cells.map((c) => c.text).join('; ')}. LNs whose β folded into the next MatMul (the others keep an Add after the RMSNorm): ${bias.join(', ')}. Trained cbwc (RMSNorm + Add β) over ln: ${cbwc.join('; ')}. Verdict rule: yes = at least 2 % faster in both runtimes for both models, no = nowhere faster. Training time per sample, cbwc / ln (not paired; the machine was shared): ${train.join(', ')}.`,
  };
}

function findingsOf(runs: Trained[], timings: Map<string, Timed>): Finding[] {
  const archs: Arch[] = ['mlp', 'vit'];
  return [
    competitiveFinding(
      runs,
      'cbwc',
      archs,
      'CBWC + RMSNorm is competitive with vanilla LN in accuracy',
      'paper 1: foldable LayerNorm',
      trajectoryText(runs, archs),
    ),
    foldFinding(runs),
    exactnessFinding(runs),
    competitiveFinding(
      runs,
      UNCENTRED,
      ['vit'],
      'When exact equivalence is partially broken (ViT whose class token, positions and patch embedding are not centred), CBWC + RMSNorm remains competitive with vanilla LN',
      'paper 1: foldable LayerNorm',
    ),
    speedFinding(runs, timings),
    competitiveFinding(
      runs,
      'rms',
      archs,
      'RMSNorm without centring (γ only, no β) is competitive with LN',
      'paper 1 (context: RMSNorm vs LN)',
    ),
  ];
}

/** Mean loss over consecutive bins of steps: about `points` (end step, loss) points. */
function binned(losses: number[], points: number): [number, number][] {
  const size = Math.max(1, Math.ceil(losses.length / points));
  const out: [number, number][] = [];
  for (let s = 0; s < losses.length; s += size) {
    const chunk = losses.slice(s, s + size);
    out.push([s + chunk.length, chunk.reduce((a, b) => a + b, 0) / chunk.length]);
  }
  return out;
}

function curvePlot(arch: Arch, runs: Trained[], points: number): Plot {
  const series = CONFIGS.filter((c) => c.arch === arch).map((c) => {
    const curves = runsOf(runs, c).map((r) => binned(r.losses, points));
    const stats = (curves[0] ?? []).map(([x], i) => ({ x, s: meanStd(curves.map((cv) => cv[i]?.[1] ?? Number.NaN)) }));
    return {
      name: c.label,
      points: stats.map(({ x, s }): [number, number] => [x, s.mean]),
      band: stats.map(({ s }): [number, number] => [s.mean - s.std, s.mean + s.std]),
    };
  });
  return {
    id: `cbwc-${arch}-loss`,
    title: `${arch === 'mlp' ? 'MLP' : 'ViT-tiny'}: training loss per norm (mean ± std over seeds)`,
    kind: 'line',
    x: { label: 'training step' },
    y: { label: 'cross-entropy (mean over the bin)' },
    series,
  };
}

function accuracyPlot(runs: Trained[]): Plot {
  const labels = [...NORMS, UNCENTRED];
  const series = (['mlp', 'vit'] as const).map((arch) => {
    const stats = labels.flatMap((l, i) => {
      const c = CONFIGS.find((k) => k.arch === arch && k.label === l);
      return c ? [{ i, s: statOf(runsOf(runs, c), (r) => r.accuracy) }] : [];
    });
    return {
      name: arch,
      points: stats.map(({ i, s }): [number, number] => [i, s.mean]),
      band: stats.map(({ s }): [number, number] => [s.mean - s.std, s.mean + s.std]),
    };
  });
  return {
    id: 'cbwc-accuracy',
    title: 'Test accuracy per norm (mean ± std over seeds)',
    kind: 'bar',
    x: { label: 'norm', categories: labels },
    y: { label: 'test accuracy' },
    series,
  };
}

const fmtRounds = (r: Record<Runtime, number>) => `${r.normkit} normkit / ${r.onnxruntime} onnxruntime rounds`;

function settingsOf(scale: Scale, opts: ExperimentOptions, runs: Trained[], load: number[]): Record<string, unknown> {
  const images = (a: ArchScale) =>
    a.trainImages === undefined ? 'all 60,000 training images' : `a seeded random subset of ${a.trainImages} training images`;
  const vitRate =
    1000 /
    statOf(
      runs.filter((r) => r.config.arch === 'vit'),
      (r) => r.secondsPer1000,
    ).mean;
  const check = mergeComparisons(runs.map((r) => r.exportCheck));
  return {
    data: 'Fashion-MNIST, pixels / 255',
    optimizer: `AdamW lr ${LR}, weight decay 1e-2, constant lr`,
    mlp: `784-256-256-10, ReLU after each norm; batch ${scale.mlp.batchSize}, ${scale.mlp.epochs} epoch over ${images(scale.mlp)}`,
    vit: `ViT-tiny (28×28, patch 4, d 64, 4 blocks, 4 heads, MLP 128, pre-norm); batch ${scale.vit.batchSize}, ${scale.vit.epochs} epoch over ${images(scale.vit)} (ViT training runs at about ${vitRate.toFixed(0)} samples/s here)`,
    cbwc: "RMSNorm with γ and β fed by column-centred layers (MLP: both hidden Linear; ViT: patch conv, class token, positions, attn.proj, mlp.fc2); 'cbwc (uncentred sources)': the same RMSNorms with plain sources (centerSources: false)",
    test: `accuracy on the first ${scale.testImages} test images, from the exported model in onnxruntime-node (the module's own forward agrees: max relative logit difference ${check.maxRelDiff.toExponential(1)}, same argmax on ${check.sameArgmax}/${check.images} images checked)`,
    folding: `every trained LN model: analyzeFoldability + foldLayerNorms (rmsFormat 'simplified', β folded into MatMul readers), compared with the original on all test images in onnxruntime-node and on ${scale.executorImages} in the normkit Executor`,
    timing: `batch ${scale.timing.batch}; per runtime a warm-up round, then interleaved rounds (order reversed every other round; mlp ${fmtRounds(scale.timing.rounds.mlp)}, vit ${fmtRounds(scale.timing.rounds.vit)}); inferenceMs = median, fastestMs = fastest round, speedVsLn = fastest / LN's fastest (the least disturbed estimate on a shared machine); seed-${seedsOf(opts)[0]} models; normkit Executor (CPU backend, ${opts.threads ?? 1} GEMM thread(s)) and onnxruntime-node (${opts.threads ?? 1} intra-op thread(s), sequential)`,
    load: `1-minute load average ${load.map((l) => l.toFixed(1)).join(' at the start, ')} at the end (the machine was shared with other jobs)`,
  };
}
