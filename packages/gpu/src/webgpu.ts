/**
 * WebGPU availability: `navigator.gpu` in browsers; in Node the optional peer dependency `webgpu`
 * (Google's Dawn), loaded dynamically and installed as `navigator.gpu`. An adapter is requested once;
 * the result (and why not) is remembered, so the synchronous mode probe can report it.
 */

/** What `initWebGpu` found. */
export interface WebGpuStatus {
  /** A WebGPU adapter was obtained: gpu.js's webgpu mode can run. */
  readonly available: boolean;
  /** Why (not): where navigator.gpu came from, or what failed and what to do. */
  readonly reason: string;
  /** The adapter's info (vendor, architecture, ...) when available. */
  readonly adapter?: Record<string, string>;
}

let status: WebGpuStatus | undefined;
let pending: Promise<WebGpuStatus> | undefined;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

interface GpuApi {
  requestAdapter(o?: unknown): Promise<{ info?: object } | null>;
}

/**
 * Why Dawn would find no GPU on this Linux machine, or undefined when it might: no GPU device node
 * (/dev/dri/renderD*, /dev/nvidia*, WSL's /dev/dxg) and no Vulkan driver chosen by the environment.
 * Loading Dawn there only prints native warnings to stderr (which JavaScript cannot silence) before
 * finding no adapter, so it is not loaded.
 */
async function noGpuDevice(): Promise<string | undefined> {
  const env = process.env;
  if (process.platform !== 'linux' || env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return undefined;
  try {
    // A variable specifier keeps browser bundlers from resolving a Node builtin.
    const fsName = 'node:fs';
    const { existsSync, readdirSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
    const dri = existsSync('/dev/dri') ? readdirSync('/dev/dri') : [];
    if (dri.some((f) => f.startsWith('renderD')) || existsSync('/dev/nvidiactl') || existsSync('/dev/dxg')) return undefined;
  } catch {
    return undefined;
  }
  return 'this machine has no GPU device (/dev/dri/renderD*, /dev/nvidia*); to run WebGPU on the CPU, point VK_ICD_FILENAMES at a SwiftShader Vulkan ICD (e.g. /usr/lib/chromium/vk_swiftshader_icd.json)';
}

/** The navigator.gpu of a browser, or of Dawn loaded from the `webgpu` package in Node. */
async function gpuApi(): Promise<{ api?: GpuApi; reason: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GpuApi } }).navigator;
  if (nav?.gpu) return { api: nav.gpu, reason: 'navigator.gpu' };
  if (!isNode) return { reason: 'this browser exposes no navigator.gpu (WebGPU needs a secure context: https or http://127.0.0.1)' };
  const noDevice = await noGpuDevice();
  if (noDevice) return { reason: noDevice };
  let wg: { create: (flags: string[]) => GpuApi; globals: Record<string, unknown> };
  try {
    // A variable specifier keeps bundlers from resolving the optional peer dependency.
    const name = 'webgpu';
    wg = (await import(/* @vite-ignore */ name)) as typeof wg;
  } catch (e) {
    return {
      reason: `the optional peer dependency \`webgpu\` (Dawn) did not load (${firstLine(e)}); install it with \`npm install webgpu\` (its Linux binary needs glibc >= 2.38)`,
    };
  }
  const api = wg.create([]);
  Object.assign(globalThis, wg.globals);
  const g = globalThis as { navigator?: { gpu?: GpuApi } };
  if (g.navigator) {
    try {
      Object.defineProperty(g.navigator, 'gpu', { value: api, configurable: true });
    } catch {
      // a frozen navigator: gpu.js cannot see WebGPU then
    }
  } else Object.defineProperty(globalThis, 'navigator', { value: { gpu: api }, configurable: true, writable: true });
  return { api, reason: 'the `webgpu` package (Dawn) in Node' };
}

/**
 * Makes WebGPU available to gpu.js if this platform has it and requests an adapter, once (later calls
 * return the same answer). In Node it loads the optional `webgpu` package (Dawn); with no GPU, Dawn
 * can run on SwiftShader: set `VK_ICD_FILENAMES` to a SwiftShader Vulkan ICD (chromium ships one).
 * @example
 * ```ts
 * const s = await initWebGpu();
 * if (s.available) registerBackend(createGpuBackend({ mode: 'webgpu' }));
 * else console.log(s.reason);
 * ```
 */
export function initWebGpu(): Promise<WebGpuStatus> {
  if (status) return Promise.resolve(status);
  pending ??= (async () => {
    const { api, reason } = await gpuApi();
    if (!api) return (status = { available: false, reason });
    let adapter: { info?: object } | null = null;
    try {
      adapter = await api.requestAdapter();
    } catch (e) {
      return (status = { available: false, reason: `${reason} is present but requestAdapter() failed: ${firstLine(e)}` });
    }
    if (!adapter)
      return (status = {
        available: false,
        reason: `${reason} is present but gives no adapter (no GPU driver; in Node without a GPU, point VK_ICD_FILENAMES at a SwiftShader Vulkan ICD, e.g. /usr/lib/chromium/vk_swiftshader_icd.json; in chromium use --enable-unsafe-webgpu)`,
      });
    const info = adapterInfo(adapter.info);
    const what = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
    return (status = { available: true, reason: `WebGPU adapter from ${reason}${what ? ` (${what})` : ''}`, adapter: info });
  })();
  return pending;
}

/** What `initWebGpu` found so far (undefined before it settled). @example webGpuStatus()?.available */
export function webGpuStatus(): WebGpuStatus | undefined {
  return status;
}

function adapterInfo(info: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!info) return out;
  for (const k of ['vendor', 'architecture', 'device', 'description'])
    if (typeof (info as Record<string, unknown>)[k] === 'string' && (info as Record<string, string>)[k])
      out[k] = (info as Record<string, string>)[k] as string;
  return out;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] as string;
}
