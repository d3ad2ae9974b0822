// float16 bits ↔ values for tests, written here so the tests do not use the code under test.

/** Half bits of a float, round to nearest even (written here, not taken from the code under test). */
export function halfBits(v: number): number {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const e = ((x >>> 23) & 0xff) - 112;
  const m = x & 0x7fffff;
  if (e <= 0) {
    // subnormal half: shift the implicit 1 in and round to nearest even
    if (e < -10) return sign;
    const mm = m | 0x800000;
    const shift = 14 - e;
    let h = mm >>> shift;
    const rem = mm & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  if (e >= 31) return sign | 0x7c00;
  let h = (e << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
export function halfValue(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}
