import { analyzeFoldability, recognizeLayerNorms } from '@normkit/graph';
import type { ZooSize } from './architecture.js';
import { architectures, buildModel } from './architectures/index.js';

/** One row of `foldabilityTable`: what recognition and foldability analysis found in one zoo architecture. */
export interface TableRow {
  /** The architecture's name, e.g. `gpt2`. */
  architecture: string;
  /** LayerNormalization nodes after `recognizeLayerNorms`. */
  layerNorms: number;
  /** How many of them `analyzeFoldability` found foldable. */
  foldable: number;
  /** The counts the architecture declares for this size (`ArchitectureInfo.expected`). */
  expected: { layerNorms: number; foldable: number };
  /** Distinct reasons for the LNs that are not foldable, with counts. */
  reasons: { reason: string; count: number }[];
}

/** Shortens a verdict reason to its cause (drops node paths) so that equal causes group together. */
function cause(reason: string, blocking?: string): string {
  const r = reason.replace(/; path: .*$/, '').replace(/^its sources cannot be centered: /, 'consumer check: ');
  return blocking ? r.replace(/"[^"]*"/g, '…').replace(/\S+ \((\w+)\) reads/, '$1 reads') : r;
}

/**
 * Runs recognition + foldability analysis on every zoo architecture and returns one row each.
 *
 * @example
 * ```ts
 * foldabilityTable('small').find((r) => r.architecture === 'gpt2'); // { layerNorms: 25, foldable: 25, ... }
 * ```
 */
export function foldabilityTable(size: ZooSize = 'tiny', opset: 14 | 17 = 17): TableRow[] {
  return architectures.map((a) => {
    const { model } = recognizeLayerNorms(buildModel(a.name, { size, opset, seed: 0 }));
    const rep = analyzeFoldability(model);
    const reasons = new Map<string, number>();
    for (const l of rep.layerNorms)
      if (!l.foldable) reasons.set(cause(l.reason, l.blockingNode), (reasons.get(cause(l.reason, l.blockingNode)) ?? 0) + 1);
    return {
      architecture: a.name,
      layerNorms: rep.layerNorms.length,
      foldable: rep.layerNorms.filter((l) => l.foldable).length,
      expected: a.expected(size),
      reasons: [...reasons].map(([reason, count]) => ({ reason, count })),
    };
  });
}
