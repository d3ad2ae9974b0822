import { Rng, Tensor } from '@normkit/tensor';

// Seeded parameter initialisation, the same on every machine (Rng is xoshiro128** on 32-bit integer
// arithmetic). The schemes are PyTorch's defaults:
// - Linear and Conv2d: weight and bias ~ U(−1/√fan_in, 1/√fan_in), fan_in = in_features
//   (Conv2d: in_channels/groups·kh·kw). For the weight this is exactly kaiming_uniform_(a = √5):
//   gain √(2/(1 + 5)) = √(1/3), bound = gain·√(3/fan_in) = 1/√fan_in.
// - Embedding: N(0, 1).
// - Norm gains 1, norm biases 0; BatchNorm running mean 0, running variance 1; IterNorm running
//   whitening matrix I.
// - ViT class token and learned positions: N(0, 0.02²), plain normal. timm draws them with
//   trunc_normal_(std=0.02), whose default cut is at ±2 in absolute units (±100σ), so the two are the
//   same distribution in practice.
// Within one module, parameters are drawn from one Rng in registration order (weight, then bias).
// Across modules, a network gives every child its own seed, derived from the network's seed and the
// child's dotted name (`deriveSeed`), so that adding or resizing one layer leaves the others' draws
// unchanged.

/** A seed, or a generator to draw from (its state advances). */
export type Seed = number | Rng;

/** The floating dtypes parameters can have; float64 serves gradient checks. */
export type FloatDType = 'float32' | 'float64';

/** Options every parametrised module takes. */
export interface InitOptions {
  /** Seed (or Rng) of the parameters. Default 0. */
  seed?: Seed;
  /** dtype of parameters and buffers. Default 'float32'. */
  dtype?: FloatDType;
}

/**
 * A child seed: a 32-bit hash of `seed` and `name` (FNV-1a over the name's UTF-16 units, mixed with the
 * seed and finalised by murmur3's fmix32). With an Rng, its next 32-bit draw is the base seed.
 * @example deriveSeed(42, 'blocks.0.attn.qkv') // the same integer on every machine
 */
export function deriveSeed(seed: Seed, name: string): number {
  const base = typeof seed === 'number' ? seed >>> 0 : seed.nextUint32();
  let h = 0x811c9dc5 ^ Math.imul(base, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The generator for a seed: a fresh Rng for a number, the Rng itself otherwise. @example rngOf(7).uniform() */
export function rngOf(seed: Seed = 0): Rng {
  return typeof seed === 'number' ? new Rng(seed) : seed;
}

/** A tensor of U(−bound, bound) draws. @example uniformInit([4, 3], 1 / Math.sqrt(3), rngOf(0)) */
export function uniformInit(shape: readonly number[], bound: number, rng: Rng, dtype: FloatDType = 'float32'): Tensor {
  const t = Tensor.zeros(shape, dtype);
  const d = t.data as Float32Array | Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-bound, bound);
  return t;
}

/** A tensor of N(0, std²) draws. @example normalInit([10, 8], 1, rngOf(0)) // Embedding table */
export function normalInit(shape: readonly number[], std: number, rng: Rng, dtype: FloatDType = 'float32'): Tensor {
  const t = Tensor.zeros(shape, dtype);
  const d = t.data as Float32Array | Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal(0, std);
  return t;
}
