// Small helpers shared by the WebAssembly kernels of the CPU backend (GEMM, norms).

/** Decodes the base64 text of a generated kernel module. @example new WebAssembly.Module(decodeBase64(GEMM_WASM_BASE64)) */
export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Grows `memory` to hold at least `bytes` bytes (throws a RangeError when the engine refuses).
 * Growing detaches an ordinary memory's old ArrayBuffer: re-create typed-array views afterwards.
 * @example ensureBytes(memory, 1 << 20); const f = new Float32Array(memory.buffer);
 */
export function ensureBytes(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}

/**
 * A kernel module compiled on first use, over a memory of its own, with an off switch for tests and
 * benchmarks. `create` instantiates it (a throw, or an engine without WebAssembly or `atob`, means no
 * kernels: callers run their JavaScript path); `refresh` re-creates its typed-array views after the
 * memory grew (growing detaches the old buffer).
 * @example
 * ```ts
 * const kernels = new LazyKernels(() => { const memory = new WebAssembly.Memory({ initial: 1 }); ... }, (s) => { ... });
 * const s = kernels.ready(1 << 20); // null: run the JS path
 * ```
 */
export class LazyKernels<S extends { memory: WebAssembly.Memory }> {
  private instance: S | null | undefined;
  private enabled = true;

  constructor(
    private readonly create: () => S,
    private readonly refresh: (s: S) => void,
  ) {}

  /** The instance, or null when switched off or unavailable (compiled on the first call). */
  active(): S | null {
    if (this.instance === undefined) {
      this.instance = null;
      if (typeof WebAssembly === 'object' && typeof atob === 'function')
        try {
          this.instance = this.create();
        } catch {
          // no WebAssembly SIMD: the JS path runs
        }
    }
    return this.enabled ? this.instance : null;
  }

  /** Switches the kernels off (`false`) or back on; returns the previous setting. */
  setEnabled(on: boolean): boolean {
    const prev = this.enabled;
    this.enabled = on;
    return prev;
  }

  /** Grows `s`'s memory to `bytes` and refreshes its views; false when the memory cannot grow that far. */
  reserve(s: S, bytes: number): boolean {
    if (bytes > 2 ** 32 - 65536) return false;
    try {
      ensureBytes(s.memory, bytes);
    } catch {
      return false;
    }
    this.refresh(s);
    return true;
  }

  /** The active instance with at least `bytes` bytes of memory and current views, or null (the JS path runs). */
  ready(bytes: number): S | null {
    const s = this.active();
    return s && this.reserve(s, bytes) ? s : null;
  }
}
