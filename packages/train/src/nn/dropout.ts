import { mul, NormkitError, type Rng, Tensor } from '@normkit/tensor';
import { rngOf, type Seed } from './init.js';
import { Module } from './module.js';

/**
 * Dropout (PyTorch `nn.Dropout`): in train mode each element is zeroed with probability p and the
 * kept ones scaled by 1/(1 − p) ("inverted" dropout, so eval needs no rescaling); in eval mode, or with
 * p = 0, the identity. The mask comes from the module's own seeded Rng, advancing at every call, so a
 * run is reproducible from the seed.
 *
 * @example
 * ```ts
 * const drop = new Dropout(0.1, { seed: 3 });
 * drop.forward(x);        // train: about 10% zeros, the rest ×1/0.9
 * drop.eval().forward(x); // x itself
 * ```
 */
export class Dropout extends Module {
  private readonly rng: Rng;

  constructor(
    readonly p = 0.5,
    opts: { seed?: Seed } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new NormkitError('INVALID_ARGUMENT', `Dropout: p must be in [0, 1], got ${p}`);
    this.rng = rngOf(opts.seed);
  }

  /**
   * In training (and p > 0): x with each element zeroed with probability p and the rest scaled by 1/(1 − p),
   * drawn from the module's seeded stream; in eval mode, or with p = 0, x itself.
   * @example drop.forward(x)
   */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const mask = Tensor.zeros(x.shape, x.dtype);
    const m = mask.data as Float32Array | Float64Array;
    const keep = this.p === 1 ? 0 : 1 / (1 - this.p);
    for (let i = 0; i < m.length; i++) m[i] = this.rng.uniform() < this.p ? 0 : keep;
    return mul(x, mask);
  }
}
