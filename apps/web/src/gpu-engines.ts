// The graphics-device engines run on the page's thread: gpu.js needs the page's WebGL2 (or WebGPU)
// context. Each run yields to the browser afterwards, so the page keeps responding between runs.
import { createGpuBackend, type GpuMode, initWebGpu, probeModes } from '@normkit/gpu';
import { Executor, randomInputs } from '@normkit/graph';
import { decodeModel } from '@normkit/onnx';
import { benchEngine, executorRunner } from './engines.js';
import type { BenchRow } from './protocol.js';

/** A benchmark engine the page offers, and whether it can run here (with the reason). */
export interface EngineChoice {
  name: string;
  label: string;
  available: boolean;
  reason: string;
  /** Runs in the worker (CPU) or on the page's thread (graphics device). */
  where: 'worker' | 'page';
}

/**
 * Asks the browser for a WebGPU adapter (once; at most `timeoutMs`), so `benchEngines` can offer WebGPU.
 * @example await prepareWebGpu(); benchEngines();
 */
export async function prepareWebGpu(timeoutMs = 5000): Promise<void> {
  await Promise.race([initWebGpu().catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs))]);
}

/**
 * The engines for the benchmark (call `prepareWebGpu` first): normkit's CPU backend and onnxruntime-web always; the gpu.js backend
 * in WebGL2, and in WebGPU, when @normkit/gpu reports the mode usable in this browser.
 *
 * @example
 * ```ts
 * benchEngines().filter((e) => e.available).map((e) => e.name); // ['normkit-cpu', 'normkit-webgl2', 'onnxruntime-web']
 * ```
 */
export function benchEngines(): EngineChoice[] {
  const probes = probeModes();
  const probe = (m: GpuMode) => probes.find((p) => p.mode === m);
  const webgpu = probe('webgpu');
  const webgl2 = probe('webgl2');
  const hasRunAsync = typeof (Executor.prototype as unknown as { runAsync?: unknown }).runAsync === 'function';
  return [
    { name: 'normkit-cpu', label: 'normkit, CPU backend (WebAssembly)', available: true, reason: 'always available', where: 'worker' },
    {
      name: 'normkit-webgl2',
      label: 'normkit, gpu.js backend in WebGL2',
      available: !!webgl2?.usable,
      reason: webgl2?.reason ?? 'unknown',
      where: 'page',
    },
    {
      name: 'normkit-webgpu',
      label: 'normkit, gpu.js backend in WebGPU',
      available: !!webgpu?.usable && hasRunAsync,
      reason: webgpu?.usable && !hasRunAsync ? 'this build of @normkit/graph has no Executor.runAsync' : (webgpu?.reason ?? 'unknown'),
      where: 'page',
    },
    { name: 'onnxruntime-web', label: 'onnxruntime-web (wasm, 1 thread)', available: true, reason: 'always available', where: 'worker' },
  ];
}

/**
 * Benchmarks original vs converted on the gpu.js backend in `mode` (on this thread), with the same
 * seeded inputs as the worker's engines.
 *
 * @example
 * ```ts
 * const row = await benchOnDevice('webgl2', originalBytes, convertedBytes, 10, onRound);
 * ```
 */
export async function benchOnDevice(
  mode: 'webgl2' | 'webgpu',
  originalBytes: ArrayBuffer,
  convertedBytes: ArrayBuffer,
  rounds: number,
  onRound: (round: number) => void,
): Promise<BenchRow> {
  const engine = `normkit-${mode}`;
  let backend: ReturnType<typeof createGpuBackend>;
  try {
    backend = createGpuBackend({ mode });
  } catch (e) {
    return { engine, description: `gpu.js ${mode}`, skipped: e instanceof Error ? e.message : String(e) };
  }
  const d = backend.describe();
  const description = `normkit executor, gpu.js ${d.mode}${d.renderer ? ` (${d.renderer})` : ''}`;
  try {
    const original = decodeModel(new Uint8Array(originalBytes));
    const converted = decodeModel(new Uint8Array(convertedBytes));
    const feeds = randomInputs(original, 0);
    const yieldToPage = (r: number) => {
      onRound(r);
      return new Promise<void>((res) => setTimeout(res, 0));
    };
    return await benchEngine(
      engine,
      description,
      async (w) => executorRunner(w === 'original' ? original : converted, backend, { async: mode === 'webgpu' }),
      feeds,
      rounds,
      yieldToPage,
    );
  } finally {
    backend.dispose();
  }
}
