import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Context, MAX_BENCH_RUNS, parseNumber, parsePositiveInt } from '../context.js';
import { loadOnnx, need } from '../deps.js';
import { defaultEngines, type EngineName, parseEngines } from '../engines.js';
import { EXIT_CHECK_FAILED } from '../errors.js';
import { ms, sci, signedPct, table } from '../format.js';
import { buildZooModel } from '../models.js';
import { writeSessionFile } from '../session.js';
import type { BenchResult, ConvertResult } from '../types.js';
import { type AnalyzeResult, analyzeModel } from './analyze.js';
import { benchmarkModels, parseRuns, runsText } from './bench.js';
import { convertModel } from './convert.js';
import { writeReport } from './report.js';

/** Options of `runPipeline`. */
export interface PipelineOptions {
  arch?: string;
  size?: string;
  seed?: number;
  /** Directory for the models, JSON and report (default: a new temporary directory). */
  session?: string;
  engines?: EngineName[];
  runs?: number | 'auto';
  warmup?: number;
}

/** What the whole pipeline reports. */
export interface PipelineResult {
  command: 'pipeline';
  session: string;
  model: { arch: string; size: string; seed: number; original: string; converted: string | null };
  analyze: AnalyzeResult['summary'];
  convert: ConvertResult;
  bench: BenchResult | null;
  report: string | null;
}

/**
 * The whole pipeline on a built-in zoo model: build → analyze → convert (fold + verify in our
 * executor and onnxruntime) → bench (converted vs original, alternating runs) → HTML report. Everything
 * lands in the session directory: original.onnx, converted.onnx, analyze/convert/bench.json, report.html.
 *
 * @example
 * ```ts
 * const r = await runPipeline({ arch: 'gpt2', size: 'tiny', runs: 20 });
 * r.convert.foldedLayerNorms; r.bench?.ratios; r.report;
 * ```
 */
export async function runPipeline(opts: PipelineOptions = {}, ctx?: Context): Promise<PipelineResult> {
  const arch = opts.arch ?? 'gpt2';
  const size = opts.size ?? 'tiny';
  const seed = opts.seed ?? 0;
  const engines = opts.engines ?? ['normkit-cpu', 'onnxruntime'];
  const session = opts.session ?? (await mkdtemp(join(tmpdir(), 'normkit-')));
  await mkdir(session, { recursive: true });
  const onnx = await loadOnnx();
  const save = need(onnx, '@normkit/onnx', 'saveModel');
  const load = need(onnx, '@normkit/onnx', 'loadModel');
  const original = join(session, `${arch}-${size}.onnx`);
  const converted = join(session, `${arch}-${size}.rms.onnx`);

  let s = ctx?.step(`build zoo:${arch}:${size} (seed ${seed}) → ${original}`);
  const built = await buildZooModel({ arch, size, seed });
  await save(built, original, { overwrite: true });
  // Work from the file, as a user would: what onnxruntime loads is what we fold.
  const model = await load(original);
  s?.end();

  s = ctx?.step('analyze LayerNorms');
  const analysis = await analyzeModel(model, original);
  await writeSessionFile(session, 'analyze', analysis);
  s?.end(`${analysis.summary.foldable} of ${analysis.summary.total} foldable`);

  const verifyEngines = engines.filter((e) => e !== 'normkit-gpu');
  const { model: folded, result } = await convertModel(
    model,
    original,
    { engines: verifyEngines.length ? verifyEngines : ['normkit-cpu'], seed, path: original },
    ctx,
  );
  let written = false;
  if (result.equivalent) {
    await save(folded, converted, { overwrite: true });
    written = true;
  }
  const convert: ConvertResult = { ...result, output: written ? converted : null, written };
  await writeSessionFile(session, 'convert', convert);

  let bench: BenchResult | null = null;
  let report: string | null = null;
  if (written) {
    bench = await benchmarkModels(
      { model: await load(converted), label: converted, path: converted },
      { model, label: original, path: original },
      { engines, runs: opts.runs ?? 'auto', warmup: opts.warmup ?? 3, seed },
      ctx,
    );
    await writeSessionFile(session, 'bench', bench);
  }
  s = ctx?.step('write report.html');
  report = (await writeReport(session)).report;
  s?.end();
  return {
    command: 'pipeline',
    session,
    model: { arch, size, seed, original, converted: written ? converted : null },
    analyze: analysis.summary,
    convert,
    bench,
    report,
  };
}

/** `normkit` with no command. */
export async function pipelineCommand(
  ctx: Context,
  o: { arch: string; size: string; session?: string; runs: string; warmup: string; engine?: string; seed: string },
): Promise<number> {
  const r = await runPipeline(
    {
      arch: o.arch,
      size: o.size,
      seed: parseNumber('--seed', o.seed, 0),
      ...(o.session ? { session: o.session } : {}),
      engines: o.engine ? parseEngines(o.engine, []) : await defaultEngines(),
      runs: parseRuns(o.runs),
      warmup: parsePositiveInt('--warmup', o.warmup, 3, { allowZero: true, max: MAX_BENCH_RUNS }),
    },
    ctx,
  );
  ctx.emit(r, () => renderPipeline(r));
  return r.convert.equivalent ? 0 : EXIT_CHECK_FAILED;
}

/** The summary the pipeline prints: one numbered line (or block) per stage. */
export function renderPipeline(r: PipelineResult): string {
  const c = r.convert;
  const pad = '              ';
  const lines: string[] = [''];
  lines.push(`normkit: the whole pipeline on zoo:${r.model.arch}:${r.model.size} (seeded weights)    session ${r.session}`);
  lines.push('');
  lines.push(
    `  1 analyze   ${r.analyze.total} LayerNorms, ${r.analyze.foldable} foldable (${r.analyze.components} component${r.analyze.components === 1 ? '' : 's'})`,
  );
  lines.push(
    `  2 convert   ${c.foldedLayerNorms} LayerNorm → RMSNorm (${FORMAT[c.rmsFormat] ?? c.rmsFormat}), their source weights centered; ${c.nodes.before} → ${c.nodes.after} nodes`,
  );
  c.verification.forEach((v, i) => {
    lines.push(
      `${i === 0 ? '  3 verify    ' : pad}${v.engine.padEnd(12)} ${v.equivalent ? 'same outputs' : 'DIFFERENT   '}  max |Δ| ${sci(v.maxAbsDiff)} (relative ${sci(v.maxRelDiff)}), argmax agreement ${(v.argmaxAgreement * 100).toFixed(0)}%`,
    );
  });
  if (r.bench) {
    const b = r.bench;
    lines.push(
      `  4 bench     medians of ${runsText(b)} per model (alternating) after ${b.warmup} warm-up, inputs ${b.inputs.map((f) => `${f.name}[${f.shape.join('×')}]`).join(', ')}`,
    );
    lines.push(
      table(
        ['engine', 'original ms', 'converted ms', 'speed-up', 'time'],
        b.ratios.map((x) => {
          const before = b.results.find((e) => e.engine === x.engine && e.role === 'against');
          const after = b.results.find((e) => e.engine === x.engine && e.role === 'model');
          return [
            x.engine,
            ms(before?.medianMs ?? Number.NaN),
            ms(after?.medianMs ?? Number.NaN),
            `${x.speedup.toFixed(3)}×`,
            signedPct(x.ratio - 1),
          ];
        }),
        { indent: pad },
      ),
    );
  } else lines.push('  4 bench     skipped: the converted model failed verification and was not written');
  if (r.report) lines.push(`  5 report    ${r.report}`);
  lines.push('');
  lines.push(`  models      ${r.model.original}${r.model.converted ? ` → ${r.model.converted}` : ''}`);
  lines.push('  your model  normkit analyze m.onnx  ·  normkit convert m.onnx -o m.rms.onnx  ·  normkit bench m.rms.onnx --against m.onnx');
  return lines.join('\n');
}

const FORMAT: Record<string, string> = {
  simplified: 'SimplifiedLayerNormalization + bias Add',
  onnx23: 'ONNX RMSNormalization, opset 23, + bias Add',
  decomposed: 'Pow/ReduceMean/Sqrt/Div/Mul + bias Add',
};
