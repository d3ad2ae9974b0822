/**
 * @normkit/gpu — a gpu.js backend for @normkit/tensor: WebGL2 / headless-gl / WebGL kernels (webasm
 * and cpu modes too), kernels compiled once per shape, results kept on the device until read.
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend, Tensor, matmul } from '@normkit/tensor';
 * import { createGpuBackend } from '@normkit/gpu';
 * const gpu = createGpuBackend();
 * registerBackend(gpu);
 * setBackend('gpu');
 * console.log(gpu.describe().mode, gpu.describe().reason);
 * const y = matmul(Tensor.randn([8, 16], 1), Tensor.randn([16, 4], 2));
 * ```
 */
export { CPU_KERNELS, GpuBackend, type GpuBackendDescription, type GpuBackendOptions } from './backend.js';
export { MAX_EXACT_INDEX } from './codegen.js';
export { type BackendChoice, bestBackend, chooseBackend, chooseBackendAsync, createGpuBackend } from './create.js';
export { DEVICE_MODES, type GpuMode, MODE_ORDER, type ModeProbe, pickMode, probeModes } from './modes.js';
export { initWebGpu, type WebGpuStatus, webGpuStatus } from './webgpu.js';
