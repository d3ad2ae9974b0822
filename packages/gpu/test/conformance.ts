// How the gpu backend runs the backend conformance suite (@normkit/tensor/testing), shared by the
// Node test (conformance.test.ts) and the chromium page (browser/entry.ts), so both run one list.
import type { ConformanceOptions, Tolerance } from '@normkit/tensor/testing';
import type { GpuBackend } from '../src/index.js';

/** Why the backward kernels are skipped. */
const NO_GRADS = "no backward kernels (Backend.grads): gradients use the CPU backend's, on host values";

/**
 * The cases this backend does not run itself, and why (see CPU_KERNELS in src/backend.ts): the suite
 * asserts each one still delegates, so a kernel that gains device support must leave this list.
 */
export const GPU_SKIPS: Readonly<Record<string, string>> = {
  'elementwise/cast float32→int32': 'casts to int32/int64/float64 produce host dtypes (CPU backend)',
  'elementwise/add int32': 'int32/int64/float64 tensors stay on the host (CPU backend)',
  'elementwise/add empty': 'zero-sized outputs need no kernel (CPU backend)',
  'reduce/argmax': 'argmax produces int64 indices; the device holds float32 only (CPU backend)',
  'reduce/argmin': 'argmin produces int64 indices; the device holds float32 only (CPU backend)',
  'attention/selfAttention 3 heads': 'no fused attention kernel: the op layer runs the CPU kernel on host values',
  'norm-backward/layerNormBackward': 'no device backward kernel: the norm package runs its host float64 path',
  'norm-backward/rmsNormBackward': 'no device backward kernel: the norm package runs its host float64 path',
  'grads/unary tanh': NO_GRADS,
  'grads/softmax': NO_GRADS,
  'grads/logSoftmax': NO_GRADS,
  'grads/gather (scatter-add, repeated and negative indices)': NO_GRADS,
  'grads/slice (strided, negative step)': NO_GRADS,
  'grads/pad reflect (folded back)': NO_GRADS,
};

/**
 * Suite options for `g`: the skip list, fallbacks read from `describe()`, and a tolerance floor where a
 * mode's float math is coarser than the cases' (the caller says why; gpu.js cpu/webasm and Dawn need none).
 */
export function gpuConformanceOptions(g: GpuBackend, tolerance?: Partial<Tolerance>): ConformanceOptions {
  let seen: Record<string, number> = {};
  return {
    skip: GPU_SKIPS,
    ...(tolerance ? { tolerance } : {}),
    delegated: () => {
      const now = g.describe().fallbacks;
      const handed = Object.keys(now).filter((k) => (now[k] ?? 0) > (seen[k] ?? 0));
      seen = { ...now };
      return handed;
    },
  };
}

/**
 * Tolerance floors of the chromium modes (SwiftShader), by mode; undefined: the cases' own tolerances.
 */
export const BROWSER_TOLERANCE: Record<'webgl2' | 'webgpu', Tolerance | undefined> = {
  webgl2: undefined,
  webgpu: undefined,
};
