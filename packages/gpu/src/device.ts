/**
 * The device side: one gpu.js `GPU` instance, a kernel cache keyed by generated source, device
 * buffers (textures in GL modes, Float32Arrays in webasm/cpu mode), uploads and read-backs.
 */
import { type DeviceStorage, type DType, fmtShape, NormkitError, sizeOf, Tensor, type TypedArray } from '@normkit/tensor';
import { GPU, type IKernelRunShortcut, type Texture } from 'gpu.js';
import { type ChunkLayout, Code, layoutFor, MAX_EXACT_INDEX, type OperandInfo, splitFor } from './codegen.js';
import { DEVICE_MODES, type GpuMode } from './modes.js';

/** A gpu.js webgpu pipeline result (a GPUBuffer): read back with an awaited `toArray()`. */
interface WebGpuResult {
  toArray(): Promise<Float32Array>;
  delete(): void;
}

/**
 * A webgpu chunk: the kernel that produces it was queued (after the kernels producing its inputs)
 * and resolves to the buffer. Kernels enqueue synchronously; only reads await.
 */
export class FutureChunk {
  /** Queued launches that read this chunk and have not been submitted yet. */
  private readonly readers = new Set<Promise<unknown>>();
  constructor(
    readonly promise: Promise<WebGpuResult>,
    readonly size: number,
  ) {
    // Errors surface where a read awaits; an unread failed chunk must not become an unhandled rejection.
    promise.catch(() => undefined);
  }
  /** Records a queued launch reading this chunk (the buffer must live until it is submitted). */
  addReader(launch: Promise<unknown>): void {
    const done: Promise<unknown> = launch.then(
      (): boolean => this.readers.delete(done),
      (): boolean => this.readers.delete(done),
    );
    this.readers.add(done);
  }
  /** Frees the buffer once it exists and every launch queued so far that reads it was submitted. */
  free(): void {
    void Promise.allSettled([this.promise, ...this.readers]).then(([r]) => {
      if (r?.status === 'fulfilled') r.value.delete();
    });
  }
}

/** One storage chunk: a gpu.js texture (GL modes), a typed array (webasm and cpu modes) or a queued WebGPU buffer. */
export type Chunk = Texture | Float32Array | FutureChunk;

/** Thrown by a kernel builder when an op cannot run on the device; the backend falls back to the CPU. */
export class Unsupported extends Error {}

/** Chunks shared by buffers (a stats buffer and its mean/invStdDev views), freed when the last user releases them. */
export class ChunkSet {
  refs: number;
  constructor(
    readonly chunks: Chunk[],
    refs: number,
    private readonly onFree: (c: Chunk[]) => void,
  ) {
    this.refs = refs;
  }
  release(): void {
    if (this.refs <= 0) return;
    this.refs -= 1;
    if (this.refs === 0) this.onFree(this.chunks);
  }
}

/** Values of one tensor on the device: chunks, their layout, and an element offset (for views). */
export class GpuBuffer {
  private released = false;
  constructor(
    readonly device: GpuDevice,
    /** @internal shared chunk set */
    readonly set: ChunkSet,
    readonly layout: ChunkLayout,
    readonly size: number,
    readonly offset = 0,
  ) {}
  get chunks(): Chunk[] {
    if (this.released)
      throw new NormkitError(
        'DISPOSED',
        "gpu backend: this tensor's device memory was freed by dispose() (of it, of a reshape sharing its storage, or of the backend); read .data before disposing, or dispose only when no view is still used",
      );
    return this.set.chunks;
  }
  get isReleased(): boolean {
    return this.released;
  }
  /** Reads the values back to the host as float32 (blocking; not in webgpu mode). */
  read(): Float32Array {
    if (this.device.asyncReads)
      throw new NormkitError(
        'READ_ASYNC_ONLY',
        'gpu backend (webgpu): device values read back only asynchronously; use `await tensor.read()` (or Executor.runAsync)',
      );
    return this.assemble(this.chunks.map((c) => (c instanceof Float32Array ? c : ((c as Texture).toArray() as Float32Array))));
  }
  /** Reads the values back to the host as float32, awaiting every kernel queued before. */
  async readAsync(): Promise<Float32Array> {
    const parts = await Promise.all(
      this.chunks.map(async (c) =>
        c instanceof FutureChunk ? (await c.promise).toArray() : c instanceof Float32Array ? c : ((c as Texture).toArray() as Float32Array),
      ),
    );
    return this.assemble(parts);
  }
  private assemble(arrays: Float32Array[]): Float32Array {
    const out = new Float32Array(this.size);
    let pos = 0;
    for (const arr of arrays) {
      const from = this.offset;
      const n = Math.min(this.size - pos, arr.length - from);
      out.set(arr.subarray(from, from + n), pos);
      pos += n;
      if (pos >= this.size) break;
    }
    this.device.stats.readbacks += 1;
    return out;
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.set.release();
  }
}

/** Counters reported by `describe()`. */
export interface DeviceStats {
  kernelsCompiled: number;
  cacheHits: number;
  launches: number;
  uploads: number;
  readbacks: number;
  liveChunks: number;
  fallbacks: Record<string, number>;
}

export interface DeviceOptions {
  mode: GpuMode;
  /** Overrides the mode's MAX_TEXTURE_SIZE (tests use a small value to exercise splitting). */
  maxTextureSize?: number;
}

const textureRegistry = typeof FinalizationRegistry !== 'undefined' ? new FinalizationRegistry<GpuBuffer>((b) => b.release()) : undefined;

/** An operand of a kernel launch: the tensor shape it is read with and its device buffer. */
export interface Operand {
  shape: readonly number[];
  buffer: GpuBuffer;
}

/**
 * Owns the gpu.js instance: compiles kernels once per source (each source is specific to its shapes),
 * keeps uploads of host tensors, runs launches and tracks live device memory.
 */
export class GpuDevice {
  readonly gpu: GPU;
  readonly mode: GpuMode;
  readonly usesTextures: boolean;
  /** Elements per storage chunk: min(2^24, (MAX_TEXTURE_SIZE - 1)^2). */
  readonly chunkLimit: number;
  readonly maxTextureSize: number;
  /** Max chunk arguments per kernel (GL: texture units). */
  readonly maxArgs: number;
  /** webgpu: kernels are queued and values read back only with an awaited read. */
  readonly asyncReads: boolean;
  readonly stats: DeviceStats = { kernelsCompiled: 0, cacheHits: 0, launches: 0, uploads: 0, readbacks: 0, liveChunks: 0, fallbacks: {} };
  private readonly cache = new Map<string, IKernelRunShortcut>();
  private readonly uploads = new WeakMap<object, { key: string; buffer: GpuBuffer }>();
  private destroyed = false;

  constructor(opts: DeviceOptions) {
    this.mode = opts.mode;
    this.gpu = new GPU({ mode: opts.mode });
    this.usesTextures = DEVICE_MODES.has(opts.mode);
    this.asyncReads = opts.mode === 'webgpu';
    const features = (this.gpu.Kernel as unknown as { features?: { maxTextureSize?: number } } | null)?.features;
    // webgpu stores chunks in storage buffers, not textures: no texture-size limit, only exact indices.
    const native = this.usesTextures && !this.asyncReads ? (features?.maxTextureSize ?? 4096) : Number.POSITIVE_INFINITY;
    this.maxTextureSize = Math.min(native, opts.maxTextureSize ?? Number.POSITIVE_INFINITY);
    this.chunkLimit = Math.min(MAX_EXACT_INDEX, Number.isFinite(this.maxTextureSize) ? (this.maxTextureSize - 1) ** 2 : MAX_EXACT_INDEX);
    // GL: texture units; WebGPU: 8 storage buffers per shader stage by default, one of them the output.
    this.maxArgs = this.asyncReads ? 7 : this.usesTextures ? 14 : 64;
  }

  /** The compiled kernel for `src` with `outSize` outputs and arguments of `argSizes` elements (gpu.js bakes argument sizes in). */
  private kernel(src: string, outSize: number, argSizes: readonly number[]): IKernelRunShortcut {
    const key = `${outSize}|${argSizes.join(',')}|${src}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.cacheHits += 1;
      return hit;
    }
    const k = this.gpu.createKernel(src, {
      output: [outSize],
      pipeline: true,
      immutable: true,
      precision: 'single',
      tactic: 'precision',
      optimizeFloatMemory: false,
      loopMaxIterations: 1 << 24,
    } as never);
    this.cache.set(key, k);
    this.stats.kernelsCompiled += 1;
    return k;
  }

  /** Number of cached compiled kernels. */
  get cachedKernels(): number {
    return this.cache.size;
  }

  private newBuffer(chunks: Chunk[], layout: ChunkLayout, size: number, refs = 1): GpuBuffer[] {
    const usesTextures = this.usesTextures;
    // Counted in every mode (the memory test runs in webasm); only device chunks need freeing.
    this.stats.liveChunks += chunks.length;
    const set = new ChunkSet(chunks, refs, (cs) => {
      this.stats.liveChunks -= cs.length;
      if (!usesTextures) return;
      for (const c of cs)
        if (c instanceof FutureChunk) c.free();
        else (c as Texture).delete();
    });
    return Array.from({ length: refs }, () => new GpuBuffer(this, set, layout, size));
  }

  /** Wraps a buffer as a tensor that reads back lazily and frees its device memory on dispose or GC. */
  wrap(shape: readonly number[], dtype: DType, buffer: GpuBuffer, backendName: string): Tensor {
    const storage: DeviceStorage = {
      backend: backendName,
      handle: buffer,
      ...(this.asyncReads ? {} : { read: (): TypedArray => toDtype(buffer.read(), dtype) }),
      readAsync: async (): Promise<TypedArray> => toDtype(await buffer.readAsync(), dtype),
      dispose: () => buffer.release(),
    };
    textureRegistry?.register(storage, buffer);
    return Tensor.fromDevice(shape, dtype, storage);
  }

  /** The device buffer for `x` with a layout that `x.shape` can be indexed with; uploads host data (once per array). */
  operand(x: Tensor, backendName: string): Operand {
    const ds = x.deviceStorage;
    if (ds && ds.backend === backendName && ds.handle instanceof GpuBuffer && ds.handle.device === this && !ds.handle.isReleased) {
      const b = ds.handle;
      if (b.layout.nChunks === 1 || splitFor(x.shape, b.layout)) return { shape: x.shape, buffer: b };
    }
    return { shape: x.shape, buffer: this.upload(x) };
  }

  /** Uploads host values (cached per typed array and layout). */
  upload(x: Tensor): GpuBuffer {
    const data = x.data as TypedArray;
    const layout = layoutFor(x.shape, this.chunkLimit);
    const key = `${layout.chunkElems}x${layout.nChunks}`;
    const cached = this.uploads.get(data);
    if (cached && cached.key === key && !cached.buffer.isReleased) return cached.buffer;
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>, Number);
    const size = f32.length;
    const chunks: Chunk[] = [];
    for (let c = 0; c < layout.nChunks; c++) {
      const part = f32.subarray(c * layout.chunkElems, Math.min(size, (c + 1) * layout.chunkElems));
      if (this.usesTextures) {
        const n = Math.max(part.length, 1);
        const k = this.kernel('function(a) { return a[this.thread.x]; }', n, [n]);
        const r = k(part.length ? part : new Float32Array(1)) as unknown;
        chunks.push(this.asyncReads ? new FutureChunk(r as Promise<WebGpuResult>, n) : (r as Texture));
        this.stats.launches += 1;
      } else chunks.push(part);
    }
    this.stats.uploads += 1;
    const [buffer] = this.newBuffer(chunks, layout, size) as [GpuBuffer];
    this.uploads.set(data, { key, buffer });
    // Free the textures when the host array is collected. (In webasm/cpu mode the chunks are views of
    // `data` itself: registering would keep `data` alive through the held value, and there is nothing to free.)
    if (this.usesTextures) textureRegistry?.register(data, buffer);
    return buffer;
  }

  /**
   * Runs one elementwise-shaped kernel over an output of `outShape`: `body(code, outIndex, ops)` emits
   * statements and returns the value expression. Outputs above the chunk limit run as several launches.
   */
  launch(
    outShape: readonly number[],
    operands: readonly Operand[],
    body: (code: Code, o: string[], ops: OperandInfo[]) => string,
    refs = 1,
  ): GpuBuffer[] {
    const size = sizeOf(outShape);
    if (size === 0) throw new Unsupported('empty output');
    const ops: OperandInfo[] = operands.map((op, i) => ({
      name: `a${i}`,
      shape: op.shape,
      layout: op.buffer.layout,
      offset: op.buffer.offset,
    }));
    const nArgs = ops.reduce((s, o) => s + o.layout.nChunks, 0);
    if (nArgs > this.maxArgs) throw new Unsupported(`${nArgs} input chunks exceed the ${this.maxArgs} kernel arguments allowed`);
    const args: Chunk[] = operands.flatMap((op) => op.buffer.chunks);
    const params = ops.flatMap((o) => Array.from({ length: o.layout.nChunks }, (_, i) => `${o.name}_${i}`));
    const layout = layoutFor(outShape, this.chunkLimit);
    const chunks: Chunk[] = [];
    for (let c = 0; c < layout.nChunks; c++) {
      const n = Math.min(layout.chunkElems, size - c * layout.chunkElems);
      const code = new Code();
      code.push('const t = this.thread.x;');
      let o: string[];
      if (layout.nChunks === 1) o = code.unflatten('t', outShape);
      else {
        const split = splitFor(outShape, layout);
        if (!split) throw new Unsupported(`output ${fmtShape(outShape)} cannot be split`);
        const { k, rowLen, rowsPerChunk } = split;
        const row = code.floorDiv('t', rowLen);
        const lead = code.let(`${c * rowsPerChunk} + ${row}`, 'l');
        const rest = code.let(`t - ${row} * ${rowLen}`, 'r');
        o = [...code.unflatten(lead, outShape.slice(0, k)), ...code.unflatten(rest, outShape.slice(k))];
      }
      const value = body(code, o, ops);
      const src = `function(${params.join(', ')}) {\n${code.lines.join('\n')}\nreturn ${value};\n}`;
      const kernel = this.kernel(src, n, args.map(chunkSize));
      chunks.push(this.asyncReads ? this.enqueue(kernel, args, n) : (kernel(...(args as never[])) as Chunk));
      this.stats.launches += 1;
    }
    return this.newBuffer(chunks, layout, size, refs);
  }

  /** webgpu: runs `kernel` once the buffers of its arguments exist (the queue keeps submission order). */
  private enqueue(kernel: IKernelRunShortcut, args: readonly Chunk[], n: number): FutureChunk {
    const ready = Promise.all(args.map((a) => (a instanceof FutureChunk ? a.promise : a)));
    const launch = ready.then((a) => kernel(...(a as never[])) as unknown as Promise<WebGpuResult>);
    for (const a of args) if (a instanceof FutureChunk) a.addReader(launch);
    return new FutureChunk(launch, n);
  }

  /** A view of `size` elements at `offset` of a single-chunk buffer (shares its chunks). */
  view(of: GpuBuffer, offset: number, size: number): GpuBuffer {
    return new GpuBuffer(this, of.set, { chunkElems: size, nChunks: 1 }, size, offset);
  }

  /** Frees every cached kernel and the gpu.js instance. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const k of this.cache.values()) {
      try {
        (k as unknown as { destroy?: (b?: boolean) => void }).destroy?.(true);
      } catch {
        // already gone
      }
    }
    this.cache.clear();
    try {
      void this.gpu.destroy().catch(() => undefined);
    } catch {
      // ignore
    }
  }
}

/** Number of elements a chunk holds. */
function chunkSize(c: Chunk): number {
  if (c instanceof Float32Array) return c.length;
  if (c instanceof FutureChunk) return c.size;
  const out = (c as unknown as { output: ArrayLike<number> }).output;
  let n = 1;
  for (let i = 0; i < out.length; i++) n *= out[i] as number;
  return n;
}

/** Converts float32 device values to `dtype`. */
export function toDtype(v: Float32Array, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return v;
    case 'bool':
      return Uint8Array.from(v, (x) => (x !== 0 ? 1 : 0));
    case 'float64':
      return Float64Array.from(v);
    case 'int32':
      return Int32Array.from(v, (x) => Math.trunc(x));
    case 'int64':
      return BigInt64Array.from(v, (x) => BigInt(Math.trunc(x)));
  }
}
