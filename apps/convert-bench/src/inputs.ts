import type { Model } from '@normkit/graph';
import type { Tensor } from '@normkit/tensor';
import { loadGraph, need } from './deps.js';
import { CliError, EXIT_BAD_INPUT } from './errors.js';

/** Named input tensors for one run of a model. */
export type Feeds = Record<string, Tensor>;

/** Parses `--dim seq=16 --dim batch=2` values. @example parseDims(['seq=16']) // { seq: 16 } */
export function parseDims(values: readonly string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values ?? []) {
    for (const part of v.split(',')) {
      const m = /^([^=]+)=(\d+)$/.exec(part.trim());
      if (!m || Number(m[2]) < 1)
        throw new CliError(`--dim expects name=positive-integer (e.g. --dim seq=16), got "${v}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
      out[m[1] as string] = Number(m[2]);
    }
  }
  return out;
}

/**
 * The seeded random feeds the CLI uses: feed r is `randomInputs(model, seed + r, dims)` from
 * @normkit/graph (the same feeds `verifyEquivalence` makes, so every engine sees the same inputs).
 *
 * @example
 * ```ts
 * const [feed] = await seededFeeds(model, 0, 1, { seq: 16 });
 * ```
 */
export async function seededFeeds(model: Model, seed: number, count: number, dims: Record<string, number> = {}): Promise<Feeds[]> {
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
