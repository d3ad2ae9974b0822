// WebGPU in Node: gpu.js's webgpu mode through Dawn (the optional `webgpu` package) on SwiftShader
// (chromium's Vulkan ICD, set by test/setup-webgpu.ts). Kernels are queued synchronously and only
// reads await; `.data` says to await `read()`; split buffers; and every zoo model (tiny), original
// and LN→RMSNorm converted, through Executor.runAsync within 1e-4 of the CPU backend. Skipped, saying
// why, where Dawn does not load or gives no adapter.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Executor, foldLayerNorms, randomInputs } from '@normkit/graph';
import { argmax, CpuBackend, layerNormKernel, matmul, NormkitError, Tensor, withBackend } from '@normkit/tensor';
import { architectures, buildModel } from '@normkit/zoo';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseBackendAsync, createGpuBackend, initWebGpu } from '../src/index.js';
import { expectClose, matchesCpu } from './helpers.js';

const status = await initWebGpu();
if (!status.available) console.warn(`[gpu webgpu test] skipped: ${status.reason}`);

const hasGpuDevice =
  process.platform !== 'linux' ||
  (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'))) ||
  existsSync('/dev/nvidiactl') ||
  existsSync('/dev/dxg');

describe.skipIf(hasGpuDevice)('WebGPU on a Linux machine without a GPU', () => {
  it('does not load Dawn (no native warnings on stderr) and says how to use SwiftShader', () => {
    const src = fileURLToPath(new URL('../src/webgpu.ts', import.meta.url));
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    delete env.VK_DRIVER_FILES;
    delete env.XDG_RUNTIME_DIR;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', `import(${JSON.stringify(src)}).then(async (m) => console.log(JSON.stringify(await m.initWebGpu())))`],
      { encoding: 'utf8', env },
    );
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { available: boolean; reason: string };
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/no GPU device.*VK_ICD_FILENAMES/);
    expect(r.stderr).not.toMatch(/Vulkan|XDG_RUNTIME_DIR/);
  });
});

describe.skipIf(!status.available)('WebGPU in Node (Dawn)', () => {
  const g = createGpuBackend({ mode: 'webgpu', strict: true });
  const cpu = new CpuBackend();
  afterAll(() => g.dispose());

  it('is the automatic choice once an adapter exists, and says where it came from', async () => {
    const choice = await chooseBackendAsync();
    expect(choice.mode).toBe('webgpu');
    expect(choice.reason).toMatch(/Dawn|navigator\.gpu/);
    (choice.backend as { dispose?: () => void }).dispose?.();
  });

  it('kernels return at once; .data throws READ_ASYNC_ONLY naming the awaited read; read() gives the values', async () => {
    const x = Tensor.randn([5, 7], 1);
    const y = withBackend(g, () => layerNormKernel(matmul(x, Tensor.randn([7, 6], 2)), undefined, undefined, -1, 1e-5).y);
    expect(y.onHost).toBe(false);
    let err: unknown;
    try {
      void y.data;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NormkitError);
    expect((err as NormkitError).code).toBe('READ_ASYNC_ONLY');
    expect((err as Error).message).toMatch(/await t\.read\(\)/);
    const want = withBackend(cpu, () => layerNormKernel(matmul(x, Tensor.randn([7, 6], 2)), undefined, undefined, -1, 1e-5).y);
    await y.read();
    expectClose(y, want, 'webgpu matmul → layerNorm');
  });

  it('a CPU fallback on a device value says what to do', () => {
    const y = withBackend(g, () => matmul(Tensor.randn([3, 4], 1), Tensor.randn([4, 5], 2)));
    expect(() => withBackend(g, () => argmax(y, -1))).toThrow(/argmax runs on the CPU.*await t\.read\(\)/);
  });

  it('splits buffers above the element limit', async () => {
    const s = createGpuBackend({ mode: 'webgpu', maxTextureSize: 17, strict: true }); // 256 elements per buffer
    const x = Tensor.randn([11, 23], 1);
    const w = Tensor.randn([23, 31], 2);
    const y = await matchesCpu(s, 'split matmul', () => matmul(x, w));
    const handle = y.deviceStorage?.handle as { layout: { nChunks: number } } | undefined;
    expect(handle?.layout.nChunks).toBeGreaterThan(1);
    await matchesCpu(s, 'split layerNorm', () => layerNormKernel(matmul(x, w), undefined, undefined, -1, 1e-5).y);
    s.dispose();
  });

  for (const { name } of architectures) {
    it(`${name} (tiny), original and converted, through Executor.runAsync within 1e-4 of the CPU backend`, async () => {
      const model = buildModel(name, { size: 'tiny', seqLen: 8, seed: 0 });
      const inputs = randomInputs(model, 1);
      for (const [variant, m] of [
        ['original', model],
        ['converted', foldLayerNorms(model.clone(), { verify: false }).model],
      ] as const) {
        const want = new Executor(m, { backend: cpu }).run(inputs).outputs;
        const r = await new Executor(m, { backend: g }).runAsync(inputs, { profile: true });
        expect(Object.keys(r.outputs)).toEqual(Object.keys(want));
        for (const [k, w] of Object.entries(want)) expectClose(r.outputs[k] as Tensor, w, `webgpu ${name} ${variant} ${k}`);
        // The outputs cross to the host; nothing else may on these models (no CPU kernels in them).
        expect(r.profile?.crossings, `${name} ${variant} crossings`).toBe(Object.keys(want).length);
      }
    });
  }

  it('took no CPU fallbacks on the zoo models', () => {
    const taken = Object.keys(g.describe().fallbacks).filter((k) => !/^(argmax|argmin|cast \w+->(int32|int64|float64))$/.test(k));
    expect(taken, JSON.stringify(g.fallbackReasons)).toEqual([]);
  });
});
