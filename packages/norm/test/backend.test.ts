// The forwards dispatch to the active backend's fused kernels (so a gpu.js backend runs them).
import { type Backend, CpuBackend, Tensor, withBackend } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { groupNorm, instanceNorm, layerNorm, meanVarianceNormalization, parallelLayerNorm, rmsNorm } from '../src/index.js';

function countingBackend(): { backend: Backend; calls: Record<string, number> } {
  const cpu = new CpuBackend();
  const calls: Record<string, number> = { layerNorm: 0, rmsNorm: 0 };
  const backend = Object.create(cpu) as Backend & { name: string };
  Object.defineProperty(backend, 'name', { value: 'counting' });
  backend.layerNorm = (...a: Parameters<Backend['layerNorm']>) => {
    calls.layerNorm!++;
    return cpu.layerNorm(...a);
  };
  backend.rmsNorm = (...a: Parameters<Backend['rmsNorm']>) => {
    calls.rmsNorm!++;
    return cpu.rmsNorm(...a);
  };
  return { backend, calls };
}

describe('backend dispatch', () => {
  it('layerNorm, rmsNorm, groupNorm, instanceNorm, PLN/PLS and MVN use the fused kernels of the active backend', () => {
    const { backend, calls } = countingBackend();
    const x = Tensor.randn([2, 4, 3], 1);
    withBackend(backend, () => {
      layerNorm(x);
      rmsNorm(x);
      groupNorm(x, { numGroups: 2 });
      instanceNorm(x);
      parallelLayerNorm(x, { groupSize: 3 });
      parallelLayerNorm(x, { groupSize: 3, centering: false });
      meanVarianceNormalization(x.reshape([2, 4, 3, 1]));
    });
    expect(calls).toEqual({ layerNorm: 5, rmsNorm: 2 });
  });
});
