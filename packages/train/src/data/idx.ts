import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { NormkitError } from '@normkit/tensor';

/** Magic number of an IDX file of uint8 images `[N, H, W]` (MNIST's `*-images-idx3-ubyte`). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of uint8 labels `[N]` (MNIST's `*-labels-idx1-ubyte`). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** A parsed IDX file: its dimensions and its uint8 payload (a view into the file's bytes). */
export interface IdxArray {
  /** The file it came from, for messages. */
  readonly file: string;
  /** The dimensions stored in the header, outermost first (`[N, H, W]` for images, `[N]` for labels). */
  readonly dims: readonly number[];
  /** The `prod(dims)` payload bytes, row-major. */
  readonly data: Uint8Array;
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;
const UINT8_TYPE = 0x08;

/**
 * Reads a file's bytes, gunzipping it (node:zlib) when its name ends in `.gz` or it starts with the
 * gzip magic bytes 1f 8b.
 *
 * @example
 * ```ts
 * const bytes = readMaybeGzip('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 * ```
 */
export function readMaybeGzip(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NormkitError(
      'FILE_NOT_FOUND',
      `IDX reader: cannot read ${file} (${code ?? String(e)}); check the path or pass another data directory`,
      {
        file,
      },
    );
  }
  const gzipped = file.endsWith('.gz') || (raw[0] === GZIP_MAGIC[0] && raw[1] === GZIP_MAGIC[1]);
  if (!gzipped) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    throw new NormkitError(
      'INVALID_GZIP',
      `IDX reader: ${file} is not a valid gzip stream (${(e as Error).message}); the file is corrupt or truncated — download or install it again`,
      { file },
    );
  }
}

/**
 * Parses the bytes of an IDX file of unsigned bytes (type code 0x08) and checks that the header's
 * magic number is `expectedMagic` and that the payload has exactly `prod(dims)` bytes.
 *
 * @example
 * ```ts
 * const labels = parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]), 'mem', IDX_LABELS_MAGIC);
 * labels.dims; // [2]
 * ```
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedMagic: number): IdxArray {
  const what = describeMagic(expectedMagic);
  if (bytes.length < 4) throw truncated(file, what, 4, bytes.length, 'header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    const hint =
      magic === IDX_IMAGES_MAGIC || magic === IDX_LABELS_MAGIC ? `it is ${describeMagic(magic)}` : 'it is not an IDX file of uint8';
    throw new NormkitError(
      'IDX_BAD_MAGIC',
      `IDX reader: ${file} starts with magic 0x${hex(magic)} but ${what} needs 0x${hex(expectedMagic)} (${hint}); check that the images and labels files are not swapped`,
      { file, magic, expectedMagic },
    );
  }
  const rank = expectedMagic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw truncated(file, what, headerBytes, bytes.length, 'header');
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + size;
  if (bytes.length < expected) throw truncated(file, what, expected, bytes.length, `payload for dims [${dims.join(', ')}]`);
  if (bytes.length > expected)
    throw new NormkitError(
      'IDX_TRAILING_BYTES',
      `IDX reader: ${file} has ${bytes.length - expected} bytes after the payload of ${what} [${dims.join(', ')}]; the header does not describe this file — replace it`,
      { file, dims, expectedBytes: expected, actualBytes: bytes.length },
    );
  return { file, dims, data: bytes.subarray(headerBytes, expected) };
}

/**
 * Reads an IDX file (gzip'd or not) whose header must carry `expectedMagic`.
 *
 * @example
 * ```ts
 * const images = readIdx('train-images-idx3-ubyte.gz', IDX_IMAGES_MAGIC); // dims [60000, 28, 28]
 * ```
 */
export function readIdx(file: string, expectedMagic: number): IdxArray {
  return parseIdx(readMaybeGzip(file), file, expectedMagic);
}

function describeMagic(magic: number): string {
  if (magic === IDX_IMAGES_MAGIC) return 'an images file (uint8 [N, H, W])';
  if (magic === IDX_LABELS_MAGIC) return 'a labels file (uint8 [N])';
  if (magic >>> 8 !== UINT8_TYPE) return `a file of IDX type 0x${hex(magic >>> 8)}`;
  return `a uint8 IDX file of rank ${magic & 0xff}`;
}

function truncated(file: string, what: string, need: number, have: number, part: string): NormkitError {
  return new NormkitError(
    'IDX_TRUNCATED',
    `IDX reader: ${file} is truncated: ${what} needs ${need} bytes for its ${part} but the file has ${have}; download or install it again`,
    { file, expectedBytes: need, actualBytes: have },
  );
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
