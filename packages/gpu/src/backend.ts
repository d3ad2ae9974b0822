import {
  type Backend,
  type BinaryOp,
  type ConvOptions,
  CpuBackend,
  type DType,
  type GemmOptions,
  type LayerNormResult,
  NormkitError,
  type PoolOptions,
  type ReduceOp,
  sizeOf,
  Tensor,
  type UnaryOp,
  type UnaryParamOp,
} from '@normkit/tensor';
import { Code } from './codegen.js';
import { type GpuBuffer, GpuDevice, type Operand, Unsupported } from './device.js';
import { BOOL_BINARY, binaryCode, unaryCode, unaryParamCode } from './elementwise.js';
import { convKernel, gemmKernel, matmulKernel, poolKernel } from './linear.js';
import { DEVICE_MODES, type GpuMode, type ModeProbe, pickMode } from './modes.js';
import { concatKernel, expandKernel, gatherKernel, padKernel, sliceKernel, tileKernel, transposeKernel } from './movement.js';
import { normKernel, reduceKernel, softmaxKernel } from './reduce.js';

void Code;

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

const DEVICE_DTYPES = new Set<DType>(['float32', 'bool']);

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

  // --- helpers ---------------------------------------------------------------------------------

  private op(x: Tensor): Operand {
    return this.device.operand(x, this.name);
  }

  private out(shape: readonly number[], dtype: DType, b: GpuBuffer): Tensor {
    return this.device.wrap(shape, dtype, b, this.name);
  }

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

  private onDevice(...xs: (Tensor | undefined)[]): boolean {
    return xs.every((x) => x === undefined || (DEVICE_DTYPES.has(x.dtype) && x.size > 0));
  }

  private isF32(...xs: (Tensor | undefined)[]): boolean {
    return xs.every((x) => x === undefined || (x.dtype === 'float32' && x.size > 0));
  }

  // --- Backend ---------------------------------------------------------------------------------

  unary(op: UnaryOp, x: Tensor): Tensor {
    const ok = op === 'not' ? x.dtype === 'bool' && x.size > 0 : this.isF32(x);
    return this.run(
      `unary ${op}`,
      ok,
      () => {
        const [b] = this.device.launch(x.shape, [this.op(x)], (code, o, [X]) => unaryCode(code, op, code.read(X!, o)));
        return this.out(x.shape, x.dtype, b!);
      },
      () => this.cpu.unary(op, x),
    );
  }

  unaryParam(p: UnaryParamOp, x: Tensor): Tensor {
    return this.run(
      `unary ${p.op}`,
      this.isF32(x),
      () => {
        const [b] = this.device.launch(x.shape, [this.op(x)], (code, o, [X]) => unaryParamCode(code, p, code.read(X!, o)));
        return this.out(x.shape, x.dtype, b!);
      },
      () => this.cpu.unaryParam(p, x),
    );
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
    const ok =
      sizeOf(outShape) > 0 &&
      (this.isF32(a, b) || (a.dtype === 'bool' && b.dtype === 'bool' && ['and', 'or', 'xor', 'equal'].includes(op)));
    return this.run(
      `binary ${op}`,
      ok,
      () => {
        const [buf] = this.device.launch(outShape, [this.op(a), this.op(b)], (code, o, [A, B]) => {
          const va = code.read(A!, bcast(o, outShape, a.shape));
          const vb = code.read(B!, bcast(o, outShape, b.shape));
          return binaryCode(code, op, va, vb);
        });
        return this.out(outShape, BOOL_BINARY.has(op) ? 'bool' : a.dtype, buf!);
      },
      () => this.cpu.binary(op, a, b, outShape),
    );
  }

  where(cond: Tensor, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
    return this.run(
      'where',
      sizeOf(outShape) > 0 && this.onDevice(cond, a, b),
      () => {
        const [buf] = this.device.launch(outShape, [this.op(cond), this.op(a), this.op(b)], (code, o, [C, A, B]) => {
          const vc = code.read(C!, bcast(o, outShape, cond.shape));
          const r = code.let('0.0', 'w');
          code.push(`if (${vc} != 0.0) {`);
          code.push(`${r} = ${code.read(A!, bcast(o, outShape, a.shape))};`);
          code.push('} else {');
          code.push(`${r} = ${code.read(B!, bcast(o, outShape, b.shape))};`);
          code.push('}');
          return r;
        });
        return this.out(outShape, a.dtype, buf!);
      },
      () => this.cpu.where(cond, a, b, outShape),
    );
  }

  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    return this.run(
      `reduce ${op}`,
      this.isF32(x) && sizeOf(outShape) > 0,
      () => this.out(outShape, x.dtype, reduceKernel(this.device, op, this.op(x), axes)),
      () => this.cpu.reduce(op, x, axes, keepDims),
    );
  }

  argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean, selectLastIndex: boolean): Tensor {
    return this.run(
      op,
      false,
      () => x,
      () => this.cpu.argReduce(op, x, axis, keepDims, selectLastIndex),
    );
  }

  softmax(x: Tensor, axis: number, log: boolean): Tensor {
    return this.run(
      log ? 'logSoftmax' : 'softmax',
      this.isF32(x),
      () => this.out(x.shape, x.dtype, softmaxKernel(this.device, this.op(x), axis, log)),
      () => this.cpu.softmax(x, axis, log),
    );
  }

  matmul(a: Tensor, b: Tensor): Tensor {
    return this.run(
      'matmul',
      this.isF32(a, b) && (a.shape[a.rank - 1] as number) > 0,
      () => {
        const r = matmulKernel(this.device, this.op(a), this.op(b));
        return this.out(r.shape, a.dtype, r.buffer);
      },
      () => this.cpu.matmul(a, b),
    );
  }

  gemm(a: Tensor, b: Tensor, c: Tensor | undefined, opts: Required<GemmOptions>): Tensor {
    const M = (opts.transA ? a.shape[1] : a.shape[0]) as number;
    const N = (opts.transB ? b.shape[0] : b.shape[1]) as number;
    return this.run(
      'gemm',
      this.isF32(a, b, c) && M * N > 0,
      () => this.out([M, N], a.dtype, gemmKernel(this.device, this.op(a), this.op(b), c ? this.op(c) : undefined, opts)),
      () => this.cpu.gemm(a, b, c, opts),
    );
  }

  conv(x: Tensor, w: Tensor, bias: Tensor | undefined, opts: Required<ConvOptions>): Tensor {
    return this.run(
      'conv',
      this.isF32(x, w, bias),
      () => {
        const r = convKernel(this.device, this.op(x), this.op(w), bias ? this.op(bias) : undefined, opts);
        return this.out(r.shape, x.dtype, r.buffer);
      },
      () => this.cpu.conv(x, w, bias, opts),
    );
  }

  pool(kind: 'max' | 'avg', x: Tensor, opts: Required<PoolOptions>): Tensor {
    return this.run(
      `${kind}Pool`,
      this.isF32(x),
      () => {
        const r = poolKernel(this.device, kind, this.op(x), opts);
        return this.out(r.shape, x.dtype, r.buffer);
      },
      () => this.cpu.pool(kind, x, opts),
    );
  }

  transpose(x: Tensor, perm: readonly number[]): Tensor {
    return this.run(
      'transpose',
      this.onDevice(x),
      () =>
        this.out(
          perm.map((p) => x.shape[p] as number),
          x.dtype,
          transposeKernel(this.device, this.op(x), perm),
        ),
      () => this.cpu.transpose(x, perm),
    );
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    const shape = [...(xs[0] as Tensor).shape];
    shape[axis] = xs.reduce((s, t) => s + (t.shape[axis] as number), 0);
    const parts = xs.filter((t) => t.size > 0);
    return this.run(
      'concat',
      parts.length > 0 && sizeOf(shape) > 0 && DEVICE_DTYPES.has((xs[0] as Tensor).dtype),
      () =>
        this.out(
          shape,
          (xs[0] as Tensor).dtype,
          concatKernel(
            this.device,
            parts.map((t) => this.op(t)),
            axis,
          ),
        ),
      () => this.cpu.concat(xs, axis),
    );
  }

  slice(x: Tensor, starts: readonly number[], steps: readonly number[], outShape: readonly number[]): Tensor {
    return this.run(
      'slice',
      this.onDevice(x) && sizeOf(outShape) > 0,
      () => this.out(outShape, x.dtype, sliceKernel(this.device, this.op(x), starts, steps, outShape)),
      () => this.cpu.slice(x, starts, steps, outShape),
    );
  }

  pad(x: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge', value: number): Tensor {
    const r = x.rank;
    const shape = x.shape.map((d, i) => d + (pads[i] as number) + (pads[i + r] as number));
    return this.run(
      'pad',
      this.onDevice(x) && sizeOf(shape) > 0 && pads.every((p) => p >= 0) && Number.isFinite(value),
      () => {
        const res = padKernel(this.device, this.op(x), pads, mode, value);
        return this.out(res.shape, x.dtype, res.buffer);
      },
      () => this.cpu.pad(x, pads, mode, value),
    );
  }

  gather(x: Tensor, indices: Tensor, axis: number): Tensor {
    return this.run(
      'gather',
      this.onDevice(x) && indices.size > 0,
      () => {
        const res = gatherKernel(this.device, this.op(x), this.op(this.normalizedIndices(indices, x.shape[axis] as number)), axis);
        return this.out(res.shape, x.dtype, res.buffer);
      },
      () => this.cpu.gather(x, indices, axis),
    );
  }

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

  expand(x: Tensor, outShape: readonly number[]): Tensor {
    return this.run(
      'expand',
      this.onDevice(x) && sizeOf(outShape) > 0,
      () => this.out(outShape, x.dtype, expandKernel(this.device, this.op(x), outShape)),
      () => this.cpu.expand(x, outShape),
    );
  }

  tile(x: Tensor, repeats: readonly number[]): Tensor {
    return this.run(
      'tile',
      this.onDevice(x) && x.shape.every((d, i) => d * (repeats[i] as number) > 0),
      () => {
        const res = tileKernel(this.device, this.op(x), repeats);
        return this.out(res.shape, x.dtype, res.buffer);
      },
      () => this.cpu.tile(x, repeats),
    );
  }

  cast(x: Tensor, dtype: DType): Tensor {
    return this.run(
      `cast ${x.dtype}->${dtype}`,
      this.onDevice(x) && DEVICE_DTYPES.has(dtype),
      () => {
        const [b] = this.device.launch(x.shape, [this.op(x)], (code, o, [X]) => {
          const v = code.read(X!, o);
          if (dtype !== 'bool') return v;
          const r = code.let('0.0', 'b');
          code.push(`if (${v} != 0.0) { ${r} = 1.0; }`);
          return r;
        });
        return this.out(x.shape, dtype, b!);
      },
      () => this.cpu.cast(x, dtype),
    );
  }

  layerNorm(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, epsilon: number): LayerNormResult {
    return this.run(
      'layerNorm',
      this.isF32(x, scale, bias),
      () => {
        const r = normKernel(
          this.device,
          this.op(x),
          scale ? this.op(scale) : undefined,
          bias ? this.op(bias) : undefined,
          axis,
          epsilon,
          true,
        );
        const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
        const [m, s] = r.statsRefs as [GpuBuffer, GpuBuffer];
        let mean: Tensor;
        let invStdDev: Tensor;
        if (m.layout.nChunks === 1) {
          mean = this.out(statShape, x.dtype, this.device.view(m, m.offset, r.rows));
          invStdDev = this.out(statShape, x.dtype, this.device.view(s, s.offset + r.rows, r.rows));
        } else {
          const all = m.read();
          m.release();
          s.release();
          mean = new Tensor(statShape, x.dtype, all.slice(0, r.rows) as never);
          invStdDev = new Tensor(statShape, x.dtype, all.slice(r.rows, 2 * r.rows) as never);
        }
        return { y: this.out(x.shape, x.dtype, r.y), mean, invStdDev };
      },
      () => this.cpu.layerNorm(x, scale, bias, axis, epsilon),
    );
  }

  rmsNorm(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, epsilon: number): Tensor {
    return this.run(
      'rmsNorm',
      this.isF32(x, scale, bias),
      () =>
        this.out(
          x.shape,
          x.dtype,
          normKernel(this.device, this.op(x), scale ? this.op(scale) : undefined, bias ? this.op(bias) : undefined, axis, epsilon, false).y,
        ),
      () => this.cpu.rmsNorm(x, scale, bias, axis, epsilon),
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

/** Index expressions for an operand of `shape` broadcast to `outShape`. */
function bcast(o: readonly string[], outShape: readonly number[], shape: readonly number[]): string[] {
  const off = outShape.length - shape.length;
  return shape.map((d, i) => (d === 1 ? '0' : (o[i + off] as string)));
}
