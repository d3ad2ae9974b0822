// The fuzz campaign's child process (scripts/fuzz.ts forks it): for each task it builds mutant i of a
// corpus model, writes it beside fixture hazards, and runs read → analyze → convert → run (where the
// original runs in under a second), answering with the outcome. A hang or a crash of this process is
// what the parent measures; everything else is classified here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeFoldability, execute, foldLayerNorms, type Model, randomInputs, recognizeLayerNorms } from '@normkit/graph';
import { encodeModel, loadModel } from '@normkit/onnx';
import { NormkitError, setMaxTensorElements } from '@normkit/tensor';
import { ESCAPING_LOCATIONS, mutate } from './fuzz-mutations.js';

/** A task from the parent. */
export interface FuzzTask {
  index: number;
  seed: number;
  model: string;
  /** Whether the unmutated model runs fast enough to run its mutants; undefined = find out first. */
  runnable?: boolean;
}

/** The worker's answer. */
export interface FuzzAnswer {
  index: number;
  model: string;
  mutation: { kind: string; what: string };
  outcome: 'ok' | 'typed' | 'crash' | 'escape' | 'skipped';
  stage: 'mutate' | 'read' | 'analyze' | 'convert' | 'run' | 'done';
  code?: string;
  error?: string;
  ms: number;
  runnable?: boolean;
  /** The mutant's inputs were too large to run cheaply (see cheapToRun). */
  runSkipped?: boolean;
}

/** Sent when the worker enters a stage, so that a hang or an OOM is reported at the stage it happened in. */
export interface FuzzProgress {
  index: number;
  stage: FuzzAnswer['stage'];
}

/** A folder with the hazards an external-data location may name: a FIFO, a directory, links in and out. */
export function makeFixtures(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'model/dir'), { recursive: true });
  mkdirSync(join(dir, 'model/sub'), { recursive: true });
  writeFileSync(join(dir, 'outside.bin'), new Uint8Array(1 << 16).fill(7));
  execFileSync('mkfifo', [join(dir, 'model/fifo')]);
  symlinkSync(join(dir, 'outside.bin'), join(dir, 'model/link-out'));
  symlinkSync('w.bin', join(dir, 'model/link-in'));
}

/** Declared input elements of each unmutated corpus model. */
// What a service running untrusted models would do: no single tensor over 512 MiB of float32 (a
// mutant may legitimately ask for a 1.7 GB convolution output; the child's whole budget is 2 GiB).
setMaxTensorElements(2 ** 27);

const originalInputs = new Map<string, number>();

const loadBytes = (() => {
  const cache = new Map<string, Uint8Array>();
  return (path: string) => {
    let b = cache.get(path);
    if (!b) cache.set(path, (b = new Uint8Array(readFileSync(path))));
    return b;
  };
})();

/** Elements of the model's declared inputs (a symbolic or missing dim counts as 8). */
function inputElements(model: Model): number {
  let n = 0;
  for (const v of model.graph.runtimeInputs())
    n += (v.shape ?? []).reduce<number>((p, d) => p * (typeof d === 'number' && d > 0 ? d : 8), 1);
  return n;
}

/**
 * Whether running the mutant is cheap: its inputs at most 16× the original's and under 2^22 elements.
 * A mutant with bigger inputs measures the machine's speed, not robustness (and input generation is
 * the caller's to bound: the CLI checks it before generating).
 */
const cheapToRun = (mutant: Model, original: number) => inputElements(mutant) <= Math.min(16 * Math.max(original, 1), 2 ** 22);

/** Runs the model once on seeded inputs (the executor's own allocation limits apply). */
function runOnce(model: Model): void {
  execute(model, randomInputs(model, 0));
}

async function runTask(task: FuzzTask, fixtures: string): Promise<FuzzAnswer> {
  const t0 = performance.now();
  const dir = join(fixtures, 'model');
  let stage: FuzzAnswer['stage'] = 'mutate';
  const enter = (s: FuzzAnswer['stage']) => {
    stage = s;
    process.send?.({ index: task.index, stage: s } satisfies FuzzProgress);
  };
  const answer = (rest: Omit<FuzzAnswer, 'index' | 'model' | 'ms' | 'mutation'>, mutation = { kind: '?', what: '?' }): FuzzAnswer => ({
    index: task.index,
    model: task.model,
    mutation,
    ms: Math.round(performance.now() - t0),
    ...rest,
  });
  let runnable = task.runnable;
  if (runnable === undefined || !originalInputs.has(task.model)) {
    try {
      const m = await loadModel(task.model);
      originalInputs.set(task.model, inputElements(m));
      const t1 = performance.now();
      if (runnable === undefined) runOnce(m);
      runnable ??= performance.now() - t1 < 1000;
    } catch {
      runnable = false;
    }
  }
  let mutant: ReturnType<typeof mutate>;
  try {
    mutant = mutate(loadBytes(task.model), task.seed, task.index);
  } catch (e) {
    // The mutator could not write this mutant (onnx-proto refused a value): not a finding.
    return answer({ outcome: 'skipped', stage, error: String((e as Error)?.message ?? e).slice(0, 200), runnable });
  }
  const path = join(dir, 'model.onnx');
  rmSync(join(dir, 'w.bin'), { force: true });
  writeFileSync(path, mutant.bytes);
  if (mutant.externalData) writeFileSync(join(dir, 'w.bin'), mutant.externalData);
  try {
    enter('read');
    const model = await loadModel(path, { maxTensorBytes: 256 * 1024 * 1024 });
    if (mutant.location && ESCAPING_LOCATIONS.has(mutant.location))
      return answer({ outcome: 'escape', stage, error: `loaded with external data at "${mutant.location}"`, runnable }, mutant.mutation);
    enter('analyze');
    const rec = recognizeLayerNorms(model);
    analyzeFoldability(rec.model);
    enter('convert');
    if (rec.model.graph.nodes.some((n) => n.opType === 'LayerNormalization'))
      encodeModel(foldLayerNorms(model, { force: true, verify: false }).model);
    enter('run');
    const cheap = cheapToRun(model, originalInputs.get(task.model) ?? 0);
    if (runnable && cheap) runOnce(model);
    return answer({ outcome: 'ok', stage: 'done', runnable, ...(runnable && !cheap ? { runSkipped: true } : {}) }, mutant.mutation);
  } catch (e) {
    if (e instanceof NormkitError)
      return answer({ outcome: 'typed', stage, code: e.code, error: e.message.slice(0, 300), runnable }, mutant.mutation);
    const err = e as Error;
    const where = (err?.stack ?? '')
      .split('\n')
      .slice(1, 4)
      .map((l) => l.trim())
      .join(' | ');
    return answer(
      { outcome: 'crash', stage, code: err?.name ?? typeof e, error: `${String(err?.message ?? e).slice(0, 300)} @ ${where}`, runnable },
      mutant.mutation,
    );
  }
}

/** Worker entry: answers each task message with a FuzzAnswer. */
export function workerMain(fixtures: string): void {
  makeFixtures(fixtures);
  process.on('message', (task: FuzzTask) => {
    runTask(task, fixtures).then(
      (a) => process.send?.(a),
      (e: unknown) =>
        process.send?.({
          index: task.index,
          model: task.model,
          mutation: { kind: '?', what: '?' },
          outcome: 'crash',
          stage: 'mutate',
          code: 'WorkerError',
          error: String((e as Error)?.stack ?? e),
          ms: 0,
        }),
    );
  });
  process.send?.({ ready: true });
}
