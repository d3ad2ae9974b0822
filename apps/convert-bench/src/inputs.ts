import type { Model } from '@normkit/graph';
import type { Tensor } from '@normkit/tensor';
import { loadGraph, need } from './deps.js';
import { CliError, EXIT_BAD_INPUT } from './errors.js';

/** Named input tensors for one run of a model. */
export type Feeds = Record<string, Tensor>;

/** The largest value one `--dim` may take (a tensor dimension is a 32-bit integer in onnxruntime too). */
export const MAX_DIM = 2 ** 31 - 1;
/** The most input elements the CLI generates up front, over all input sets (2^28 = 1 GiB of float32). */
export const MAX_INPUT_ELEMENTS = 2 ** 28;

/** Parses `--dim seq=16 --dim batch=2` values. @example parseDims(['seq=16']) // { seq: 16 } */
export function parseDims(values: readonly string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values ?? []) {
    for (const part of v.split(',')) {
      const m = /^([^=]+)=(\d+)$/.exec(part.trim());
      if (!m || Number(m[2]) < 1)
        throw new CliError(`--dim expects name=positive-integer (e.g. --dim seq=16), got "${v}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
      if (Number(m[2]) > MAX_DIM)
        throw new CliError(`--dim ${part.trim()}: a dimension must be at most ${MAX_DIM}`, EXIT_BAD_INPUT, 'BAD_USAGE');
      out[(m[1] as string).trim()] = Number(m[2]);
    }
  }
  return out;
}

/**
 * Checks `--dim` values against the model before any input is made: every name must be a named
 * (symbolic) dim of a model input — a misspelling is an error listing the names that exist — and
 * `sets` input sets at these dims must stay within `MAX_INPUT_ELEMENTS`.
 *
 * @example
 * ```ts
 * checkDims(model, { seq: 16 }, 2); // throws for { sq: 16 }: "the model's named input dims are: batch, seq"
 * ```
 */
export function checkDims(model: Model, dims: Record<string, number>, sets = 1): void {
  const inputs = model.graph.runtimeInputs();
  const named = [...new Set(inputs.flatMap((v) => (v.shape ?? []).filter((d): d is string => typeof d === 'string')))];
  const unknown = Object.keys(dims).filter((d) => !named.includes(d));
  if (unknown.length > 0) {
    const have = named.length > 0 ? `its named input dims are: ${named.join(', ')}` : 'its inputs have no named (symbolic) dims';
    throw new CliError(`--dim ${unknown.join(', ')}: the model has no input dim of that name; ${have}`, EXIT_BAD_INPUT, 'UNKNOWN_DIM');
  }
  // An upper bound: a dim the user did not set counts as 8, the largest default randomInputs picks.
  let total = 0;
  for (const v of inputs)
    total += (v.shape ?? []).reduce<number>(
      (n, d) => n * (typeof d === 'number' && d > 0 ? d : typeof d === 'string' ? (dims[d] ?? 8) : 8),
      1,
    );
  if (total * sets > MAX_INPUT_ELEMENTS)
    throw new CliError(
      `the model's inputs at these dims (${Object.entries(dims)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ', ',
        )}) have up to ${total} elements${sets > 1 ? ` per input set, × ${sets} sets` : ''}: over the ${MAX_INPUT_ELEMENTS} elements normkit generates up front; use smaller --dim${sets > 1 ? ' or fewer --runs' : ''} values`,
      EXIT_BAD_INPUT,
      'INPUTS_TOO_LARGE',
    );
}

/**
 * The seeded random feeds the CLI uses: feed r is `randomInputs(model, seed + r, dims)` from
 * @normkit/graph (the same feeds `verifyEquivalence` makes, so every engine sees the same inputs).
 * The dims are checked first (`checkDims`).
 *
 * @example
 * ```ts
 * const [feed] = await seededFeeds(model, 0, 1, { seq: 16 });
 * ```
 */
export async function seededFeeds(model: Model, seed: number, count: number, dims: Record<string, number> = {}): Promise<Feeds[]> {
  checkDims(model, dims, count);
  const graph = await loadGraph();
  const randomInputs = need(graph, '@normkit/graph', 'randomInputs');
  const feeds: Feeds[] = [];
  for (let r = 0; r < count; r++) feeds.push(randomInputs(model, seed + r, dims));
  return feeds;
}

/** `[{ name, dtype, shape }]` of the feeds, for reports. */
export function describeFeeds(feeds: Feeds): { name: string; dtype: string; shape: number[] }[] {
  return Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
}

/** `input_ids int64[2×8], attention_mask int64[2×8]` */
export function fmtFeeds(feeds: Feeds): string {
  return describeFeeds(feeds)
    .map((f) => `${f.name} ${f.dtype}[${f.shape.join('×')}]`)
    .join(', ');
}
