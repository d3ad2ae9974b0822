import type { Module, Optimizer, TrainProgress } from '@normkit/train';
import { type Context, fmtSeconds, parseNumber, parsePositiveInt } from '../context.js';
import { loadOnnx, loadTrain, need } from '../deps.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, isNormkitError } from '../errors.js';

/** The options of `normkit train`, as commander gives them. */
export interface TrainCommandOptions {
  arch: string;
  norm: string;
  groups?: string;
  data: string;
  epochs: string;
  batch?: string;
  optimizer: string;
  lr?: string;
  weightDecay?: string;
  warmup: string;
  schedule: string;
  clip?: string;
  seed: string;
  threads: string;
  limit?: string;
  steps?: string;
  shuffle: string;
  validation: string;
  export?: string;
  exportInit?: string;
  save?: string;
  resume?: string;
}

type Train = Awaited<ReturnType<typeof loadTrain>>;

/** What the run was asked to do, after validation: the architecture part is stored in checkpoints. */
interface Plan {
  config: { arch: 'mlp' | 'cnn' | 'vit'; norm: string; groups?: number; seed: number };
  epochs: number;
  batch: number;
  optimizer: 'adamw' | 'sgd' | 'lars';
  lr: number;
  weightDecay?: number;
  warmup: number;
  schedule: 'constant' | 'cosine';
  clip?: number;
  threads: number;
  limit?: number;
  steps?: number;
  shuffle: boolean;
  validation: number;
}

const ARCHS = ['mlp', 'cnn', 'vit'] as const;
const DEFAULT_LR = { adamw: 1e-3, sgd: 0.05, lars: 0.1 } as const;

function plan(o: TrainCommandOptions): Plan {
  const arch = o.arch as Plan['config']['arch'];
  if (!ARCHS.includes(arch)) throw new CliError(`--arch must be one of ${ARCHS.join(', ')}, got "${o.arch}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  const optimizer = o.optimizer as Plan['optimizer'];
  if (!(optimizer in DEFAULT_LR))
    throw new CliError(`--optimizer must be adamw, sgd or lars, got "${o.optimizer}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  if (o.shuffle !== 'true' && o.shuffle !== 'false')
    throw new CliError(`--shuffle takes true or false, got "${o.shuffle}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  if (o.schedule !== 'constant' && o.schedule !== 'cosine')
    throw new CliError(`--schedule takes constant or cosine, got "${o.schedule}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  const opt = <T>(v: string | undefined, f: (s: string) => T): T | undefined => (v === undefined ? undefined : f(v));
  return {
    config: {
      arch,
      norm: o.norm,
      ...(o.groups !== undefined ? { groups: parsePositiveInt('--groups', o.groups, 1) } : {}),
      seed: parsePositiveInt('--seed', o.seed, 0, { allowZero: true }),
    },
    epochs: parsePositiveInt('--epochs', o.epochs, 1),
    batch: parsePositiveInt('--batch', o.batch, arch === 'vit' ? 64 : 128),
    optimizer,
    lr: parseNumber('--lr', o.lr, DEFAULT_LR[optimizer]),
    weightDecay: opt(o.weightDecay, (s) => parseNumber('--weight-decay', s)),
    warmup: parsePositiveInt('--warmup', o.warmup, 0, { allowZero: true }),
    schedule: o.schedule,
    clip: opt(o.clip, (s) => parseNumber('--clip', s)),
    threads: parsePositiveInt('--threads', o.threads, 1),
    limit: opt(o.limit, (s) => parsePositiveInt('--limit', s, 1)),
    steps: opt(o.steps, (s) => parsePositiveInt('--steps', s, 1)),
    shuffle: o.shuffle === 'true',
    validation: parsePositiveInt('--validation', o.validation, 0, { allowZero: true }),
  };
}

/** Builds the network of the plan (bad norm/groups combinations become usage errors). */
function buildModel(t: Train, p: Plan): Module {
  const { arch, norm, groups, seed } = p.config;
  const opts = { norm: norm as never, seed, ...(groups !== undefined ? { groups } : {}) };
  try {
    if (arch === 'mlp') return new t.MLP(opts);
    if (arch === 'cnn') return new t.CNN(opts);
    return new t.ViT(opts);
  } catch (e) {
    if (isNormkitError(e)) throw new CliError(e.message, EXIT_BAD_INPUT, e.code, { cause: e });
    throw e;
  }
}

function buildOptimizer(t: Train, p: Plan, model: Module): Optimizer {
  const wd = p.weightDecay === undefined ? {} : { weightDecay: p.weightDecay };
  if (p.optimizer === 'sgd') return new t.SGD(model.parameters(), { lr: p.lr, momentum: 0.9, ...wd });
  if (p.optimizer === 'lars') return new t.LARS(model.parameters(), { lr: p.lr, ...wd });
  return new t.AdamW(model.parameters(), { lr: p.lr, ...wd });
}

/** Progress on stderr: redrawn in place on a terminal, a line per epoch (and every ~10%) elsewhere. */
function progressPrinter(ctx: Context, totalSteps: number): (p: TrainProgress) => void {
  let lastDraw = 0;
  let lastTenth = -1;
  return (p) => {
    if (ctx.quiet) return;
    if (p.phase === 'epoch') {
      if (ctx.io.stderrIsTTY) ctx.io.stderr('\r\x1b[2K');
      ctx.io.stderr(`epoch ${p.epoch + 1}: mean loss ${p.loss.toFixed(4)}, ${Math.round(p.samplesPerSec)} samples/s\n`);
      return;
    }
    if (p.phase === 'eval' && p.eval) {
      if (ctx.io.stderrIsTTY) ctx.io.stderr('\r\x1b[2K');
      ctx.io.stderr(`  validation accuracy ${(p.eval.accuracy * 100).toFixed(2)}%, loss ${p.eval.loss.toFixed(4)}\n`);
      return;
    }
    const tenth = Math.floor((10 * p.step) / totalSteps);
    const now = performance.now();
    const line = `epoch ${p.epoch + 1} step ${p.step}/${totalSteps} loss ${p.loss.toFixed(4)} ${Math.round(p.samplesPerSec)} samples/s ETA ${p.etaSeconds === undefined ? '?' : fmtSeconds(p.etaSeconds)}`;
    if (ctx.io.stderrIsTTY) {
      if (now - lastDraw < 100 && p.step < totalSteps) return;
      lastDraw = now;
      ctx.io.stderr(`\r\x1b[2K${line}`);
    } else if (tenth !== lastTenth) {
      lastTenth = tenth;
      ctx.io.stderr(`${line}\n`);
    }
  };
}

/** Writes the model as ONNX (eval mode) and returns the path. */
async function exportOnnx(t: Train, model: Module, file: string): Promise<string> {
  const graphModel = need(t, '@normkit/train', 'exportModel')(model, { name: 'normkit-train' });
  await need(await loadOnnx(), '@normkit/onnx', 'saveModel')(graphModel, file);
  return file;
}

/**
 * `normkit train`: trains an MLP, CNN or ViT with the chosen normalization on Fashion-MNIST (or any
 * MNIST-format directory), with a progress bar, then reports test accuracy and can export the
 * trained network as ONNX, ready for `normkit analyze/convert`.
 */
export async function trainCommand(ctx: Context, o: TrainCommandOptions): Promise<number> {
  const p = plan(o);
  const t = await loadTrain();
  const tensor = await import('@normkit/tensor');
  tensor.setGemmThreads(p.threads);
  const data = await ctx.task('load data', () => t.loadFashionMnist(o.data));
  const { train: trainSet, validation } = t.splitValidation(data.train, {
    validation: p.validation,
    seed: p.config.seed,
    ...(p.limit !== undefined ? { limit: p.limit } : {}),
  });
  const loader = new t.DataLoader(trainSet, { batchSize: p.batch, shuffle: p.shuffle, seed: p.config.seed });
  const model = buildModel(t, p);
  const optimizer = buildOptimizer(t, p, model);
  let start = { step: 0, epoch: 0 };
  if (o.resume) {
    const r = await t.loadCheckpoint(o.resume, { model, optimizer, loader, config: p.config });
    start = { step: r.step, epoch: r.epoch };
    ctx.info(`resumed from ${o.resume} at step ${r.step} (epoch ${r.epoch + 1})`);
  }
  const exportedInit = o.exportInit ? await exportOnnx(t, model, o.exportInit) : undefined;
  const totalSteps = Math.min(p.steps ?? Number.POSITIVE_INFINITY, p.epochs * loader.numBatches);
  const schedule =
    p.schedule === 'cosine'
      ? t.warmupCosine({ baseLr: p.lr, totalSteps, warmupSteps: p.warmup })
      : p.warmup > 0
        ? (step: number) => p.lr * Math.min(1, (step + 1) / p.warmup)
        : undefined;
  const evalLoader = validation.size > 0 ? new t.DataLoader(validation, { batchSize: 1000, shuffle: false }) : undefined;
  const result = await t.train(model, loader, {
    optimizer,
    epochs: p.epochs,
    ...(p.steps !== undefined ? { steps: p.steps } : {}),
    ...(schedule ? { schedule } : {}),
    ...(p.clip !== undefined ? { clip: p.clip } : {}),
    ...(evalLoader ? { evalLoader, evalEvery: loader.numBatches } : {}),
    start,
    onProgress: progressPrinter(ctx, totalSteps),
    ...(o.save ? { checkpoint: { path: o.save, config: p.config } } : {}),
  });
  const test = await ctx.task('evaluate on the test set', () =>
    t.evaluate(model, new t.DataLoader(data.test, { batchSize: 1000, shuffle: false })),
  );
  const exported = o.export ? await exportOnnx(t, model, o.export) : undefined;
  const doc = {
    command: 'train',
    ...p.config,
    data: data.dir,
    epochs: p.epochs,
    batch: p.batch,
    optimizer: p.optimizer,
    lr: p.lr,
    threads: p.threads,
    trainSamples: trainSet.size,
    steps: result.step,
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    validationAccuracy: result.evals.at(-1)?.accuracy,
    trainLoss: result.epochLosses.map((e) => e.loss),
    samplesPerSecond: result.samplesPerSec,
    seconds: result.seconds,
    stopped: result.stopped,
    exported,
    exportedInit,
    checkpoint: o.save,
  };
  ctx.emit(doc, () =>
    [
      `normkit train ${p.config.arch} (${p.config.norm}${p.config.groups ? `, ${p.config.groups} groups` : ''}) on ${data.dir}: ${result.step} steps, ${Math.round(result.samplesPerSec)} samples/s, ${fmtSeconds(result.seconds)}`,
      `  train loss per epoch: ${doc.trainLoss.map((l) => l.toFixed(4)).join(', ') || '—'}`,
      ...(doc.validationAccuracy !== undefined ? [`  validation accuracy: ${(doc.validationAccuracy * 100).toFixed(2)}%`] : []),
      `  test accuracy: ${(test.accuracy * 100).toFixed(2)}% (${test.samples} images)`,
      ...(exported ? [`  exported: ${exported} (try: normkit analyze ${exported})`] : []),
      ...(o.save ? [`  checkpoint: ${o.save}`] : []),
    ].join('\n'),
  );
  return Number.isFinite(test.loss) ? 0 : EXIT_CHECK_FAILED;
}
