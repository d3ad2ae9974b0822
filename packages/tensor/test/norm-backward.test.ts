// The backward kernels of the fused LayerNorm / RMSNorm (`Backend.layerNormBackward` / `rmsNormBackward`
// of the CPU backend: WebAssembly SIMD for float32, JS loops for float64 and as the fallback) against a
// float64 reference written out below from the explicit Jacobian of x̂.
import { CpuBackend, type NormBackwardOptions, type NormBackwardResult, Tensor } from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmNorm, wasmNormAvailable } from '../src/cpu/norm-wasm.js';
import { mulberry, refNormBackward as reference } from './ref.js';

const cpu = new CpuBackend();

/** Largest |got − want| / scale over the elements (NaN sticks). */
function scaledErr(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / Math.max(scale[i]!, 1e-30);
    if (!(err <= e)) e = err;
  }
  return e;
}

/** n normal(mean, std) float32 values (Box–Muller over the test's own generator). */
function gaussian(n: number, rnd: () => number, mean = 0, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = mean + std * Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-12))) * Math.cos(2 * Math.PI * rnd());
  return a;
}

/**
 * Tolerance of the float32 kernels, relative to the scale of each output (`Ref`): the row sums go
 * through float32 partial sums of 16 values before float64 and dx is stored in float32 (2⁻²⁴ ≈ 6e-8);
 * the worst case measured over these tests is 2.1e-7 (NORM_BWD_LOG=1 prints each case's error).
 */
const TOL = 1e-6;

interface Case {
  center: boolean;
  x: Float32Array;
  dy: Float32Array;
  /** x's shape: [rows, d] (γ over d), or [N, G, d] (γ per feature over the last two axes, as PLN). */
  shape: number[];
  g?: Float32Array;
  bias: boolean;
}

function run(c: Case): NormBackwardResult {
  const rank = c.shape.length;
  const paramAxis = rank === 3 ? 1 : rank - 1;
  const opts: NormBackwardOptions = {
    axis: rank - 1,
    epsilon: 1e-5,
    bias: c.bias,
    paramAxis,
    scale: c.g && new Tensor(c.shape.slice(paramAxis), 'float32', c.g),
  };
  const x = new Tensor(c.shape, 'float32', c.x);
  const dy = new Tensor(c.shape, 'float32', c.dy);
  return c.center ? cpu.layerNormBackward!(dy, x, opts) : cpu.rmsNormBackward!(dy, x, opts);
}

/** The worst scaled error of dx, dγ, dβ against the reference (dγ, dβ when asked for). */
function check(c: Case, where: string): number {
  const d = c.shape[c.shape.length - 1]!;
  const period = c.shape.length === 3 ? c.shape[1]! : 1;
  const got = run(c);
  const ref = reference(c.center, c.x, c.dy, c.x.length / d, d, period, c.g);
  expect(got.dx.dtype, where).toBe('float32');
  expect(got.dx.shape, where).toEqual(c.shape);
  let e = scaledErr(got.dx.data as Float32Array, ref.dx, ref.dxScale);
  expect(got.dScale === undefined, where).toBe(c.g === undefined);
  expect(got.dBias === undefined, where).toBe(!c.bias);
  if (got.dScale) e = Math.max(e, scaledErr(got.dScale.data as Float32Array, ref.dg, ref.dgScale));
  if (got.dBias) e = Math.max(e, scaledErr(got.dBias.data as Float32Array, ref.db, ref.dbScale));
  expect(e, where).toBeLessThan(TOL);
  if (process.env.NORM_BWD_LOG) console.log(`[norm-backward] ${where}: ${e.toExponential(2)}`);
  return e;
}

describe.each([
  ['WebAssembly SIMD', true],
  ['JS fallback', false],
])('float32 LayerNorm / RMSNorm backward: %s', (_name, wasm) => {
  afterEach(() => {
    setWasmNorm(true);
  });

  it(`${wasm ? 'runs on' : 'runs without'} the SIMD kernels`, () => {
    setWasmNorm(wasm);
    expect(wasmNormAvailable()).toBe(wasm);
  });

  it(`matches the float64 reference for odd row lengths, rows = 1 and more, with and without γ and dβ (${TOL} of each output's scale)`, () => {
    setWasmNorm(wasm);
    const rnd = mulberry(21);
    for (const d of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 63, 64, 65, 255, 771]) {
      for (const rows of d > 100 ? [1, 13] : [1, 5, 40]) {
        const x = gaussian(rows * d, rnd, 0.3, 2);
        const dy = gaussian(rows * d, rnd);
        const g = gaussian(d, rnd, 1, 0.5);
        for (const center of [true, false])
          for (const [useG, bias] of [
            [false, false],
            [true, false],
            [false, true],
            [true, true],
          ] as const)
            check(
              { center, x, dy, shape: [rows, d], g: useG ? g : undefined, bias },
              `${center ? 'LN' : 'RMS'} d=${d} rows=${rows} γ=${useG} dβ=${bias}`,
            );
      }
    }
  });

  it('stays accurate for large offsets (x = 1e4 + noise, −5e3 + 0.01·noise), outliers first and constant rows', () => {
    setWasmNorm(wasm);
    const rnd = mulberry(22);
    const d = 203;
    const rows = 6;
    const inputs: [string, Float32Array][] = [
      ['1e4 + N(0, 1)', gaussian(rows * d, rnd, 1e4, 1)],
      ['−5e3 + N(0, 0.01)', gaussian(rows * d, rnd, -5e3, 0.01)],
      ['outliers first', gaussian(rows * d, rnd).map((v, i) => (i % d < 4 ? 1e3 : v))],
      ['constant rows', new Float32Array(rows * d).fill(3.5)],
    ];
    for (const [name, x] of inputs) {
      const dy = gaussian(rows * d, rnd);
      const g = gaussian(d, rnd, 1, 0.5);
      for (const center of [true, false]) check({ center, x, dy, shape: [rows, d], g, bias: true }, `${center ? 'LN' : 'RMS'} ${name}`);
    }
  });

  it('handles a per-feature γ over groups (PLN / LN-G: x as [N, G, d/G]) across chunks, phases and flushes', () => {
    setWasmNorm(wasm);
    const rnd = mulberry(23);
    // [N, G, g]: many small groups (chunk = whole periods), a period that does not divide the chunk
    // (768·3: 10 rows per chunk, so chunks start mid-period), and one long run of rows.
    for (const shape of [
      [700, 6, 8],
      [7, 3, 768],
      [5, 2, 5],
      [3000, 1, 16],
    ]) {
      const n = shape[0]! * shape[1]! * shape[2]!;
      const x = gaussian(n, rnd, 1, 3);
      const dy = gaussian(n, rnd);
      const g = gaussian(shape[1]! * shape[2]!, rnd, 1, 0.5);
      for (const center of [true, false]) check({ center, x, dy, shape, g, bias: true }, `${center ? 'LN' : 'RMS'} ${shape.join('×')}`);
    }
  });
});

describe('float64 inputs (JS kernels)', () => {
  it('match the reference to float64 precision, with dScale and dBias in float64', () => {
    const rnd = mulberry(24);
    const [rows, d] = [7, 37];
    const x = Float64Array.from(gaussian(rows * d, rnd, 0.5, 2));
    const dy = Float64Array.from(gaussian(rows * d, rnd));
    const g = Float64Array.from(gaussian(d, rnd, 1, 0.5));
    for (const center of [true, false]) {
      const opts = { axis: 1, epsilon: 1e-5, scale: new Tensor([d], 'float64', g), bias: true };
      const xt = new Tensor([rows, d], 'float64', x);
      const dyt = new Tensor([rows, d], 'float64', dy);
      const got = center ? cpu.layerNormBackward!(dyt, xt, opts) : cpu.rmsNormBackward!(dyt, xt, opts);
      const ref = reference(center, Float32Array.from(x), Float32Array.from(dy), rows, d, 1, Float32Array.from(g));
      expect(got.dx.dtype).toBe('float64');
      expect(got.dScale?.dtype).toBe('float64');
      // The inputs are float32-representable, so the reference sees the same values.
      expect(scaledErr(got.dx.data as Float64Array, ref.dx, ref.dxScale)).toBeLessThan(1e-12);
      expect(scaledErr(got.dScale!.data as Float64Array, ref.dg, ref.dgScale)).toBeLessThan(1e-12);
      expect(scaledErr(got.dBias!.data as Float64Array, ref.db, ref.dbScale)).toBeLessThan(1e-12);
    }
  });
});
