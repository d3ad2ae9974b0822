// float32 GELU (erf form), forward and gradient, on the WebAssembly kernel and on the JS path, against
// an independent float64 reference: erfc from its Taylor series below z = 3 and its continued fraction
// above (both converged to ~1e-15 here). Tolerances: |error| ≤ 3e-7·max(1, |reference|) (a few float32
// ulps), and for the WebAssembly kernel (which takes Φ from erfc) in the far negative tail, where the
// values are tiny, a relative error ≤ 3e-5 (the JS path's 1 + erf(x/√2) cancels to 0 there).
import { erf, gelu, opDefinition, sigmoid, Tensor } from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmFused } from '../src/cpu/fused-wasm.js';
import { recordCall } from './grad-check.js';
import { erfcRef } from './ref.js';

const phi = (x: number) => (x >= 0 ? 1 - 0.5 * erfcRef(x / Math.SQRT2) : 0.5 * erfcRef(-x / Math.SQRT2));
const geluRef = (x: number) => x * phi(x);
const geluGradRef = (x: number) => phi(x) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);

// 40 001 points on [−12, 12] (not a multiple of 4 or of the kernel's chunk: ragged last vector).
const N = 40001;
const xs = Float32Array.from({ length: N }, (_, i) => -12 + (24 * i) / (N - 1));

function expectClose(got: Float32Array, ref: (x: number) => number, label: string, tail: boolean, tol = 3e-7): void {
  for (let i = 0; i < N; i++) {
    const x = xs[i]!;
    const r = ref(x);
    const err = Math.abs(got[i]! - r);
    if (err > tol * Math.max(1, Math.abs(r))) expect.fail(`${label}(${x}) = ${got[i]} but the reference is ${r}`);
    if (tail && x < -5 && Math.abs(r) > 1e-35 && err > 3e-5 * Math.abs(r))
      expect.fail(`${label}(${x}) = ${got[i]}: relative error vs ${r}`);
  }
}

describe('float32 GELU', () => {
  afterEach(() => {
    setWasmFused(true);
  });

  for (const wasm of [true, false])
    it(`forward and gradient match the float64 reference (${wasm ? 'WebAssembly' : 'JS'})`, () => {
      setWasmFused(wasm);
      const x = new Tensor([N], 'float32', xs);
      const { ctx } = recordCall(() => gelu(x));
      expect(ctx.output.dtype).toBe('float32');
      expectClose(ctx.output.data as Float32Array, geluRef, 'gelu', wasm);
      const dx = opDefinition('gelu')!.grad!(Tensor.ones([N], 'float32'), ctx)[0]!;
      expect(dx.dtype).toBe('float32');
      expectClose(dx.data as Float32Array, geluGradRef, "gelu'", wasm);
    });

  it('erf and sigmoid on the WebAssembly kernel (unrolled steps and the ragged tail) match float64', () => {
    const erfRef = (x: number) => (x >= 0 ? 1 - erfcRef(x) : erfcRef(-x) - 1);
    const x = new Tensor([N], 'float32', xs);
    // erf = 1 − erfc(|x|) near 0: erfc's 1.2e-7 relative error becomes absolute, plus the rounding of 1 − e.
    expectClose(erf(x).data as Float32Array, erfRef, 'erf', false, 4e-7);
    expectClose(sigmoid(x).data as Float32Array, (v) => 1 / (1 + Math.exp(-v)), 'sigmoid', false);
  });

  it('keeps NaN and the infinities', () => {
    const y = gelu(Tensor.from([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0])).data as Float32Array;
    expect(Number.isNaN(y[0]!)).toBe(true);
    expect(y[1]).toBe(Number.POSITIVE_INFINITY);
    expect(y[2] === 0 || Number.isNaN(y[2]!)).toBe(true);
    expect(y[3]).toBe(0);
  });
});
