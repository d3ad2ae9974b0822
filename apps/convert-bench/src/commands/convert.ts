import { realpath, rm, stat, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Model } from '@normkit/graph';
import { worst } from '../compare.js';
import { type Context, MAX_VERIFY_RUNS, parseNumber, parsePositiveInt } from '../context.js';
import { loadGraph, loadOnnx, need } from '../deps.js';
import { type EngineName, parseEngines } from '../engines.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, isNormkitError } from '../errors.js';
import { sci } from '../format.js';
import { checkDims, describeFeeds, parseDims, seededFeeds } from '../inputs.js';
import { asInputError, openModel, weightBytes } from '../models.js';
import { writeSessionFile } from '../session.js';
import type { ConvertResult } from '../types.js';
import { type EngineCheck, executorCheck, settle, verificationTable, verifyInEngine } from '../verification.js';

/** Options of `convertModel`. */
export interface ConvertOptions {
  rmsFormat?: 'onnx23' | 'simplified' | 'decomposed';
  /** Engines that verify the result (default normkit-cpu and onnxruntime). */
  engines?: EngineName[];
  seed?: number;
  /** Random input sets to verify on (default 2). */
  runs?: number;
  dims?: Record<string, number>;
  /** Relative tolerance on max |Δ| / max |output| (default 1e-5, as verifyEquivalence; 8× the storage rounding for float16 weights). */
  tolerance?: number;
  /** The input file (onnxruntime loads it from there). */
  path?: string;
}

/**
 * Recognizes, analyzes and folds the model's LayerNorms, then verifies the result against the original
 * in each engine on the same seeded inputs. Throws a `CliError` (exit 2) when there is no LayerNorm to
 * fold. Writes nothing: see `normkit convert` for that.
 *
 * @example
 * ```ts
 * const { model: converted, result } = await convertModel(model, 'gpt2.onnx', { rmsFormat: 'simplified' });
 * result.foldedLayerNorms; result.maxAbsDiff; result.equivalent;
 * ```
 */
export async function convertModel(
  model: Model,
  label: string,
  opts: ConvertOptions = {},
  ctx?: Context,
): Promise<{ model: Model; result: Omit<ConvertResult, 'output' | 'written'> }> {
  const t0 = performance.now();
  const graph = await loadGraph();
  const fold = need(graph, '@normkit/graph', 'foldLayerNorms');
  const engines = opts.engines ?? ['normkit-cpu', 'onnxruntime'];
  const seed = opts.seed ?? 0;
  const runs = opts.runs ?? 2;
  const dims = opts.dims ?? {};
  const rmsFormat = opts.rmsFormat ?? 'simplified';
  checkDims(model, dims, runs); // before the fold: a misspelled --dim must not cost a whole analysis
  const step = ctx?.step('fold LayerNorms');
  let folded: ReturnType<typeof fold>;
  try {
    folded = fold(model, { rmsFormat, force: true, verify: false });
  } catch (e) {
    ctx?.closeStep(' failed');
    throw asInputError(e, label);
  }
  const { report } = folded;
  // Weights stored back in float16 or as quantized integers are rounded: the tolerance follows that rounding unless one is given.
  const tolerance = opts.tolerance ?? Math.max(1e-5, 8 * report.storageRounding);
  if (opts.tolerance === undefined && tolerance > 1e-5)
    ctx?.warn(
      `verification tolerance ${tolerance.toExponential(1)}: 8 × the ${report.storageRounding.toExponential(1)} relative rounding of storing the centered weights in the model's own precision (${report.requantized.length > 0 ? 'quantized integers' : 'float16/bfloat16'}); --tolerance overrides it`,
    );
  const analysis = report.analysis.layerNorms.map((l) => ({
    name: l.name,
    foldable: l.foldable,
    reason: l.reason,
    component: l.component ?? null,
  }));
  step?.end(`${report.folded.length} of ${analysis.length}`);
  if (report.folded.length === 0) {
    if (analysis.length === 0) {
      throw new CliError(
        `${label}: no LayerNorm to fold (no LayerNormalization node and no decomposed LayerNorm subgraph)`,
        EXIT_BAD_INPUT,
        'NO_LAYERNORM',
      );
    }
    const first = analysis.find((l) => !l.foldable);
    throw new CliError(
      `${label}: no LayerNorm to fold: none of its ${analysis.length} LayerNorms is foldable (first: "${first?.name}": ${first?.reason}); see normkit analyze ${label}`,
      EXIT_BAD_INPUT,
      'NOTHING_FOLDABLE',
    );
  }
  const feeds = await seededFeeds(model, seed, runs, dims);
  const checks: EngineCheck[] = [];
  for (const engine of engines) {
    const s = ctx?.step(`verify in ${engine}`);
    try {
      if (engine === 'normkit-cpu') {
        const verify = need(graph, '@normkit/graph', 'verifyEquivalence');
        checks.push(executorCheck(verify(model, folded.model, { seed, runs, dims, tolerance })));
      } else {
        checks.push(
          await verifyInEngine(engine, { model, ...(opts.path ? { path: opts.path } : {}) }, { model: folded.model }, feeds, tolerance),
        );
      }
    } catch (e) {
      ctx?.closeStep(' failed');
      throw isNormkitError(e) ? asInputError(e, label) : e;
    }
    const last = checks[checks.length - 1] as EngineCheck;
    s?.end('skipped' in last ? 'skipped' : last.equivalent ? `equal, max |Δ| ${sci(last.maxAbsDiff)}` : 'DIFFERENT');
  }
  const { verification, skipped } = settle(ctx, checks);
  const w = worst(verification);
  const hist = (m: Model) => {
    const h: Record<string, number> = {};
    for (const n of m.graph.nodes) h[n.opType] = (h[n.opType] ?? 0) + 1;
    return h;
  };
  return {
    model: folded.model,
    result: {
      command: 'convert',
      input: label,
      rmsFormat,
      layerNorms: analysis.length,
      foldedLayerNorms: report.folded.length,
      components: new Set(report.folded.map((f) => f.component)).size,
      ...w,
      equivalent: verification.length > 0 && verification.every((v) => v.equivalent),
      tolerance,
      verification,
      skippedVerification: skipped,
      analysis,
      nodes: { before: model.graph.nodes.length, after: folded.model.graph.nodes.length },
      opHistogram: { before: hist(model), after: hist(folded.model) },
      inputs: describeFeeds(feeds[0] ?? {}),
      seed,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

/**
 * Why onnxruntime cannot verify a model of `bytes` here, or undefined when it can: it holds every
 * weight in memory (the original's, then the converted model's), which must fit in half of the
 * machine's memory.
 * @example ortWontFit(28e9, 24 * 2 ** 30) // 'the model's weights take 28.0 GB; ...'
 */
export function ortWontFit(bytes: number, memory = totalmem()): string | undefined {
  if (bytes <= memory / 2) return undefined;
  const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
  return `the model's weights take ${gb(bytes)}; onnxruntime holds every weight in memory, which is more than half of this machine's ${gb(memory)}; normkit-cpu verified it, streaming its weights`;
}

/** `r` with one more engine check (the onnxruntime one, made on the written files) merged in. */
function withCheck(
  r: Omit<ConvertResult, 'output' | 'written'>,
  check: EngineCheck | undefined,
): Omit<ConvertResult, 'output' | 'written'> {
  if (!check) return r;
  const verification = 'skipped' in check ? r.verification : [...r.verification, check];
  const skippedVerification =
    'skipped' in check ? [...r.skippedVerification, { engine: check.engine, reason: check.skipped }] : r.skippedVerification;
  return {
    ...r,
    ...worst(verification),
    verification,
    skippedVerification,
    equivalent: verification.length > 0 && verification.every((v) => v.equivalent),
  };
}

/** Throws unless `out` is a different file from `input` (by path, real path and inode). */
export async function assertNotSameFile(input: string, out: string): Promise<void> {
  const same = new CliError(
    `${out}: refusing to overwrite the input model; choose another output path`,
    EXIT_BAD_INPUT,
    'WOULD_OVERWRITE_INPUT',
  );
  if (resolve(input) === resolve(out)) throw same;
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  if ((await real(input)) === (await real(out))) throw same;
  const [a, b] = await Promise.all([stat(input).catch(() => undefined), stat(out).catch(() => undefined)]);
  if (a && b && a.ino === b.ino && a.dev === b.dev) throw same;
}

/**
 * Throws a clear error, before any work, when `out` cannot be written: its directory is missing or
 * not writable (checked by creating and removing a probe file there), or `out` is a directory.
 * @example await assertWritable('models/out.onnx');
 */
export async function assertWritable(out: string): Promise<void> {
  const dir = resolve(out, '..');
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory())
    throw new CliError(`${out}: cannot write there: directory ${dir} does not exist`, EXIT_BAD_INPUT, 'NO_SUCH_DIRECTORY');
  if ((await stat(out).catch(() => undefined))?.isDirectory())
    throw new CliError(`${out}: is a directory; give the path of the .onnx file to write`, EXIT_BAD_INPUT, 'NOT_A_FILE');
  const probe = join(dir, `.${basename(out)}.tmp-${process.pid}-probe-${Date.now().toString(36)}`);
  try {
    await writeFile(probe, '', { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new CliError(
      `${out}: cannot write there: creating a file in ${dir} fails (${code}); choose a writable output path`,
      EXIT_BAD_INPUT,
      'OUTPUT_NOT_WRITABLE',
    );
  }
  await rm(probe, { force: true });
}

interface ConvertCliOptions {
  output: string;
  rmsFormat: 'onnx23' | 'simplified' | 'decomposed';
  force?: boolean;
  engine: string;
  seed: string;
  runs: string;
  dim: string[];
  tolerance: string;
  session?: string;
}

/** `normkit convert <in> -o <out>` */
export async function convertCommand(ctx: Context, input: string, o: ConvertCliOptions): Promise<number> {
  const engines = parseEngines(o.engine, ['normkit-cpu', 'onnxruntime']);
  const seed = parseNumber('--seed', o.seed, 0);
  const runs = parsePositiveInt('--runs', o.runs, 2, {
    max: MAX_VERIFY_RUNS,
    why: 'each run is a forward pass of both models in every engine',
  });
  const dims = parseDims(o.dim);
  const tolerance = o.tolerance === undefined ? undefined : parseNumber('--tolerance', o.tolerance, 1e-5);
  await assertNotSameFile(input, o.output);
  await assertWritable(o.output);
  const opened = await openModel(input, { ctx });
  // onnxruntime checks the converted model as written (loaded from the files, before they are moved
  // into place), so the other engines verify first.
  const { model, result: before } = await convertModel(
    opened.model,
    opened.label,
    { rmsFormat: o.rmsFormat, engines: engines.filter((e) => e !== 'onnxruntime'), seed, runs, dims, tolerance },
    ctx,
  );
  let ortCheck: EngineCheck | undefined;
  const current = () => withCheck(before, ortCheck);
  const tooBig = engines.includes('onnxruntime') ? ortWontFit(weightBytes(opened.model)) : undefined;
  if (tooBig) {
    ortCheck = { engine: 'onnxruntime', skipped: tooBig };
    ctx.warn(`onnxruntime did not verify: ${tooBig}`);
  }
  const onnx = await loadOnnx();
  const save = need(onnx, '@normkit/onnx', 'saveModel');
  const feeds = engines.includes('onnxruntime') && !tooBig ? await seededFeeds(opened.model, seed, runs, dims) : undefined;
  const notWritten = new Error('not written');
  let written = false;
  if (feeds || current().equivalent || o.force) {
    const s = ctx.step(`write ${o.output}`);
    try {
      await save(model, o.output, {
        check: async (path: string) => {
          s.end('into a temporary folder, until checked');
          if (feeds) {
            const v = ctx.step('verify in onnxruntime (from the written files)');
            ortCheck = await verifyInEngine(
              'onnxruntime',
              { model: opened.model, path: opened.path },
              { model, path },
              feeds,
              before.tolerance,
            );
            v.end('skipped' in ortCheck ? 'skipped' : ortCheck.equivalent ? `equal, max |Δ| ${sci(ortCheck.maxAbsDiff)}` : 'DIFFERENT');
          }
          if (!current().equivalent && !o.force) throw notWritten;
        },
      });
      written = true;
    } catch (e) {
      if (e !== notWritten) {
        ctx.closeStep(' failed');
        throw isNormkitError(e) ? asInputError(e, o.output) : e;
      }
    }
  }
  const result = current();
  if (ortCheck && 'skipped' in ortCheck && !tooBig && result.verification.length > 0)
    ctx.warn(`onnxruntime could not run the reference model, so it did not verify: ${ortCheck.skipped}`);
  const doc: ConvertResult = { ...result, output: o.output, written };
  if (o.session) await writeSessionFile(o.session, 'convert', doc);
  ctx.emit(doc, () => renderConvert(doc));
  if (!result.equivalent) {
    const why =
      result.verification.length === 0
        ? `no engine could verify it (${result.skippedVerification.map((x) => `${x.engine}: ${x.reason}`).join('; ')})`
        : `the converted model's outputs differ from the input's (max abs diff ${sci(result.maxAbsDiff)}, max rel diff ${sci(result.maxRelDiff)}, argmax agreement ${(result.argmaxAgreement * 100).toFixed(1)}%)`;
    ctx.io.stderr(
      written
        ? `normkit: ${o.output}: written with --force although verification failed (max rel diff ${sci(result.maxRelDiff)})\n`
        : `normkit: ${o.output}: not written: ${why}; use --force to write it anyway\n`,
    );
    return written ? 0 : EXIT_CHECK_FAILED;
  }
  return 0;
}

/** The human-readable form of `convert`. */
export function renderConvert(r: ConvertResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.input} → ${r.output ?? '(not written)'}: folded ${r.foldedLayerNorms} of ${r.layerNorms} LayerNorms into RMSNorm (${r.rmsFormat}), ${r.components} component${r.components === 1 ? '' : 's'}; ${r.nodes.before} → ${r.nodes.after} nodes`,
  );
  if (r.verification.length > 0) lines.push(verificationTable(r.verification));
  for (const s of r.skippedVerification) lines.push(`${s.engine}: not verified (${s.reason})`);
  const kept = r.analysis.filter((l) => !l.foldable);
  if (kept.length > 0)
    lines.push(
      `kept ${kept.length} LayerNorm${kept.length === 1 ? '' : 's'}: ${kept
        .slice(0, 3)
        .map((l) => `${l.name} (${l.reason.split('; path: ')[0]})`)
        .join('; ')}${kept.length > 3 ? '; …' : ''}`,
    );
  lines.push(
    r.equivalent
      ? `equivalent: yes${r.written ? `; wrote ${r.output}` : ''}`
      : `equivalent: NO${r.written ? ` — written anyway (--force): ${r.output}` : ' — not written'}`,
  );
  return lines.join('\n');
}
