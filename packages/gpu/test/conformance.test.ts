// The backend conformance suite (@normkit/tensor/testing, the same cases the CPU backend runs) on the
// gpu.js modes that run in Node: cpu, webasm (also with a tiny texture limit, so tensors are split),
// headless-gl where the optional `gl` package and a display exist, and WebGPU through Dawn where an
// adapter exists. Chromium's WebGL2 and WebGPU run the same list in browser.test.ts.
import { backendConformance } from '@normkit/tensor/testing';
import { GPU } from 'gpu.js';
import { afterAll, describe, it } from 'vitest';
import { createGpuBackend, type GpuBackendOptions, initWebGpu } from '../src/index.js';
import { gpuConformanceOptions } from './conformance.js';

const webgpu = await initWebGpu();
const modes: [string, GpuBackendOptions][] = [
  ['gpu.js cpu mode', { mode: 'cpu' }],
  ['gpu.js webasm mode', { mode: 'webasm' }],
  ['gpu.js webasm, split (maxTextureSize 6 → 36 elements per chunk)', { mode: 'webasm', maxTextureSize: 6 }],
];
if (GPU.isHeadlessGLSupported) modes.push(['headlessgl', { mode: 'headlessgl' }]);
if (webgpu.available) modes.push([`webgpu in Node (${webgpu.adapter?.architecture ?? 'Dawn'})`, { mode: 'webgpu' }]);
else console.warn(`[gpu conformance] WebGPU in Node skipped: ${webgpu.reason}`);

for (const [label, opts] of modes) {
  const g = createGpuBackend({ ...opts, strict: true });
  backendConformance({ describe, it, afterAll }, label, () => g, gpuConformanceOptions(g));
}
