import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataLoader, FASHION_MNIST_DIR, loadFashionMnist, type MnistData, resolveDataDir, splitValidation } from '../src/data/index.js';

const present = existsSync(FASHION_MNIST_DIR);
if (!present) console.warn(`Fashion-MNIST tests skipped: ${FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)`);

/** The file's bytes after gunzip, read here with node:zlib alone (not through the IDX reader). */
function raw(name: string): Buffer {
  return gunzipSync(readFileSync(join(FASHION_MNIST_DIR, name)));
}

describe.skipIf(!present)(`Fashion-MNIST from ${FASHION_MNIST_DIR} (dataset-fashion-mnist)`, () => {
  let data: MnistData;
  const load = () => (data ??= loadFashionMnist());

  it('loads 60000 training and 10000 test images of [1, 28, 28] with 10 classes', () => {
    const { train, test } = load();
    expect(resolveDataDir('fashion-mnist')).toBe(FASHION_MNIST_DIR);
    expect([train.size, test.size, train.classes]).toEqual([60000, 10000, 10]);
    expect(train.sampleShape).toEqual([1, 28, 28]);
    const b = train.batch([0, 1, 59999]);
    expect(b.x.shape).toEqual([3, 1, 28, 28]);
    expect(b.y.shape).toEqual([3]);
  });

  it('gives pixels / 255 of the raw bytes, in [0, 1], and the first label (9, ankle boot) of the raw file', () => {
    const images = raw('train-images-idx3-ubyte.gz');
    const labels = raw('train-labels-idx1-ubyte.gz');
    expect(labels.readUInt32BE(0)).toBe(0x801);
    expect(labels[8]).toBe(9); // first training label, byte 8 after the 8-byte header
    const b = load().train.batch([0, 59999]);
    expect(b.y.toFlatArray()).toEqual([labels[8], labels[8 + 59999]]);
    const x = b.x.data as Float32Array;
    for (const [row, sample] of [0, 59999].entries())
      for (let k = 0; k < 784; k++) expect(x[row * 784 + k]).toBe(Math.fround(images[16 + sample * 784 + k]! / 255)); // exact: one float32 rounding
    let [lo, hi] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const v of load().test.batch(Int32Array.from({ length: 2000 }, (_, i) => i)).x.data as Float32Array)
      [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    expect([lo, hi]).toEqual([0, 1]);
  });

  it('has 6000 training and 1000 test samples of every class', () => {
    for (const [ds, count] of [
      [load().train, 6000],
      [load().test, 1000],
    ] as const) {
      const hist = new Array(10).fill(0);
      for (const l of ds.labels) hist[l]++;
      expect(hist).toEqual(new Array(10).fill(count));
    }
  });

  it('has the published mean pixel intensity 0.2860 over the training set (±5e-4)', () => {
    const pixels = load().train.images;
    let sum = 0;
    for (let i = 0; i < pixels.length; i++) sum += pixels[i]!;
    expect(sum / pixels.length / 255).toBeCloseTo(0.286, 3);
  });

  it('splits a validation set disjoint from the training set, and a loader visits each training sample once', () => {
    const { train, validation } = splitValidation(load().train, { validation: 5000, seed: 7 });
    expect([train.size, validation.size]).toEqual([55000, 5000]);
    const seen = new Uint8Array(60000);
    for (const i of validation.sourceIndices) seen[i] = 1;
    const loader = new DataLoader(train, { batchSize: 512, seed: 3 });
    let [batches, repeats] = [0, 0];
    for (const b of loader) {
      for (const i of b.indices) {
        const source = train.sourceIndices[i]!;
        if (seen[source] !== 0) repeats++;
        seen[source] = 2;
      }
      batches++;
    }
    expect(repeats).toBe(0); // no validation sample and no training sample twice
    expect(batches).toBe(Math.ceil(55000 / 512));
    expect(seen.every((s) => s > 0)).toBe(true);
  });
});
