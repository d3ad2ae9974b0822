import { CliError, EXIT_CHECK_FAILED } from './errors.js';

// The packages the CLI composes are imported lazily: `normkit report` or `normkit zoo --list` need not
// load onnxruntime or the GPU backend, and a command says clearly which package it could not load.

type Loader<M> = () => Promise<M>;

function lazy<M>(name: string, load: Loader<M>): Loader<M> {
  let p: Promise<M> | undefined;
  return () => {
    p ??= load().catch((e: unknown) => {
      p = undefined;
      throw new CliError(
        `could not load ${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
        EXIT_CHECK_FAILED,
        'MISSING_PACKAGE',
        { cause: e },
      );
    });
    return p;
  };
}

export const loadGraph = lazy('@normkit/graph', () => import('@normkit/graph'));
export const loadOnnx = lazy('@normkit/onnx', () => import('@normkit/onnx'));
export const loadZoo = lazy('@normkit/zoo', () => import('@normkit/zoo'));
export const loadTheory = lazy('@normkit/theory', () => import('@normkit/theory'));
export const loadExperiments = lazy('@normkit/experiments', () => import('@normkit/experiments'));
export const loadTrain = lazy('@normkit/train', () => import('@normkit/train'));
export const loadGpu = lazy('@normkit/gpu', () => import('@normkit/gpu'));
export const loadOrt = lazy('onnxruntime-node', () => import('onnxruntime-node'));

/**
 * The export `name` of a package module, or a clear error when the package does not provide it.
 * @example const fold = need(await loadGraph(), '@normkit/graph', 'foldLayerNorms');
 */
export function need<M extends object, K extends keyof M>(mod: M, pkg: string, name: K): NonNullable<M[K]> {
  const v = mod[name];
  if (v === undefined || v === null) {
    throw new CliError(`${pkg} does not export ${String(name)}; this normkit build is incomplete`, EXIT_CHECK_FAILED, 'MISSING_EXPORT');
  }
  return v as NonNullable<M[K]>;
}
