import { allocate, bytesPerElement, type DType, fmtShape, NormkitError, sizeOf, Tensor, type TypedArray } from '@normkit/tensor';
import pkg from '../package.json';
import type { Module, Parameter } from './nn/module.js';
import type { Optimizer, OptimizerState } from './optim/optimizer.js';

/*
 * The normkit checkpoint container (`.nkc`), version 1. All integers little-endian.
 *
 *   offset  size  content
 *   0       8     magic: 0x89 'N' 'K' 'C' 'K' 'P' 'T' '\n'
 *   8       4     u32 format version (1)
 *   12      4     u32 H: byte length of the JSON header (UTF-8, padded with spaces to a multiple of 8)
 *   16      4     u32 CRC-32 (IEEE) of every byte from offset 24 to the end (header + data)
 *   20      4     u32 reserved, 0
 *   24      H     JSON header: { tensors: [{ name, dtype, shape, offset, length }], dataLength, meta }
 *   24 + H  D     data: each tensor's elements, row-major, little-endian, at `offset` (from the start
 *                 of the data, a multiple of 8) for `length` bytes; D = dataLength
 *
 * dtypes: float32, float64, int32, int64 (8 bytes), bool (1 byte). `meta` is any JSON; a training
 * checkpoint puts `CheckpointMeta` there and names its tensors `model.<parameter or buffer name>` and
 * `optimizer.<slot>.<parameter index>`. Parsing and serializing use only Uint8Array/DataView/
 * TextEncoder, so checkpoints are read and written in a browser as in Node; only `saveCheckpoint`,
 * `readCheckpoint` and `loadCheckpoint` touch files (node:fs, loaded on first use).
 */

const MAGIC = [0x89, 0x4e, 0x4b, 0x43, 0x4b, 0x50, 0x54, 0x0a];
const FORMAT_VERSION = 1;
const PREAMBLE = 24;
const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'int64', 'bool'];
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** The version of @normkit/train that writes checkpoints (recorded in their metadata). */
export const NORMKIT_VERSION: string = pkg.version;

/** One tensor's entry in the container header. */
interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  length: number;
}

/**
 * Serializes named tensors and JSON metadata into the container described at the top of this file.
 * @example const bytes = encodeTensors({ w: Tensor.ones([2, 2]) }, { note: 'hi' });
 */
export function encodeTensors(tensors: Record<string, Tensor>, meta: unknown): Uint8Array {
  const list = Object.entries(tensors);
  const entries: TensorEntry[] = [];
  let dataLength = 0;
  for (const [name, t] of list) {
    const length = t.size * bytesPerElement(t.dtype);
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset: dataLength, length });
    dataLength += Math.ceil(length / 8) * 8;
  }
  let json: string;
  try {
    json = JSON.stringify({ tensors: entries, dataLength, meta });
  } catch (e) {
    throw new NormkitError('INVALID_ARGUMENT', `checkpoint: the metadata is not JSON-serializable (${(e as Error).message})`);
  }
  const raw = new TextEncoder().encode(json);
  const headerLength = Math.ceil(raw.length / 8) * 8;
  const out = new Uint8Array(PREAMBLE + headerLength + dataLength);
  out.set(MAGIC, 0);
  out.fill(0x20, PREAMBLE + raw.length, PREAMBLE + headerLength);
  out.set(raw, PREAMBLE);
  const view = new DataView(out.buffer);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, headerLength, true);
  entries.forEach((e, i) => {
    writeLE(out, PREAMBLE + headerLength + e.offset, (list[i] as [string, Tensor])[1].data);
  });
  view.setUint32(16, crc32(out.subarray(PREAMBLE)), true);
  return out;
}

/**
 * Parses a container written by `encodeTensors`, checking magic, version, length (truncation),
 * CRC-32 (corruption) and every tensor entry. Tensors are fresh copies. `source` names the file in
 * error messages.
 * @example const { tensors, meta } = decodeTensors(bytes, 'run/last.nkc');
 */
export function decodeTensors(bytes: Uint8Array, source = 'checkpoint'): { tensors: Record<string, Tensor>; meta: unknown } {
  const fail = (code: string, what: string) => new NormkitError(code, `${source}: ${what}`, { file: source });
  if (bytes.length < PREAMBLE || MAGIC.some((b, i) => bytes[i] !== b)) {
    if (bytes.length < PREAMBLE && MAGIC.every((b, i) => i >= bytes.length || bytes[i] === b))
      throw fail('CHECKPOINT_TRUNCATED', `the file is ${bytes.length} bytes, shorter than the ${PREAMBLE}-byte preamble; it was cut off`);
    throw fail('CHECKPOINT_FORMAT', 'not a normkit checkpoint (wrong magic bytes); pass a file written by saveCheckpoint');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION)
    throw fail(
      'CHECKPOINT_VERSION',
      `format version ${version}, but this @normkit/train ${NORMKIT_VERSION} reads version ${FORMAT_VERSION}; use a matching normkit`,
    );
  const headerLength = view.getUint32(12, true);
  if (PREAMBLE + headerLength > bytes.length)
    throw fail(
      'CHECKPOINT_TRUNCATED',
      `the file is ${bytes.length} bytes but its header alone needs ${PREAMBLE + headerLength}; it was cut off`,
    );
  const header = parseHeader(bytes.subarray(PREAMBLE, PREAMBLE + headerLength), fail);
  const expected = PREAMBLE + headerLength + header.dataLength;
  if (bytes.length < expected)
    throw fail(
      'CHECKPOINT_TRUNCATED',
      `the file is ${bytes.length} bytes of ${expected}; it was cut off (an interrupted copy?): use an intact copy`,
    );
  if (bytes.length > expected) throw fail('CHECKPOINT_CORRUPT', `${bytes.length - expected} unexpected bytes after the data`);
  if (crc32(bytes.subarray(PREAMBLE)) !== view.getUint32(16, true))
    throw fail('CHECKPOINT_CORRUPT', 'the CRC-32 of the contents does not match the one stored: the file is damaged; use an intact copy');
  const dataStart = PREAMBLE + headerLength;
  const tensors: Record<string, Tensor> = {};
  for (const e of header.tensors) {
    checkEntry(e, header.dataLength, fail);
    tensors[e.name] = new Tensor(e.shape, e.dtype, readLE(bytes, dataStart + e.offset, e.dtype, sizeOf(e.shape)));
  }
  return { tensors, meta: header.meta };
}

type Fail = (code: string, what: string) => NormkitError;

function parseHeader(raw: Uint8Array, fail: Fail): { tensors: TensorEntry[]; dataLength: number; meta: unknown } {
  let h: { tensors?: unknown; dataLength?: unknown; meta?: unknown };
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    throw fail('CHECKPOINT_CORRUPT', `the header is not valid JSON (${(e as Error).message}); the file is damaged`);
  }
  if (!Array.isArray(h.tensors) || typeof h.dataLength !== 'number' || !Number.isSafeInteger(h.dataLength) || h.dataLength < 0)
    throw fail('CHECKPOINT_CORRUPT', 'the header lacks a tensor list or a data length; the file is damaged');
  return { tensors: h.tensors as TensorEntry[], dataLength: h.dataLength, meta: h.meta };
}

function checkEntry(e: TensorEntry, dataLength: number, fail: Fail): void {
  const shapeOk = Array.isArray(e.shape) && e.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (typeof e.name !== 'string' || !DTYPES.includes(e.dtype) || !shapeOk)
    throw fail('CHECKPOINT_CORRUPT', `tensor entry ${JSON.stringify(e).slice(0, 120)} has no valid name, dtype or shape`);
  const length = sizeOf(e.shape) * bytesPerElement(e.dtype);
  if (e.length !== length || !Number.isSafeInteger(e.offset) || e.offset < 0 || e.offset % 8 !== 0 || e.offset + length > dataLength)
    throw fail(
      'CHECKPOINT_CORRUPT',
      `tensor "${e.name}" (${e.dtype} ${fmtShape(e.shape)}) claims bytes [${e.offset}, ${e.offset + e.length}) of a ${dataLength}-byte data section`,
    );
}

/** Copies a typed array's elements into `out` at `at`, little-endian. */
function writeLE(out: Uint8Array, at: number, data: TypedArray): void {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + at, data.byteLength);
  for (let i = 0; i < data.length; i++) setElement(view, data, i);
}

/** A fresh typed array of `n` elements of `dtype` read little-endian from `bytes` at `at`. */
function readLE(bytes: Uint8Array, at: number, dtype: DType, n: number): TypedArray {
  const out = allocate(dtype, n);
  const len = n * bytesPerElement(dtype);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + len));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, len);
  for (let i = 0; i < n; i++) getElement(view, out, i);
  return out;
}

function setElement(view: DataView, data: TypedArray, i: number): void {
  if (data instanceof Float32Array) view.setFloat32(i * 4, data[i] as number, true);
  else if (data instanceof Float64Array) view.setFloat64(i * 8, data[i] as number, true);
  else if (data instanceof Int32Array) view.setInt32(i * 4, data[i] as number, true);
  else if (data instanceof BigInt64Array) view.setBigInt64(i * 8, data[i] as bigint, true);
  else view.setUint8(i, data[i] as number);
}

function getElement(view: DataView, out: TypedArray, i: number): void {
  if (out instanceof Float32Array) out[i] = view.getFloat32(i * 4, true);
  else if (out instanceof Float64Array) out[i] = view.getFloat64(i * 8, true);
  else if (out instanceof Int32Array) out[i] = view.getInt32(i * 4, true);
  else if (out instanceof BigInt64Array) out[i] = view.getBigInt64(i * 8, true);
  else out[i] = view.getUint8(i);
}

let CRC_TABLE: Uint32Array | undefined;

/**
 * CRC-32 (IEEE 802.3, the zlib/PNG one) of `bytes`.
 * @example crc32(new TextEncoder().encode('123456789')) // 0xcbf43926
 */
export function crc32(bytes: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const table = CRC_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (table[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** What a training checkpoint records besides tensors (the container's `meta`). */
export interface CheckpointMeta {
  /** Always `normkit-checkpoint`: marks the container as a training checkpoint. */
  format: 'normkit-checkpoint';
  /** @normkit/train version that wrote it. */
  normkitVersion: string;
  /** ISO 8601 time of writing. */
  date: string;
  /** Optimizer steps done (the next step's index). */
  step: number;
  /** The epoch in progress. */
  epoch: number;
  /** The model's architecture config (compared on load when both sides have one). */
  config?: Record<string, unknown>;
  /** The optimizer's state without its tensors, with the model name of each of its parameters. */
  optimizer?: Omit<OptimizerState, 'tensors'> & {
    /** The model's name for each optimizer parameter, in order; null for one the model does not hold. */
    paramNames: (string | null)[];
  };
  /** The data loader's `state()`. */
  loader?: unknown;
  /** Any RNG state the caller keeps (JSON). */
  rng?: unknown;
  /** Anything else the caller wants back (JSON): metrics, CLI options... */
  extra?: unknown;
}

/** What goes into a checkpoint. */
export interface CheckpointInput {
  /** The model whose parameters and buffers are saved. */
  model: Module;
  /** The optimizer whose state (moments, step counts) is saved. */
  optimizer?: Pick<Optimizer, 'state' | 'parameters'>;
  /** A loader with `state()` (the DataLoader): its position is saved. */
  loader?: {
    /** The loader's position (seed, epoch, batch), as JSON-ready data. */
    state(): unknown;
  };
  /** Optimizer steps done. */
  step: number;
  /** The epoch in progress. Default 0. */
  epoch?: number;
  /** Architecture config; defaults to the model's `config` property when it has one. */
  config?: Record<string, unknown>;
  /** Any RNG state the caller keeps (JSON). */
  rng?: unknown;
  /** Anything else the caller wants back (JSON). */
  extra?: unknown;
}

/** A parsed checkpoint: metadata, model state by name, optimizer state. */
export interface Checkpoint {
  /** Step, epoch, config, loader state and the rest of the metadata. */
  meta: CheckpointMeta;
  /** Parameters and buffers by dotted name. */
  model: Record<string, Tensor>;
  /** The optimizer's state, when one was saved. */
  optimizer?: OptimizerState;
}

/** Where a checkpoint is restored into. */
export interface CheckpointTarget {
  /** The model to load parameters and buffers into (same names and shapes). */
  model: Module;
  /** The optimizer to load state into (same kind, over the same parameters in the same order). */
  optimizer?: Pick<Optimizer, 'kind' | 'loadState' | 'parameters'>;
  /** A loader with `restore(state)`: it resumes at the saved position. */
  loader?: {
    /** Moves the loader to the saved position (the value its `state()` returned). */
    restore(state: never): unknown;
  };
  /** The expected architecture config; defaults to the model's `config` property. */
  config?: Record<string, unknown>;
}

/**
 * Serializes a training state (parameters, buffers, optimizer moments and step counts, step/epoch,
 * loader and RNG state, architecture config, version, date) into checkpoint bytes. Refuses
 * (`NON_FINITE`) a state holding NaN or ±Infinity in a float tensor: such a checkpoint could only
 * poison a resumed run.
 * @example const bytes = serializeCheckpoint({ model, optimizer: opt, loader, step: 1000, epoch: 2 });
 */
export function serializeCheckpoint(input: CheckpointInput): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(input.model.stateDict())) tensors[`model.${n}`] = t;
  let optimizer: CheckpointMeta['optimizer'];
  if (input.optimizer) {
    const { tensors: slots, ...rest } = input.optimizer.state();
    for (const [n, t] of Object.entries(slots)) tensors[`optimizer.${n}`] = t;
    const names = new Map<Parameter, string>(input.model.namedParameters().map(([n, p]) => [p, n]));
    optimizer = { ...rest, paramNames: input.optimizer.parameters.map((p) => names.get(p) ?? null) };
  }
  for (const [name, t] of Object.entries(tensors)) checkFinite(name, t);
  const config = input.config ?? configOf(input.model);
  const meta: CheckpointMeta = {
    format: 'normkit-checkpoint',
    normkitVersion: NORMKIT_VERSION,
    date: new Date().toISOString(),
    step: input.step,
    epoch: input.epoch ?? 0,
    ...(config && { config }),
    ...(optimizer && { optimizer }),
    ...(input.loader && { loader: input.loader.state() }),
    ...(input.rng !== undefined && { rng: input.rng }),
    ...(input.extra !== undefined && { extra: input.extra }),
  };
  return encodeTensors(tensors, meta);
}

/**
 * Parses checkpoint bytes (see `decodeTensors` for the checks) into metadata, model state and
 * optimizer state. `source` names the file in errors.
 * @example const ckpt = parseCheckpoint(bytes, 'runs/vit/last.nkc'); ckpt.meta.step
 */
export function parseCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const { tensors, meta } = decodeTensors(bytes, source);
  const m = meta as CheckpointMeta | undefined;
  if (m?.format !== 'normkit-checkpoint' || !Number.isInteger(m.step) || !Number.isInteger(m.epoch))
    throw new NormkitError('CHECKPOINT_FORMAT', `${source}: a tensor container, but not a training checkpoint (no step/epoch metadata)`, {
      file: source,
    });
  const model: Record<string, Tensor> = {};
  const slots: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith('model.')) model[name.slice(6)] = t;
    else if (name.startsWith('optimizer.')) slots[name.slice(10)] = t;
  }
  const { paramNames: _, ...opt } = m.optimizer ?? { paramNames: [] };
  return { meta: m, model, ...(m.optimizer && { optimizer: { ...(opt as Omit<OptimizerState, 'tensors'>), tensors: slots } }) };
}

/**
 * Loads a parsed checkpoint into a model (and optimizer and loader when given), after checking that
 * it fits: the architecture config first (the error lists each differing key), then every tensor's
 * name, dtype and shape, then the optimizer's parameter order. Nothing is changed when a check fails.
 * Returns the step and epoch to resume from, with the metadata.
 * @example const { step, epoch } = restoreCheckpoint(parseCheckpoint(bytes), { model, optimizer: opt, loader });
 */
export function restoreCheckpoint(
  ckpt: Checkpoint,
  target: CheckpointTarget,
  source = 'checkpoint',
): { step: number; epoch: number; meta: CheckpointMeta } {
  checkConfig(ckpt.meta.config, target.config ?? configOf(target.model), source);
  checkTensors(ckpt.model, target.model.stateDict(), source);
  if (target.optimizer) checkOptimizer(ckpt, target.model, target.optimizer, source);
  if (target.loader && ckpt.meta.loader === undefined)
    throw new NormkitError(
      'CHECKPOINT_MISMATCH',
      `${source}: holds no data-loader state to resume the loader from; it was saved without a loader`,
    );
  target.loader?.restore(ckpt.meta.loader as never);
  target.model.loadStateDict(ckpt.model);
  if (target.optimizer && ckpt.optimizer) target.optimizer.loadState(ckpt.optimizer);
  return { step: ckpt.meta.step, epoch: ckpt.meta.epoch, meta: ckpt.meta };
}

function configOf(model: Module): Record<string, unknown> | undefined {
  const c = (model as unknown as { config?: unknown }).config;
  return c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>) : undefined;
}

function checkFinite(name: string, t: Tensor): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return;
  const d = t.data as Float32Array | Float64Array;
  for (let i = 0; i < d.length; i++)
    if (!Number.isFinite(d[i] as number))
      throw new NormkitError(
        'NON_FINITE',
        `saveCheckpoint: "${name}" ${fmtShape(t.shape)} holds ${d[i]} at element ${i}; refusing to write a checkpoint that cannot resume training (lower the learning rate, or clip gradients)`,
        { tensor: name, index: i },
      );
}

function checkConfig(saved: Record<string, unknown> | undefined, expected: Record<string, unknown> | undefined, source: string): void {
  if (!saved || !expected) return;
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(expected)])];
  const differ = keys.filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(expected[k]));
  if (differ.length > 0)
    throw new NormkitError(
      'CHECKPOINT_MISMATCH',
      `${source}: saved from a different architecture: ${differ.map((k) => `${k} is ${JSON.stringify(saved[k])} in the checkpoint but ${JSON.stringify(expected[k])} in this model`).join('; ')}; build the model with the checkpoint's config`,
      { differ },
    );
}

function checkTensors(saved: Record<string, Tensor>, own: Record<string, Tensor>, source: string): void {
  const problems: string[] = [];
  for (const [n, t] of Object.entries(own)) {
    const s = saved[n];
    if (!s) problems.push(`missing "${n}"`);
    else if (s.dtype !== t.dtype || fmtShape(s.shape) !== fmtShape(t.shape))
      problems.push(`"${n}" is ${s.dtype} ${fmtShape(s.shape)} in the checkpoint but ${t.dtype} ${fmtShape(t.shape)} in the model`);
  }
  for (const n of Object.keys(saved)) if (!(n in own)) problems.push(`unexpected "${n}"`);
  if (problems.length > 0)
    throw new NormkitError(
      'CHECKPOINT_MISMATCH',
      `${source}: does not fit this model (${problems.length} difference${problems.length > 1 ? 's' : ''}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? '; ...' : ''}); it was saved from a different architecture`,
      { problems },
    );
}

function checkOptimizer(ckpt: Checkpoint, model: Module, opt: Pick<Optimizer, 'kind' | 'parameters'>, source: string): void {
  const saved = ckpt.meta.optimizer;
  if (!saved || !ckpt.optimizer)
    throw new NormkitError(
      'CHECKPOINT_MISMATCH',
      `${source}: holds no optimizer state; it was saved without an optimizer (restore the model alone)`,
    );
  if (saved.kind !== opt.kind)
    throw new NormkitError(
      'CHECKPOINT_MISMATCH',
      `${source}: the optimizer state is ${saved.kind}'s, not ${opt.kind}'s; build the same optimizer to resume`,
    );
  const names = new Map<Parameter, string>(model.namedParameters().map(([n, p]) => [p, n]));
  const own = opt.parameters.map((p) => names.get(p) ?? null);
  const at = own.findIndex((n, i) => n !== saved.paramNames[i]);
  if (own.length !== saved.paramNames.length || at >= 0)
    throw new NormkitError(
      'CHECKPOINT_MISMATCH',
      `${source}: the optimizer was saved over ${saved.paramNames.length} parameters, this one has ${own.length}${at >= 0 ? `; parameter ${at} is "${own[at]}" here but "${saved.paramNames[at]}" in the checkpoint` : ''}; build the optimizer over the same parameters in the same order`,
    );
}

/** The file operations `writeFileAtomic` uses: a subset of `node:fs/promises` (tests inject failures). */
export interface AtomicFs {
  /** Creates `path` exclusively (`wx`: fails when it exists) and opens it for writing. */
  open(
    path: string,
    flags: 'wx',
  ): Promise<{
    /** Writes up to `len` bytes of `b` from offset `off`; resolves to how many were written. */
    write(b: Uint8Array, off: number, len: number): Promise<{ bytesWritten: number }>;
    /** Flushes the file's data to disk (fsync). */
    sync(): Promise<void>;
    /** Closes the file handle. */
    close(): Promise<void>;
  }>;
  /** Renames `from` to `to`, replacing `to` when it exists. */
  rename(from: string, to: string): Promise<void>;
  /** Removes `path`; with `force`, a missing file is not an error. */
  rm(path: string, opts: { force: boolean }): Promise<void>;
}

/**
 * Writes `bytes` to `path` atomically (Node): into a new temporary file in the same folder (created
 * exclusively, so no other file is touched), flushed to disk, then renamed over `path`. A failure at
 * any point removes the temporary file and leaves whatever was at `path` intact.
 * @example await writeFileAtomic('runs/last.nkc', bytes);
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, fs?: AtomicFs): Promise<void> {
  const nodePath = await import('node:path');
  const io: AtomicFs = fs ?? (await import('node:fs')).promises;
  const abs = nodePath.resolve(path);
  const tag = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const tmp = nodePath.join(nodePath.dirname(abs), `.${nodePath.basename(abs)}.tmp-${tag}`);
  try {
    const h = await io.open(tmp, 'wx');
    try {
      for (let off = 0; off < bytes.length; ) off += (await h.write(bytes, off, bytes.length - off)).bytesWritten;
      await h.sync();
    } finally {
      await h.close();
    }
    await io.rename(tmp, abs);
  } catch (e) {
    await io.rm(tmp, { force: true }).catch(() => undefined);
    throw new NormkitError(
      'CHECKPOINT_WRITE',
      `${abs}: could not be written (${(e as Error).message}); the previous file there, if any, is unchanged`,
      { file: abs },
    );
  }
}

/**
 * Saves a training checkpoint to `path` atomically (Node; see `serializeCheckpoint` for what it holds
 * and `writeFileAtomic` for the write). Refuses to replace an existing file that is not a normkit
 * checkpoint (`WOULD_OVERWRITE_INPUT`): a checkpoint path is never allowed to clobber a dataset or a
 * model file.
 * @example await saveCheckpoint('runs/vit/last.nkc', { model, optimizer: opt, loader, step, epoch, config });
 */
export async function saveCheckpoint(path: string, input: CheckpointInput, fs?: AtomicFs): Promise<void> {
  const bytes = serializeCheckpoint(input);
  const { open } = (await import('node:fs')).promises;
  const head = new Uint8Array(MAGIC.length);
  const existing = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new NormkitError('CHECKPOINT_WRITE', `${path}: cannot be checked before writing (${e.code ?? e.message})`, { file: path });
  });
  if (existing) {
    const { bytesRead } = await existing.read(head, 0, head.length, 0).finally(() => existing.close());
    if (bytesRead > 0 && MAGIC.some((b, i) => head[i] !== b))
      throw new NormkitError(
        'WOULD_OVERWRITE_INPUT',
        `saveCheckpoint: ${path} exists and is not a normkit checkpoint; choose another path (a checkpoint never replaces other files)`,
        { file: path },
      );
  }
  await writeFileAtomic(path, bytes, fs);
}

/**
 * Reads and parses a checkpoint file (Node).
 * @example const ckpt = await readCheckpoint('runs/vit/last.nkc'); ckpt.meta.config
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const { readFile } = (await import('node:fs')).promises;
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new NormkitError('FILE_NOT_FOUND', `${path}: cannot read the checkpoint (${e.code ?? e.message})`, { file: path });
  });
  return parseCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/**
 * Reads a checkpoint file and restores it into a model, optimizer and loader (see
 * `restoreCheckpoint` for the checks). Returns the step and epoch to resume from.
 * @example
 * ```ts
 * const { step, epoch } = await loadCheckpoint('runs/vit/last.nkc', { model, optimizer: opt, loader });
 * await train(model, loader, { optimizer: opt, lossFn, start: { step, epoch }, steps: 10_000 });
 * ```
 */
export async function loadCheckpoint(
  path: string,
  target: CheckpointTarget,
): Promise<{ step: number; epoch: number; meta: CheckpointMeta }> {
  return restoreCheckpoint(await readCheckpoint(path), target, path);
}
