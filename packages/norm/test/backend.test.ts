// The forwards dispatch to the active backend's fused kernels (so a gpu.js backend runs them), and the
// float32 LN / RMSNorm / PLN backward passes to its fused backward kernels when it has them.
import { type Backend, CpuBackend, cast, type NormBackwardOptions, Tensor, withBackend } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  groupNorm,
  instanceNorm,
  layerNorm,
  layerNormBackward,
  meanVarianceNormalization,
  parallelLayerNorm,
  parallelLayerNormBackward,
  rmsNorm,
  rmsNormBackward,
} from '../src/index.js';

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

describe('backward dispatch', () => {
  /** The CPU backend with its fused backward kernels counted, or removed (`withKernels` false). */
  function backwardBackend(withKernels: boolean): { backend: Backend; calls: Record<string, number> } {
    const cpu = new CpuBackend();
    const calls: Record<string, number> = { layerNormBackward: 0, rmsNormBackward: 0 };
    const backend = Object.create(cpu) as Backend;
    Object.defineProperty(backend, 'name', { value: withKernels ? 'counting' : 'no-backward-kernels' });
    for (const k of ['layerNormBackward', 'rmsNormBackward'] as const) {
      backend[k] = withKernels
        ? (dy: Tensor, x: Tensor, opts: NormBackwardOptions) => {
            calls[k]!++;
            return cpu[k](dy, x, opts);
          }
        : undefined;
    }
    return { backend, calls };
  }

  /** Largest |a − b| over max |b| of two gradient tensors. */
  function relDiff(a: Tensor | undefined, b: Tensor | undefined): number {
    const x = a!.toFlatArray() as number[];
    const y = b!.toFlatArray() as number[];
    expect(x.length).toBe(y.length);
    const scale = Math.max(...y.map(Math.abs));
    return Math.max(...x.map((v, i) => Math.abs(v - y[i]!))) / scale;
  }

  const x = Tensor.randn([3, 5, 12], 1);
  const dy = Tensor.randn([3, 5, 12], 2);
  const scale = Tensor.randn([12], 3, { mean: 1, std: 0.2 });
  const bias = Tensor.randn([12], 4);
  const run = () => [
    layerNormBackward(dy, x, { scale, bias }),
    rmsNormBackward(dy, x, { scale, bias }),
    parallelLayerNormBackward(dy, x, { groupSize: 4, scale, bias }),
    parallelLayerNormBackward(dy, x, { groupSize: 4, centering: false, scale }),
  ];

  it('float32 LN, RMSNorm and PLN backward run on the backend kernels; float64 and other axes stay on the host', () => {
    const { backend, calls } = backwardBackend(true);
    withBackend(backend, () => {
      run();
      expect(calls).toEqual({ layerNormBackward: 2, rmsNormBackward: 2 });
      layerNormBackward(cast(dy, 'float64'), cast(x, 'float64'), { scale, bias });
      parallelLayerNormBackward(dy, x, { groupSize: 5, axis: 1 }); // feature axis not last
      parallelLayerNormBackward(dy, x, { groupSize: 4, p: 3 });
    });
    expect(calls).toEqual({ layerNormBackward: 2, rmsNormBackward: 2 });
  });

  it('a backend without them gets the float64 host result, which the kernels match to 1e-6 (float32 gradients)', () => {
    const fast = withBackend(backwardBackend(true).backend, run);
    const host = withBackend(backwardBackend(false).backend, run);
    fast.forEach((g, i) => {
      for (const k of ['dx', 'dScale', 'dBias'] as const) {
        expect(g[k]?.dtype, `case ${i} ${k}`).toBe(host[i]![k]?.dtype);
        if (host[i]![k]) expect(relDiff(g[k], host[i]![k]), `case ${i} ${k}`).toBeLessThan(1e-6);
      }
    });
  });

  it('refuses a dy of another shape than x (before any kernel reads it), naming both shapes', () => {
    const bad = Tensor.randn([3, 5, 11], 6);
    for (const f of [
      () => layerNormBackward(bad, x),
      () => rmsNormBackward(bad, x),
      () => parallelLayerNormBackward(bad, x, { groupSize: 4 }),
    ])
      expect(f).toThrow(/dy \[3, 5, 11\] must have the shape of x \[3, 5, 12\]/);
  });

  it('a broadcast scale gets its gradient summed back to its own shape', () => {
    const s = Tensor.randn([1, 12], 5);
    const fast = withBackend(backwardBackend(true).backend, () => layerNormBackward(dy, x, { axis: 1, scale: s }));
    const host = withBackend(backwardBackend(false).backend, () => layerNormBackward(dy, x, { axis: 1, scale: s }));
    expect(fast.dScale!.shape).toEqual([1, 12]);
    expect(relDiff(fast.dScale, host.dScale)).toBeLessThan(1e-6);
    expect(relDiff(fast.dx, host.dx)).toBeLessThan(1e-6);
  });
});
