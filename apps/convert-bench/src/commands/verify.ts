import type { Model } from '@normkit/graph';
import { worst } from '../compare.js';
import { type Context, MAX_VERIFY_RUNS, parseNumber, parsePositiveInt } from '../context.js';
import { loadGraph, need } from '../deps.js';
import { type EngineName, parseEngines } from '../engines.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, isNormkitError } from '../errors.js';
import { describeFeeds, type Feeds, parseDims, seededFeeds } from '../inputs.js';
import { asInputError, openModel } from '../models.js';
import { readFeeds } from '../tensors-io.js';
import type { EngineVerification } from '../types.js';
import { type EngineCheck, executorCheck, settle, verificationTable, verifyInEngine } from '../verification.js';

/** What `normkit verify` reports. */
export interface VerifyReport {
  command: 'verify';
  a: string;
  b: string;
  /** Worst over engines, per output. */
  outputs: { name: string; maxAbsDiff: number; maxRelDiff: number; argmaxAgreement: number }[];
  equivalent: boolean;
  tolerance: number;
  engines: EngineVerification[];
  skipped: { engine: EngineName; reason: string }[];
  inputs: { source: string; feeds: { name: string; dtype: string; shape: number[] }[] };
}

/** Options of `verifyModels`. */
export interface VerifyModelsOptions {
  engines?: EngineName[];
  seed?: number;
  runs?: number;
  dims?: Record<string, number>;
  /** Given inputs; when present they replace the random ones. */
  feeds?: Feeds;
  tolerance?: number;
  paths?: { a?: string; b?: string };
}

/**
 * Checks that two models compute the same outputs, in each engine, on seeded random inputs (or given ones).
 *
 * @example
 * ```ts
 * const r = await verifyModels(a, b, 'a.onnx', 'b.onnx', { engines: ['normkit-cpu', 'onnxruntime'] });
 * r.equivalent; r.outputs[0].maxAbsDiff;
 * ```
 */
export async function verifyModels(
  a: Model,
  b: Model,
  labelA: string,
  labelB: string,
  opts: VerifyModelsOptions = {},
  ctx?: Context,
): Promise<VerifyReport> {
  const engines = opts.engines ?? ['normkit-cpu', 'onnxruntime'];
  const seed = opts.seed ?? 0;
  const runs = opts.runs ?? 2;
  const dims = opts.dims ?? {};
  const tolerance = opts.tolerance ?? 1e-5;
  const feeds = opts.feeds ? [opts.feeds] : await seededFeeds(a, seed, runs, dims);
  const checks: EngineCheck[] = [];
  for (const engine of engines) {
    const s = ctx?.step(`run both in ${engine}`);
    try {
      if (engine === 'normkit-cpu' && !opts.feeds) {
        const graph = await loadGraph();
        checks.push(executorCheck(need(graph, '@normkit/graph', 'verifyEquivalence')(a, b, { seed, runs, dims, tolerance })));
      } else {
        checks.push(
          await verifyInEngine(
            engine,
            { model: a, ...(opts.paths?.a ? { path: opts.paths.a } : {}) },
            { model: b, ...(opts.paths?.b ? { path: opts.paths.b } : {}) },
            feeds,
            tolerance,
          ),
        );
      }
    } catch (e) {
      ctx?.closeStep(' failed');
      throw isNormkitError(e) ? asInputError(e, labelB) : e;
    }
    s?.end();
  }
  const { verification, skipped } = settle(ctx, checks);
  if (verification.length === 0) {
    throw new CliError(
      `no engine could run ${labelA}: ${skipped.map((x) => `${x.engine}: ${x.reason.replace(`${labelA}: `, '')}`).join('; ')}`,
      EXIT_BAD_INPUT,
      'NO_ENGINE',
    );
  }
  const names = [...new Set(verification.flatMap((v) => v.outputs.map((o) => o.name)))];
  return {
    command: 'verify',
    a: labelA,
    b: labelB,
    outputs: names.map((name) => ({ name, ...worst(verification.flatMap((v) => v.outputs.filter((o) => o.name === name))) })),
    equivalent: verification.length > 0 && verification.every((v) => v.equivalent),
    tolerance,
    engines: verification,
    skipped,
    inputs: {
      source: opts.feeds ? 'given' : `random (seed ${seed}, ${runs} set${runs === 1 ? '' : 's'})`,
      feeds: describeFeeds(feeds[0] ?? {}),
    },
  };
}

interface VerifyCliOptions {
  inputs?: string[];
  engine: string;
  seed: string;
  runs: string;
  dim: string[];
  tolerance: string;
}

/** `normkit verify <a> <b>` */
export async function verifyCommand(ctx: Context, fa: string, fb: string, o: VerifyCliOptions): Promise<number> {
  const engines = parseEngines(o.engine, ['normkit-cpu', 'onnxruntime']);
  const seed = parseNumber('--seed', o.seed, 0);
  const runs = parsePositiveInt('--runs', o.runs, 2, {
    max: MAX_VERIFY_RUNS,
    why: 'each run is a forward pass of both models in every engine',
  });
  const tolerance = parseNumber('--tolerance', o.tolerance, 1e-5);
  const dims = parseDims(o.dim);
  const a = await openModel(fa, { ctx });
  const b = await openModel(fb, { ctx });
  const feeds = o.inputs && o.inputs.length > 0 ? await readFeeds(a.model, o.inputs) : undefined;
  const r = await verifyModels(
    a.model,
    b.model,
    a.label,
    b.label,
    { engines, seed, runs, dims, tolerance, ...(feeds ? { feeds } : {}), paths: { a: a.path, b: b.path } },
    ctx,
  );
  if (o.inputs?.length) r.inputs.source = o.inputs.join(' ');
  ctx.emit(r, () => renderVerify(r));
  return r.equivalent ? 0 : EXIT_CHECK_FAILED;
}

/** The human-readable form of `verify`. */
export function renderVerify(r: VerifyReport): string {
  const lines = [
    `${r.a} vs ${r.b} on ${r.inputs.source} inputs (${r.inputs.feeds.map((f) => `${f.name} ${f.dtype}[${f.shape.join('×')}]`).join(', ')})`,
  ];
  lines.push(verificationTable(r.engines));
  for (const s of r.skipped) lines.push(`${s.engine}: not checked (${s.reason})`);
  lines.push(r.equivalent ? `equivalent (relative tolerance ${r.tolerance})` : `NOT equivalent (relative tolerance ${r.tolerance})`);
  return lines.join('\n');
}
