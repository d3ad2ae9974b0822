/**
 * @normkit/tensor/testing — the backend conformance suite and the naive references it checks against.
 * A backend passes by running every case: in a test runner with `backendConformance`, or anywhere
 * (a browser page) with `runConformance`.
 *
 * @example
 * ```ts
 * import { afterAll, describe, it } from 'vitest';
 * import { backendConformance } from '@normkit/tensor/testing';
 * backendConformance({ describe, it, afterAll }, 'my backend', () => new MyBackend(), { skip: {} });
 * ```
 */
export {
  ACCUMULATED,
  AFFINE,
  type ConformanceCase,
  type ConformanceFamily,
  conformanceCases,
  EXACT,
  type Expected,
  ROUNDED,
  type Tolerance,
  TRANSCENDENTAL,
} from './cases.js';
export {
  backendConformance,
  type CaseReport,
  type ConformanceOptions,
  checkCase,
  runConformance,
  staleSkips,
  type TestApi,
} from './conformance.js';
export * from './reference.js';
