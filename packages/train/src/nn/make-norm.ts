import { NormkitError } from '@normkit/tensor';
import { Identity } from './layers.js';
import type { Module } from './module.js';
import { GroupNorm, LayerNorm, LNG, type NormModuleOptions, PLN, RMSNorm } from './norms.js';
import { BatchNorm, IterNorm } from './running-norms.js';

/**
 * The normalisations a network can be built with:
 * - `ln` LayerNorm; `rms` RMSNorm (γ only);
 * - `cbwc` RMSNorm with γ and β, fed by column-centred (CBWC) layers: the network builds the layers
 *   that write into the norm as `CenteredLinear` / `CenteredConv2d`, which makes it equal to LN;
 * - `pln` Parallel LN (group size `groupSize`, default 8, or `groups` groups); `lng` LN-G with
 *   `groups` groups (required);
 * - `bn` BatchNorm; `gn` GroupNorm (`groups` groups, required); `iternorm` IterNorm (`groups` groups,
 *   default 1);
 * - `none` the identity.
 */
export type NormKind = 'ln' | 'rms' | 'cbwc' | 'pln' | 'lng' | 'bn' | 'gn' | 'iternorm' | 'none';

/** Every `NormKind`, for option parsing and sweeps. */
export const NORM_KINDS: readonly NormKind[] = ['ln', 'rms', 'cbwc', 'pln', 'lng', 'bn', 'gn', 'iternorm', 'none'];

/** Options of `makeNorm`. */
export interface MakeNormOptions extends NormModuleOptions {
  /** Number of groups: LN-G and GroupNorm (required there), IterNorm (default 1), PLN (instead of `groupSize`). */
  groups?: number;
  /** PLN features per group. Default 8. */
  groupSize?: number;
}

/**
 * A normalisation module of `kind` over `dim` features (see `NormKind`).
 * @example
 * ```ts
 * makeNorm('ln', 256);                                   // LayerNorm(256)
 * makeNorm('lng', 256, { groups: 4 });                   // LN-G, 4 groups of 64
 * makeNorm('bn', 16, { layout: 'channels' });            // BatchNorm2d over conv maps
 * ```
 */
export function makeNorm(kind: NormKind, dim: number, opts: MakeNormOptions = {}): Module {
  const { groups, groupSize, ...common } = opts;
  const needGroups = (what: string): number => {
    if (groups === undefined)
      throw new NormkitError('INVALID_ARGUMENT', `makeNorm('${kind}', ${dim}): ${what} needs { groups } (the number of feature groups)`);
    return groups;
  };
  switch (kind) {
    case 'ln':
      return new LayerNorm(dim, common);
    case 'rms':
      return new RMSNorm(dim, common);
    case 'cbwc':
      return new RMSNorm(dim, { ...common, bias: true });
    case 'pln':
      return new PLN(dim, groups !== undefined && groupSize === undefined ? { ...common, numGroups: groups } : { ...common, groupSize });
    case 'lng':
      return new LNG(dim, needGroups('LN-G'), common);
    case 'bn':
      return new BatchNorm(dim, common);
    case 'gn':
      return new GroupNorm(needGroups('GroupNorm'), dim, common);
    case 'iternorm':
      return new IterNorm(dim, { ...common, numGroups: groups ?? 1 });
    case 'none':
      return new Identity();
    default:
      throw new NormkitError('INVALID_ARGUMENT', `makeNorm: unknown norm kind '${String(kind)}'; use one of ${NORM_KINDS.join(', ')}`);
  }
}
