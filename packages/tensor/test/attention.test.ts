// selfAttention (fused multi-head attention over packed QKV) against an independent float64 reference
// (plain loops), against the same attention composed of reshape/transpose/matmul/softmax, and the
// float32 WebAssembly kernels against the float64 JS path, forward and backward. The float64 gradient
// itself is checked against central differences in gradients.test.ts.
import {
  cast,
  cpuGradKernels,
  matmul,
  mul,
  opDefinition,
  reshape,
  selfAttention,
  slice,
  softmax,
  Tensor,
  transpose,
} from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { setWasmFused, wasmFusedAvailable } from '../src/cpu/fused-wasm.js';
import { randT, recordCall } from './grad-check.js';
import { mulberry, refAttention as reference } from './ref.js';

const rnd = mulberry(23);

/** The same attention as a chain of public ops (timm's layout): a second implementation. */
function composed(qkv: Tensor, H: number): Tensor {
  const [B, T, threeD] = qkv.shape as [number, number, number];
  const D = threeD / 3;
  const x = reshape(qkv, [B, T, 3, H, D / H]);
  const part = (i: number, perm: number[]) => transpose(reshape(slice(x, [i], [i + 1], [2]), [B, T, H, D / H]), perm);
  const q = mul(part(0, [0, 2, 1, 3]), 1 / Math.sqrt(D / H));
  return reshape(transpose(matmul(softmax(matmul(q, part(1, [0, 2, 3, 1])), -1), part(2, [0, 2, 1, 3])), [0, 2, 1, 3]), [B, T, D]);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
};
const maxAbs = (a: ArrayLike<number>) => maxAbsDiff(a, new Float64Array(a.length));

/** The gradient selfAttention's op definition gives for qkv, with the upstream gradient dy. */
function gradOf(qkv: Tensor, H: number, dy: Tensor): Tensor {
  const { def, ctx } = recordCall(() => selfAttention(qkv, H));
  return opDefinition(def.name)!.grad!(dy, ctx)[0] as Tensor;
}

// [B, T, heads, head width]: ViT-tiny's blocks; ragged T (row tails, Tp > T); dh = 12 (a 4-column
// edge block); dh = 6 (not a multiple of 4: the JS path in float32 too); one token.
const SHAPES: [number, number, number, number][] = [
  [2, 50, 4, 16],
  [3, 7, 2, 8],
  [1, 13, 3, 12],
  [2, 5, 2, 6],
  [2, 1, 1, 4],
];

describe('selfAttention', () => {
  afterEach(() => {
    setWasmFused(true);
  });

  it('the WebAssembly kernels are available in Node', () => {
    expect(wasmFusedAvailable()).toBe(true);
  });

  for (const [B, T, H, dh] of SHAPES) {
    const qkv64 = randT([B, T, 3 * H * dh], rnd, -2, 2);
    const qkv32 = cast(qkv64, 'float32');
    const ref = reference(qkv64, H, 1 / Math.sqrt(dh));

    it(`forward [${B}, ${T}, 3·${H}·${dh}] matches the float64 reference (float64 1e-12, float32 2e-6)`, () => {
      const y64 = selfAttention(qkv64, H);
      expect(y64.shape).toEqual([B, T, H * dh]);
      expect(y64.dtype).toBe('float64');
      expect(maxAbsDiff(y64.data as Float64Array, ref)).toBeLessThan(1e-12);
      const y32 = selfAttention(qkv32, H);
      expect(y32.dtype).toBe('float32');
      expect(maxAbsDiff(y32.data as Float32Array, ref)).toBeLessThan(2e-6);
      setWasmFused(false);
      expect(maxAbsDiff(selfAttention(qkv32, H).data as Float32Array, ref)).toBeLessThan(2e-6);
    });

    it(`forward [${B}, ${T}, 3·${H}·${dh}] equals the reshape/transpose/matmul/softmax chain (float64, 1e-12)`, () => {
      expect(maxAbsDiff(selfAttention(qkv64, H).data as Float64Array, composed(qkv64, H).data as Float64Array)).toBeLessThan(1e-12);
    });

    it(`gradient [${B}, ${T}, 3·${H}·${dh}]: float32 (WebAssembly, with kept or recomputed probabilities, and JS) agrees with float64 to 1e-5 of its largest element`, () => {
      const dy64 = randT([B, T, H * dh], rnd);
      const g64 = gradOf(qkv64, H, dy64);
      expect(g64.shape).toEqual(qkv64.shape);
      const scaleOf = maxAbs(g64.data as Float64Array);
      const g32 = gradOf(qkv32, H, cast(dy64, 'float32'));
      expect(g32.dtype).toBe('float32');
      expect(maxAbsDiff(g32.data as Float32Array, g64.data as Float64Array)).toBeLessThan(1e-5 * scaleOf);
      // Without the probabilities the forward kept (no tape at forward time), the kernel recomputes them.
      const recomputed = cpuGradKernels.selfAttention(cast(dy64, 'float32'), qkv32, H, 1 / Math.sqrt(dh));
      expect(maxAbsDiff(recomputed.data as Float32Array, g64.data as Float64Array)).toBeLessThan(1e-5 * scaleOf);
      setWasmFused(false);
      const gJs = gradOf(qkv32, H, cast(dy64, 'float32'));
      expect(maxAbsDiff(gJs.data as Float32Array, g64.data as Float64Array)).toBeLessThan(1e-5 * scaleOf);
    });
  }

  it('takes a scale', () => {
    const qkv = randT([1, 6, 12], rnd);
    expect(maxAbsDiff(selfAttention(qkv, 2, { scale: 0.3 }).data as Float64Array, reference(qkv, 2, 0.3))).toBeLessThan(1e-12);
  });

  it('is recorded as one op with a gradient', () => {
    const { def } = recordCall(() => selfAttention(Tensor.zeros([1, 4, 24]), 2));
    expect(def.name).toBe('selfAttention');
    expect(def.grad).toBeDefined();
  });

  it('rejects bad arguments with typed errors', () => {
    expect(() => selfAttention(Tensor.zeros([4, 24]), 2)).toThrow(/must be \[B, T, 3·d\]/);
    expect(() => selfAttention(Tensor.zeros([1, 4, 20]), 2)).toThrow(/divisible by 2 heads/);
    expect(() => selfAttention(Tensor.zeros([1, 4, 24]), 0)).toThrow(/positive integer/);
    expect(() => selfAttention(Tensor.zeros([1, 4, 24], 'int32'), 2)).toThrow(/float/);
  });
});
