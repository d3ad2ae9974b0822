import { CenteredConv2d, Conv2d, MaxPool2d } from './conv.js';
import { deriveSeed } from './init.js';
import { Flatten, ReLU } from './layers.js';
import { Linear } from './linear.js';
import { makeNorm } from './make-norm.js';
import type { NetworkOptions } from './mlp.js';
import { Sequential } from './sequential.js';

/** Options of `CNN`. */
export interface CnnOptions extends NetworkOptions {
  /** Input channels. Default 1. */
  inChannels?: number;
  /** Input height = width. Default 28. */
  imageSize?: number;
  /** Output channels of the two 3×3 convolutions. Default [16, 32]. */
  channels?: readonly [number, number];
  /** Classes. Default 10. */
  numClasses?: number;
}

/**
 * A small CNN: [Conv 3×3 (padding 1) → norm → ReLU → MaxPool 2] × 2 → Flatten → Linear to the
 * classes (28×28×1 → 16·14·14 → 32·7·7 → 10 by default). The norm acts on the channels of the
 * conv maps: BatchNorm as BatchNorm2d (per channel over batch and positions), GroupNorm and IterNorm
 * over [N, C, H, W] as usual, and the per-sample norms (ln, rms, cbwc, pln, lng) over the channels at
 * each position (the conv map is made channels-last and normalised row by row). That last choice is
 * what makes `cbwc` exact: a `CenteredConv2d` output sums to 0 over the channels at every position, so
 * its per-position RMSNorm equals the per-position LayerNorm.
 *
 * @example
 * ```ts
 * const net = new CNN({ norm: 'bn', seed: 1 });
 * net.forward(Tensor.zeros([8, 1, 28, 28])).shape; // [8, 10]
 * ```
 */
export class CNN extends Sequential {
  constructor(opts: CnnOptions) {
    const [c1, c2] = opts.channels ?? [16, 32];
    const size = opts.imageSize ?? 28;
    const centered = opts.centerSources ?? opts.norm === 'cbwc';
    const Conv = centered ? CenteredConv2d : Conv2d;
    const norm = (c: number) =>
      makeNorm(opts.norm, c, { groups: opts.groups, groupSize: opts.groupSize, dtype: opts.dtype, layout: 'channels' });
    const seed = (i: number) => ({ seed: deriveSeed(opts.seed, String(i)), dtype: opts.dtype, padding: 1 });
    const out = Math.floor(Math.floor(size / 2) / 2);
    super(
      new Conv(opts.inChannels ?? 1, c1, 3, seed(0)),
      norm(c1),
      new ReLU(),
      new MaxPool2d(2),
      new Conv(c1, c2, 3, seed(4)),
      norm(c2),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(c2 * out * out, opts.numClasses ?? 10, { seed: deriveSeed(opts.seed, '9'), dtype: opts.dtype }),
    );
  }
}
