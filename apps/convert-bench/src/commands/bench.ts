import { cpus, platform, release } from 'node:os';
import { basename } from 'node:path';
import type { Model } from '@normkit/graph';
import type { Backend } from '@normkit/tensor';
import { type Context, parseNumber, parsePositiveInt } from '../context.js';
import { createGpu, createRunner, type EngineName, type OpTypeTime, parseEngines, type Runner } from '../engines.js';
import { CliError, EXIT_BAD_INPUT } from '../errors.js';
import { ms, signedPct, table } from '../format.js';
import { describeFeeds, parseDims, seededFeeds } from '../inputs.js';
import { openModel } from '../models.js';
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
  runs?: number;
  warmup?: number;
  /** Profiled runs per (engine, model) for the per-op-type breakdown (our engines only). Default 3; 0 to skip. */
  profileRuns?: number;
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
 * Times `subject` (and `against`, the baseline) in each engine on the same seeded inputs. Runs are
 * interleaved — every round runs each (engine, model) once, alternating the order — so drift in the
 * machine's speed affects all alike; reports median, quartiles and spread, the speed-up against the
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
  const runs = opts.runs ?? 20;
  const warmup = opts.warmup ?? 3;
  const profileRuns = opts.profileRuns ?? 3;
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
      if (!(e instanceof CliError)) throw e;
      for (const s of loaded) await s.runner.dispose();
      skipped.push({ engine, reason: e.message });
    }
  }
  load?.end();
  for (const s of skipped) ctx?.warn(`${s.engine} skipped: ${s.reason}`);
  if (slots.length === 0)
    throw new CliError(
      `no engine could run ${subject.label}: ${skipped.map((s) => `${s.engine}: ${s.reason}`).join('; ')}`,
      EXIT_BAD_INPUT,
      'NO_ENGINE',
    );

  try {
    const total = (warmup + runs) * slots.length;
    const step = ctx?.step(`time ${runs} interleaved runs × ${slots.length} (engine, model)`);
    let done = 0;
    for (let i = 0; i < warmup + runs; i++) {
      const order = i % 2 === 0 ? slots : [...slots].reverse();
      for (const s of order) {
        const t0 = performance.now();
        await s.runner.run(feeds);
        const t = performance.now() - t0;
        if (i >= warmup) s.samples.push(t);
        step?.update(++done, total);
      }
    }
    step?.end();

    const opTypes: OpBreakdown[] = [];
    const profiled = slots.filter((s) => s.runner.runProfiled);
    if (profileRuns > 0 && profiled.length > 0) {
      const ps = ctx?.step(`profile ${profileRuns} runs per op type`);
      for (const s of profiled) {
        const perRun: OpTypeTime[][] = [];
        for (let i = 0; i < profileRuns; i++) perRun.push((await s.runner.runProfiled?.(feeds))?.byOpType ?? []);
        opTypes.push({ engine: s.engine, model: s.m.label, role: s.role, ...medianBreakdown(perRun) });
      }
      ps?.end();
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

interface BenchCliOptions {
  against?: string;
  engine: string;
  runs: string;
  warmup: string;
  profileRuns: string;
  seed: string;
  dim: string[];
  session?: string;
}

/** `normkit bench <model> [--against <other>]` */
export async function benchCommand(ctx: Context, file: string, o: BenchCliOptions): Promise<number> {
  const engines = parseEngines(o.engine, ['normkit-cpu', 'onnxruntime']);
  const runs = parsePositiveInt('--runs', o.runs, 20);
  const warmup = parsePositiveInt('--warmup', o.warmup, 3, { allowZero: true });
  const profileRuns = parsePositiveInt('--profile-runs', o.profileRuns, 3, { allowZero: true });
  const seed = parseNumber('--seed', o.seed, 0);
  const subject = await openModel(file);
  const against = o.against ? await openModel(o.against) : undefined;
  const r = await benchmarkModels(subject, against, { engines, runs, warmup, profileRuns, seed, dims: parseDims(o.dim) }, ctx);
  if (o.session) await writeSessionFile(o.session, 'bench', r);
  ctx.emit(r, () => renderBench(r));
  return 0;
}

/** The human-readable form of `bench`: timings, speed-ups, and the op types that take the time. */
export function renderBench(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.runs} interleaved runs after ${r.warmup} warm-up, inputs ${r.inputs.map((f) => `${f.name}[${f.shape.join('×')}]`).join(', ')}; ${r.machine.cpu}, Node ${r.machine.node}`,
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
