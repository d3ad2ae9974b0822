import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, loadMnistDir, parseIdx, readIdx, resolveDataDir } from '../src/data/index.js';

const root = mkdtempSync(join(tmpdir(), 'normkit-idx-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An IDX file written by hand: big-endian magic, big-endian uint32 dims, then the bytes. */
function idx(magic: number, dims: number[], payload: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  for (const [i, d] of dims.entries()) header.writeUInt32BE(d, 4 + 4 * i);
  return Buffer.concat([header, Buffer.from(payload)]);
}

function write(dir: string, name: string, bytes: Buffer): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, name.endsWith('.gz') ? gzipSync(bytes) : bytes);
  return file;
}

/** A 2×2 MNIST-format directory with `n` train images, `nLabels` train labels and 1 test sample. */
function mnistDir(name: string, n: number, nLabels = n, gz = true): string {
  const dir = join(root, name);
  const ext = gz ? '.gz' : '';
  const pixels = Array.from({ length: n * 4 }, (_, i) => (i * 37) % 256);
  write(dir, `train-images-idx3-ubyte${ext}`, idx(IDX_IMAGES_MAGIC, [n, 2, 2], pixels));
  write(
    dir,
    `train-labels-idx1-ubyte${ext}`,
    idx(
      IDX_LABELS_MAGIC,
      [nLabels],
      Array.from({ length: nLabels }, (_, i) => i % 3),
    ),
  );
  write(dir, `t10k-images-idx3-ubyte${ext}`, idx(IDX_IMAGES_MAGIC, [1, 2, 2], [0, 85, 170, 255]));
  write(dir, `t10k-labels-idx1-ubyte${ext}`, idx(IDX_LABELS_MAGIC, [1], [4]));
  return dir;
}

/** Expects `f` to throw a NormkitError with `code` whose message contains every string and matches every RegExp. */
function rejects(f: () => unknown, code: string, ...message: (string | RegExp)[]): void {
  expect(f).toThrow(expect.objectContaining({ name: 'NormkitError', code }));
  for (const m of message) expect(f).toThrow(m);
}

describe('IDX reader', () => {
  it('parses images and labels, gzip by suffix, by magic bytes, or plain', () => {
    const bytes = idx(IDX_IMAGES_MAGIC, [2, 1, 3], [1, 2, 3, 4, 5, 6]);
    const plain = readIdx(write(root, 'plain-idx3', bytes), IDX_IMAGES_MAGIC);
    const gz = readIdx(write(root, 'x.gz', bytes), IDX_IMAGES_MAGIC);
    const disguised = join(root, 'gzip-without-suffix');
    writeFileSync(disguised, gzipSync(bytes));
    for (const r of [plain, gz, readIdx(disguised, IDX_IMAGES_MAGIC)]) {
      expect(r.dims).toEqual([2, 1, 3]);
      expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(parseIdx(new Uint8Array(idx(IDX_LABELS_MAGIC, [2], [7, 3])), 'mem', IDX_LABELS_MAGIC).dims).toEqual([2]);
  });

  it('names the file and the swap when the magic number is wrong', () => {
    const file = write(root, 'labels-as-images.gz', idx(IDX_LABELS_MAGIC, [1], [3]));
    rejects(() => readIdx(file, IDX_IMAGES_MAGIC), 'IDX_BAD_MAGIC', file, '0x00000803', /labels file.*swapped/);
    rejects(() => parseIdx(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), 'zip', IDX_LABELS_MAGIC), 'IDX_BAD_MAGIC', 'not an IDX file');
  });

  it('reports truncated payloads, truncated headers, trailing bytes and broken gzip streams', () => {
    const full = idx(IDX_IMAGES_MAGIC, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const cut = write(root, 'cut.gz', full.subarray(0, full.length - 3));
    rejects(() => readIdx(cut, IDX_IMAGES_MAGIC), 'IDX_TRUNCATED', /cut\.gz is truncated.*needs 24 bytes.*has 21/);
    rejects(() => parseIdx(full.subarray(0, 9), 'h', IDX_IMAGES_MAGIC), 'IDX_TRUNCATED', 'header');
    rejects(() => parseIdx(new Uint8Array([0, 0]), 'h', IDX_IMAGES_MAGIC), 'IDX_TRUNCATED');
    rejects(
      () => parseIdx(Buffer.concat([full, Buffer.from([0])]), 'long', IDX_IMAGES_MAGIC),
      'IDX_TRAILING_BYTES',
      'long has 1 bytes after',
    );
    const gz = gzipSync(full);
    const broken = join(root, 'broken.gz');
    writeFileSync(broken, gz.subarray(0, gz.length - 10));
    rejects(() => readIdx(broken, IDX_IMAGES_MAGIC), 'INVALID_GZIP', broken);
  });

  it('says FILE_NOT_FOUND with the path for a missing file', () => {
    rejects(() => readIdx(join(root, 'nope.gz'), IDX_LABELS_MAGIC), 'FILE_NOT_FOUND', join(root, 'nope.gz'));
  });
});

describe('loadMnistDir on hand-written files', () => {
  it("loads both splits gzip'd or plain, converting pixels to v / 255 in [B, 1, H, W]", () => {
    for (const gz of [true, false]) {
      const { train, test } = loadMnistDir(mnistDir(`ok-${gz}`, 3, 3, gz));
      expect([train.size, test.size, train.classes, test.classes]).toEqual([3, 1, 5, 5]);
      const b = train.batch([2, 0]);
      expect(b.x.shape).toEqual([2, 1, 2, 2]);
      expect(b.x.dtype).toBe('float32');
      expect(b.y.dtype).toBe('int32');
      expect(b.y.toFlatArray()).toEqual([2, 0]);
      const expected = [8, 9, 10, 11, 0, 1, 2, 3].map((i) => ((i * 37) % 256) / 255);
      expect(b.x.toFlatArray()).toEqual(expected.map(Math.fround)); // exact: v / 255 rounded once to float32
      expect(
        test
          .batch([0])
          .x.toFlatArray()
          .map((v) => Math.round(v * 255)),
      ).toEqual([0, 85, 170, 255]);
    }
  });

  it('refuses images and labels of different counts, naming both files', () => {
    const dir = mnistDir('mismatch', 3, 2);
    const files = [join(dir, 'train-images-idx3-ubyte.gz'), join(dir, 'train-labels-idx1-ubyte.gz')];
    rejects(() => loadMnistDir(dir), 'IDX_COUNT_MISMATCH', ...files, /3 images.*2 labels/);
  });

  it('says what is missing: a directory, or a file in it', () => {
    const missing = join(root, 'does-not-exist');
    rejects(() => loadMnistDir(missing), 'DATA_NOT_FOUND', missing, 'train-images-idx3-ubyte');
    const dir = join(root, 'partial');
    write(dir, 'train-images-idx3-ubyte.gz', idx(IDX_IMAGES_MAGIC, [1, 2, 2], [0, 0, 0, 0]));
    rejects(() => loadMnistDir(dir), 'FILE_NOT_FOUND', /no train-labels-idx1-ubyte.*holds: train-images-idx3-ubyte\.gz/);
  });

  it('resolves a path argument to an absolute directory', () => {
    const dir = mnistDir('resolve', 1);
    expect(resolveDataDir(dir)).toBe(dir);
  });
});
