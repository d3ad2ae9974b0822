import type { Graph, Model } from '@normkit/graph';
import { NormkitError } from '@normkit/tensor';
import { type DecodeOptions, decodeModel } from './decode.js';
import { encodeModelChunks, MAX_PROTO_BYTES } from './encode.js';
import { openRegularFile, readRegularFileSync } from './regular-file.js';
import { removeStaleTemps, tempName, withTempCleanup } from './temp-files.js';
import type { ExternalSink } from './tensor-proto.js';
import { DEFAULT_MAX_TENSOR_BYTES, OpaqueTensor } from './tensor-proto.js';

/** Options of `loadModel`. */
export interface LoadOptions {
  /** Largest tensor a model may declare, in bytes; default 4 GiB. */
  maxTensorBytes?: number;
  /** Check the graph (every value defined, no cycle); default true. */
  validate?: boolean;
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

/**
 * Reads an ONNX file (Node). External data is read only from files inside the model's folder: a
 * `location` that is absolute, contains `..`, or is a symlink leading out of the folder is refused
 * with `UNSAFE_EXTERNAL_DATA`.
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
  const bytes = readRegularFileSync(fs, abs, 'the model');
  const baseDir = nodePath.dirname(abs);
  const realBase = fs.realpathSync(baseDir);
  const realModel = fs.realpathSync(abs);
  const fds = new Map<string, { fd: number; size: number; real: string }>();
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
    const entry = { ...openRegularFile(fs, real, `external data "${location}"`), real };
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
    const buf = Buffer.alloc(n);
    let done = 0;
    while (done < n) {
      const got = fs.readSync(fd, buf, done, n - done, offset + done);
      if (got === 0) break;
      done += got;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, done);
  };
  let model: Model;
  try {
    const dopts: DecodeOptions = { fileName: abs, baseDir, readExternal, maxTensorBytes: opts.maxTensorBytes, validate: opts.validate };
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
 * Writes a model to an ONNX file (Node), atomically: everything goes to temporary files in the same
 * folder, which are renamed into place only when complete, so a failure never leaves a half-written
 * model; they are removed when the write fails or the process is interrupted (SIGINT, SIGTERM,
 * SIGHUP), and temporary files a killed process left beside the output are removed on the next save.
 * Refuses (`WOULD_OVERWRITE_INPUT`) to replace the file the model was loaded from unless
 * `overwrite: true`. Tensors of `externalDataThreshold` bytes or more (or all of 1 KiB or more, when
 * the model would pass 2 GiB) go to `<file name>.data` beside the model.
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
  if (!opts.overwrite) {
    const sources = new Set(sourceFilesOf(model));
    for (const target of [abs, dataPath]) {
      if (sources.has(realOrSelf(target))) {
        throw new NormkitError(
          'WOULD_OVERWRITE_INPUT',
          `saveModel: ${target} is a file this model was loaded from; write to another path, or pass { overwrite: true } to replace it`,
          { file: target },
        );
      }
    }
  }
  const limit = opts.maxProtoBytes ?? MAX_PROTO_BYTES;
  let threshold = opts.externalDataThreshold;
  if (threshold === undefined && tensorBytes(model.graph) > limit - 64 * 1024 * 1024) threshold = 1024;
  const dataChunks: Uint8Array[] = [];
  let dataLength = 0;
  const sink: ExternalSink | undefined =
    threshold === undefined
      ? undefined
      : {
          place(_name, bytes) {
            if (bytes.length < (threshold as number)) return undefined;
            const align = bytes.length >= 1 << 20 ? 4096 : 64;
            const pad = (align - (dataLength % align)) % align;
            if (pad) {
              dataChunks.push(new Uint8Array(pad));
              dataLength += pad;
            }
            const offset = dataLength;
            dataChunks.push(bytes);
            dataLength += bytes.length;
            return { location: dataName, offset };
          },
        };
  let chunks: Uint8Array[];
  try {
    chunks = encodeModelChunks(model, { externalSink: sink, maxProtoBytes: limit });
  } catch (e) {
    if (!(e instanceof NormkitError && e.code === 'MODEL_TOO_LARGE') || threshold !== undefined) throw e;
    // Small tensors alone passed the limit: move everything of 1 KiB or more out.
    return saveModel(model, path, { ...opts, externalDataThreshold: 1024 });
  }
  removeStaleTemps(fs, dir, [base, dataName]);
  const tmpModel = nodePath.join(dir, tempName(base));
  const tmpData = nodePath.join(dir, tempName(dataName));
  const writeAll = async (file: string, parts: Uint8Array[]) => {
    const h = await fs.promises.open(file, 'wx');
    try {
      for (const p of parts) {
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
  };
  try {
    await withTempCleanup(fs, [tmpData, tmpModel], async () => {
      if (dataChunks.length > 0) await writeAll(tmpData, dataChunks);
      await writeAll(tmpModel, chunks);
      if (dataChunks.length > 0) await fs.promises.rename(tmpData, dataPath);
      await fs.promises.rename(tmpModel, abs);
    });
  } catch (e) {
    if (e instanceof NormkitError) throw e;
    throw fsError(e, abs, 'write the model');
  }
}
