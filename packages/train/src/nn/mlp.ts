import { deriveSeed, type FloatDType, type Seed } from './init.js';
import { Flatten, Identity, ReLU } from './layers.js';
import { CenteredLinear, Linear } from './linear.js';
import { makeNorm, type NormKind } from './make-norm.js';
import type { Module } from './module.js';
import { Sequential } from './sequential.js';

/** Options shared by the networks. */
export interface NetworkOptions {
  /** The normalisation after every hidden linear map / convolution (see `NormKind`). */
  norm: NormKind;
  /** Groups of LN-G / GroupNorm / IterNorm, or of PLN instead of `groupSize`. */
  groups?: number;
  /** PLN features per group. Default 8. */
  groupSize?: number;
  /** One seed for the whole network; every layer's seed derives from it and the layer's name. */
  seed: Seed;
  /** dtype of every parameter and buffer. Default 'float32'. */
  dtype?: FloatDType;
  /**
   * Build the layers that feed a norm column-centred (CBWC). Default: `norm === 'cbwc'`. With
   * `norm: 'ln'` it gives the LN network whose every norm input is zero-mean, i.e. the one a `cbwc`
   * network equals.
   */
  centerSources?: boolean;
}

/** Options of `MLP`. */
export interface MlpOptions extends NetworkOptions {
  /** Input features (after flattening). Default 784 (28×28). */
  inFeatures?: number;
  /** Hidden widths. Default [256, 256]. */
  hidden?: readonly number[];
  /** Classes. Default 10. */
  numClasses?: number;
  /**
   * The nonlinearity after each norm: 'relu' (default), or 'none' to let the norm be the only
   * nonlinearity (PLN / LN-G networks of the PLN paper).
   */
  activation?: 'relu' | 'none';
}

/**
 * A classifier MLP: Flatten → [Linear → norm → ReLU] per hidden width → Linear to the classes. With
 * `cbwc` the hidden Linear layers (the ones feeding an RMSNorm) are `CenteredLinear`; the head is a
 * plain Linear. Children are numbered like PyTorch's `nn.Sequential` ('1.weight', '2.weight', ...):
 * every hidden layer takes three slots (linear, norm, activation), an Identity where the norm or the
 * activation is 'none', so names do not depend on those choices.
 *
 * @example
 * ```ts
 * const net = new MLP({ norm: 'ln', seed: 1 });         // 784 → 256 → 256 → 10
 * const pln = new MLP({ norm: 'pln', groupSize: 8, activation: 'none', seed: 1 });
 * net.forward(Tensor.zeros([32, 1, 28, 28])).shape;     // [32, 10]
 * ```
 */
export class MLP extends Sequential {
  constructor(opts: MlpOptions) {
    const hidden = opts.hidden ?? [256, 256];
    const centered = opts.centerSources ?? opts.norm === 'cbwc';
    const layers: Module[] = [new Flatten()];
    let width = opts.inFeatures ?? 784;
    for (const h of hidden) {
      const i = layers.length;
      const lin = { seed: deriveSeed(opts.seed, String(i)), dtype: opts.dtype };
      layers.push(
        centered ? new CenteredLinear(width, h, lin) : new Linear(width, h, lin),
        makeNorm(opts.norm, h, { groups: opts.groups, groupSize: opts.groupSize, dtype: opts.dtype }),
        opts.activation === 'none' ? new Identity() : new ReLU(),
      );
      width = h;
    }
    layers.push(new Linear(width, opts.numClasses ?? 10, { seed: deriveSeed(opts.seed, String(layers.length)), dtype: opts.dtype }));
    super(...layers);
  }
}
