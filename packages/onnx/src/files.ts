import { type Graph, isLazy, type Model, subgraphsOf } from '@normkit/graph';
import { NormkitError } from '@normkit/tensor';
import { type CompactModel, readCompact } from './compact.js';
import { type DecodeOptions, decodeModel } from './decode.js';
import { encodeModelChunks, MAX_PROTO_BYTES } from './encode.js';
import { openRegularFile, readRegularFileSync } from './regular-file.js';
import { removeStaleTemps, tempName, withTempCleanup } from './temp-files.js';
import type { ExternalSink } from './tensor-proto.js';
import { DEFAULT_MAX_TENSOR_BYTES, LAZY_MIN_BYTES, type LazySource, OpaqueTensor, onnxTensorInfo } from './tensor-proto.js';
import { type Chunk, chunkBytes } from './wire.js';

/** Options of `loadModel`. */
export interface LoadOptions {
  /** Largest tensor a model may declare, in bytes; default 4 GiB. */
  maxTensorBytes?: number;
  /** Check the graph (every value defined, no cycle); default true. */
  validate?: boolean;
  /**
   * Read big tensors on demand (default true): every tensor of `LAZY_MIN_BYTES` (64 KiB) or more held
   * as raw bytes — in an external-data file or in the model file — becomes a `LazyTensor` that reads
   * its bytes from the file when used (positional reads) and can be released again; `false` reads
   * every tensor now.
   */
  stream?: boolean;
}

/** Options of `saveModel`. */
export interface SaveOptions {
  /**
   * Tensors of at least this many bytes go to the external data file `<name>.data` beside the model.
   * Default: none, unless the model would exceed protobuf's 2 GiB limit, then every tensor of 1 KiB or more.
   */
  externalDataThreshold?: number;
  /** Allow replacing the file the model was loaded from (or its external data); default false. */
  overwrite?: boolean;
  /** For tests: the size past which the automatic external-data switch happens (default 2 GiB - 1). */
  maxProtoBytes?: number;
  /**
   * Runs when every file is written, before any is moved into place, on the written model's path (in a
   * temporary folder beside the output, its external data beside it): e.g. load it in another engine
   * to check it. If it throws, nothing is written and its error is thrown as it is.
   */
  check?: (writtenPath: string) => Promise<void>;
}

const SOURCE = Symbol.for('@normkit/onnx.sourceFiles');

/**
 * The files a model was loaded from (model file first, then external data files), as real paths;
 * empty for models not made by `loadModel`.
 * @example sourceFilesOf(await loadModel('m.onnx')) // ['/abs/path/m.onnx']
 */
export function sourceFilesOf(model: Model): string[] {
  const e = model.extra as Record<symbol, unknown> | undefined;
  return (e?.[SOURCE] as string[] | undefined) ?? [];
}

function fsError(e: unknown, file: string, what: string): NormkitError {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_ERROR';
  return new NormkitError(code, `${file}: cannot ${what}: ${err?.message ?? String(e)}`, { file, cause: err?.code });
}

/** `length` bytes at `offset` of an open file (fewer at its end), in a buffer of their own. */
function readAt(fs: typeof import('node:fs'), fd: number, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const got = fs.readSync(fd, buf, done, length - done, offset + done);
    if (got === 0) break;
    done += got;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** Which file a lazy tensor reads, as it was when the model was loaded. */
interface FileId {
  ino: number;
  size: number;
  mtimeMs: number;
}

const fileId = (s: { ino: number; size: number; mtimeMs: number }): FileId => ({ ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });

/**
 * Reads `length` bytes at `offset` of a regular file with positional reads (`fs.readSync(fd, buf, 0,
 * len, pos)`: Node has no mmap without a native addon), first checking that the file is the one the
 * model was loaded from (same inode, size and modification time; else `FILE_CHANGED`).
 */
function readRange(fs: typeof import('node:fs'), path: string, what: string, offset: number, length: number, id: FileId): Uint8Array {
  const { fd } = openRegularFile(fs, path, what);
  try {
    const now = fileId(fs.fstatSync(fd));
    if (now.ino !== id.ino || now.size !== id.size || now.mtimeMs !== id.mtimeMs)
      throw new NormkitError(
        'FILE_CHANGED',
        `${path}: ${what} was replaced or changed since the model was loaded (${id.size} → ${now.size} bytes), so its tensors cannot be read from it; load the model again`,
        { file: path },
      );
    return readAt(fs, fd, offset, length);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The model file's bytes: when streaming, without the raw_data of its big initializers (left in the
 * file, read on demand: `readCompact`), so a single-file model is not held whole; the whole file when
 * not streaming or when the scanner gives up (the decoder then reports what is wrong with it).
 */
function readModelBytes(
  fs: typeof import('node:fs'),
  path: string,
  compact: boolean,
): { bytes: Uint8Array; ranges?: CompactModel['ranges'] } {
  if (compact) {
    try {
      const { fd, size } = openRegularFile(fs, path, 'the model');
      try {
        const c = readCompact(fs, fd, size, LAZY_MIN_BYTES);
        if (c) return c;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // Read it whole below, which reports the problem.
    }
  }
  return { bytes: readRegularFileSync(fs, path, 'the model') };
}

/** A reader of a file range, made outside `loadModel` so that it holds nothing of the decoded file. */
function rangeReader(
  fs: typeof import('node:fs'),
  path: string,
  what: string,
  offset: number,
  length: number,
  id: FileId,
): () => Uint8Array {
  return () => readRange(fs, path, what, offset, length, id);
}

/**
 * Reads an ONNX file (Node). External data is read only from files inside the model's folder: a
 * `location` that is absolute, contains `..`, or is a symlink leading out of the folder is refused
 * with `UNSAFE_EXTERNAL_DATA`.
 *
 * Streaming (default): tensors of 64 KiB or more are not read now but given as `LazyTensor`s that read
 * their bytes from the file when used and can be released, so a model larger than memory can be
 * loaded, analyzed, converted and saved (see `saveModel`). The graph and the small tensors are read
 * now; the model file is scanned with positional reads and held without the big raw_data. Keep the files unchanged while the
 * model is in use: a tensor read from a file replaced or modified since (another inode, size or
 * modification time) is `FILE_CHANGED`. `stream: false` reads everything now.
 *
 * @example
 * ```ts
 * const model = await loadModel('bert.onnx');
 * console.log(model.graph.nodes.length, model.opset());
 * ```
 */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<Model> {
  const fs = await import('node:fs');
  const nodePath = await import('node:path');
  const abs = nodePath.resolve(path);
  const { bytes, ranges } = readModelBytes(fs, abs, opts.stream !== false);
  const baseDir = nodePath.dirname(abs);
  const realBase = fs.realpathSync(baseDir);
  const realModel = fs.realpathSync(abs);
  const modelId = fileId(fs.statSync(realModel));
  const fds = new Map<string, { fd: number; size: number; real: string; id: FileId }>();
  const maxBytes = opts.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES;
  const open = (location: string) => {
    const cached = fds.get(location);
    if (cached) return cached;
    const full = nodePath.resolve(baseDir, location);
    let real: string;
    try {
      real = fs.realpathSync(full);
    } catch (e) {
      throw new NormkitError(
        'EXTERNAL_DATA_MISSING',
        `${abs}: external data file "${location}" cannot be opened (${(e as Error).message}); put it next to the model`,
        { file: abs, location },
      );
    }
    if (!real.startsWith(realBase + nodePath.sep)) {
      // A Hugging Face cache links the model and its data into blobs/: say how to get a plain folder.
      const cache = nodePath.dirname(real) === nodePath.dirname(realModel) && realModel !== abs;
      throw new NormkitError(
        'UNSAFE_EXTERNAL_DATA',
        `${abs}: external data location "${location}" resolves to ${real}, outside the model's folder ${realBase} (a symlink?); external data must stay inside the model's folder${cache ? ' (the model is a link into the same folder, as in a Hugging Face cache: copy the folder with its links resolved, e.g. `cp -rL`, or download with --local-dir)' : ''}`,
        { file: abs, location },
      );
    }
    const opened = openRegularFile(fs, real, `external data "${location}"`);
    const entry = { ...opened, real, id: fileId(fs.fstatSync(opened.fd)) };
    fds.set(location, entry);
    return entry;
  };
  const readExternal = (location: string, offset: number, length: number | undefined): Uint8Array => {
    const { fd, size } = open(location);
    const n = length ?? size - offset;
    if (offset + n > size || n < 0) {
      throw new NormkitError(
        'CORRUPT_TENSOR',
        `${abs}: external data file "${location}" has ${size} bytes, but a tensor needs bytes ${offset}..${offset + n}`,
        { file: abs, location },
      );
    }
    if (n > maxBytes) {
      throw new NormkitError('TENSOR_TOO_LARGE', `${abs}: external data "${location}" asks for ${n} bytes, over the limit of ${maxBytes}`, {
        file: abs,
      });
    }
    return readAt(fs, fd, offset, n);
  };
  const lazy: LazySource = {
    external(location, offset, length) {
      const { size, real, id } = open(location);
      if (offset + length > size)
        throw new NormkitError(
          'CORRUPT_TENSOR',
          `${abs}: external data file "${location}" has ${size} bytes, but a tensor needs bytes ${offset}..${offset + length}`,
          { file: abs, location },
        );
      return rangeReader(fs, real, `external data "${location}"`, offset, length, id);
    },
    marked(index) {
      const r = ranges?.[index];
      return r && { length: r.length, read: rangeReader(fs, realModel, 'the model', r.offset, r.length, modelId) };
    },
    inline(raw) {
      // A compact read's bytes are not the file's: its big raw_data are the marked ones.
      if (ranges || raw.buffer !== bytes.buffer) return undefined;
      const offset = raw.byteOffset - bytes.byteOffset;
      const length = raw.length;
      return rangeReader(fs, realModel, 'the model', offset, length, modelId);
    },
  };
  let model: Model;
  try {
    const dopts: DecodeOptions = {
      fileName: abs,
      baseDir,
      readExternal,
      maxTensorBytes: opts.maxTensorBytes,
      validate: opts.validate,
      ...(opts.stream === false ? {} : { lazy }),
    };
    model = decodeModel(bytes, dopts);
  } finally {
    for (const { fd } of fds.values()) fs.closeSync(fd);
  }
  model.extra ??= {};
  Object.defineProperty(model.extra, SOURCE, {
    value: [realModel, ...[...fds.values()].map((f) => f.real)],
    enumerable: false,
    configurable: true,
  });
  return model;
}

/** Reads (and keeps) the values of every lazy initializer of `g` and its subgraphs. */
function readLazy(g: Graph): void {
  for (const t of g.initializers.values()) if (isLazy(t)) void t.data;
  for (const node of g.nodes) for (const a of Object.values(node.attributes)) for (const sub of subgraphsOf(a)) readLazy(sub);
}

/** Whether some initializer was read from an external-data file (the saved model keeps that layout). */
function hasExternalData(g: Graph): boolean {
  for (const t of g.initializers.values()) if (onnxTensorInfo(t)?.form === 'external') return true;
  return false;
}

function tensorBytes(g: Graph): number {
  let n = 0;
  for (const t of g.initializers.values()) {
    if (t instanceof OpaqueTensor) n += t.opaque.raw?.length ?? 0;
    else n += t.size * { float32: 4, float64: 8, int32: 4, int64: 8, bool: 1 }[t.dtype];
  }
  for (const node of g.nodes)
    for (const a of Object.values(node.attributes)) {
      if (a.type === 'graph') n += tensorBytes(a.value);
      if (a.type === 'graphs') for (const s of a.value) n += tensorBytes(s);
    }
  return n;
}

/**
 * Writes a model to an ONNX file (Node), atomically: the model and its external data are written into
 * a temporary folder beside the output and moved into place only when complete (and `check` passed),
 * so a failure never leaves a half-written model; the folder is removed when the write fails or the
 * process is interrupted (SIGINT, SIGTERM, SIGHUP), and one a killed process left is removed on the
 * next save. The input files are never written.
 * Refuses (`WOULD_OVERWRITE_INPUT`) to replace the file the model was loaded from unless
 * `overwrite: true` (then its streamed tensors are read into memory first, so that the model keeps
 * its values after its files are replaced). Tensors of `externalDataThreshold` bytes or more (or all of 1 KiB or more, when
 * the model would pass 2 GiB or was read from external data) go to `<file name>.data` beside the model.
 * The data file is streamed: each tensor is written as it is encoded, and a `LazyTensor` read only to
 * be written is released right after, so saving holds about one tensor at a time (the model file
 * itself, without the external tensors, is built in memory).
 *
 * @example
 * ```ts
 * const model = await loadModel('in.onnx');
 * await saveModel(model, 'out.onnx');                                      // one file
 * await saveModel(model, 'big.onnx', { externalDataThreshold: 1 << 20 }); // big.onnx + big.onnx.data
 * ```
 */
export async function saveModel(model: Model, path: string, opts: SaveOptions = {}): Promise<void> {
  const fs = await import('node:fs');
  const nodePath = await import('node:path');
  const abs = nodePath.resolve(path);
  const dir = nodePath.dirname(abs);
  const base = nodePath.basename(abs);
  const dataName = `${base}.data`;
  const dataPath = nodePath.join(dir, dataName);
  const realOrSelf = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return p;
    }
  };
  const sources = new Set(sourceFilesOf(model));
  for (const target of [abs, dataPath]) {
    if (!sources.has(realOrSelf(target))) continue;
    if (!opts.overwrite)
      throw new NormkitError(
        'WOULD_OVERWRITE_INPUT',
        `saveModel: ${target} is a file this model was loaded from; write to another path, or pass { overwrite: true } to replace it`,
        { file: target },
      );
    // The streamed tensors read from the files about to be replaced: read them all now, so that the
    // model still has its values after the save (this holds the model in memory).
    readLazy(model.graph);
  }
  const limit = opts.maxProtoBytes ?? MAX_PROTO_BYTES;
  let threshold = opts.externalDataThreshold;
  if (threshold === undefined && (tensorBytes(model.graph) > limit - 64 * 1024 * 1024 || hasExternalData(model.graph))) threshold = 1024;
  removeStaleTemps(fs, dir, [base, dataName]);
  // Written into a temporary folder beside the output under their final names (so that the model
  // finds its data there, for `check`), then moved into place.
  const stage = nodePath.join(dir, tempName(base));
  const tmpModel = nodePath.join(stage, base);
  const tmpData = nodePath.join(stage, dataName);
  let checkFailed: { error: unknown } | undefined;
  const data = new DataFileWriter(fs, stage, tmpData);
  const sink: ExternalSink | undefined =
    threshold === undefined
      ? undefined
      : {
          place(_name, bytes) {
            if (bytes.length < (threshold as number)) return undefined;
            return { location: dataName, offset: data.append(bytes) };
          },
        };
  let retry = false;
  try {
    await withTempCleanup(fs, [stage], async () => {
      let chunks: Chunk[];
      try {
        // Each tensor placed externally is written to the data file as it is encoded (streamed).
        chunks = encodeModelChunks(model, { externalSink: sink, maxProtoBytes: limit });
      } catch (e) {
        if (!(e instanceof NormkitError && e.code === 'MODEL_TOO_LARGE') || threshold !== undefined) throw e;
        retry = true;
        return;
      } finally {
        data.close();
      }
      if (!data.written) await fs.promises.mkdir(stage);
      await writeAll(fs, tmpModel, chunks);
      if (opts.check)
        await opts.check(tmpModel).catch((error: unknown) => {
          checkFailed = { error };
          throw error;
        });
      if (data.written) await fs.promises.rename(tmpData, dataPath);
      await fs.promises.rename(tmpModel, abs);
      await fs.promises.rmdir(stage);
    });
  } catch (e) {
    if (checkFailed) throw checkFailed.error;
    if (e instanceof NormkitError) throw e;
    throw fsError(e, abs, 'write the model');
  }
  // Small tensors alone passed the limit: move everything of 1 KiB or more out.
  if (retry) return saveModel(model, path, { ...opts, externalDataThreshold: 1024 });
}

/** Writes `parts` to a new file (`wx`) and syncs it; a deferred part is produced just before it is written. */
async function writeAll(fs: typeof import('node:fs'), file: string, parts: Chunk[]): Promise<void> {
  const h = await fs.promises.open(file, 'wx');
  try {
    for (const part of parts) {
      const p = chunkBytes(part);
      let off = 0;
      while (off < p.length) {
        const { bytesWritten } = await h.write(p, off, p.length - off);
        off += bytesWritten;
      }
    }
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * The external-data file being written (its temporary folder too): created on the first tensor, each tensor appended (aligned:
 * 4 KiB for tensors of 1 MiB or more, else 64 bytes) with synchronous writes as the encoder places it,
 * so no tensor is held after it is written.
 */
class DataFileWriter {
  private fd: number | undefined;
  private length = 0;
  written = false;

  constructor(
    private readonly fs: typeof import('node:fs'),
    private readonly folder: string,
    private readonly path: string,
  ) {}

  /** Appends `bytes` and returns their offset. */
  append(bytes: Uint8Array): number {
    if (this.fd === undefined) {
      this.fs.mkdirSync(this.folder);
      this.fd = this.fs.openSync(this.path, 'wx');
      this.written = true;
    }
    const align = bytes.length >= 1 << 20 ? 4096 : 64;
    const pad = (align - (this.length % align)) % align;
    if (pad) this.write(new Uint8Array(pad));
    const offset = this.length;
    this.write(bytes);
    return offset;
  }

  private write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += this.fs.writeSync(this.fd as number, bytes, off, bytes.length - off, this.length + off);
    this.length += bytes.length;
  }

  /** Syncs and closes the file (if one was made). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      this.fs.fsyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }
}
