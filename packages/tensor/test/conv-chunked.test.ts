// Convolution over chunks of output positions (CONV_CHUNK_BYTES): with the budget lowered so that every
// chunk is 64 positions, 1-D, 2-D (strides, dilations, asymmetric pads, groups, chunks inside one
// output row and across rows) and 3-D convolutions and their gradients match direct float64 loops.
// Tolerance: |Δ| ≤ 1e-5 + 1e-5·|ref| (float32 sums of ≤ 60 products of values in [-1, 1]; float64 the same).
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConvOptions } from '../src/backend.js';
import { gemmInfo, setGemmThreads } from '../src/cpu/gemm-wasm.js';
import { convChunkColumns, convKernel, liveSpan, setConvChunkBytes } from '../src/cpu/linear.js';
import { convGradKernel } from '../src/cpu/linear-grad.js';
import { Tensor } from '../src/tensor.js';
import { expectClose, mulberry, prod, randArray, ravel, refConv, unravel } from './ref.js';

interface Case {
  name: string;
  xs: number[];
  ws: number[];
  o: Required<ConvOptions>;
}

const CASES: Case[] = [
  {
    name: '1-D, stride 2, dilation 2, pads [3, 1]',
    xs: [2, 3, 500],
    ws: [4, 3, 5],
    o: { strides: [2], pads: [3, 1], dilations: [2], group: 1 },
  },
  {
    name: '2-D, strides [2, 1], dilations [1, 2], asymmetric pads, 2 groups (chunks across output rows)',
    xs: [2, 4, 25, 19],
    ws: [6, 2, 3, 3],
    o: { strides: [2, 1], pads: [2, 1, 0, 3], dilations: [1, 2], group: 2 },
  },
  {
    name: '2-D with 150-wide output rows (chunks inside one row), stride 2',
    xs: [1, 2, 5, 300],
    ws: [3, 2, 2, 3],
    o: { strides: [1, 2], pads: [1, 2, 0, 1], dilations: [1, 1], group: 1 },
  },
  {
    name: '2-D whose padding is most of the output (the shape of fuzz finding #8045)',
    xs: [1, 3, 4, 5],
    ws: [4, 3, 3, 3],
    o: { strides: [1, 1], pads: [60, 1, 1, 1], dilations: [1, 1], group: 1 },
  },
  {
    name: '1-D padded far past both ends, stride 3',
    xs: [1, 2, 40],
    ws: [3, 2, 3],
    o: { strides: [3], pads: [100, 500], dilations: [1], group: 1 },
  },
  {
    name: '3-D, strides [1, 2, 1], pads, 2 groups',
    xs: [1, 4, 7, 9, 8],
    ws: [4, 2, 2, 3, 2],
    o: { strides: [1, 2, 1], pads: [1, 0, 1, 0, 2, 1], dilations: [1, 1, 2], group: 2 },
  },
];

/** Random x, w, bias of a case in `dtype`. */
function inputs(c: Case, dtype: 'float32' | 'float64', seed: number) {
  const rnd = mulberry(seed);
  const conv = (a: Float32Array) => (dtype === 'float64' ? Float64Array.from(a) : a);
  const x = conv(randArray(prod(c.xs), rnd));
  const w = conv(randArray(prod(c.ws), rnd));
  const b = conv(randArray(c.ws[0]!, rnd));
  return {
    x: new Tensor(c.xs, dtype, x as never),
    w: new Tensor(c.ws, dtype, w as never),
    b: new Tensor([c.ws[0]!], dtype, b as never),
    raw: { x: x as Float32Array, w: w as Float32Array, b: b as Float32Array },
  };
}

/** dx and dw of a convolution for upstream gradient dy, by direct float64 loops over every (output, input channel, tap). */
function refConvGrad(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  dy: Float32Array,
  ys: number[],
  o: Required<ConvOptions>,
) {
  const sp = xs.length - 2;
  const Cg = xs[1]! / o.group;
  const Coutg = ws[0]! / o.group;
  const kSp = ws.slice(2);
  const dx = new Float64Array(prod(xs));
  const dw = new Float64Array(prod(ws));
  for (let i = 0; i < dy.length; i++) {
    const [n, co, ...pos] = unravel(i, ys) as [number, number, ...number[]];
    const g = Math.floor(co / Coutg);
    for (let ci = 0; ci < Cg; ci++)
      for (let k = 0; k < prod(kSp); k++) {
        const kk = unravel(k, kSp);
        const ii = pos.map((p, d) => p * o.strides[d]! - o.pads[d]! + kk[d]! * o.dilations[d]!);
        if (ii.some((v, d) => v < 0 || v >= xs[d + 2]!)) continue;
        const xi = ravel([n, g * Cg + ci, ...ii], xs);
        const wi = ravel([co, ci, ...kk], ws);
        dx[xi]! += dy[i]! * w[wi]!;
        dw[wi]! += dy[i]! * x[xi]!;
      }
  }
  expect(sp).toBe(kSp.length);
  return { dx, dw };
}

describe('convolution over chunks of output positions', () => {
  let prev: number | undefined;
  const smallChunks = () => {
    prev = setConvChunkBytes(1); // every chunk takes the minimum: 64 output positions
  };
  afterEach(() => {
    if (prev !== undefined) setConvChunkBytes(prev);
    prev = undefined;
  });

  it('computes only the output slices whose windows reach the input', () => {
    const o = { strides: [1, 1], pads: [60, 1, 1, 1], dilations: [1, 1], group: 1 };
    expect(liveSpan([4, 5], [3, 3], [63, 5], o)).toEqual([58 * 5, 63 * 5]);
    expect(liveSpan([40], [3], [213], { strides: [3], pads: [100, 500], dilations: [1], group: 1 })).toEqual([33, 47]);
  });

  it('takes one chunk at the default budget for a zoo-sized conv, 64 positions at the smallest', () => {
    expect(convChunkColumns(56 * 56, 4 * (64 * 9 + 64))).toBe(56 * 56);
    smallChunks();
    expect(convChunkColumns(1000, 4)).toBe(64);
  });

  for (const dtype of ['float32', 'float64'] as const)
    for (const c of CASES)
      it(`${c.name} (${dtype}) matches direct loops, in several chunks`, () => {
        const { x, w, b, raw } = inputs(c, dtype, 7);
        smallChunks();
        const y = convKernel(x, w, b, c.o);
        const ref = refConv(raw.x, c.xs, raw.w, c.ws, raw.b, c.o.strides, c.o.pads, c.o.dilations, c.o.group);
        expect(y.shape).toEqual(ref.shape);
        expect(prod(ref.shape.slice(2))).toBeGreaterThan(3 * 64); // at least 4 chunks
        expectClose(y.data as Float32Array, ref.data, 1e-5, 1e-5);
      });

  it('3×3, 64 → 64 channels in 128-position chunks on two GEMM threads: the one-chunk result bit for bit', async () => {
    const c: Case = {
      name: '',
      xs: [1, 64, 16, 16],
      ws: [64, 64, 3, 3],
      o: { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 },
    };
    const { x, w, b, raw } = inputs(c, 'float32', 5);
    const whole = convKernel(x, w, b, c.o).data as Float32Array;
    const threads = setGemmThreads(2);
    try {
      prev = setConvChunkBytes(128 * 4 * (64 * 9 + 64)); // 128 positions: 2 chunks of 128
      convKernel(x, w, b, c.o); // starts the helper (async)
      for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 20));
      const chunked = convKernel(x, w, b, c.o).data as Float32Array;
      expect(gemmInfo().lastThreads).toBe(Math.min(2, availableParallelism()));
      expect(Array.from(chunked)).toEqual(Array.from(whole));
      // Sums of 576 products: |Δ| ≤ 1e-4 + 1e-5·|ref| against the float64 loops.
      expectClose(chunked, refConv(raw.x, c.xs, raw.w, c.ws, raw.b, c.o.strides, c.o.pads, c.o.dilations, 1).data, 1e-4, 1e-5);
    } finally {
      setGemmThreads(threads);
    }
  });

  for (const c of CASES)
    it(`${c.name}: gradients (float64) match direct loops, in several chunks`, () => {
      const { x, w, raw } = inputs(c, 'float64', 11);
      const ys = [...convKernel(x, w, undefined, c.o).shape];
      const dyData = Float64Array.from(randArray(prod(ys), mulberry(12)));
      smallChunks();
      const g = convGradKernel(new Tensor(ys, 'float64', dyData as never), x, w, c.o);
      const ref = refConvGrad(raw.x, c.xs, raw.w, c.ws, dyData as never, ys, c.o);
      expectClose(g.dx!.data as Float32Array, ref.dx, 1e-5, 1e-5);
      expectClose(g.dw!.data as Float32Array, ref.dw, 1e-5, 1e-5);
      // Only one of them: the other is skipped, the asked one unchanged.
      expectClose(
        convGradKernel(new Tensor(ys, 'float64', dyData as never), x, w, c.o, { dx: false }).dw!.data as Float32Array,
        ref.dw,
        1e-5,
        1e-5,
      );
    });
});
