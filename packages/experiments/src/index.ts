/**
 * @normkit/experiments — the training experiments of the four papers, reproduced at small scale
 * (Fashion-MNIST and synthetic sets, CPU) with seeds and mean ± std, each reporting honestly what
 * reproduced and what did not.
 *
 * @example
 * ```ts
 * import { experiments, runExperiment } from '@normkit/experiments';
 * const r = await runExperiment(experiments.lng, { quick: true });
 * console.table(r.rows);
 * ```
 */

export { resultMarkdown, runExperiment } from './run.js';
export { fmtStat, meanStd, seedsOf } from './stats.js';
export type { Experiment, ExperimentOptions, ExperimentResult, Finding, Plot, RunProgress, Stat } from './types.js';
