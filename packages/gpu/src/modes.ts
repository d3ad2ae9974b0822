import { GPU } from 'gpu.js';
import { webGpuStatus } from './webgpu.js';

/** The gpu.js modes this backend knows, best first. */
export type GpuMode = 'webgpu' | 'webgl2' | 'headlessgl' | 'webgl' | 'webasm' | 'cpu';

/** Modes in order of preference. @example MODE_ORDER[0] // 'webgpu' */
export const MODE_ORDER: readonly GpuMode[] = ['webgpu', 'webgl2', 'headlessgl', 'webgl', 'webasm', 'cpu'];

/** Modes that run kernels on a graphics device (as opposed to WebAssembly or plain JS on the CPU). @example DEVICE_MODES.has('webasm') // false */
export const DEVICE_MODES: ReadonlySet<GpuMode> = new Set(['webgpu', 'webgl2', 'headlessgl', 'webgl']);

/** What the probe found for one mode. */
export interface ModeProbe {
  readonly mode: GpuMode;
  /** gpu.js reports the mode as supported on this platform. */
  readonly available: boolean;
  /** This backend can run in the mode (for webgpu: `initWebGpu()` obtained an adapter). */
  readonly usable: boolean;
  /** Why (not). */
  readonly reason: string;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

/**
 * Probes which gpu.js modes work here, with a reason for each.
 * @example probeModes().filter((p) => p.usable).map((p) => p.mode) // ['webasm', 'cpu'] in plain Node
 */
export function probeModes(): ModeProbe[] {
  const wg = webGpuStatus();
  const webgl2 = safe(() => GPU.isWebGL2Supported);
  const headlessgl = safe(() => GPU.isHeadlessGLSupported);
  const webgl = safe(() => GPU.isWebGLSupported);
  const webasm = safe(() => GPU.isWebAssemblySupported);
  return [
    {
      mode: 'webgpu',
      available: wg?.available ?? false,
      usable: wg?.available ?? false,
      reason:
        wg?.reason ??
        (safe(() => GPU.isWebGPUSupported)
          ? 'navigator.gpu exists but no adapter was requested yet: `await initWebGpu()` (or use chooseBackendAsync) first'
          : isNode
            ? 'WebGPU not initialised: `await initWebGpu()` loads the optional `webgpu` package (Dawn) and requests an adapter'
            : 'this browser exposes no navigator.gpu'),
    },
    {
      mode: 'webgl2',
      available: webgl2,
      usable: webgl2,
      reason: webgl2
        ? 'WebGL2 context available (float textures, GLSL ES 3.00)'
        : isNode
          ? 'no WebGL2 in Node'
          : 'this browser has no WebGL2 context',
    },
    {
      mode: 'headlessgl',
      available: headlessgl,
      usable: headlessgl,
      reason: headlessgl
        ? 'headless-gl (the optional `gl` package) created a context'
        : isNode
          ? 'the optional `gl` package is not installed or found no display (install it and run under xvfb-run)'
          : 'headless-gl exists only in Node',
    },
    {
      mode: 'webgl',
      available: webgl,
      usable: webgl,
      reason: webgl ? 'WebGL1 context available' : isNode ? 'no WebGL in Node' : 'this browser has no WebGL context',
    },
    {
      mode: 'webasm',
      available: webasm,
      usable: webasm,
      reason: webasm ? 'WebAssembly available: kernels compile to wasm with f32x4 SIMD and run on the CPU' : 'WebAssembly is not available',
    },
    { mode: 'cpu', available: true, usable: true, reason: 'gpu.js cpu mode (kernels transpiled to plain JavaScript) always works' },
  ];
}

/**
 * Picks the mode to run in: `requested` when given (and usable), else the best usable mode.
 * @example pickMode('webasm').mode // 'webasm'
 */
export function pickMode(requested: GpuMode | 'auto' = 'auto'): { mode: GpuMode; reason: string; probes: ModeProbe[] } {
  const probes = probeModes();
  if (requested !== 'auto') {
    const p = probes.find((x) => x.mode === requested);
    if (!p?.usable) {
      return { mode: requested, reason: `requested mode "${requested}" is not usable here: ${p?.reason ?? 'unknown mode'}`, probes };
    }
    return { mode: requested, reason: `mode "${requested}" requested explicitly (${p.reason})`, probes };
  }
  const best = probes.find((p) => p.usable) as ModeProbe;
  const skipped = probes.slice(0, probes.indexOf(best)).map((p) => `${p.mode}: ${p.reason}`);
  return {
    mode: best.mode,
    reason: `best usable mode is "${best.mode}" (${best.reason})${skipped.length ? `; skipped ${skipped.join('; ')}` : ''}`,
    probes,
  };
}
