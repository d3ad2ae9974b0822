import { type Backend, CpuBackend } from '@normkit/tensor';
import { GpuBackend, type GpuBackendOptions } from './backend.js';
import { DEVICE_MODES, type GpuMode, pickMode } from './modes.js';
import { initWebGpu } from './webgpu.js';

/**
 * Creates the gpu.js backend (registered name `'gpu'` unless `opts.name` says otherwise).
 * `opts.mode` overrides the automatic choice; an unusable mode throws `GPU_MODE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend } from '@normkit/tensor';
 * import { createGpuBackend } from '@normkit/gpu';
 * registerBackend(createGpuBackend());          // or createGpuBackend({ mode: 'webasm' })
 * setBackend('gpu');
 * ```
 */
export function createGpuBackend(opts: GpuBackendOptions = {}): GpuBackend {
  return new GpuBackend(opts);
}

/** The automatic choice: which backend to use here and why. */
export interface BackendChoice {
  backend: Backend;
  /** The gpu.js mode that would run (also reported when the CPU backend wins). */
  mode: GpuMode;
  reason: string;
}

/**
 * Chooses between the gpu.js backend and the CPU backend: the gpu.js backend when gpu.js has a
 * graphics-device mode here (WebGPU once `initWebGpu()` found an adapter, else WebGL2, headless-gl,
 * WebGL), otherwise the CPU backend, because gpu.js
 * in webasm or cpu mode runs on the same CPU with extra copies and is slower than the CPU backend's
 * kernels (see bench/results.md).
 *
 * @example
 * ```ts
 * const { backend, reason } = chooseBackend();
 * registerBackend(backend); setBackend(backend.name); console.log(reason);
 * ```
 */
export function chooseBackend(opts: GpuBackendOptions = {}): BackendChoice {
  const pick = pickMode('auto');
  if (DEVICE_MODES.has(pick.mode)) {
    return { backend: createGpuBackend({ ...opts, mode: pick.mode }), mode: pick.mode, reason: `gpu.js backend: ${pick.reason}` };
  }
  return {
    backend: new CpuBackend(),
    mode: pick.mode,
    reason: `CPU backend: gpu.js has no graphics-device mode here (${pick.reason}); in ${pick.mode} mode it would run on the CPU anyway and the CPU backend is faster`,
  };
}

/**
 * The best backend here: the gpu.js backend on a GPU, the CPU backend otherwise (see `chooseBackend`).
 * @example const b = bestBackend(); registerBackend(b); setBackend(b.name);
 */
export function bestBackend(opts: GpuBackendOptions = {}): Backend {
  return chooseBackend(opts).backend;
}

/**
 * Like `chooseBackend`, after trying WebGPU first (`initWebGpu`: navigator.gpu in a browser, the
 * optional `webgpu` package in Node), so WebGPU is preferred wherever it works. A WebGPU backend reads
 * only asynchronously: run graphs with `Executor.runAsync` and read tensors with `await t.read()`.
 * @example
 * ```ts
 * const { backend, mode, reason } = await chooseBackendAsync(); // mode 'webgpu' where there is an adapter
 * ```
 */
export async function chooseBackendAsync(opts: GpuBackendOptions = {}): Promise<BackendChoice> {
  await initWebGpu();
  return chooseBackend(opts);
}
