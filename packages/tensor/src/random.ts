/**
 * Seeded pseudo-random numbers that are the same on every machine and engine.
 *
 * Generator: xoshiro128** (Blackman & Vigna) over 32-bit integer arithmetic (`Math.imul`, `>>> 0`),
 * its 128-bit state filled from the seed by splitmix32. `uniform()` is `next() / 2^32` in [0, 1);
 * `normal()` is Box–Muller on two uniforms (the first uniform is taken as `1 - u`, so never 0).
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.uniform(); // same value everywhere
 * ```
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: number) {
    let x = seed >>> 0;
    const splitmix = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
  }

  /** The next 32-bit unsigned integer. @example new Rng(1).nextUint32() // an integer in [0, 2^32) */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [lo, hi). @example new Rng(1).uniform(-1, 1) */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.nextUint32() / 4294967296);
  }

  /** Normal with the given mean and standard deviation (Box–Muller). @example new Rng(1).normal(0, 0.02) */
  normal(mean = 0, std = 1): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return mean + std * v;
    }
    const u1 = 1 - this.nextUint32() / 4294967296;
    const u2 = this.nextUint32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return mean + std * r * Math.cos(2 * Math.PI * u2);
  }

  /** An integer in [0, n). @example new Rng(1).int(10) // 0..9 */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
