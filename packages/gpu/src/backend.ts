import { type Backend, CpuBackend, type DType, type LayerNormResult, NormkitError, sizeOf, Tensor } from '@normkit/tensor';
import { type GpuBuffer, GpuDevice, Unsupported } from './device.js';
import { isF32, KERNELS, type KernelArgs, type KernelHost, type KernelSpec, type TableMethod } from './kernels.js';
import { DEVICE_MODES, type GpuMode, type ModeProbe, pickMode } from './modes.js';
import { normKernel } from './reduce.js';

/** Options of `createGpuBackend`. */
export interface GpuBackendOptions {
  /** gpu.js mode; `'auto'` (default) picks the best usable one (webgl2 > headlessgl > webgl > webasm > cpu). */
  mode?: GpuMode | 'auto';
  /** Caps the texture size used for splitting (tests use a small value to exercise splits). */
  maxTextureSize?: number;
  /** Registered name (default `'gpu'`). */
  name?: string;
  /** Throw instead of falling back to the CPU when a device kernel fails to build or run (tests use this). */
  strict?: boolean;
}

/** What `describe()` reports. */
export interface GpuBackendDescription {
  name: string;
  /** gpu.js mode kernels run in. */
  mode: GpuMode;
  /** Whether that mode runs on a graphics device (webgl2/headlessgl/webgl) rather than the CPU (webasm/cpu). */
  onDevice: boolean;
  /** Why this mode was chosen. */
  reason: string;
  /** What the probe found for every mode. */
  probes: ModeProbe[];
  /** GL renderer string, when the mode has a GL context (e.g. "ANGLE (Google, SwiftShader ...)"). */
  renderer?: string;
  maxTextureSize: number;
  /** Elements per storage chunk; larger tensors are split. */
  chunkLimit: number;
  kernelsCompiled: number;
  cacheHits: number;
  launches: number;
  uploads: number;
  readbacks: number;
  /** Device storage chunks currently allocated (textures, WebGPU buffers, or wasm/cpu arrays). */
  liveTextures: number;
  /** CPU fallbacks taken so far, per op. */
  fallbacks: Record<string, number>;
  /** The kernels that always run on the CPU backend, and why. */
  cpuKernels: Record<string, string>;
}

/** Kernels deliberately left to the CPU backend (see README, "CPU fallbacks"). @example Object.keys(CPU_KERNELS) // ['argReduce', ...] */
export const CPU_KERNELS: Readonly<Record<string, string>> = {
  argReduce: 'argmax/argmin produce int64 indices; the device holds float32 only',
  'int/float64 dtypes': 'int32, int64 and float64 tensors (shapes, indices, reference math) stay on the host',
  'cast to int': 'casts to int32/int64/float64 produce host dtypes',
  'empty tensors': 'zero-sized outputs need no kernel',
  'too many inputs': 'ops whose inputs need more than 14 textures (e.g. concat of many split tensors)',
  'unsplittable shapes': 'tensors of 2^24+ elements whose rows cannot be split with exact float32 indices',
  'pad (crop or non-finite fill)': 'pad with negative pads or a non-finite constant',
};

/**
 * A `Backend` for `@normkit/tensor` whose kernels are gpu.js kernels. Results stay on the device
 * (textures in GL modes) and are read back only when `.data` is touched.
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend, matmul, Tensor } from '@normkit/tensor';
 * import { createGpuBackend } from '@normkit/gpu';
 * registerBackend(createGpuBackend());
 * setBackend('gpu');
 * const y = matmul(Tensor.randn([64, 128], 1), Tensor.randn([128, 32], 2)); // on the device
 * y.data; // read back here
 * ```
 * The `Backend` methods (`unary`, `matmul`, `layerNorm`, ...) are called by the public ops of
 * `@normkit/tensor` after they validated their arguments; call those ops, not the methods.
 */
export class GpuBackend implements Backend {
  readonly name: string;
  readonly device: GpuDevice;
  /** The CPU backend used for explicit fallbacks. */
  readonly cpu = new CpuBackend();
  private readonly reason: string;
  private readonly probes: ModeProbe[];
  private readonly strict: boolean;
  private readonly gatherIdx = new WeakMap<object, Map<number, Tensor>>();
  private readonly host: KernelHost;

  constructor(opts: GpuBackendOptions = {}) {
    const pick = pickMode(opts.mode ?? 'auto');
    const probe = pick.probes.find((p) => p.mode === pick.mode);
    if (!probe?.usable)
      throw new NormkitError(
        'GPU_MODE_UNAVAILABLE',
        `createGpuBackend: ${pick.reason}; use mode 'auto' or one of ${pick.probes
          .filter((p) => p.usable)
          .map((p) => p.mode)
          .join(', ')}`,
      );
    this.name = opts.name ?? 'gpu';
    this.reason = pick.reason;
    this.probes = pick.probes;
    this.strict = opts.strict ?? false;
    this.device = new GpuDevice({ mode: pick.mode, ...(opts.maxTextureSize !== undefined ? { maxTextureSize: opts.maxTextureSize } : {}) });
    this.host = {
      device: this.device,
      op: (x) => this.device.operand(x, this.name),
      indices: (t, dim) => this.normalizedIndices(t, dim),
    };
  }

  /** The gpu.js mode in use. @example createGpuBackend({ mode: 'webasm' }).mode // 'webasm' */
  get mode(): GpuMode {
    return this.device.mode;
  }

  /**
   * Reports the mode, why it was chosen, what every mode probe found, and cache/transfer counters.
   * @example console.log(createGpuBackend().describe().reason)
   */
  describe(): GpuBackendDescription {
    const s = this.device.stats;
    const renderer = this.renderer();
    return {
      name: this.name,
      mode: this.device.mode,
      onDevice: DEVICE_MODES.has(this.device.mode),
      reason: this.reason,
      probes: this.probes,
      ...(renderer ? { renderer } : {}),
      maxTextureSize: this.device.maxTextureSize,
      chunkLimit: this.device.chunkLimit,
      kernelsCompiled: s.kernelsCompiled,
      cacheHits: s.cacheHits,
      launches: s.launches,
      uploads: s.uploads,
      readbacks: s.readbacks,
      liveTextures: s.liveChunks,
      fallbacks: { ...s.fallbacks },
      cpuKernels: { ...CPU_KERNELS },
    };
  }

  private renderer(): string | undefined {
    const ctx = (this.device.gpu as unknown as { context?: WebGLRenderingContext | null }).context;
    if (!ctx || typeof ctx.getParameter !== 'function') return undefined;
    try {
      const ext = ctx.getExtension('WEBGL_debug_renderer_info');
      return String(ctx.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : ctx.RENDERER));
    } catch {
      return undefined;
    }
  }

  // --- dispatch --------------------------------------------------------------------------------

  /** Runs `gpu` unless `eligible` is false or it reports Unsupported; then runs `cpu` and counts the fallback. */
  private run<T>(opName: string, eligible: boolean, gpu: () => T, cpu: () => T): T {
    let why = 'inputs or output not on the device (dtype or empty)';
    if (eligible) {
      try {
        return gpu();
      } catch (e) {
        const expected = e instanceof Unsupported || (e instanceof NormkitError && e.code === 'TENSOR_TOO_LARGE');
        if (!expected && this.strict) throw e;
        why = (e as Error).message;
      }
    }
    const f = this.device.stats.fallbacks;
    f[opName] = (f[opName] ?? 0) + 1;
    this.fallbackReasons[opName] = why;
    try {
      return cpu();
    } catch (e) {
      if (!(e instanceof NormkitError && e.code === 'READ_ASYNC_ONLY')) throw e;
      throw new NormkitError(
        'READ_ASYNC_ONLY',
        `gpu backend (${this.device.mode}): ${opName} runs on the CPU here (${why}) and needs its inputs on the host, which this mode reads only asynchronously; \`await t.read()\` its inputs first (Executor.runAsync does this)`,
        { op: opName },
      );
    }
  }

  /** The last reason each op fell back to the CPU backend. @example backend.fallbackReasons['argmax'] */
  readonly fallbackReasons: Record<string, string> = {};

  /**
   * The `Backend` method `k` from its entry in the kernel table (src/kernels.ts): the device kernel
   * when the inputs are eligible and the output is non-empty, else the CPU backend's `k`.
   */
  private kernel<K extends TableMethod>(k: K): Backend[K] {
    const spec = KERNELS[k] as KernelSpec<K>;
    const method = (...a: KernelArgs<K>): Tensor => {
      const shape = spec.shape(...a);
      return this.run(
        spec.label(...a),
        sizeOf(shape) > 0 && spec.eligible(...a),
        () => this.device.wrap(shape, spec.dtype ? spec.dtype(...a) : firstDtype(a), spec.launch(this.host, shape, ...a), this.name),
        () => (this.cpu[k] as (...args: KernelArgs<K>) => Tensor)(...a),
      );
    };
    return method as unknown as Backend[K];
  }

  // --- Backend ---------------------------------------------------------------------------------

  readonly unary = this.kernel('unary');
  readonly unaryParam = this.kernel('unaryParam');
  readonly binary = this.kernel('binary');
  readonly where = this.kernel('where');
  readonly reduce = this.kernel('reduce');
  readonly argReduce = this.kernel('argReduce');
  readonly softmax = this.kernel('softmax');
  readonly matmul = this.kernel('matmul');
  readonly gemm = this.kernel('gemm');
  readonly conv = this.kernel('conv');
  readonly pool = this.kernel('pool');
  readonly transpose = this.kernel('transpose');
  readonly concat = this.kernel('concat');
  readonly slice = this.kernel('slice');
  readonly pad = this.kernel('pad');
  readonly gather = this.kernel('gather');
  readonly expand = this.kernel('expand');
  readonly tile = this.kernel('tile');
  readonly cast = this.kernel('cast');
  readonly rmsNorm = this.kernel('rmsNorm');

  /** Indices as non-negative float32 values, cached per index array (token ids are reused). */
  private normalizedIndices(indices: Tensor, dim: number): Tensor {
    const data = indices.data;
    let byDim = this.gatherIdx.get(data);
    if (!byDim) this.gatherIdx.set(data, (byDim = new Map()));
    const hit = byDim.get(dim);
    if (hit && hit.shape.length === indices.rank && hit.shape.every((d, i) => d === indices.shape[i])) return hit;
    const f = new Float32Array(data.length);
    for (let i = 0; i < f.length; i++) {
      const v = Number(data[i]);
      f[i] = v < 0 ? v + dim : v;
    }
    const t = new Tensor(indices.shape, 'float32', f);
    byDim.set(dim, t);
    return t;
  }

  /** The fused LayerNorm: y, and mean and 1/σ as views of the statistics kernel's output (two outputs, so not in the table). */
  layerNorm(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, epsilon: number, out?: Tensor): LayerNormResult {
    return this.run(
      'layerNorm',
      isF32(x, scale, bias),
      () => {
        const r = normKernel(this.device, this.host.op(x), scale && this.host.op(scale), bias && this.host.op(bias), axis, epsilon, true);
        const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
        const [m, s] = r.statsRefs as [GpuBuffer, GpuBuffer];
        const wrap = (b: GpuBuffer, shape: readonly number[]) => this.device.wrap(shape, x.dtype, b, this.name);
        if (m.layout.nChunks === 1)
          return {
            y: wrap(r.y, x.shape),
            mean: wrap(this.device.view(m, m.offset, r.rows), statShape),
            invStdDev: wrap(this.device.view(s, s.offset + r.rows, r.rows), statShape),
          };
        const all = m.read();
        m.release();
        s.release();
        const stat = (from: number) => new Tensor(statShape, x.dtype, all.slice(from, from + r.rows) as never);
        return { y: wrap(r.y, x.shape), mean: stat(0), invStdDev: stat(r.rows) };
      },
      () => this.cpu.layerNorm(x, scale, bias, axis, epsilon, out),
    );
  }

  /** Reads `x` back to the host (no-op for host tensors). @example backend.read(y).data */
  read(x: Tensor): Tensor {
    void x.data;
    return x;
  }

  /** Frees the compiled kernels and the gpu.js context. Tensors still on the device become unreadable. @example backend.dispose() */
  dispose(): void {
    this.device.destroy();
  }
}

/** The dtype of the first tensor argument (of the first of a tensor list). */
function firstDtype(args: readonly unknown[]): DType {
  for (const a of args) {
    const t = (Array.isArray(a) ? a[0] : a) as { dtype?: unknown } | undefined;
    if (typeof t?.dtype === 'string') return t.dtype as DType;
  }
  throw new Error('gpu kernel table: no tensor argument to take the dtype from');
}
