import { mkdtempSync, promises, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  type AtomicFs,
  crc32,
  loadCheckpoint,
  parseCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  serializeCheckpoint,
} from '../src/checkpoint.js';
import { DataLoader } from '../src/data/loader.js';
import { crossEntropy } from '../src/losses.js';
import { computeGrads } from '../src/nn/module.js';
import { AdamW, SGD } from '../src/optim/index.js';
import { blobs, TinyMlp } from './trainer-fixtures.js';

const config = { inFeatures: 4, hidden: 5, classes: 3 };
const data = blobs(20, 4, 3, 1);

/** A model, an AdamW and a loader after two training steps. */
function trained() {
  const model = new TinyMlp(config, 3);
  const optimizer = new AdamW(model.parameters(), { lr: 0.05 });
  const loader = new DataLoader(data, { batchSize: 8, seed: 9 });
  const it = loader[Symbol.iterator]();
  for (let s = 0; s < 2; s++) {
    const { x, y } = it.next().value as { x: Tensor; y: Tensor };
    computeGrads(() => crossEntropy(model.forward(x), y), model.parameters());
    optimizer.step();
    optimizer.zeroGrad();
  }
  return { model, optimizer, loader };
}

const bitsOf = (t: Tensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));

describe('checkpoint container', () => {
  it('CRC-32 is the IEEE one (check value of "123456789")', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips parameters, buffers, optimizer state, loader/RNG state and metadata bit-exactly', () => {
    const { model, optimizer, loader } = trained();
    model.w1.value.data[0] = -0; // signed zero survives
    const bytes = serializeCheckpoint({ model, optimizer, loader, step: 2, epoch: 0, rng: { s: [1, 2, 3, 4] }, extra: { acc: 0.5 } });
    const ckpt = parseCheckpoint(bytes);
    expect(ckpt.meta).toMatchObject({
      format: 'normkit-checkpoint',
      step: 2,
      epoch: 0,
      config,
      rng: { s: [1, 2, 3, 4] },
      extra: { acc: 0.5 },
    });
    expect(ckpt.meta.normkitVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number.isNaN(Date.parse(ckpt.meta.date))).toBe(false);
    for (const [n, t] of Object.entries(model.stateDict())) {
      expect(ckpt.model[n]?.dtype).toBe(t.dtype);
      expect(ckpt.model[n]?.shape).toEqual(t.shape);
      expect(bitsOf(ckpt.model[n] as Tensor)).toEqual(bitsOf(t));
    }
    const fresh = new TinyMlp(config, 99);
    const opt2 = new AdamW(fresh.parameters(), { lr: 0.05 });
    const loader2 = new DataLoader(data, { batchSize: 8, seed: 9 });
    const { step, epoch } = restoreCheckpoint(ckpt, { model: fresh, optimizer: opt2, loader: loader2 });
    expect([step, epoch]).toEqual([2, 0]);
    expect(loader2.state()).toEqual(loader.state());
    for (const [n, t] of Object.entries(model.stateDict())) expect(bitsOf(fresh.stateDict()[n] as Tensor)).toEqual(bitsOf(t));
    const a = optimizer.state();
    const b = opt2.state();
    expect({ ...b, tensors: undefined }).toEqual({ ...a, tensors: undefined });
    for (const [n, t] of Object.entries(a.tensors)) expect(bitsOf(b.tensors[n] as Tensor)).toEqual(bitsOf(t));
  });

  it('reports a truncated file at every cut point', () => {
    const bytes = serializeCheckpoint({ model: new TinyMlp(config), step: 0 });
    for (const cut of [0, 5, 23, 30, 200, bytes.length - 100, bytes.length - 1])
      expect(() => parseCheckpoint(bytes.subarray(0, cut), 'x.nkc'), `cut at ${cut}`).toThrow(
        expect.objectContaining({ code: 'CHECKPOINT_TRUNCATED', message: expect.stringMatching(/^x\.nkc: .*cut off/) }),
      );
  });

  it('reports damaged files: a flipped data byte (CRC), header byte, trailing bytes, wrong magic, newer version', () => {
    const bytes = serializeCheckpoint({ model: new TinyMlp(config), step: 0 });
    const flip = (at: number) => {
      const b = bytes.slice();
      b[at] = (b[at] as number) ^ 0x10;
      return b;
    };
    const code = (b: Uint8Array) => {
      try {
        parseCheckpoint(b);
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'parsed';
    };
    expect(code(flip(bytes.length - 3))).toBe('CHECKPOINT_CORRUPT');
    expect(code(flip(40))).toBe('CHECKPOINT_CORRUPT');
    expect(code(new Uint8Array([...bytes, 0]))).toBe('CHECKPOINT_CORRUPT');
    expect(code(flip(1))).toBe('CHECKPOINT_FORMAT');
    expect(code(new TextEncoder().encode('{"not": "a checkpoint at all, but long enough"}'))).toBe('CHECKPOINT_FORMAT');
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, 2, true);
    expect(() => parseCheckpoint(newer)).toThrow(/format version 2, but this @normkit\/train .* reads version 1/);
  });

  it('refuses a different architecture, naming the config key that differs, and leaves the model untouched', () => {
    const ckpt = parseCheckpoint(serializeCheckpoint({ model: new TinyMlp(config), step: 0 }));
    const other = new TinyMlp({ ...config, hidden: 6 }, 5);
    const before = bitsOf(other.w1.value);
    expect(() => restoreCheckpoint(ckpt, { model: other }, 'a.nkc')).toThrow(
      /a\.nkc: saved from a different architecture: hidden is 5 in the checkpoint but 6 in this model/,
    );
    expect(bitsOf(other.w1.value)).toEqual(before);
    // without a saved config the tensors themselves are compared
    delete ckpt.meta.config;
    expect(() => restoreCheckpoint(ckpt, { model: other })).toThrow(
      /does not fit this model \(3 differences: "w1" is float32 \[4, 5\] in the checkpoint but float32 \[4, 6\] in the model/,
    );
  });

  it('refuses optimizer state of another kind or over other parameters, and a missing loader state', () => {
    const { model, optimizer } = trained();
    const ckpt = parseCheckpoint(serializeCheckpoint({ model, optimizer, step: 2 }));
    const fresh = new TinyMlp(config);
    expect(() => restoreCheckpoint(ckpt, { model: fresh, optimizer: new SGD(fresh.parameters()) })).toThrow(/AdamW's, not SGD's/);
    expect(() => restoreCheckpoint(ckpt, { model: fresh, optimizer: new AdamW([fresh.w2, fresh.w1, fresh.b1, fresh.b2]) })).toThrow(
      /parameter 0 is "w2" here but "w1" in the checkpoint/,
    );
    expect(() => restoreCheckpoint(ckpt, { model: fresh, loader: new DataLoader(data, { batchSize: 8 }) })).toThrow(/no data-loader state/);
  });

  it('refuses to serialize NaN or Infinity in parameters or optimizer state', () => {
    const { model, optimizer } = trained();
    model.w2.value.data[3] = Number.NaN;
    expect(() => serializeCheckpoint({ model, optimizer, step: 2 })).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', message: expect.stringMatching(/"model\.w2" \[5, 3\] holds NaN at element 3/) }),
    );
    model.w2.value.data[3] = 0;
    const m = (optimizer as unknown as { slots: Record<string, Float32Array[]> }).slots.expAvgSq?.[0] as Float32Array;
    m[0] = Number.POSITIVE_INFINITY;
    expect(() => serializeCheckpoint({ model, optimizer, step: 2 })).toThrow(/"optimizer\.expAvgSq\.0" \[4, 5\] holds Infinity/);
  });
});

describe('checkpoint files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normkit-ckpt-'));

  it('saves and loads through a file; saving again replaces the checkpoint', async () => {
    const path = join(dir, 'run.nkc');
    const { model, optimizer, loader } = trained();
    await saveCheckpoint(path, { model, optimizer, loader, step: 2 });
    await saveCheckpoint(path, { model, optimizer, loader, step: 3 });
    const fresh = new TinyMlp(config, 1);
    const { step } = await loadCheckpoint(path, {
      model: fresh,
      optimizer: new AdamW(fresh.parameters()),
      loader: new DataLoader(data, { batchSize: 8, seed: 9 }),
    });
    expect(step).toBe(3);
    expect(bitsOf(fresh.w2.value)).toEqual(bitsOf(model.w2.value));
    expect(readdirSync(dir)).toEqual(['run.nkc']);
  });

  it('a failure in the middle of the write leaves the old checkpoint intact and no temporary file', async () => {
    const path = join(dir, 'atomic.nkc');
    const { model, optimizer } = trained();
    await saveCheckpoint(path, { model, optimizer, step: 2 });
    const before = readFileSync(path);
    const failing: AtomicFs = {
      ...promises,
      open: async (p, flags) => {
        const h = await promises.open(p, flags);
        return {
          write: async (b: Uint8Array, off: number, len: number) => {
            await h.write(b, off, Math.floor(len / 2)); // half the bytes reach the disk, then the disk is full
            throw new Error('ENOSPC: no space left on device');
          },
          sync: () => h.sync(),
          close: () => h.close(),
        };
      },
    };
    model.w1.value.data[0] = 42;
    await expect(saveCheckpoint(path, { model, optimizer, step: 3 }, failing)).rejects.toThrow(
      /atomic\.nkc: could not be written \(ENOSPC: no space left on device\); the previous file there, if any, is unchanged/,
    );
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('atomic'))).toEqual(['atomic.nkc']);
    expect(parseCheckpoint(new Uint8Array(readFileSync(path))).meta.step).toBe(2);
  });

  it('never replaces a file that is not a checkpoint, and writes nothing for a NaN model', async () => {
    const path = join(dir, 'data.idx');
    writeFileSync(path, 'precious');
    await expect(saveCheckpoint(path, { model: new TinyMlp(config), step: 0 })).rejects.toThrow(
      /data\.idx exists and is not a normkit checkpoint/,
    );
    expect(readFileSync(path, 'utf8')).toBe('precious');
    const bad = new TinyMlp(config);
    bad.b1.value.data[0] = Number.NaN;
    await expect(saveCheckpoint(join(dir, 'nan.nkc'), { model: bad, step: 0 })).rejects.toThrow(/NaN/);
    expect(readdirSync(dir).some((f) => f.includes('nan'))).toBe(false);
  });

  it('names the file when it cannot be read', async () => {
    await expect(loadCheckpoint(join(dir, 'missing.nkc'), { model: new TinyMlp(config) })).rejects.toThrow(
      /missing\.nkc: cannot read the checkpoint \(ENOENT\)/,
    );
  });
});
