// Last-axis softmax on the WebAssembly kernel (float32 exp and sums) and on the JS path (float64 sums)
// against a float64 reference written here: |error| ≤ 1e-9 + 2e-6·reference. Row lengths cover a
// single element, a ragged last vector, attention's 197, and a row longer than one copy chunk.
import { softmax, Tensor } from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmFused } from '../src/cpu/fused-wasm.js';
import { mulberry } from './ref.js';

function reference(x: Float32Array, n: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) m = Math.max(m, x[r * n + i]!);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[r * n + i]! - m);
    for (let i = 0; i < n; i++) y[r * n + i] = Math.exp(x[r * n + i]! - m) / s;
  }
  return y;
}

describe('softmax over the last axis', () => {
  afterEach(() => setWasmFused(true));
  for (const wasm of [true, false])
    for (const [rows, n] of [
      [5, 1],
      [7, 3],
      [12, 197],
      [3, 9000],
    ] as const)
      it(`${rows} rows of ${n} (${wasm ? 'WebAssembly' : 'JS'})`, () => {
        setWasmFused(wasm);
        const rnd = mulberry(rows * n);
        const x = Float32Array.from({ length: rows * n }, () => 8 * (rnd() - 0.5));
        const got = softmax(new Tensor([rows, n], 'float32', x), -1).data as Float32Array;
        const want = reference(x, n);
        let worst = 0;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) - 2e-6 * want[i]!);
        expect(worst).toBeLessThanOrEqual(1e-9);
      });
});
