import { Rng, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  augmentViews,
  compose,
  cropResize,
  gaussianNoise,
  horizontalFlip,
  randomErasing,
  randomResizedCrop,
  sslAugmentation,
} from '../src/data/index.js';

const [B, C, H, W] = [64, 2, 28, 28];
const batch = Tensor.rand([B, C, H, W], 1);
const ones = Tensor.ones([B, C, H, W]);
/** Element-wise ===, without vitest's slow deep equality on 100k-element typed arrays. */
const same = (a: Tensor, b: Tensor) => a.size === b.size && (a.data as Float32Array).every((v, k) => v === b.data[k]);
const px = (t: Tensor, s: number, c: number, i: number, j: number) => (t.data as Float32Array)[((s * C + c) * H + i) * W + j]!;

describe('cropResize (bilinear, half-pixel centres)', () => {
  it('returns the image unchanged for the full window and zeros for a window outside the image', () => {
    const full = Array.from({ length: B }, () => ({ top: 0, left: 0, height: H, width: W }));
    expect(same(cropResize(batch, full), batch)).toBe(true);
    const outside = Array.from({ length: B }, () => ({ top: -20, left: 40, height: 5, width: 5 }));
    expect((cropResize(batch, outside).data as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it('reproduces an affine image a·y + b·x + c at the interpolated coordinates (tolerance 1e-4, float32)', () => {
    const [a, b, c] = [0.03, -0.02, 0.5];
    const ramp = new Tensor(
      [1, 1, H, W],
      'float32',
      Float32Array.from({ length: H * W }, (_, k) => a * Math.floor(k / W) + b * (k % W) + c),
    );
    const box = { top: 5, left: 3, height: 14, width: 20 };
    const out = cropResize(ramp, [box]).data as Float32Array;
    // Source coordinate of output pixel i: top + (i + 0.5)·height/H − 0.5, clamped to the window's pixels.
    const src = (i: number, start: number, len: number, n: number) => start + Math.min(len - 1, Math.max(0, ((i + 0.5) * len) / n - 0.5));
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        const expected = a * src(i, box.top, box.height, H) + b * src(j, box.left, box.width, W) + c;
        expect(Math.abs(out[i * W + j]! - expected)).toBeLessThan(1e-4);
      }
  });
});

describe('randomResizedCrop', () => {
  it('is the identity with scale [1, 1], ratio [1, 1] and no padding', () => {
    expect(same(randomResizedCrop({ scale: [1, 1], ratio: [1, 1], padding: 0 })(batch, new Rng(0)), batch)).toBe(true);
  });

  it('keeps a constant image constant without padding; with padding, zeros come in from the border', () => {
    const out = randomResizedCrop({ padding: 0 })(ones, new Rng(2)).data as Float32Array;
    expect(out.every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    const padded = randomResizedCrop({ scale: [1, 1], ratio: [1, 1], padding: 4 })(ones, new Rng(2));
    // The whole 36×36 padded image shrunk to 28×28: the corner pixel sits in the zero border, the centre on ones.
    expect(px(padded, 0, 0, 0, 0)).toBe(0);
    expect(px(padded, 0, 1, 14, 14)).toBe(1);
  });

  it('changes each sample differently and is reproducible from the seed', () => {
    const aug = randomResizedCrop();
    const a = aug(batch, new Rng(5));
    expect(same(aug(batch, new Rng(5)), a)).toBe(true);
    expect(same(aug(batch, new Rng(6)), a)).toBe(false);
    expect(a.shape).toEqual(batch.shape);
  });
});

describe('horizontalFlip', () => {
  it('with p = 1 mirrors every row (x[..., j] ↦ x[..., W − 1 − j]); p = 0 is the identity', () => {
    const out = horizontalFlip({ p: 1 })(batch, new Rng(0));
    for (const [s, c, i, j] of [
      [0, 0, 0, 0],
      [3, 1, 17, 5],
      [63, 1, 27, 27],
    ] as const)
      expect(px(out, s, c, i, j)).toBe(px(batch, s, c, i, W - 1 - j));
    expect(same(horizontalFlip({ p: 0 })(batch, new Rng(0)), batch)).toBe(true);
  });

  it('flips about half the samples at p = 0.5 (±5σ), and the same seed twice undoes itself', () => {
    const big = Tensor.rand([2000, 1, 1, 2], 3);
    const out = horizontalFlip()(big, new Rng(1)).data as Float32Array;
    let flipped = 0;
    for (let s = 0; s < 2000; s++) if (out[2 * s] !== big.data[2 * s]) flipped++;
    expect(Math.abs(flipped - 1000)).toBeLessThan(5 * Math.sqrt(2000 * 0.25));
    const f = horizontalFlip();
    expect(same(f(f(batch, new Rng(9)), new Rng(9)), batch)).toBe(true);
  });
});

describe('gaussianNoise', () => {
  it('adds zero-mean noise of the given std at p = 1 (mean ±0.002, std ±0.002 over 100k draws)', () => {
    const out = gaussianNoise({ std: 0.1, p: 1 })(batch, new Rng(4)).data as Float32Array;
    let [s1, s2] = [0, 0];
    for (let k = 0; k < out.length; k++) {
      const d = out[k]! - (batch.data[k] as number);
      s1 += d;
      s2 += d * d;
    }
    const mean = s1 / out.length;
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(Math.abs(Math.sqrt(s2 / out.length - mean * mean) - 0.1)).toBeLessThan(0.002);
  });

  it('clips into the given range and leaves the batch alone at p = 0', () => {
    const out = gaussianNoise({ std: 1, p: 1, clip: [0, 1] })(batch, new Rng(4)).data as Float32Array;
    expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(same(gaussianNoise({ p: 0 })(batch, new Rng(4)), batch)).toBe(true);
  });
});

describe('randomErasing', () => {
  it('at p = 1 fills one axis-aligned rectangle per sample, the same in every channel, of area within the scale range', () => {
    const out = randomErasing({ p: 1, value: 0 })(ones, new Rng(8));
    for (let s = 0; s < B; s++) {
      const zeros: [number, number][] = [];
      for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) if (px(out, s, 0, i, j) === 0) zeros.push([i, j]);
      for (const [i, j] of zeros) expect(px(out, s, 1, i, j)).toBe(0);
      const rows = zeros.map(([i]) => i);
      const cols = zeros.map(([, j]) => j);
      const box = (Math.max(...rows) - Math.min(...rows) + 1) * (Math.max(...cols) - Math.min(...cols) + 1);
      expect(zeros.length).toBe(box); // a full rectangle
      // Rounding each side of a box of area in [0.02, 0.33]·784 moves the area by at most about ±(w + h)/2.
      expect(zeros.length).toBeGreaterThanOrEqual(Math.floor(0.02 * H * W) - 6);
      expect(zeros.length).toBeLessThanOrEqual(Math.ceil(0.33 * H * W) + 28);
    }
  });

  it('fills with standard normal values for value "random" and erases nothing at p = 0', () => {
    const out = randomErasing({ p: 1, value: 'random' })(ones, new Rng(8)).data as Float32Array;
    expect(out.some((v) => v !== 1)).toBe(true);
    expect(same(randomErasing({ p: 0 })(batch, new Rng(1)), batch)).toBe(true);
  });
});

describe('compose, sslAugmentation and augmentViews', () => {
  it('are deterministic for a seed and differ between seeds and views', () => {
    const aug = sslAugmentation();
    const [v1, v2] = augmentViews(aug, batch, 123);
    const [w1, w2] = augmentViews(aug, batch, 123);
    expect(same(w1!, v1!)).toBe(true);
    expect(same(w2!, v2!)).toBe(true);
    expect(same(v2!, v1!)).toBe(false);
    expect(same(augmentViews(aug, batch, 124)[0]!, v1!)).toBe(false);
    const flipTwice = compose([horizontalFlip({ p: 1 }), horizontalFlip({ p: 1 })]);
    expect(same(flipTwice(batch, new Rng(0)), batch)).toBe(true);
  });

  it('reject a batch that is not [B, C, H, W] and out-of-range options', () => {
    const flat = Tensor.rand([4, 784], 0);
    expect(() => sslAugmentation()(flat, new Rng(0))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('[4, 784]') }),
    );
    expect(() => horizontalFlip({ p: 2 })).toThrow(/p must be a probability/);
    expect(() => randomResizedCrop({ scale: [0.5, 0.2] })).toThrow(/scale must be/);
    expect(() => cropResize(batch, [])).toThrow(/0 boxes for a batch of 64/);
  });
});
