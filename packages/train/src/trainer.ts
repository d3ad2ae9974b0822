import { NormkitError, type Tensor } from '@normkit/tensor';
import { noGrad } from './autograd.js';
import { saveCheckpoint } from './checkpoint.js';
import { crossEntropy } from './losses.js';
import { computeGrads, type Module } from './nn/module.js';
import { clipGradNorm } from './optim/clip.js';
import type { Optimizer } from './optim/optimizer.js';
import type { LrSchedule } from './optim/schedule.js';

/** A batch the trainer consumes: inputs and targets. */
export interface TrainBatch {
  /** The model's input. */
  readonly x: Tensor;
  /** The targets `lossFn` compares the output with (class labels for the default cross-entropy). */
  readonly y: Tensor;
}

/**
 * What `train` and `evaluate` iterate: each `for...of` yields the (remaining) batches of one epoch,
 * synchronously or asynchronously — the `DataLoader` is one. `numBatches` (batches per epoch) gives
 * an ETA for epoch-bounded runs; with `position` (batches of the epoch already handed out) the
 * trainer also sees that an epoch ended exactly at the step limit. `state()` is saved in checkpoints.
 */
export type TrainLoader = (Iterable<TrainBatch> | AsyncIterable<TrainBatch>) & {
  /** Batches per epoch, when known. */
  readonly numBatches?: number;
  /** Batches of the current epoch already handed out. */
  readonly position?: number;
  /** The loader's position as JSON-ready data, saved in checkpoints. */
  state?(): unknown;
};

/** Where a run stands, as `onProgress` receives it. */
export interface TrainProgress {
  /** 'step' after each update, 'epoch' when an epoch ends, 'eval' after an evaluation. */
  phase: 'step' | 'epoch' | 'eval';
  /** Optimizer steps done in total (resumed steps included). */
  step: number;
  /** The epoch in progress (for 'epoch': the epoch that just ended). */
  epoch: number;
  /** Loss of the last step; for 'epoch', the epoch's mean loss; for 'eval', the evaluation's. */
  loss: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Global gradient norm before clipping (when `clip` is set). */
  gradNorm?: number;
  /** Steps the run will reach, when known. */
  totalSteps?: number;
  /** Training samples per second over this call. */
  samplesPerSec: number;
  /** Estimated seconds left, when `totalSteps` is known. */
  etaSeconds?: number;
  /** Seconds since this call started. */
  elapsedSeconds: number;
  /** The evaluation (phase 'eval'). */
  eval?: EvalResult;
}

/** Options of `train`. */
export interface TrainOptions {
  /** Updates the parameters it was built over (those are the ones that get gradients). */
  optimizer: Optimizer;
  /** Loss of a batch from the model's output and the targets (default: `crossEntropy`, mean). */
  lossFn?: (output: Tensor, target: Tensor) => Tensor;
  /** Learning rate per step: `optimizer.lr = schedule(step)` before each update. */
  schedule?: LrSchedule;
  /** Stop when the epoch count reaches this (default: 1 when `steps` is not given, else unbounded). */
  epochs?: number;
  /** Stop when the step count reaches this. */
  steps?: number;
  /** Resume at this step and epoch (from `loadCheckpoint`). Default { step: 0, epoch: 0 }. */
  start?: {
    /** Steps already taken. */
    step: number;
    /** Epochs already completed. */
    epoch: number;
  };
  /** Clip the global gradient norm to this before each update. */
  clip?: number;
  /** Called after each step, epoch and evaluation; awaited when it returns a promise. */
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  /** Evaluate on `evalLoader` every this many steps (and at the end of the run). */
  evalEvery?: number;
  /** The batches `evaluate` runs on (every `evalEvery` steps and at the end). */
  evalLoader?: TrainLoader;
  /** Save a checkpoint (Node) every `every` steps and when the run ends or is aborted. */
  checkpoint?: {
    /** Checkpoint file, written atomically (see `saveCheckpoint`). */
    path: string;
    /** Steps between saves; absent: only at the end of the run or on abort. */
    every?: number;
    /** Architecture config saved with it (compared on load). */
    config?: Record<string, unknown>;
    /** Any JSON-ready data to store alongside. */
    extra?: unknown;
  };
  /** Abort the run between steps; `train` then returns with `stopped: 'aborted'`. */
  signal?: AbortSignal;
}

/** What `train` returns. */
export interface TrainResult {
  /** Step and epoch reached (pass them as `start` to continue). */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** The loss of each step of this call. */
  losses: number[];
  /** Mean loss of each epoch that ended during this call. */
  epochLosses: {
    /** The epoch's index. */
    epoch: number;
    /** Mean loss over its steps. */
    loss: number;
    /** Steps of that epoch run during this call. */
    steps: number;
  }[];
  /** Evaluations run during this call. */
  evals: ({ step: number } & EvalResult)[];
  /** Training samples per second over this call. */
  samplesPerSec: number;
  /** Wall-clock seconds of this call. */
  seconds: number;
  /** Why the run ended. */
  stopped: 'steps' | 'epochs' | 'aborted';
}

/** What `evaluate` returns. */
export interface EvalResult {
  /** Fraction of samples whose arg-max output equals the label. */
  accuracy: number;
  /** Mean loss per sample (batch losses weighted by batch size). */
  loss: number;
  /** Samples evaluated. */
  samples: number;
}

/**
 * Trains `model` on `loader`: train mode; for each batch, gradients of `lossFn(model.forward(x), y)`
 * (`computeGrads`), optional clipping, `optimizer.step()`, `zeroGrad()`. Tracks the loss of every
 * step and epoch, samples/s and an ETA, reports them through `onProgress`, evaluates every
 * `evalEvery` steps, and saves checkpoints when asked. A NaN or infinite loss (or gradient norm)
 * stops the run with `NON_FINITE_LOSS` naming the step, before that update and before any
 * checkpoint. With a seeded model and loader and one GEMM thread, two runs give identical losses;
 * a run resumed from a checkpoint continues exactly as if it had not stopped.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 1e-3 });
 * const schedule = warmupCosine({ baseLr: 1e-3, warmupSteps: 100, totalSteps: 10 * loader.numBatches });
 * const result = await train(model, loader, { optimizer: opt, schedule, epochs: 10, clip: 1 });
 * ```
 */
export async function train(model: Module, loader: TrainLoader, opts: TrainOptions): Promise<TrainResult> {
  const run = new Run(model, loader, opts);
  return run.go();
}

/** The state of one `train` call. */
class Run {
  private step: number;
  private epoch: number;
  private readonly maxSteps: number;
  private readonly maxEpochs: number;
  private readonly totalSteps: number | undefined;
  private readonly lossFn: (output: Tensor, target: Tensor) => Tensor;
  private readonly t0 = now();
  private lastYield = now();
  private samples = 0;
  private readonly result: TrainResult;

  constructor(
    private readonly model: Module,
    private readonly loader: TrainLoader,
    private readonly opts: TrainOptions,
  ) {
    const { step = 0, epoch = 0 } = opts.start ?? {};
    checkCount('start.step', step);
    checkCount('start.epoch', epoch);
    if (opts.steps !== undefined) checkCount('steps', opts.steps);
    if (opts.epochs !== undefined) checkCount('epochs', opts.epochs);
    if (opts.evalEvery !== undefined && !(opts.evalLoader && Number.isInteger(opts.evalEvery) && opts.evalEvery > 0))
      throw new NormkitError('INVALID_ARGUMENT', `train: evalEvery needs an evalLoader and a positive integer, got ${opts.evalEvery}`);
    this.step = step;
    this.epoch = epoch;
    this.maxSteps = opts.steps ?? Number.POSITIVE_INFINITY;
    this.maxEpochs = opts.epochs ?? (opts.steps === undefined ? 1 : Number.POSITIVE_INFINITY);
    const byEpochs = loader.numBatches !== undefined ? this.maxEpochs * loader.numBatches : Number.POSITIVE_INFINITY;
    const total = Math.min(this.maxSteps, byEpochs);
    this.totalSteps = Number.isFinite(total) ? total : undefined;
    this.lossFn = opts.lossFn ?? ((out, y) => crossEntropy(out, y));
    this.result = { step, epoch, losses: [], epochLosses: [], evals: [], samplesPerSec: 0, seconds: 0, stopped: 'epochs' };
  }

  async go(): Promise<TrainResult> {
    this.model.train();
    while (this.epoch < this.maxEpochs && this.step < this.maxSteps && !this.opts.signal?.aborted) await this.runEpoch();
    const r = this.result;
    r.stopped = this.opts.signal?.aborted ? 'aborted' : this.step >= this.maxSteps ? 'steps' : 'epochs';
    if (this.opts.evalEvery && this.step % this.opts.evalEvery !== 0 && r.stopped !== 'aborted') await this.evaluateNow();
    if (this.opts.checkpoint) await this.save();
    Object.assign(r, {
      step: this.step,
      epoch: this.epoch,
      seconds: this.elapsed(),
      samplesPerSec: this.samples / Math.max(this.elapsed(), 1e-9),
    });
    return r;
  }

  /** Runs the (remaining) batches of one epoch, or up to the step limit or an abort. */
  private async runEpoch(): Promise<void> {
    let sum = 0;
    let count = 0;
    let ended = true;
    for await (const batch of this.loader) {
      sum += await this.runStep(batch);
      count++;
      await this.afterStep();
      if (this.step >= this.maxSteps || this.opts.signal?.aborted) {
        // The loop is left early; the epoch still ended when that was its last batch.
        const { numBatches, position } = this.loader;
        ended = numBatches !== undefined && position !== undefined && position >= numBatches;
        break;
      }
    }
    if (!ended) return;
    if (count === 0)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `train: the loader yielded no batch for epoch ${this.epoch}; check the dataset size and batchSize`,
      );
    const loss = sum / count;
    this.result.epochLosses.push({ epoch: this.epoch, loss, steps: count });
    await this.report({ phase: 'epoch', loss });
    this.epoch++;
  }

  /** One update: lr from the schedule, gradients, finiteness check, clipping, step, zeroGrad. */
  private async runStep(batch: TrainBatch): Promise<number> {
    const { optimizer: opt, schedule, clip } = this.opts;
    if (schedule) opt.lr = schedule(this.step);
    const params = opt.parameters;
    const loss = computeGrads(() => this.lossFn(this.model.forward(batch.x), batch.y), params);
    const gradNorm = clip !== undefined ? clipGradNorm(params, clip) : undefined;
    if (!Number.isFinite(loss) || (gradNorm !== undefined && !Number.isFinite(gradNorm))) {
      opt.zeroGrad();
      const what = Number.isFinite(loss) ? `the gradient norm is ${gradNorm}` : `the loss is ${loss}`;
      throw new NormkitError(
        'NON_FINITE_LOSS',
        `train: ${what} at step ${this.step} (epoch ${this.epoch}, lr ${opt.lr}); training stopped before that update and no checkpoint was written. Lower the learning rate (try ${opt.lr / 10}) or set clip`,
        { step: this.step, epoch: this.epoch, lr: opt.lr, loss, gradNorm },
      );
    }
    opt.step();
    opt.zeroGrad();
    this.step++;
    this.samples += batch.x.shape[0] ?? 1;
    this.result.losses.push(loss);
    await this.report({ phase: 'step', loss, ...(gradNorm !== undefined && { gradNorm }) });
    return loss;
  }

  /** Periodic evaluation and checkpoint, and a pause for the event loop (abort signals, redraws). */
  private async afterStep(): Promise<void> {
    const { evalEvery, checkpoint } = this.opts;
    if (evalEvery && this.step % evalEvery === 0) await this.evaluateNow();
    if (checkpoint?.every && this.step % checkpoint.every === 0) await this.save();
    if (now() - this.lastYield > 100) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      this.lastYield = now();
    }
  }

  private async evaluateNow(): Promise<void> {
    const ev = await evaluate(this.model, this.opts.evalLoader as TrainLoader, { lossFn: this.lossFn });
    this.model.train();
    this.result.evals.push({ step: this.step, ...ev });
    await this.report({ phase: 'eval', loss: ev.loss, eval: ev });
  }

  private async save(): Promise<void> {
    const c = this.opts.checkpoint as NonNullable<TrainOptions['checkpoint']>;
    await saveCheckpoint(c.path, {
      model: this.model,
      optimizer: this.opts.optimizer,
      step: this.step,
      epoch: this.epoch,
      ...(this.loader.state && { loader: this.loader as { state(): unknown } }),
      ...(c.config && { config: c.config }),
      ...(c.extra !== undefined && { extra: c.extra }),
    });
  }

  private async report(p: Pick<TrainProgress, 'phase' | 'loss' | 'gradNorm' | 'eval'>): Promise<void> {
    if (!this.opts.onProgress) return;
    const elapsed = this.elapsed();
    const done = this.result.losses.length;
    const eta = this.totalSteps !== undefined && done > 0 ? ((this.totalSteps - this.step) * elapsed) / done : undefined;
    await this.opts.onProgress({
      ...p,
      step: this.step,
      epoch: this.epoch,
      lr: this.opts.optimizer.lr,
      samplesPerSec: this.samples / Math.max(elapsed, 1e-9),
      elapsedSeconds: elapsed,
      ...(this.totalSteps !== undefined && { totalSteps: this.totalSteps }),
      ...(eta !== undefined && { etaSeconds: Math.max(0, eta) }),
    });
  }

  private elapsed(): number {
    return (now() - this.t0) / 1000;
  }
}

/**
 * Evaluates `model` on every batch of `loader` (one epoch) in eval mode and without recording
 * gradients: accuracy of the arg-max of the output's last axis against integer labels, and the mean
 * loss per sample (`lossFn`, default mean cross-entropy, weighted by batch size). The model's
 * train/eval mode is restored afterwards.
 * @example const { accuracy, loss } = await evaluate(model, testLoader);
 */
export async function evaluate(
  model: Module,
  loader: TrainLoader,
  opts: { lossFn?: (output: Tensor, target: Tensor) => Tensor } = {},
): Promise<EvalResult> {
  const lossFn = opts.lossFn ?? ((out: Tensor, y: Tensor) => crossEntropy(out, y));
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  let lossSum = 0;
  let samples = 0;
  try {
    for await (const { x, y } of loader) {
      const n = y.shape[0] ?? 1;
      noGrad(() => {
        const out = model.forward(x);
        lossSum += Number(lossFn(out, y).data[0]) * n;
        correct += countCorrect(out, y);
      });
      samples += n;
    }
  } finally {
    model.train(wasTraining);
  }
  if (samples === 0) throw new NormkitError('INVALID_ARGUMENT', 'evaluate: the loader yields no samples; check the dataset');
  return { accuracy: correct / samples, loss: lossSum / samples, samples };
}

/** How many rows of `out` [N, C] have their arg-max at the label `y[n]` (ties: the first index). */
function countCorrect(out: Tensor, y: Tensor): number {
  const c = out.shape[out.rank - 1] as number;
  const n = y.size;
  if (out.size !== n * c)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `evaluate: the output has shape [${out.shape.join(', ')}] but there are ${n} labels; expected [${n}, classes]`,
    );
  const o = out.data as Float32Array | Float64Array;
  const labels = y.data;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if ((o[i * c + k] as number) > (o[i * c + best] as number)) best = k;
    if (best === Number(labels[i])) correct++;
  }
  return correct;
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new NormkitError('INVALID_ARGUMENT', `train: ${name} must be an integer ≥ 0, got ${v}`);
}

function now(): number {
  return performance.now();
}
