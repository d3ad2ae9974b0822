import { cpus, platform, release } from 'node:os';
import { basename } from 'node:path';
import type { Model } from '@normkit/graph';
import type { Backend } from '@normkit/tensor';
import { type Context, MAX_BENCH_RUNS, parseNumber, parsePositiveInt } from '../context.js';
import { createGpu, createRunner, defaultEngines, type EngineName, type OpTypeTime, parseEngines, type Runner } from '../engines.js';
import { CliError, EXIT_BAD_INPUT, isNormkitError } from '../errors.js';
import { ms, signedPct, table } from '../format.js';
import { describeFeeds, parseDims, seededFeeds } from '../inputs.js';
import { asInputError, openModel } from '../models.js';
import { writeSessionFile } from '../session.js';
import { median, quantile, timingStats } from '../stats.js';
import type { BenchEntry, BenchRatio, BenchResult, MachineInfo, OpBreakdown } from '../types.js';

/** A model to benchmark. */
export interface BenchModel {
  model: Model;
  label: string;
  /** The .onnx file (onnxruntime loads it). */
  path?: string;
}

/** Options of `benchmarkModels`. */
export interface BenchOptions {
  engines?: EngineName[];
  /**
   * Timed rounds (each runs every (engine, model) once). `'auto'` (default): at least 10 rounds, then
   * more until the timed runs add up to `minTimeMs`, at most 1000.
   */
  runs?: number | 'auto';
  /** With `runs: 'auto'`: the least total time of the timed runs (default 3000 ms). */
  minTimeMs?: number;
  warmup?: number;
  /** Profiled runs per (engine, model) for the per-op-type breakdown (our engines only). `'auto'` (default): 3 to 50, about 1 s each; 0 to skip. */
  profileRuns?: number | 'auto';
  seed?: number;
  dims?: Record<string, number>;
}

/** Where the benchmark runs. */
export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown CPU',
    cores: c.length,
    node: process.version,
    platform: `${platform()} ${release()}`,
    date: new Date().toISOString(),
  };
}

/**
 * Times `subject` (and `against`, the baseline) in each engine on the same seeded inputs. In each
 * engine the two models' runs strictly alternate (subject, baseline, subject, …), so drift in the
 * machine's speed and cache warmth affect both alike (an A/A run of a model against its copy gives
 * 1.00× within the noise); reports median, quartiles and spread, the speed-up against the
 * baseline per engine, and for our engines the time per op type from the executor's profile.
 *
 * @example
 * ```ts
 * const r = await benchmarkModels({ model: folded, label: 'out.onnx' }, { model, label: 'in.onnx' }, { runs: 20 });
 * r.ratios[0].speedup; // e.g. 1.07
 * ```
 */
export async function benchmarkModels(
  subject: BenchModel,
  against: BenchModel | undefined,
  opts: BenchOptions = {},
  ctx?: Context,
): Promise<BenchResult> {
  const engines = opts.engines ?? ['normkit-cpu', 'onnxruntime'];
  const auto = opts.runs === undefined || opts.runs === 'auto';
  const minRounds = auto ? 10 : (opts.runs as number);
  const maxRounds = auto ? 1000 : (opts.runs as number);
  const minTimeMs = auto ? (opts.minTimeMs ?? 3000) : 0;
  const warmup = opts.warmup ?? 3;
  const profileRuns = opts.profileRuns ?? 'auto';
  const [feeds] = await seededFeeds(subject.model, opts.seed ?? 0, 1, opts.dims ?? {});
  if (!feeds) throw new Error('no feeds');
  if (against) {
    const names = new Set(against.model.graph.runtimeInputs().map((v) => v.name));
    const mine = Object.keys(feeds);
    if (mine.some((n) => !names.has(n)) || names.size !== mine.length) {
      throw new CliError(
        `${against.label}: its inputs (${[...names].join(', ')}) differ from ${subject.label}'s (${mine.join(', ')}); --against needs a model with the same inputs`,
        EXIT_BAD_INPUT,
        'INPUT_MISMATCH',
      );
    }
  }
  const models: { role: 'model' | 'against'; m: BenchModel }[] = [{ role: 'model', m: subject }];
  if (against) models.push({ role: 'against', m: against });

  // Load every (engine, model); an engine that cannot run here (no GPU, a model onnxruntime refuses) is skipped with the reason.
  const slots: { engine: EngineName; role: 'model' | 'against'; m: BenchModel; runner: Runner; samples: number[] }[] = [];
  const skipped: { engine: EngineName; reason: string }[] = [];
  let gpu: Backend | undefined;
  const load = ctx?.step(`load ${models.length} model${models.length > 1 ? 's' : ''} into ${engines.join(', ')}`);
  for (const engine of engines) {
    const loaded: typeof slots = [];
    try {
      if (engine === 'normkit-gpu') gpu ??= await createGpu();
      for (const { role, m } of models) {
        const runner = await createRunner(engine, { model: m.model, ...(m.path ? { path: m.path } : {}) }, gpu ? { gpuBackend: gpu } : {});
        loaded.push({ engine, role, m, runner, samples: [] });
        await runner.run(feeds); // also checks that it runs at all
      }
      slots.push(...loaded);
    } catch (e) {
      if (!(e instanceof CliError) && !isNormkitError(e)) throw e;
      for (const s of loaded) await s.runner.dispose();
      const label = models[loaded.length]?.m.label ?? subject.label;
      skipped.push({ engine, reason: e instanceof CliError ? e.message : asInputError(e, label).message });
    }
  }
  load?.end();
  if (slots.length > 0) for (const s of skipped) ctx?.warn(`${s.engine} skipped: ${s.reason}`);
  if (slots.length === 0) {
    // One line: the first engine's reason names the file and the problem; the others follow.
    const [first, ...rest] = skipped;
    throw new CliError(
      `${first?.reason ?? subject.label}${rest.map((s) => ` (${s.engine} too: ${s.reason.replace(`${subject.label}: `, '')})`).join('')}`,
      EXIT_BAD_INPUT,
      'NO_ENGINE',
    );
  }

  try {
    // Engine by engine (the ratio is within an engine; another engine's cache and allocator traffic
    // must not fall between the runs compared), the models strictly alternating: every run of one
    // model follows a run of the other, so neither gets a warmer position and slow drift hits both.
    const engineList = [...new Set(slots.map((s) => s.engine))];
    const budget = minTimeMs / engineList.length;
    const step = ctx?.step(
      auto
        ? `time alternating runs of ${models.length > 1 ? 'both models' : 'the model'} in ${engineList.join(', ')} (≥ ${minRounds} each, ≥ ${minTimeMs / 1000} s in all)`
        : `time ${minRounds} alternating runs × ${slots.length} (engine, model)`,
    );
    const roundsPerEngine: number[] = [];
    for (const [k, engine] of engineList.entries()) {
      const group = slots.filter((s) => s.engine === engine);
      let timedMs = 0;
      let rounds = 0;
      for (let i = 0; rounds < maxRounds && (rounds < minRounds || timedMs < budget); i++) {
        for (const s of group) {
          const t0 = performance.now();
          await s.runner.run(feeds);
          const t = performance.now() - t0;
          if (i >= warmup) {
            s.samples.push(t);
            timedMs += t;
          }
        }
        if (i >= warmup) rounds++;
        if (auto) step?.update(Math.round(k * budget + Math.min(timedMs, budget)), minTimeMs);
        else step?.update(k * minRounds + rounds, minRounds * engineList.length);
      }
      roundsPerEngine.push(rounds);
    }
    const runs = Math.min(...roundsPerEngine);
    step?.end(engineList.map((e, k) => `${e}: ${roundsPerEngine[k]} rounds`).join(', '));

    // Profiled runs (per-op-type times) are separate from the timed ones: profiling adds overhead.
    const opTypes: OpBreakdown[] = [];
    const profiled = slots.filter((s) => s.runner.runProfiled).map((s) => ({ ...s, perRun: [] as OpTypeTime[][], ms: 0 }));
    if (profileRuns !== 0 && profiled.length > 0) {
      const ps = ctx?.step(profileRuns === 'auto' ? 'profile runs per op type' : `profile ${profileRuns} runs per op type`);
      const [minP, maxP] = profileRuns === 'auto' ? [3, 50] : [profileRuns, profileRuns];
      for (const engine of new Set(profiled.map((s) => s.engine))) {
        const group = profiled.filter((s) => s.engine === engine);
        for (let i = 0; i < maxP && (i < minP || group.some((s) => s.ms < 1000)); i++) {
          for (const s of group) {
            const t0 = performance.now();
            s.perRun.push((await s.runner.runProfiled?.(feeds))?.byOpType ?? []);
            s.ms += performance.now() - t0;
          }
        }
      }
      for (const s of profiled)
        opTypes.push({ engine: s.engine, model: s.m.label, role: s.role, profiledRuns: s.perRun.length, ...medianBreakdown(s.perRun) });
      ps?.end(`${profiled[0]?.perRun.length} runs each`);
    }

    const results: BenchEntry[] = slots.map((s) => ({
      engine: s.engine,
      model: s.m.label,
      role: s.role,
      description: s.runner.description,
      ...timingStats(s.samples),
      samplesMs: s.samples,
    }));
    const ratios: BenchRatio[] = [];
    if (against) {
      for (const engine of new Set(slots.map((s) => s.engine))) {
        const m = slots.find((s) => s.engine === engine && s.role === 'model');
        const a = slots.find((s) => s.engine === engine && s.role === 'against');
        if (!m || !a) continue;
        const mm = median(m.samples);
        const am = median(a.samples);
        ratios.push({
          engine,
          model: subject.label,
          against: against.label,
          ratio: mm / am,
          speedup: am / mm,
          speedupLow: quantile(a.samples, 0.25) / quantile(m.samples, 0.75),
          speedupHigh: quantile(a.samples, 0.75) / quantile(m.samples, 0.25),
        });
      }
    }
    return {
      command: 'bench',
      model: subject.label,
      against: against?.label ?? null,
      engines,
      runs,
      warmup,
      inputs: describeFeeds(feeds),
      results,
      ratios,
      opTypes,
      skipped,
      machine: machineInfo(),
    };
  } finally {
    for (const s of slots) await s.runner.dispose();
    (gpu as { dispose?: () => void } | undefined)?.dispose?.();
  }
}

/** `40 runs`, or `10–1000 runs` when the engines ran different numbers of rounds. */
export function runsText(r: Pick<BenchResult, 'results'>): string {
  const n = r.results.map((e) => e.runs);
  const lo = Math.min(...n);
  const hi = Math.max(...n);
  return lo === hi ? `${lo} runs` : `${lo}–${hi} runs`;
}

/** Per op type, the median over runs; total = median of the per-run totals. */
function medianBreakdown(perRun: OpTypeTime[][]): { totalMs: number; byOpType: OpTypeTime[] } {
  const types = new Set(perRun.flatMap((r) => r.map((o) => o.opType)));
  const byOpType = [...types]
    .map((opType) => {
      const vals = perRun.map((r) => r.find((o) => o.opType === opType)?.ms ?? 0);
      return { opType, ms: median(vals), count: perRun[0]?.find((o) => o.opType === opType)?.count ?? 0 };
    })
    .sort((a, b) => b.ms - a.ms);
  return { totalMs: median(perRun.map((r) => r.reduce((a, o) => a + o.ms, 0))), byOpType };
}

/** Parses `--runs` (`auto` or a positive integer). */
export function parseRuns(value: string | undefined): number | 'auto' {
  return value === undefined || value === 'auto'
    ? 'auto'
    : parsePositiveInt('--runs', value, 1, { max: MAX_BENCH_RUNS, why: 'every run is timed in every engine' });
}

interface BenchCliOptions {
  against?: string;
  engine?: string;
  runs: string;
  warmup: string;
  profileRuns: string;
  seed: string;
  dim: string[];
  session?: string;
}

/** `normkit bench <model> [--against <other>]` */
export async function benchCommand(ctx: Context, file: string, o: BenchCliOptions): Promise<number> {
  const engines = o.engine ? parseEngines(o.engine, []) : await defaultEngines();
  const runs = parseRuns(o.runs);
  const warmup = parsePositiveInt('--warmup', o.warmup, 3, { allowZero: true, max: MAX_BENCH_RUNS });
  const profileRuns =
    o.profileRuns === 'auto' ? 'auto' : parsePositiveInt('--profile-runs', o.profileRuns, 3, { allowZero: true, max: MAX_BENCH_RUNS });
  const seed = parseNumber('--seed', o.seed, 0);
  const subject = await openModel(file, { ctx });
  const against = o.against ? await openModel(o.against, { ctx }) : undefined;
  const r = await benchmarkModels(subject, against, { engines, runs, warmup, profileRuns, seed, dims: parseDims(o.dim) }, ctx);
  if (o.session) await writeSessionFile(o.session, 'bench', r);
  ctx.emit(r, () => renderBench(r));
  return 0;
}

/** The human-readable form of `bench`: timings, speed-ups, and the op types that take the time. */
export function renderBench(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(
    `${runsText(r)} per model (the models alternating) after ${r.warmup} warm-up, inputs ${r.inputs.map((f) => `${f.name}[${f.shape.join('×')}]`).join(', ')}; ${r.machine.cpu}, Node ${r.machine.node}`,
  );
  lines.push('');
  lines.push(
    table(
      ['engine', 'model', 'median ms', 'p25–p75 ms', 'spread'],
      r.results.map((e) => [
        e.engine,
        basename(e.model),
        ms(e.medianMs),
        `${ms(e.p25Ms)}–${ms(e.p75Ms)}`,
        `±${(e.spread * 50).toFixed(1)}%`,
      ]),
    ),
  );
  if (r.ratios.length > 0) {
    lines.push('');
    lines.push(
      table(
        ['engine', `speed-up of ${basename(r.model)} vs ${basename(r.against ?? '')}`, 'time change', 'range (quartiles)'],
        r.ratios.map((x) => [
          x.engine,
          `${x.speedup.toFixed(3)}×`,
          signedPct(x.ratio - 1),
          `${x.speedupLow.toFixed(2)}–${x.speedupHigh.toFixed(2)}×`,
        ]),
      ),
    );
  }
  for (const engine of new Set(r.opTypes.map((o) => o.engine))) {
    const m = r.opTypes.find((o) => o.engine === engine && o.role === 'model');
    const a = r.opTypes.find((o) => o.engine === engine && o.role === 'against');
    const types = [...new Set([...(a?.byOpType ?? []), ...(m?.byOpType ?? [])].map((o) => o.opType))];
    const rows = types
      .map((t) => ({ t, before: a?.byOpType.find((o) => o.opType === t)?.ms, after: m?.byOpType.find((o) => o.opType === t)?.ms }))
      .sort((x, y) => Math.max(y.before ?? 0, y.after ?? 0) - Math.max(x.before ?? 0, x.after ?? 0))
      .slice(0, 8);
    lines.push('');
    lines.push(`time per op type, ${engine} (median of profiled runs, top ${rows.length}):`);
    lines.push(
      table(
        a ? ['op type', `${basename(a.model)} ms`, `${basename(m?.model ?? '')} ms`] : ['op type', 'ms'],
        rows.map((x) =>
          a
            ? [x.t, x.before === undefined ? '—' : ms(x.before), x.after === undefined ? '—' : ms(x.after)]
            : [x.t, x.after === undefined ? '—' : ms(x.after)],
        ),
        { indent: '  ' },
      ),
    );
  }
  for (const s of r.skipped) lines.push(`${s.engine}: skipped (${s.reason})`);
  return lines.join('\n');
}
