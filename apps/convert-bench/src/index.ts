/**
 * @normkit/convert-bench — the `normkit` command and its pipeline as functions: open a model, find and
 * fold its foldable LayerNorms into RMSNorms, prove the outputs are unchanged (our executor and
 * onnxruntime), benchmark it against the original, and render an HTML report.
 *
 * @example
 * ```ts
 * import { runPipeline } from '@normkit/convert-bench';
 * const r = await runPipeline({ arch: 'gpt2', size: 'tiny' });
 * console.log(r.convert.foldedLayerNorms, r.bench?.ratios, r.report);
 * ```
 */
export { type AnalyzeResult, analyzeModel } from './commands/analyze.js';
export { type BenchModel, type BenchOptions, benchmarkModels, machineInfo, renderBench } from './commands/bench.js';
export { assertNotSameFile, type ConvertOptions, convertModel } from './commands/convert.js';
export { type InspectResult, inspectModel } from './commands/inspect.js';
export { type PipelineOptions, type PipelineResult, runPipeline } from './commands/pipeline.js';
export { type ReportResult, writeReport } from './commands/report.js';
export { findTestDirectories } from './commands/test-onnx.js';
export { type VerifyModelsOptions, type VerifyReport, verifyModels } from './commands/verify.js';
export { argmaxAgreement, compareOutputs, DEFAULT_TOLERANCE, type OutputDiff } from './compare.js';
export { Context, type Io } from './context.js';
export { createRunner, ENGINES, type EngineName, type ModelSource, type OpTypeTime, profileByOpType, type Runner } from './engines.js';
export { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, errorLine, exitCodeOf } from './errors.js';
export { type Feeds, parseDims, seededFeeds } from './inputs.js';
export { type OpenedModel, openModel, parseZooSpec } from './models.js';
export { createProgram, main } from './program.js';
export { type RenderedReport, renderReport } from './report/html.js';
export { chromiumPath, type RenderCheck, screenshotReport } from './report/render.js';
export { readSession, type Session, writeSessionFile } from './session.js';
export { median, quantile, type TimingStats, timingStats } from './stats.js';
export type {
  BenchEntry,
  BenchRatio,
  BenchResult,
  ConvertResult,
  EngineVerification,
  LayerNormVerdict,
  MachineInfo,
  OpBreakdown,
} from './types.js';
