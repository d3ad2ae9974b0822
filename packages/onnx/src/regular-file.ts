import type { Stats } from 'node:fs';
import { NormkitError } from '@normkit/tensor';

type Fs = typeof import('node:fs');

// node:fs is passed in (or imported on demand) so that the package still loads in a browser.
// Only regular files are read: opening a FIFO for reading blocks until a writer appears (forever, for a
// planted one), and a directory or device gives raw errno errors deep inside a read.

/** What a non-regular file is, for messages ('a directory', 'a FIFO (named pipe)', …). */
export function fileKind(s: Stats): string {
  if (s.isFile()) return 'a regular file';
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function notAFile(path: string, what: string, s: Stats): NormkitError {
  return new NormkitError('NOT_A_FILE', `${path}: cannot read ${what}: it is ${fileKind(s)}, not a regular file; give the path of a file`, {
    file: path,
    kind: fileKind(s),
  });
}

function fsError(e: unknown, path: string, what: string): NormkitError {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_ERROR';
  return new NormkitError(code, `${path}: cannot read ${what}: ${err?.message ?? String(e)}`, { file: path, cause: err?.code });
}

/**
 * Opens a regular file for reading (symlinks followed) and returns its descriptor and size; anything
 * else — a directory, a FIFO, a socket, a device — is refused with `NOT_A_FILE` before it is opened
 * (and checked again on the descriptor, opened non-blocking, so a file swapped in between cannot block).
 *
 * @example
 * ```ts
 * const { fd, size } = openRegularFile(await import('node:fs'), 'model.onnx.data', 'the external data');
 * ```
 */
export function openRegularFile(fs: Fs, path: string, what: string): { fd: number; size: number } {
  let fd: number;
  try {
    const before = fs.statSync(path);
    if (!before.isFile()) throw notAFile(path, what, before);
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw e instanceof NormkitError ? e : fsError(e, path, what);
  }
  const s = fs.fstatSync(fd);
  if (!s.isFile()) {
    fs.closeSync(fd);
    throw notAFile(path, what, s);
  }
  return { fd, size: s.size };
}

/**
 * Reads a whole regular file, synchronously (see `openRegularFile` for what is refused).
 * @example const bytes = readRegularFileSync(await import('node:fs'), 'test_data_set_0/input_0.pb', 'a test input');
 */
export function readRegularFileSync(fs: Fs, path: string, what: string): Uint8Array {
  const { fd, size } = openRegularFile(fs, path, what);
  try {
    const buf = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const got = fs.readSync(fd, buf, done, size - done, done);
      if (got === 0) break;
      done += got;
    }
    return done === size ? buf : buf.subarray(0, done);
  } catch (e) {
    throw fsError(e, path, what);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a whole regular file (Node): a directory, a FIFO, a socket or a device is refused with
 * `NOT_A_FILE` and never opened for a blocking read; a missing file is `FILE_NOT_FOUND`.
 *
 * @example
 * ```ts
 * const bytes = await readRegularFile('test_data_set_0/input_0.pb', 'a test input');
 * ```
 */
export async function readRegularFile(path: string, what = 'the file'): Promise<Uint8Array> {
  return readRegularFileSync(await import('node:fs'), path, what);
}
