// Depthwise 2-D convolution (group = input channels, Cg = 1, any depth multiplier): the direct kernel
// against the naive multi-index convolution of test/ref.ts, tolerance 1e-5 absolute + 1e-4 relative
// (float64 accumulation of float32 products).
import { conv, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, mulberry, prod, randArray, refConv } from './ref.js';

const T = (shape: number[], data: Float32Array) => new Tensor(shape, 'float32', data);

describe('depthwise conv2d', () => {
  it('matches direct loops: kernels 1–7, strides 1–3, dilation 1–2, asymmetric pads, multiplier 1–2, bias', () => {
    const rnd = mulberry(21);
    const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    let ran = 0;
    for (let t = 0; t < 80; t++) {
      const C = ri(2, 6);
      const mult = t % 4 === 3 ? 2 : 1;
      const k = [ri(1, 7), ri(1, 7)];
      const strides = [ri(1, 3), ri(1, 3)];
      const dil = [ri(1, 2), ri(1, 2)];
      const pads = [ri(0, 3), ri(0, 3), ri(0, 3), ri(0, 3)];
      const xs = [ri(1, 2), C, ri(1, 12), ri(1, 12)];
      const ws = [C * mult, 1, ...k];
      const outSide = (d: number) =>
        Math.floor(((xs[d + 2] as number) + pads[d]! + pads[d + 2]! - dil[d]! * (k[d]! - 1) - 1) / strides[d]!) + 1;
      if (outSide(0) <= 0 || outSide(1) <= 0) continue;
      const x = randArray(prod(xs), rnd);
      const w = randArray(prod(ws), rnd);
      const b = t % 2 ? randArray(C * mult, rnd) : undefined;
      const ref = refConv(x, xs, w, ws, b, strides, pads, dil, C);
      const y = conv(T(xs, x), T(ws, w), b && T([C * mult], b), { strides, pads, dilations: dil, group: C });
      expect(y.shape).toEqual(ref.shape);
      expectClose(y.toFlatArray(), ref.data, 1e-5, 1e-4);
      ran++;
    }
    expect(ran).toBeGreaterThan(40);
  });

  it('ConvNeXt block shape: 7×7, pad 3 (32 channels at 28×28)', () => {
    const rnd = mulberry(22);
    const xs = [1, 32, 28, 28];
    const ws = [32, 1, 7, 7];
    const x = randArray(prod(xs), rnd);
    const w = randArray(prod(ws), rnd);
    const ref = refConv(x, xs, w, ws, undefined, [1, 1], [3, 3, 3, 3], [1, 1], 32);
    expectClose(conv(T(xs, x), T(ws, w), undefined, { pads: [3, 3, 3, 3], group: 32 }).toFlatArray(), ref.data, 1e-5, 1e-4);
  });
});
