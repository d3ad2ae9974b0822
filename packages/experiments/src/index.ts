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

import { cbwcExperiment } from './cbwc.js';
import { intlExperiment } from './intl.js';
import { lngExperiment } from './lng.js';
import { lnnetExperiment } from './lnnet.js';
import { plnExperiment } from './pln.js';

export { cbwcExperiment, intlExperiment, lngExperiment, lnnetExperiment, plnExperiment };

/** Every experiment by its CLI name. @example experiments.cbwc.title */
export const experiments = {
  cbwc: cbwcExperiment,
  pln: plnExperiment,
  lng: lngExperiment,
  lnnet: lnnetExperiment,
  intl: intlExperiment,
} as const;

export { resultMarkdown, runExperiment, tableCell } from './run.js';
export { fmtStat, meanStd, seedsOf } from './stats.js';
export type { Experiment, ExperimentOptions, ExperimentResult, Finding, Plot, RunProgress, Stat } from './types.js';
