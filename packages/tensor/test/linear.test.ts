import { avgPool, conv, conv1d, conv2d, gemm, globalAvgPool, globalMaxPool, matmul, maxPool, NormkitError, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, mulberry, prod, randArray, ravel, refBroadcast, refConv, refMatmul, refPool, unravel } from './ref.js';

const T = (shape: number[], data: Float32Array) => new Tensor(shape, 'float32', data);

describe('matmul', () => {
  it('hand case and 1-D promotion', () => {
    expect(matmul(Tensor.from([[1, 2, 3]]), Tensor.from([[1], [2], [3]])).toArray()).toEqual([[14]]);
    expect(matmul(Tensor.from([1, 2, 3]), Tensor.from([1, 2, 3])).shape).toEqual([]);
    expect(
      matmul(
        Tensor.from([1, 2]),
        Tensor.from([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ).toArray(),
    ).toEqual([9, 12, 15]);
    expect(
      matmul(
        Tensor.from([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        Tensor.from([1, 1, 1]),
      ).toArray(),
    ).toEqual([6, 15]);
    expect(matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3])).toArray()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(matmul(Tensor.zeros([0, 4]), Tensor.zeros([4, 3])).shape).toEqual([0, 3]);
  });

  /** matmul of seeded [...ba, M, K] · [...bb, K, N] against a triple loop per broadcast batch item. */
  const checkBatched = (rnd: () => number, ba: number[], bb: number[], M: number, K: number, N: number) => {
    const a = randArray(prod(ba) * M * K, rnd);
    const b = randArray(prod(bb) * K * N, rnd);
    const y = matmul(T([...ba, M, K], a), T([...bb, K, N], b));
    const bs = refBroadcast(ba, bb);
    expect(y.shape).toEqual([...bs, M, N]);
    const exp = new Float64Array(prod(bs) * M * N);
    for (let i = 0; i < prod(bs); i++) {
      const idx = unravel(i, bs);
      const ia = ravel(
        idx.slice(bs.length - ba.length).map((v, d) => (ba[d] === 1 ? 0 : v)),
        ba,
      );
      const ib = ravel(
        idx.slice(bs.length - bb.length).map((v, d) => (bb[d] === 1 ? 0 : v)),
        bb,
      );
      exp.set(refMatmul(a, b, M, K, N, ia * M * K, ib * K * N), i * M * N);
    }
    expectClose(y.toFlatArray(), exp, 1e-5, 1e-4);
  };

  it('matches a triple loop with broadcast batch dims on random shapes', () => {
    const rnd = mulberry(10);
    for (let t = 0; t < 40; t++) {
      const M = 1 + Math.floor(rnd() * 9);
      const K = 1 + Math.floor(rnd() * 40);
      const N = 1 + Math.floor(rnd() * 21);
      const batch = Array.from({ length: Math.floor(rnd() * 3) }, () => 1 + Math.floor(rnd() * 3));
      const ba = batch.slice(Math.floor(rnd() * (batch.length + 1))).map((d) => (rnd() < 0.3 ? 1 : d));
      const bb = batch.slice(Math.floor(rnd() * (batch.length + 1))).map((d) => (rnd() < 0.3 ? 1 : d));
      checkBatched(rnd, ba, bb, M, K, N);
    }
  });

  it('per-head sized batches (the unpacked small-product path): broadcast batch dims, ragged rows and columns', () => {
    const rnd = mulberry(12);
    checkBatched(rnd, [2, 3], [1, 3], 49, 32, 49);
    checkBatched(rnd, [4], [4], 33, 64, 30);
    checkBatched(rnd, [1, 6], [2, 1], 20, 50, 37);
    checkBatched(rnd, [3], [3], 197, 64, 197);
  });

  it('is exact enough on sizes that exercise kernel tiles and edges', () => {
    const rnd = mulberry(11);
    for (const [M, K, N] of [
      [1, 1, 1],
      [4, 8, 16],
      [5, 9, 17],
      [33, 70, 47],
      [64, 300, 65],
      [130, 257, 129],
    ] as const) {
      const a = randArray(M * K, rnd);
      const b = randArray(K * N, rnd);
      expectClose(matmul(T([M, K], a), T([K, N], b)).toFlatArray(), refMatmul(a, b, M, K, N), 1e-4, 1e-4);
    }
  });

  it('rejects bad shapes and dtypes naming both shapes', () => {
    expect(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(/matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/);
    expect(() => matmul(Tensor.zeros([2, 2, 3]), Tensor.zeros([3, 3, 5]))).toThrow(NormkitError);
    expect(() => matmul(Tensor.zeros([2, 2], 'int64'), Tensor.zeros([2, 2], 'int64'))).toThrow(
      /matmul: expected a float tensor, got int64 \[2, 2\]/,
    );
    expect(() => matmul(Tensor.scalar(1), Tensor.zeros([2]))).toThrow(NormkitError);
  });
});

describe('gemm', () => {
  it('α·op(A)·op(B) + β·C with every transpose combination and C broadcasts', () => {
    const rnd = mulberry(12);
    for (let t = 0; t < 24; t++) {
      const M = 1 + Math.floor(rnd() * 7);
      const K = 1 + Math.floor(rnd() * 9);
      const N = 1 + Math.floor(rnd() * 8);
      const transA = (t & 1) === 1;
      const transB = (t & 2) === 2;
      const alpha = t % 3 === 0 ? 1 : 0.5 + rnd();
      const beta = t % 4 === 0 ? 0 : -0.5 + rnd();
      const cShape = [[M, N], [N], [1, N], [M, 1], [], [1, 1]][t % 6]!;
      const a = randArray(M * K, rnd);
      const b = randArray(K * N, rnd);
      const c = randArray(prod(cShape), rnd);
      // The reference works on the un-transposed layout.
      const at = transA ? Float32Array.from({ length: M * K }, (_, i) => a[(i % K) * M + Math.floor(i / K)]!) : a;
      const bt = transB ? Float32Array.from({ length: K * N }, (_, i) => b[(i % N) * K + Math.floor(i / N)]!) : b;
      const ab = refMatmul(at, bt, M, K, N);
      const exp = Array.from(
        ab,
        (v, i) =>
          alpha * v +
          beta *
            (c[
              ravel(
                cShape.map((d, j) => (d === 1 ? 0 : unravel(i, [M, N]).slice(2 - cShape.length)[j]!)),
                cShape,
              )
            ] ?? 0),
      );
      const y = gemm(T(transA ? [K, M] : [M, K], a), T(transB ? [N, K] : [K, N], b), T(cShape, c), { alpha, beta, transA, transB });
      expect(y.shape).toEqual([M, N]);
      expectClose(y.toFlatArray(), exp, 1e-5, 1e-5);
    }
    expect(gemm(Tensor.from([[1, 2]]), Tensor.from([[3], [4]])).toArray()).toEqual([[11]]);
    expect(() => gemm(Tensor.zeros([2, 3]), Tensor.zeros([2, 3]))).toThrow(/gemm: inner dimensions differ: A \[2, 3\] · B \[2, 3\]/);
    expect(() => gemm(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]), Tensor.zeros([3]))).toThrow(/gemm \(C\)/);
  });
});

describe('conv', () => {
  const x55 = Tensor.arange(0, 25).reshape([1, 1, 5, 5]);
  const w33 = Tensor.ones([1, 1, 3, 3]);
  it('ONNX conformance hand cases (conv_with_padding, strides)', () => {
    expect(conv2d(x55, w33).toArray()).toEqual([
      [
        [
          [54, 63, 72],
          [99, 108, 117],
          [144, 153, 162],
        ],
      ],
    ]);
    expect(conv2d(x55, w33, undefined, { pads: [1, 1, 1, 1] }).toArray()).toEqual([
      [
        [
          [12, 21, 27, 33, 24],
          [33, 54, 63, 72, 51],
          [63, 99, 108, 117, 81],
          [93, 144, 153, 162, 111],
          [72, 111, 117, 123, 84],
        ],
      ],
    ]);
    expect(conv2d(x55, w33, undefined, { pads: [1, 1, 1, 1], strides: [2, 2] }).toArray()).toEqual([
      [
        [
          [12, 27, 24],
          [63, 108, 81],
          [72, 117, 84],
        ],
      ],
    ]);
    expect(conv1d(Tensor.from([[[1, 2, 3, 4]]]), Tensor.from([[[1, -1]]]), Tensor.from([10])).toArray()).toEqual([[[9, 9, 9]]]);
  });

  it('matches direct loops: 1-D, 2-D and 3-D, stride, asymmetric pads, dilation, groups, depthwise, pointwise, bias', () => {
    const rnd = mulberry(13);
    const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    for (let t = 0; t < 60; t++) {
      const sp = t % 3 === 0 ? 1 : t % 10 === 1 ? 3 : 2;
      const group = [1, 1, 2, 3][t % 4]!;
      const depthwise = t % 7 === 0;
      const Cg = depthwise ? 1 : ri(1, 3);
      const C = Cg * group;
      const Cout = group * (depthwise ? 1 : ri(1, 3));
      const N = ri(1, 2);
      const kSp = Array.from({ length: sp }, () => (t % 5 === 0 ? 1 : ri(1, 3)));
      const strides = Array.from({ length: sp }, () => ri(1, 3));
      const dil = Array.from({ length: sp }, () => ri(1, 2));
      const pads = Array.from({ length: 2 * sp }, () => (t % 5 === 0 ? 0 : ri(0, 2)));
      const inSp = kSp.map((k, i) => (k - 1) * dil[i]! + 1 + ri(0, 6) - pads[i]! - pads[i + sp]! + 2);
      const xs = [N, C, ...inSp.map((d) => Math.max(d, 1))];
      const ws = [Cout, Cg, ...kSp];
      const x = randArray(prod(xs), rnd);
      const w = randArray(prod(ws), rnd);
      const b = t % 2 ? randArray(Cout, rnd) : undefined;
      const ref = refConv(x, xs, w, ws, b, strides, pads, dil, group);
      if (ref.shape.some((d) => d <= 0)) continue;
      const y = conv(T(xs, x), T(ws, w), b && T([Cout], b), { strides, pads, dilations: dil, group });
      expect(y.shape).toEqual(ref.shape);
      expectClose(y.toFlatArray(), ref.data, 1e-5, 1e-4);
    }
  });

  it('a larger 2-D case (im2col + GEMM path)', () => {
    const rnd = mulberry(14);
    const xs = [2, 8, 12, 11];
    const ws = [16, 8, 3, 3];
    const x = randArray(prod(xs), rnd);
    const w = randArray(prod(ws), rnd);
    const ref = refConv(x, xs, w, ws, undefined, [1, 1], [1, 1, 1, 1], [1, 1], 1);
    expectClose(conv(T(xs, x), T(ws, w), undefined, { pads: [1, 1, 1, 1] }).toFlatArray(), ref.data, 1e-4, 1e-4);
  });

  it('medium layers through the direct im2col-to-packed path (groups, strides, dilations, 1-D)', () => {
    const rnd = mulberry(16);
    const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    let direct = 0;
    for (let t = 0; t < 12; t++) {
      const sp = t % 3 === 0 ? 1 : 2;
      const group = [1, 2, 4][t % 3]!;
      const Cg = ri(2, 5);
      const Coutg = ri(3, 9);
      const kSp = Array.from({ length: sp }, () => ri(1, 5));
      const strides = Array.from({ length: sp }, () => ri(1, 3));
      const dil = Array.from({ length: sp }, () => ri(1, 2));
      const pads = Array.from({ length: 2 * sp }, () => ri(0, 3));
      const xs = [ri(1, 2), Cg * group, ...kSp.map((k, i) => (k - 1) * dil[i]! + ri(sp === 1 ? 40 : 8, sp === 1 ? 300 : 20))];
      const ws = [Coutg * group, Cg, ...kSp];
      const x = randArray(prod(xs), rnd);
      const w = randArray(prod(ws), rnd);
      const b = randArray(ws[0]!, rnd);
      const ref = refConv(x, xs, w, ws, b, strides, pads, dil, group);
      if (Coutg * Cg * prod(kSp) * prod(ref.shape.slice(2)) >= 4096) direct++;
      const y = conv(T(xs, x), T(ws, w), T([ws[0]!], b), { strides, pads, dilations: dil, group });
      expect(y.shape).toEqual(ref.shape);
      expectClose(y.toFlatArray(), ref.data, 1e-4, 1e-4);
    }
    expect(direct).toBeGreaterThanOrEqual(4); // the seeded cases: 5 of 12 are large enough for the WebAssembly path
  });

  it('rejects channel/rank mismatches and bad options', () => {
    expect(() => conv(Tensor.zeros([1, 3, 5, 5]), Tensor.zeros([2, 2, 3, 3]))).toThrow(
      /conv: input channels 3 do not match weight \[2, 2, 3, 3\]/,
    );
    expect(() => conv(Tensor.zeros([1, 3, 5]), Tensor.zeros([2, 3, 3, 3]))).toThrow(NormkitError);
    expect(() => conv(Tensor.zeros([1, 3, 5, 5]), Tensor.zeros([2, 3, 3, 3]), undefined, { pads: [1, 1] })).toThrow(/conv: pads/);
    expect(() => conv(Tensor.zeros([1, 3, 5, 5]), Tensor.zeros([2, 3, 3, 3]), undefined, { strides: [0, 1] })).toThrow(/conv: strides/);
    expect(() => conv(Tensor.zeros([1, 3, 2, 2]), Tensor.zeros([2, 3, 3, 3]))).toThrow(/conv: .*output/);
  });
});

describe('pooling', () => {
  const x44 = Tensor.arange(1, 17).reshape([1, 1, 4, 4]);
  it('ONNX conformance hand cases', () => {
    expect(maxPool(x44, { kernelShape: [3, 3], strides: [2, 2], ceilMode: true }).toArray()).toEqual([
      [
        [
          [11, 12],
          [15, 16],
        ],
      ],
    ]);
    expect(avgPool(x44, { kernelShape: [3, 3], strides: [2, 2], ceilMode: true }).toArray()).toEqual([
      [
        [
          [6, 7.5],
          [12, 13.5],
        ],
      ],
    ]);
    expect(maxPool(x44, { kernelShape: [2, 2], dilations: [2, 2] }).toArray()).toEqual([
      [
        [
          [11, 12],
          [15, 16],
        ],
      ],
    ]);
    // averagepool_2d_pads_count_include_pad-like: 3x3 window, pad 1, corner = (1+2+5+6)/9.
    expect(avgPool(x44, { kernelShape: [3, 3], pads: [1, 1, 1, 1], countIncludePad: true }).get(0, 0, 0, 0)).toBeCloseTo(14 / 9, 6);
    expect(avgPool(x44, { kernelShape: [3, 3], pads: [1, 1, 1, 1] }).get(0, 0, 0, 0)).toBeCloseTo(14 / 4, 6);
    expect(globalAvgPool(x44).toArray()).toEqual([[[[8.5]]]]);
    expect(globalMaxPool(x44).toArray()).toEqual([[[[16]]]]);
  });
  it('matches direct window loops (1-D and 2-D, pads, strides, dilations, ceil mode, count_include_pad)', () => {
    const rnd = mulberry(15);
    const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    for (let t = 0; t < 80; t++) {
      const sp = t % 3 === 0 ? 1 : 2;
      const k = Array.from({ length: sp }, () => ri(1, 3));
      const s = Array.from({ length: sp }, () => ri(1, 3));
      const dil = Array.from({ length: sp }, () => (t % 4 === 0 ? 2 : 1));
      const pads = Array.from({ length: 2 * sp }, (_, i) => Math.min(ri(0, 2), k[i % sp]! - 1));
      const xs = [ri(1, 2), ri(1, 3), ...k.map((kk, i) => (kk - 1) * dil[i]! + 1 + ri(0, 6))];
      const kind = t % 2 ? 'max' : 'avg';
      const ceil = t % 5 < 2;
      const inc = t % 3 === 1;
      const x = randArray(prod(xs), rnd);
      const ref = refPool(kind, x, xs, k, s, pads, dil, ceil, inc);
      const opts = { kernelShape: k, strides: s, pads, dilations: dil, ceilMode: ceil, countIncludePad: inc };
      const y = kind === 'max' ? maxPool(T(xs, x), opts) : avgPool(T(xs, x), opts);
      expect(y.shape).toEqual(ref.shape);
      expectClose(y.toFlatArray(), ref.data, 1e-6, 1e-5);
    }
  });
  it('rejects a kernel/rank mismatch', () => {
    expect(() => maxPool(Tensor.zeros([1, 1, 4]), { kernelShape: [2, 2] })).toThrow(/maxPool \(pool\): input \[1, 1, 4\]/);
    expect(() => maxPool(Tensor.zeros([1, 1, 4, 4]), { kernelShape: [2, 2], pads: [1] })).toThrow(/maxPool: pads/);
  });
});
