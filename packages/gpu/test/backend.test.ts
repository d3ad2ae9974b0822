// Backend behaviour: registration, mode selection and describe(), the kernel cache, device
// residency between consecutive kernels (read back only on .data), splitting, and disposal.
import {
  add,
  CpuBackend,
  gather,
  getBackend,
  layerNormKernel,
  listBackends,
  matmul,
  registerBackend,
  relu,
  reshape,
  setBackend,
  softmax,
  Tensor,
  transpose,
} from '@normkit/tensor';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bestBackend,
  chooseBackend,
  createGpuBackend,
  GpuBackend,
  MAX_EXACT_INDEX,
  pickMode,
  probeModes,
  webGpuStatus,
} from '../src/index.js';
import { expectClose, matchesCpu } from './helpers.js';

describe('registration and mode selection', () => {
  it('registers under "gpu" and becomes the active backend', () => {
    const g = createGpuBackend();
    registerBackend(g);
    expect(listBackends()).toContain('gpu');
    expect(setBackend('gpu')).toBe(g);
    try {
      const y = matmul(
        Tensor.from([
          [1, 2],
          [3, 4],
        ]),
        Tensor.from([[5], [6]]),
      );
      expect(y.toArray()).toEqual([[17], [39]]); // hand values
    } finally {
      setBackend('cpu');
      g.dispose();
    }
  });

  it('probes every mode with a reason, and picks the best usable one', () => {
    const probes = probeModes();
    expect(probes.map((p) => p.mode)).toEqual(['webgpu', 'webgl2', 'headlessgl', 'webgl', 'webasm', 'cpu']);
    for (const p of probes) expect(p.reason.length).toBeGreaterThan(10);
    // webgpu is usable once initWebGpu() found an adapter (see webgpu.test.ts); the probe says so.
    expect(probes[0]?.usable).toBe(webGpuStatus()?.available ?? false);
    const pick = pickMode();
    expect(pick.mode).toBe(webGpuStatus()?.available ? 'webgpu' : GPU.isHeadlessGLSupported ? 'headlessgl' : 'webasm');
    expect(pick.reason).toContain(pick.mode);
  });

  it('describe() reports the mode, why, the texture limit and the CPU kernels', () => {
    const g = createGpuBackend({ mode: 'webasm' });
    const d = g.describe();
    expect(d.mode).toBe('webasm');
    expect(d.onDevice).toBe(false);
    expect(d.reason).toContain('requested explicitly');
    expect(d.chunkLimit).toBe(MAX_EXACT_INDEX);
    expect(Object.keys(d.cpuKernels)).toContain('argReduce');
    g.dispose();
  });

  it('an unusable requested mode throws GPU_MODE_UNAVAILABLE naming the usable ones', () => {
    if (GPU.isWebGL2Supported) return;
    expect(() => createGpuBackend({ mode: 'webgl2' })).toThrow(/webgl2.*not usable.*webasm/s);
    expect(() => createGpuBackend({ mode: 'webgpu' })).toThrow(/GPU_MODE_UNAVAILABLE|not usable/);
  });

  it('chooses the CPU backend automatically when gpu.js has no graphics-device mode', () => {
    const choice = chooseBackend();
    if (GPU.isHeadlessGLSupported) {
      expect(choice.backend).toBeInstanceOf(GpuBackend);
    } else {
      expect(choice.backend).toBeInstanceOf(CpuBackend);
      expect(choice.reason).toMatch(/CPU backend/);
      expect(bestBackend().name).toBe('cpu');
    }
  });
});

describe('kernel cache, device residency, disposal', () => {
  const g = createGpuBackend({ mode: 'webasm', strict: true });
  afterAll(() => g.dispose());
  const run = <T>(f: () => T) => {
    const prev = getBackend();
    registerBackend(g);
    setBackend('gpu');
    try {
      return f();
    } finally {
      registerBackend(prev);
      setBackend(prev.name);
    }
  };

  it('compiles a kernel once per shape and reuses it', () => {
    const a = Tensor.randn([7, 9], 1);
    const b = Tensor.randn([9, 5], 2);
    run(() => matmul(a, b)).data;
    const before = g.describe();
    run(() => matmul(Tensor.randn([7, 9], 3), Tensor.randn([9, 5], 4))).data;
    const after = g.describe();
    expect(after.kernelsCompiled).toBe(before.kernelsCompiled); // same shapes: nothing new to compile
    expect(after.cacheHits).toBeGreaterThan(before.cacheHits);
  });

  it('kernels whose source does not depend on an input size still get one compile per input size', async () => {
    // gpu.js bakes argument sizes into a kernel: a gather from a [97, 8] and a [64, 8] table has the
    // same source and output size, but needs two kernels.
    const ids = Tensor.from([[3, 1, 0]], undefined, 'int64');
    for (const rows of [97, 64, 97]) await matchesCpu(g, `gather from [${rows}, 8]`, () => gather(Tensor.randn([rows, 8], rows), ids, 0));
  });

  it('keeps intermediates on the device and reads back only when .data is touched', () => {
    const x = Tensor.randn([6, 10], 5);
    const w = Tensor.randn([10, 10], 6);
    const gamma = Tensor.randn([10], 7);
    const before = g.describe().readbacks;
    const y = run(() => softmax(relu(add(layerNormKernel(matmul(x, w), gamma, undefined, -1, 1e-5).y, 1)), -1));
    const z = run(() => transpose(reshape(y, [3, 2, 10]), [2, 0, 1]));
    expect(y.onHost).toBe(false);
    expect(z.onHost).toBe(false);
    expect(z.deviceStorage?.backend).toBe('gpu');
    expect(g.describe().readbacks).toBe(before);
    const cpu = new CpuBackend();
    const want = (() => {
      const prev = getBackend();
      registerBackend(cpu);
      setBackend('cpu');
      try {
        const yy = softmax(relu(add(layerNormKernel(matmul(x, w), gamma, undefined, -1, 1e-5).y, 1)), -1);
        return transpose(reshape(yy, [3, 2, 10]), [2, 0, 1]);
      } finally {
        setBackend(prev.name);
      }
    })();
    expectClose(z, want, 'chain');
    expect(g.describe().readbacks).toBe(before + 1);
  });

  it('a host tensor used twice is uploaded once', () => {
    const w = Tensor.randn([12, 12], 8);
    const u0 = g.describe().uploads;
    run(() => matmul(Tensor.randn([3, 12], 9), w)).data;
    run(() => matmul(Tensor.randn([3, 12], 10), w)).data;
    expect(g.describe().uploads - u0).toBe(3); // w once, the two activations once each
  });

  it('dispose() frees device memory; reading a disposed tensor says so', () => {
    const y = run(() => add(Tensor.randn([4, 4], 11), 1));
    y.dispose();
    expect(y.deviceStorage).toBeUndefined();
    const z = run(() => add(Tensor.randn([4, 4], 12), 1));
    const storage = z.deviceStorage;
    storage?.dispose?.();
    expect(() => storage?.read?.()).toThrow(/freed by dispose/);
    expect(() => y.data).toThrow(/DISPOSED|after dispose/);
    y.dispose(); // twice is safe
  });
});

describe('tensors above the texture limit are split', () => {
  it('splits outputs and inputs into chunks and matches the CPU backend', async () => {
    const g = createGpuBackend({ mode: 'webasm', maxTextureSize: 9, strict: true }); // 64 elements per chunk
    expect(g.describe().chunkLimit).toBe(64);
    const x = Tensor.randn([11, 23], 1); // 253 elements → 4 chunks of 2 rows... split along rows
    const w = Tensor.randn([23, 31], 2);
    const y = await matchesCpu(g, 'split matmul', () => matmul(x, w));
    const buf = y.deviceStorage?.handle as { layout: { nChunks: number } };
    expect(buf.layout.nChunks).toBeGreaterThan(1);
    await matchesCpu(g, 'split layerNorm', () => layerNormKernel(matmul(x, w), undefined, undefined, -1, 1e-5).y);
    g.dispose();
  });
});
