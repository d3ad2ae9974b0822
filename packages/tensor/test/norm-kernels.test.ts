// The fused LayerNorm / RMSNorm kernels (WebAssembly SIMD for float32, JS loops for float64 and as
// the fallback) against a float64 reference written out below, and the `out` (preallocated output) path.
import { type Backend, CpuBackend, layerNormKernel, NormkitError, rmsNormKernel, Tensor, withBackend } from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmNorm, wasmNormAvailable } from '../src/cpu/norm-wasm.js';
import { mulberry, refNorm as reference } from './ref.js';

/** Largest |got − want| / max(|want|, 1): relative error on the output's own scale (normalized values are O(1)). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const err = Math.abs(got[i]! - w) / Math.max(Math.abs(w), 1);
    if (!(err <= e)) e = err; // NaN sticks
  }
  return e;
}

/** Largest |got − want| / |want| (for statistics such as 1/σ, which may be far from 1). */
function pureRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / Math.abs(want[i]!);
    if (!(err <= e)) e = err;
  }
  return e;
}

/** n normal(mean, std) float32 values (Box–Muller over the test's own generator). */
function gaussian(n: number, rnd: () => number, mean: number, std: number): Float32Array {
  return Float32Array.from(gaussian64(n, rnd, mean, std));
}

function gaussian64(n: number, rnd: () => number, mean: number, std: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    a[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return a;
}

const TOL = 1e-5;
// Row lengths around the kernel's vector (4) and loop (16) widths, and one chunk (8192 floats) and more.
const DS = [1, 2, 3, 4, 5, 7, 15, 16, 17, 33, 63, 64, 65, 768, 771, 10_007];

describe.each([
  ['WebAssembly SIMD', true],
  ['JS fallback', false],
])('float32 LayerNorm / RMSNorm kernels: %s', (_name, wasm) => {
  afterEach(() => {
    setWasmNorm(true);
  });

  it(wasm ? 'the SIMD kernels load in Node' : 'can be switched off', () => {
    setWasmNorm(wasm);
    expect(wasmNormAvailable()).toBe(wasm);
  });

  it('match the float64 reference for odd row lengths, with and without scale and bias (1e-5 relative)', () => {
    setWasmNorm(wasm);
    const rnd = mulberry(11);
    for (const d of DS) {
      const rows = d > 1000 ? 2 : d === 768 ? 37 : 5;
      const x = gaussian(rows * d, rnd, 0.3, 2);
      const g = gaussian(d, rnd, 1, 0.5);
      const b = gaussian(d, rnd, 0, 0.5);
      const xt = new Tensor([rows, d], 'float32', x);
      for (const [useG, useB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const gt = useG ? new Tensor([d], 'float32', g) : undefined;
        const bt = useB ? new Tensor([d], 'float32', b) : undefined;
        const ln = layerNormKernel(xt, gt, bt, -1, 1e-5);
        const ref = reference('ln', x, rows, d, useG ? g : undefined, useB ? b : undefined);
        const where = `d=${d} scale=${useG} bias=${useB}`;
        expect(relErr(ln.y.data as Float32Array, ref.y), where).toBeLessThan(TOL);
        expect(ln.mean.shape).toEqual([rows, 1]);
        expect(relErr(ln.mean.data as Float32Array, ref.mean), where).toBeLessThan(TOL);
        expect(pureRelErr(ln.invStdDev.data as Float32Array, ref.inv), where).toBeLessThan(TOL);
        const rms = rmsNormKernel(xt, gt, bt, -1, 1e-5);
        expect(
          relErr(rms.data as Float32Array, reference('rms', x, rows, d, useG ? g : undefined, useB ? b : undefined).y),
          where,
        ).toBeLessThan(TOL);
      }
    }
  });

  it('keep the variance accurate for data with a large mean (x = 1e4 + noise, −5e3 + 0.01·noise)', () => {
    setWasmNorm(wasm);
    const rnd = mulberry(12);
    for (const [mean, std] of [
      [1e4, 1],
      [-5e3, 0.01],
    ] as const) {
      for (const d of [3, 17, 768, 771]) {
        const rows = 6;
        const x = gaussian(rows * d, rnd, mean, std);
        const g = gaussian(d, rnd, 1, 0.2);
        const b = gaussian(d, rnd, 0, 0.2);
        const xt = new Tensor([rows, d], 'float32', x);
        const ref = reference('ln', x, rows, d, g, b);
        const ln = layerNormKernel(xt, new Tensor([d], 'float32', g), new Tensor([d], 'float32', b), -1, 1e-5);
        expect(relErr(ln.y.data as Float32Array, ref.y), `mean ${mean} d=${d}`).toBeLessThan(TOL);
        expect(pureRelErr(ln.invStdDev.data as Float32Array, ref.inv), `mean ${mean} d=${d}`).toBeLessThan(TOL);
        expect(relErr(ln.mean.data as Float32Array, ref.mean)).toBeLessThan(1e-7); // float32 rounding of μ
      }
    }
  });

  it('stay accurate when the first elements are outliers (the shift is far from the mean) and on constant rows', () => {
    setWasmNorm(wasm);
    const rnd = mulberry(13);
    const d = 4096;
    const x = gaussian(4 * d, rnd, 0, 1);
    for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) x[r * d + k] = 1000 * (r + 1);
    x.fill(7.25, 3 * d, 4 * d); // a constant row: σ² = 0, y = β
    const b = gaussian(d, rnd, 0, 1);
    const ln = layerNormKernel(new Tensor([4, d], 'float32', x), undefined, new Tensor([d], 'float32', b), -1, 1e-5);
    const ref = reference('ln', x, 4, d, undefined, b);
    expect(relErr(ln.y.data as Float32Array, ref.y)).toBeLessThan(TOL);
    // Stricter than TOL on purpose: with the shift ~1000σ from the mean, float32 block sums alone would
    // lose ~1e-5 here; the kernel re-sums such rows around their mean (about float32 rounding, ~1e-7).
    expect(pureRelErr(ln.invStdDev.data as Float32Array, ref.inv)).toBeLessThan(5e-7);
    expect(Array.from((ln.y.data as Float32Array).subarray(3 * d, 4 * d))).toEqual(Array.from(b));
  });

  it('normalize over several trailing axes with broadcast parameters', () => {
    setWasmNorm(wasm);
    const rnd = mulberry(14);
    const x = gaussian(3 * 5 * 7, rnd, 1, 3);
    const g = gaussian(7, rnd, 1, 0.3); // [1, 7] broadcast over [5, 7]
    const b = gaussian(5, rnd, 0, 0.3); // [5, 1]
    const gFull = Array.from({ length: 35 }, (_, j) => g[j % 7]!);
    const bFull = Array.from({ length: 35 }, (_, j) => b[Math.floor(j / 7)]!);
    const xt = new Tensor([3, 5, 7], 'float32', x);
    const ln = layerNormKernel(xt, new Tensor([1, 7], 'float32', g), new Tensor([5, 1], 'float32', b), 1, 1e-3);
    expect(relErr(ln.y.data as Float32Array, reference('ln', x, 3, 35, gFull, bFull, 1e-3).y)).toBeLessThan(TOL);
    expect(ln.mean.shape).toEqual([3, 1, 1]);
    const rms = rmsNormKernel(xt, new Tensor([1, 7], 'float32', g), undefined, -2, 1e-3);
    expect(relErr(rms.data as Float32Array, reference('rms', x, 3, 35, gFull, undefined, 1e-3).y)).toBeLessThan(TOL);
  });
});

describe('float64 inputs (JS kernels)', () => {
  it('match the reference to float64 precision', () => {
    const rnd = mulberry(15);
    const d = 37;
    const x = gaussian64(4 * d, rnd, 1e4, 1);
    const g = gaussian64(d, rnd, 1, 0.2);
    const xt = new Tensor([4, d], 'float64', x);
    const ln = layerNormKernel(xt, new Tensor([d], 'float64', g), undefined, -1, 1e-5);
    expect(ln.y.dtype).toBe('float64');
    expect(relErr(ln.y.data as Float64Array, reference('ln', x, 4, d, g).y)).toBeLessThan(1e-9);
    expect(relErr(rmsNormKernel(xt, undefined, undefined, -1, 1e-5).data as Float64Array, reference('rms', x, 4, d).y)).toBeLessThan(1e-12);
  });
});

describe('out: a preallocated output', () => {
  const rnd = mulberry(16);
  const d = 771;
  const x = new Tensor([9, d], 'float32', gaussian(9 * d, rnd, 2, 3));
  const g = new Tensor([d], 'float32', gaussian(d, rnd, 1, 0.2));
  const b = new Tensor([d], 'float32', gaussian(d, rnd, 0, 0.2));

  it('receives y, is returned as y, and equals the allocating result (float32 and float64)', () => {
    const out = Tensor.zeros([9, d]);
    const before = out.data;
    const r = layerNormKernel(x, g, b, -1, 1e-5, out);
    expect(r.y).toBe(out);
    expect(out.data).toBe(before);
    expect(Array.from(out.data as Float32Array)).toEqual(Array.from(layerNormKernel(x, g, b, -1, 1e-5).y.data as Float32Array));
    expect(r.mean.shape).toEqual([9, 1]);
    expect(rmsNormKernel(x, g, undefined, -1, 1e-5, out)).toBe(out);
    expect(Array.from(out.data as Float32Array)).toEqual(Array.from(rmsNormKernel(x, g, undefined, -1, 1e-5).data as Float32Array));
    const x64 = new Tensor([9, d], 'float64', Float64Array.from(x.data as Float32Array));
    const out64 = Tensor.zeros([9, d], 'float64');
    expect(layerNormKernel(x64, undefined, undefined, -1, 1e-5, out64).y).toBe(out64);
    expect(relErr(out64.data as Float64Array, reference('ln', x64.data as Float64Array, 9, d).y)).toBeLessThan(1e-12);
  });

  it('may be x itself or a reshape of it (in place), on the SIMD and the JS path', () => {
    for (const wasm of [true, false]) {
      setWasmNorm(wasm);
      try {
        const want = reference('ln', x.data as Float32Array, 9, d, g.data as Float32Array, b.data as Float32Array).y;
        const xi = new Tensor([9, d], 'float32', (x.data as Float32Array).slice());
        expect(layerNormKernel(xi, g, b, -1, 1e-5, xi).y).toBe(xi);
        expect(relErr(xi.data as Float32Array, want)).toBeLessThan(TOL);
        const xr = new Tensor([9, d], 'float32', (x.data as Float32Array).slice());
        const view = xr.reshape([3, 3, d]);
        rmsNormKernel(view, undefined, undefined, -1, 1e-5, view);
        expect(relErr(xr.data as Float32Array, reference('rms', x.data as Float32Array, 9, d).y)).toBeLessThan(TOL);
      } finally {
        setWasmNorm(true);
      }
    }
  });

  it('rejects a wrong shape or dtype, naming both shapes, and a partly overlapping buffer', () => {
    const wrong = Tensor.zeros([9, d + 1]);
    expect(() => layerNormKernel(x, g, b, -1, 1e-5, wrong)).toThrow(NormkitError);
    expect(() => layerNormKernel(x, g, b, -1, 1e-5, wrong)).toThrow(
      /layerNorm: out is float32 \[9, 772\] but the result is float32 \[9, 771\]/,
    );
    try {
      rmsNormKernel(x, g, b, -1, 1e-5, Tensor.zeros([9 * d]));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(NormkitError);
      expect((e as NormkitError).code).toBe('SHAPE_MISMATCH');
      expect((e as NormkitError).message).toMatch(/rmsNorm: out is float32 \[6939\] but the result is float32 \[9, 771\]/);
    }
    expect(() => layerNormKernel(x, g, b, -1, 1e-5, Tensor.zeros([9, d], 'float64'))).toThrow(
      expect.objectContaining({
        code: 'DTYPE_MISMATCH',
        message: expect.stringMatching(/out is float64 \[9, 771\] but the result is float32/),
      }),
    );
    const buf = new Float32Array(10 * d);
    const xs = new Tensor([9, d], 'float32', buf.subarray(0, 9 * d));
    const shifted = new Tensor([9, d], 'float32', buf.subarray(d, 10 * d));
    expect(() => layerNormKernel(xs, undefined, undefined, -1, 1e-5, shifted)).toThrow(/out \[9, 771\] partly overlaps x/);
  });

  it('is filled by copying when a backend does not write into it', () => {
    const cpu = new CpuBackend();
    const backend = Object.create(cpu) as Backend;
    Object.defineProperty(backend, 'name', { value: 'no-out' });
    backend.layerNorm = (xx, s, bb, a, e) => cpu.layerNorm(xx, s, bb, a, e);
    backend.rmsNorm = (xx, s, bb, a, e) => cpu.rmsNorm(xx, s, bb, a, e);
    const out = Tensor.zeros([9, d]);
    withBackend(backend, () => {
      expect(layerNormKernel(x, g, b, -1, 1e-5, out).y).toBe(out);
      expect(
        relErr(out.data as Float32Array, reference('ln', x.data as Float32Array, 9, d, g.data as Float32Array, b.data as Float32Array).y),
      ).toBeLessThan(TOL);
      expect(rmsNormKernel(x, undefined, undefined, -1, 1e-5, out)).toBe(out);
      expect(relErr(out.data as Float32Array, reference('rms', x.data as Float32Array, 9, d).y)).toBeLessThan(TOL);
    });
  });
});

describe('generated norm kernel file', () => {
  it('matches what scripts/build-wasm.mjs compiles from scripts/norm-wat.mjs (rerun the script after editing it)', async () => {
    const gen = await import('../src/cpu/norm-wasm.generated.js');
    const { compileNorm } = (await import(`${'../scripts/build-wasm.mjs'}`)) as { compileNorm(): Promise<Uint8Array> };
    expect(Buffer.from(await compileNorm()).toString('base64')).toBe(gen.NORM_WASM_BASE64);
  });
});
