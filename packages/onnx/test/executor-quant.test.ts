import * as graph from '@normkit/graph';
import { matmulNBits, NormkitError, Rng, setNBitsGemvRows, setWasmNBits, Tensor } from '@normkit/tensor';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../src/index.js';
import { halfBits, halfValue } from './half.js';
import { session, toOrt } from './ort.js';
import { model, node, P, vi } from './proto.js';

// Quantization ops in @normkit/graph's executor against onnxruntime-node 1.30 (CPU, one thread, graph
// optimizations off): models built with onnx-proto (independent of our writer), seeded inputs, integer
// outputs compared exactly, float outputs of DequantizeLinear exactly (the same float32 product) and
// of MatMulNBits within 1e-5 · max(1, |y|) (float32 sums in another order), on both the dequantizing
// path and the fused 4-bit kernel.

/** ONNX element type codes. */
const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
const UINT16 = 4;
const INT16 = 5;
const INT32 = 6;
const FLOAT16 = 10;
const UINT4 = 21;
const INT4 = 22;
const RANGE: Record<number, [number, number]> = {
  [UINT8]: [0, 255],
  [INT8]: [-128, 127],
  [UINT16]: [0, 65535],
  [INT16]: [-32768, 32767],
  [UINT4]: [0, 15],
  [INT4]: [-8, 7],
  [INT32]: [-1000, 1000],
};
const ORT_TYPE: Record<number, string> = { [FLOAT]: 'float32', [UINT8]: 'uint8', [INT8]: 'int8', [INT32]: 'int32' };

type Attr = { name: string; type: number; i?: number };
const int = (name: string, v: number): Attr => ({ name, type: 2, i: v });

/** Raw little-endian bytes of `values` as ONNX type `code` (4-bit types packed two per byte, low nibble first). */
function rawOf(code: number, values: number[]): Uint8Array {
  switch (code) {
    case FLOAT:
      return new Uint8Array(new Float32Array(values).buffer);
    case FLOAT16:
      return new Uint8Array(Uint16Array.from(values, halfBits).buffer);
    case UINT8:
      return Uint8Array.from(values);
    case INT8:
      return new Uint8Array(Int8Array.from(values).buffer);
    case UINT16:
      return new Uint8Array(Uint16Array.from(values).buffer);
    case INT16:
      return new Uint8Array(Int16Array.from(values).buffer);
    case INT32:
      return new Uint8Array(Int32Array.from(values).buffer);
    case UINT4:
    case INT4: {
      const o = new Uint8Array(Math.ceil(values.length / 2));
      values.forEach((v, i) => {
        o[i >> 1] = (o[i >> 1] as number) | ((v & 0xf) << (4 * (i & 1)));
      });
      return o;
    }
  }
  throw new Error(`test helper: no raw encoding for type ${code}`);
}

const init = (name: string, code: number, dims: number[], values: number[]) => ({
  name,
  dims,
  dataType: code,
  rawData: rawOf(code, values),
});

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const normals = (n: number, seed: number, std = 1) => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => r.normal(0, std));
};
const ints = (n: number, seed: number, [lo, hi]: [number, number]) => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => lo + r.int(hi - lo + 1));
};
const positive = (n: number, seed: number, lo: number, hi: number) => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => Math.fround(r.uniform(lo, hi)));
};

interface Case {
  nodes: ReturnType<typeof node>[];
  inits: ReturnType<typeof init>[];
  /** Graph inputs: name → [ONNX type, dims, values]. */
  feeds: Record<string, [number, number[], number[]]>;
  outputs: [string, number][];
  opset?: number;
  ms?: boolean;
  /** MatMulNBits cases: the dequantized weight Wᵀ [K, N] computed by the test. */
  wT?: number[];
}

function build(c: Case): Uint8Array {
  const opset = c.opset ?? 13;
  return model(
    {
      node: c.nodes,
      initializer: c.inits,
      input: Object.entries(c.feeds).map(([k, [code, dims]]) => vi(k, code, dims)),
      output: c.outputs.map(([k, code]) => vi(k, code)),
    },
    {
      irVersion: opset >= 21 ? 10 : 8,
      opsetImport: [{ domain: '', version: opset }, ...(c.ms ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    },
  );
}

/** Output values as numbers (float16 bits decoded). */
function valuesOf(t: ort.Tensor): number[] {
  const d = t.data as ArrayLike<number | bigint>;
  return t.type === 'float16' && d instanceof Uint16Array ? Array.from(d, halfValue) : Array.from(d, Number);
}

/** Runs the case in both engines; returns normkit's and onnxruntime's outputs by name. */
async function both(c: Case): Promise<{ ours: Record<string, Tensor>; theirs: Record<string, ort.Tensor> }> {
  const bytes = build(c);
  const feeds = Object.fromEntries(
    Object.entries(c.feeds).map(([k, [code, dims, v]]) => [k, Tensor.from(v, dims, code === FLOAT ? 'float32' : 'int32')]),
  );
  const ours = graph.execute(decodeModel(bytes, { fileName: 'quant.onnx' }), feeds).outputs as Record<string, Tensor>;
  const s = await session(bytes);
  const theirs = await s.run(
    Object.fromEntries(Object.entries(c.feeds).map(([k, [code]]) => [k, toOrt(feeds[k] as Tensor, ORT_TYPE[code] as string)])),
  );
  await s.release();
  return { ours, theirs };
}

/** Every output equal (integers and DequantizeLinear's exact float32 products). */
async function expectExact(c: Case): Promise<void> {
  const { ours, theirs } = await both(c);
  for (const [name] of c.outputs) {
    const a = ours[name] as Tensor;
    const b = theirs[name] as ort.Tensor;
    expect([...a.shape], name).toEqual([...b.dims]);
    const x = Array.from(a.data as ArrayLike<number>, Number);
    const y = valuesOf(b);
    const off = x.findIndex((v, i) => v !== y[i]);
    if (off >= 0) throw new Error(`${name}[${off}]: normkit ${x[off]}, onnxruntime ${y[off]}`);
  }
}

/** QuantizeLinear of a seeded x [2, 6, 5] to `code` with the given layout; scales small enough that some values saturate. */
function quantizeCase(code: number, layout: 'tensor' | 'axis' | 'block', opset: number, withZp = true): Case {
  const dims = [2, 6, 5];
  const paramDims = layout === 'tensor' ? [] : layout === 'axis' ? [6] : [2, 2, 5];
  const n = Math.max(1, count(paramDims));
  const [lo, hi] = RANGE[code] as [number, number];
  const unit = (hi - lo) / 255;
  const attrs = layout === 'tensor' ? [] : layout === 'axis' ? [int('axis', 1)] : [int('axis', 1), int('block_size', 4)];
  return {
    nodes: [node('QuantizeLinear', ['x', 's', ...(withZp ? ['z'] : [])], ['y'], { name: 'q', attribute: attrs as never })],
    inits: [
      init('s', FLOAT, paramDims, positive(n, 3, 0.004 / unit, 0.02 / unit)),
      ...(withZp ? [init('z', code, paramDims, ints(n, 4, [Math.round(lo / 2), Math.round(hi / 2)]))] : []),
    ],
    feeds: { x: [FLOAT, dims, normals(count(dims), 5, 1.5)] },
    outputs: [['y', withZp ? code : UINT8]],
    opset,
  };
}

/** DequantizeLinear of x [2, 6, 5] of type `code` (an initializer) with the given layout and scale type. */
function dequantizeCase(code: number, layout: 'tensor' | 'axis' | 'block', opset: number, scaleType = FLOAT): Case {
  const dims = [2, 6, 5];
  const paramDims = layout === 'tensor' ? [] : layout === 'axis' ? [6] : [2, 2, 5];
  const n = Math.max(1, count(paramDims));
  const range = RANGE[code] as [number, number];
  const attrs = layout === 'tensor' ? [] : layout === 'axis' ? [int('axis', 1)] : [int('axis', 1), int('block_size', 4)];
  const zp = code === INT32 ? [] : [init('z', code, paramDims, ints(n, 7, range))];
  return {
    nodes: [node('DequantizeLinear', ['x', 's', ...(zp.length ? ['z'] : [])], ['y'], { name: 'dq', attribute: attrs as never })],
    inits: [init('x', code, dims, ints(count(dims), 6, range)), init('s', scaleType, paramDims, positive(n, 8, 0.01, 0.3)), ...zp],
    feeds: {},
    outputs: [['y', scaleType]],
    opset,
  };
}

describe('QuantizeLinear and DequantizeLinear against onnxruntime-node (exact)', () => {
  for (const [code, name] of [
    [UINT8, 'uint8'],
    [INT8, 'int8'],
  ] as const) {
    it(`QuantizeLinear to ${name}: per-tensor (opsets 10 and 13), per-axis (13)`, async () => {
      await expectExact(quantizeCase(code, 'tensor', 10));
      await expectExact(quantizeCase(code, 'tensor', 13));
      await expectExact(quantizeCase(code, 'axis', 13));
    });
  }

  it('QuantizeLinear opset 21: uint16, int16, int4, uint4 per-tensor / per-axis / blocked; no zero point gives uint8', async () => {
    for (const code of [UINT8, INT8, UINT16, INT16])
      for (const layout of ['tensor', 'axis', 'block'] as const) await expectExact(quantizeCase(code, layout, 21));
    await expectExact(quantizeCase(UINT8, 'axis', 13, false));
    // 4-bit results are compared through a DequantizeLinear with the same parameters (onnxruntime-node hands int4 outputs back packed).
    for (const code of [INT4, UINT4])
      for (const layout of ['tensor', 'axis', 'block'] as const) {
        const c = quantizeCase(code, layout, 21);
        const q = c.nodes[0] as { attribute?: unknown };
        c.nodes.push(node('DequantizeLinear', ['y', 's', 'z'], ['back'], { name: 'dq', attribute: q.attribute as never }));
        c.outputs = [['back', FLOAT]];
        await expectExact(c);
      }
  });

  it('QuantizeLinear rounds halves to even and saturates at both ends', async () => {
    // x / 0.25 = k + 0.5 exactly for k in -6..5, then values far outside the range.
    const x = [...Array.from({ length: 12 }, (_, k) => (k - 6 + 0.5) * 0.25), 1e6, -1e6, 40, -40];
    for (const code of [UINT8, INT8])
      await expectExact({
        nodes: [node('QuantizeLinear', ['x', 's', 'z'], ['y'], { name: 'q' })],
        inits: [init('s', FLOAT, [], [0.25]), init('z', code, [], [code === UINT8 ? 128 : 1])],
        feeds: { x: [FLOAT, [16], x] },
        outputs: [['y', code]],
      });
  });

  it('DequantizeLinear: int8, uint8, int16, uint16, int32, int4, uint4; per-tensor, per-axis, blocked; float16 scales', async () => {
    for (const code of [UINT8, INT8]) for (const layout of ['tensor', 'axis'] as const) await expectExact(dequantizeCase(code, layout, 13));
    for (const code of [UINT8, INT8, UINT16, INT16, INT4, UINT4])
      for (const layout of ['tensor', 'axis', 'block'] as const) await expectExact(dequantizeCase(code, layout, 21));
    await expectExact(dequantizeCase(INT32, 'tensor', 13));
    await expectExact(dequantizeCase(INT32, 'axis', 21));
    // A float16 scale gives a float16 output: the float32 product rounded to half.
    await expectExact(dequantizeCase(INT8, 'axis', 21, FLOAT16));
    await expectExact(dequantizeCase(INT4, 'block', 21, FLOAT16));
  });

  it('QuantizeLinear → DequantizeLinear with a runtime uint8 input: fed values keep their type through the chain', async () => {
    await expectExact({
      nodes: [node('DequantizeLinear', ['x', 's', 'z'], ['y'], { name: 'dq' })],
      inits: [init('s', FLOAT, [], [0.05]), init('z', UINT8, [], [100])],
      feeds: { x: [UINT8, [3, 7], ints(21, 2, [0, 255])] },
      outputs: [['y', FLOAT]],
    });
  });
});

describe('DynamicQuantizeLinear against onnxruntime-node (exact y, scale and zero point)', () => {
  const cases: [string, number[]][] = [
    ['mixed signs', normals(60, 11, 2)],
    ['all positive', positive(40, 12, 0.5, 3)],
    ['all negative', positive(40, 13, -3, -0.1)],
    ['all zero', new Array(8).fill(0)],
  ];
  for (const [name, x] of cases)
    it(name, async () => {
      await expectExact({
        nodes: [node('DynamicQuantizeLinear', ['x'], ['y', 'ys', 'yz'], { name: 'dq' })],
        inits: [],
        feeds: { x: [FLOAT, [x.length], x] },
        outputs: [
          ['y', UINT8],
          ['ys', FLOAT],
          ['yz', UINT8],
        ],
        opset: 11,
      });
    });
});

// onnxruntime's AVX2 u8·s8 kernels sum pairs of products in int16 with saturation: int8 operands here
// stay within ±63 so that no pair saturates and both engines give the exact sums.
const S8 = [-63, 63] as [number, number];

describe('MatMulInteger and ConvInteger against onnxruntime-node (exact int32)', () => {
  const mm = (aType: number, bType: number, aDims: number[], bDims: number[], bzp: number[] | undefined, aZp = true): Case => {
    const aRange = aType === INT8 ? S8 : ([0, 255] as [number, number]);
    const bRange = bType === INT8 ? S8 : ([0, 255] as [number, number]);
    return {
      nodes: [node('MatMulInteger', ['a', 'b', aZp ? 'az' : '', ...(bzp ? ['bz'] : [])], ['y'], { name: 'mmi' })],
      inits: [
        init('b', bType, bDims, ints(count(bDims), 21, bRange)),
        ...(aZp ? [init('az', aType, [], [aType === UINT8 ? 131 : -3])] : []),
        ...(bzp ? [init('bz', bType, [bzp.length], bzp)] : []),
      ],
      feeds: { a: [aType, aDims, ints(count(aDims), 22, aRange)] },
      outputs: [['y', INT32]],
      opset: 10,
    };
  };
  it('uint8 · uint8, per-tensor zero points, batched A', async () => {
    await expectExact(mm(UINT8, UINT8, [2, 3, 16], [16, 5], [120]));
  });
  it('uint8 · int8 with per-column B zero points; int8 · int8; no A zero point', async () => {
    await expectExact(mm(UINT8, INT8, [4, 24], [24, 6], [-3, 0, 5, 7, -9, 1]));
    await expectExact(mm(INT8, INT8, [3, 8], [8, 4], [2, -2, 0, 1]));
    await expectExact(mm(UINT8, UINT8, [3, 8], [8, 4], undefined, false));
  });

  // Full-range operands saturate onnxruntime's int16 pair sums, so these are checked against exact sums
  // computed here. K = 1300 takes three float32 chunks of the GEMM (every partial sum an integer < 2^24).
  it('full-range uint8 · int8, K = 1300: exact int32 sums, with B constant (kept between runs) and B fed', () => {
    const [M, K, N] = [5, 1300, 7];
    const [a, b] = [ints(M * K, 41, [0, 255]), ints(K * N, 42, [-128, 127])];
    const bz = [-128, 127, 0, 5, -7, 100, -100];
    const exact = Array.from({ length: M * N }, (_, i) => {
      let sum = 0;
      for (let k = 0; k < K; k++)
        sum += ((a[Math.floor(i / N) * K + k] as number) - 3) * ((b[k * N + (i % N)] as number) - (bz[i % N] as number));
      return sum;
    });
    const nodes = [node('MatMulInteger', ['a', 'b', 'az', 'bz'], ['y'], { name: 'mmi' })];
    const zps = [init('az', UINT8, [], [3]), init('bz', INT8, [N], bz)];
    const feedA = Tensor.from(a, [M, K], 'int32');
    const run = (c: Case, feeds: Record<string, Tensor>) =>
      Array.from(graph.execute(decodeModel(build(c), { fileName: 'mmi.onnx' }), feeds).outputs.y?.data as Int32Array);
    const constant: Case = {
      nodes,
      inits: [init('b', INT8, [K, N], b), ...zps],
      feeds: { a: [UINT8, [M, K], a] },
      outputs: [['y', INT32]],
      opset: 10,
    };
    const ex = new graph.Executor(decodeModel(build(constant), { fileName: 'mmi.onnx' }));
    for (let r = 0; r < 2; r++) expect(Array.from(ex.run({ a: feedA }).outputs.y?.data as Int32Array)).toEqual(exact);
    const fed: Case = { nodes, inits: zps, feeds: { a: [UINT8, [M, K], a], b: [INT8, [K, N], b] }, outputs: [['y', INT32]], opset: 10 };
    expect(run(fed, { a: feedA, b: Tensor.from(b, [K, N], 'int32') })).toEqual(exact);
  });

  it('MatMulInteger → Cast → Mul(scale), fused by the executor: float32(float32(exact sum) · scale), sums past 2^24', () => {
    const [M, K, N] = [3, 1300, 5];
    const [a, b] = [ints(M * K, 45, [200, 255]), ints(K * N, 46, [100, 127])];
    const nodes = [
      node('MatMulInteger', ['a', 'b', 'az', 'bz'], ['y'], { name: 'mmi' }),
      node('Cast', ['y'], ['yf'], { name: 'cast', attribute: [int('to', 1)] as never }),
      node('Mul', ['yf', 's'], ['out'], { name: 'scale' }),
    ];
    const c: Case = {
      nodes,
      inits: [init('b', INT8, [K, N], b), init('az', UINT8, [], [0]), init('bz', INT8, [], [-128])],
      feeds: { a: [UINT8, [M, K], a], s: [1, [], [0.3]] },
      outputs: [['out', 1]],
      opset: 13,
    };
    const feeds = { a: Tensor.from(a, [M, K], 'int32'), s: Tensor.scalar(0.3) };
    const m = decodeModel(build(c), { fileName: 'q8.onnx' });
    const fused = new graph.Executor(m).run(feeds, { profile: true });
    expect(fused.profile?.nodes.map((n) => n.opType)).toEqual(['MatMulIntegerToFloat']);
    const plain = new graph.Executor(m, { fuse: false }).run(feeds).outputs.out?.data as Float32Array;
    const want = Array.from({ length: M * N }, (_, i) => {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += (a[Math.floor(i / N) * K + k] as number) * ((b[k * N + (i % N)] as number) + 128);
      expect(sum).toBeGreaterThan(2 ** 24); // where Cast rounds
      return Math.fround(Math.fround(sum) * Math.fround(0.3));
    });
    expect(Array.from(fused.outputs.out?.data as Float32Array)).toEqual(want);
    expect(Array.from(plain)).toEqual(want);
  });

  it('full-range ConvInteger, 120 input channels, weight zero point −128 (five float32 chunks of channels): exact int32 sums', () => {
    const [C, H, O] = [120, 5, 4];
    const [x, w] = [ints(C * H * H, 43, [0, 255]), ints(O * C * 9, 44, [-128, 127])];
    const exact: number[] = [];
    for (let o = 0; o < O; o++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < H; j++) {
          let sum = 0;
          for (let c = 0; c < C; c++)
            for (let u = 0; u < 3; u++)
              for (let v = 0; v < 3; v++) {
                const [r, q] = [i + u - 1, j + v - 1];
                if (r >= 0 && r < H && q >= 0 && q < H)
                  sum += ((x[(c * H + r) * H + q] as number) - 3) * ((w[((o * C + c) * 3 + u) * 3 + v] as number) + 128);
              }
          exact.push(sum);
        }
    const c: Case = {
      nodes: [
        node('ConvInteger', ['x', 'w', 'xz', 'wz'], ['y'], {
          name: 'ci',
          attribute: [{ name: 'pads', type: 7, ints: [1, 1, 1, 1] }] as never,
        }),
      ],
      inits: [init('w', INT8, [O, C, 3, 3], w), init('xz', UINT8, [], [3]), init('wz', INT8, [], [-128])],
      feeds: { x: [UINT8, [1, C, H, H], x] },
      outputs: [['y', INT32]],
      opset: 10,
    };
    const y = graph.execute(decodeModel(build(c), { fileName: 'ci.onnx' }), { x: Tensor.from(x, [1, C, H, H], 'int32') }).outputs.y;
    expect(Array.from(y?.data as Int32Array)).toEqual(exact);
  });

  const conv = (wType: number, wzp: number[], attrs: Attr[], xDims = [1, 4, 6, 7], wDims = [6, 4, 3, 3]): Case => ({
    nodes: [node('ConvInteger', ['x', 'w', 'xz', 'wz'], ['y'], { name: 'ci', attribute: attrs as never })],
    inits: [
      init('w', wType, wDims, ints(count(wDims), 31, wType === INT8 ? S8 : [0, 255])),
      init('xz', UINT8, [], [77]),
      init('wz', wType, wzp.length === 1 ? [] : [wzp.length], wzp),
    ],
    feeds: { x: [UINT8, xDims, ints(count(xDims), 32, [0, 255])] },
    outputs: [['y', INT32]],
    opset: 10,
  });
  it('ConvInteger: uint8 weights, padding (with the x zero point), strides, dilations', async () => {
    await expectExact(
      conv(UINT8, [128], [{ name: 'pads', type: 7, ints: [1, 2, 1, 0] } as Attr, { name: 'strides', type: 7, ints: [2, 1] } as Attr]),
    );
    await expectExact(conv(UINT8, [10], [{ name: 'dilations', type: 7, ints: [2, 2] } as Attr]));
  });
  it('ConvInteger: groups', async () => {
    await expectExact(conv(UINT8, [200], [int('group', 2)], [1, 4, 5, 5], [6, 2, 3, 3]));
  });
  it('ConvInteger: per-channel weight zero points (onnxruntime takes only one: checked channel by channel against it)', async () => {
    const zps = [1, 2, 3, 4, 5, 6];
    const ours = graph.execute(
      decodeModel(build(conv(UINT8, zps, [int('group', 2)], [1, 4, 5, 5], [6, 2, 3, 3])), { fileName: 'ci.onnx' }),
      {
        x: Tensor.from(ints(100, 32, [0, 255]), [1, 4, 5, 5], 'int32'),
      },
    ).outputs.y as Tensor;
    const plane = 9;
    for (const [m, z] of zps.entries()) {
      const { theirs } = await both(conv(UINT8, [z], [int('group', 2)], [1, 4, 5, 5], [6, 2, 3, 3]));
      const want = valuesOf(theirs.y as ort.Tensor).slice(m * plane, (m + 1) * plane);
      expect(Array.from(ours.data as Int32Array).slice(m * plane, (m + 1) * plane)).toEqual(want);
    }
  });
});

describe('QLinearMatMul and QLinearConv against onnxruntime-node (exact requantized outputs)', () => {
  const qmm = (
    aType: number,
    bType: number,
    yType: number,
    bScales: number[],
    bzps: number[],
    aDims = [2, 3, 16],
    bDims = [16, 5],
  ): Case => ({
    nodes: [node('QLinearMatMul', ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], ['y'], { name: 'qmm' })],
    inits: [
      init('as', FLOAT, [], [0.031]),
      init('az', aType, [], [aType === UINT8 ? 129 : 2]),
      init('b', bType, bDims, ints(count(bDims), 41, bType === INT8 ? S8 : [0, 255])),
      init('bs', FLOAT, bScales.length === 1 ? [] : [bScales.length], bScales),
      init('bz', bType, bzps.length === 1 ? [] : [bzps.length], bzps),
      init('ys', FLOAT, [], [0.37]),
      init('yz', yType, [], [yType === UINT8 ? 118 : -5]),
    ],
    feeds: { a: [aType, aDims, ints(count(aDims), 42, aType === INT8 ? S8 : [0, 255])] },
    outputs: [['y', yType]],
    opset: 10,
  });
  it('uint8 × uint8 → uint8, per-tensor', async () => {
    await expectExact(qmm(UINT8, UINT8, UINT8, [0.0123], [127]));
  });
  it('int8 × int8 → int8, per-tensor; uint8 × int8 → uint8 with per-column scales', async () => {
    await expectExact(qmm(INT8, INT8, INT8, [0.02], [0]));
    await expectExact(qmm(UINT8, INT8, UINT8, positive(5, 43, 0.005, 0.03), [0, 0, 0, 0, 0]));
  });

  it('QLinearConv: uint8 input, int8 per-channel weights, int32 bias, padding and strides', async () => {
    const xDims = [1, 3, 7, 6];
    const wDims = [4, 3, 3, 3];
    await expectExact({
      nodes: [
        node('QLinearConv', ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'bias'], ['y'], {
          name: 'qc',
          attribute: [
            { name: 'pads', type: 7, ints: [1, 1, 1, 1] },
            { name: 'strides', type: 7, ints: [2, 1] },
          ] as never,
        }),
      ],
      inits: [
        init('xs', FLOAT, [], [0.021]),
        init('xz', UINT8, [], [121]),
        init('w', INT8, wDims, ints(count(wDims), 51, S8)),
        init('ws', FLOAT, [4], positive(4, 52, 0.003, 0.02)),
        init('wz', INT8, [4], [0, 0, 0, 0]),
        init('ys', FLOAT, [], [0.09]),
        init('yz', UINT8, [], [131]),
        init('bias', INT32, [4], ints(4, 53, [-3000, 3000])),
      ],
      feeds: { x: [UINT8, xDims, ints(count(xDims), 54, [0, 255])] },
      outputs: [['y', UINT8]],
      opset: 10,
    });
  });
  it('QLinearConv: uint8 weights with a zero point, per-tensor scales, groups', async () => {
    const xDims = [1, 4, 5, 5];
    const wDims = [4, 2, 2, 2];
    await expectExact({
      nodes: [
        node('QLinearConv', ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz'], ['y'], { name: 'qc', attribute: [int('group', 2)] as never }),
      ],
      inits: [
        init('xs', FLOAT, [], [0.05]),
        init('xz', UINT8, [], [10]),
        init('w', UINT8, wDims, ints(count(wDims), 61, [0, 255])),
        init('ws', FLOAT, [], [0.004]),
        init('wz', UINT8, [], [128]),
        init('ys', FLOAT, [], [0.2]),
        init('yz', UINT8, [], [100]),
      ],
      feeds: { x: [UINT8, xDims, ints(count(xDims), 62, [0, 255])] },
      outputs: [['y', UINT8]],
      opset: 10,
    });
  });
});

/** A MatMulNBits case: A [2, 3, K] (or `aDims`) fed, B / scales / zero points / g_idx / bias as initializers. */
function nbitsCase(
  K: number,
  N: number,
  block: number,
  opts: { bits?: number; zp?: 'packed' | 'float'; gIdx?: boolean; bias?: boolean; aDims?: number[] } = {},
): Case {
  const bits = opts.bits ?? 4;
  const blocks = Math.ceil(K / block);
  const blob = (block * bits) / 8;
  const q = ints(N * blocks * block, 71, [0, 2 ** bits - 1]);
  // B [N, blocks, blob]: each row's values packed bits-wide, least significant first.
  const bytes: number[] = [];
  for (let n = 0; n < N; n++)
    for (let j = 0; j < blocks * blob; j++) {
      let v = 0;
      for (let t = 0; t < 8 / bits; t++) v |= (q[n * blocks * block + (j * 8) / bits + t] as number) << (t * bits);
      bytes.push(v);
    }
  const perRow = Math.ceil((blocks * bits) / 8);
  const zq = ints(N * perRow * (8 / bits), 72, [0, 2 ** bits - 1]);
  const zpBytes = Array.from({ length: N * perRow }, (_, i) => {
    let v = 0;
    for (let t = 0; t < 8 / bits; t++) v |= (zq[i * (8 / bits) + t] as number) << (t * bits);
    return v;
  });
  const scales = positive(N * blocks, 73, 0.01, 0.1);
  const floatZp = positive(N * blocks, 74, 0, 2 ** bits - 1);
  const gIdx = Array.from({ length: K }, (_, k) => (k * 7) % blocks);
  // The dequantized weight Wᵀ [K, N], computed here from the same values (a reference for what onnxruntime gets wrong).
  const wT = new Array<number>(K * N);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = n * blocks + (opts.gIdx ? (gIdx[k] as number) : Math.floor(k / block));
      const z =
        opts.zp === 'packed'
          ? (zq[n * perRow * (8 / bits) + (g - n * blocks)] as number)
          : opts.zp === 'float'
            ? (floatZp[g] as number)
            : 2 ** (bits - 1);
      wT[k * N + n] = Math.fround(((q[n * blocks * block + k] as number) - z) * (scales[g] as number));
    }
  const inputs = ['a', 'b', 's', opts.zp ? 'z' : '', opts.gIdx ? 'g' : '', opts.bias ? 'bias' : ''];
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const aDims = opts.aDims ?? [2, 3, K];
  return {
    nodes: [
      node('MatMulNBits', inputs, ['y'], {
        name: 'mnb',
        domain: 'com.microsoft',
        attribute: [int('K', K), int('N', N), int('bits', bits), int('block_size', block)] as never,
      }),
    ],
    inits: [
      init('b', UINT8, [N, blocks, blob], bytes),
      init('s', FLOAT, [N * blocks], scales),
      ...(opts.zp === 'packed' ? [init('z', UINT8, [N * perRow], zpBytes)] : []),
      ...(opts.zp === 'float' ? [init('z', FLOAT, [N * blocks], floatZp)] : []),
      ...(opts.gIdx ? [init('g', INT32, [K], gIdx)] : []),
      ...(opts.bias ? [init('bias', FLOAT, [N], normals(N, 75))] : []),
    ],
    feeds: { a: [FLOAT, aDims, normals(count(aDims), 76)] },
    outputs: [['y', FLOAT]],
    opset: 17,
    ms: true,
    wT,
  };
}

/** MatMulNBits' output `y` within 1e-5 · max(1, |y|) of onnxruntime's; returns the worst such error. */
async function expectClose(c: Case): Promise<number> {
  const { ours, theirs } = await both(c);
  const a = ours.y as Tensor;
  const b = theirs.y as ort.Tensor;
  expect([...a.shape]).toEqual([...b.dims]);
  const x = a.data as Float32Array;
  const y = valuesOf(b);
  let worst = 0;
  for (let i = 0; i < y.length; i++)
    worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)) / Math.max(1, Math.abs(y[i] as number)));
  expect(worst).toBeLessThanOrEqual(1e-5);
  return worst;
}

describe('com.microsoft MatMulNBits against onnxruntime-node (tolerance 1e-5 · max(1, |y|))', () => {
  it('4-bit, default zero point (8), K a multiple of the block', async () => {
    await expectClose(nbitsCase(64, 12, 32));
  });
  it('4-bit with packed uint8 zero points (odd block count), K not a multiple of the block, bias', async () => {
    await expectClose(nbitsCase(80, 7, 32, { zp: 'packed', bias: true }));
    await expectClose(nbitsCase(40, 9, 16, { zp: 'packed' }));
  });
  it('4-bit with float zero points; 8-bit and 2-bit with packed zero points', async () => {
    await expectClose(nbitsCase(64, 6, 16, { zp: 'float' }));
    await expectClose(nbitsCase(64, 5, 32, { bits: 8, zp: 'packed' }));
    await expectClose(nbitsCase(64, 5, 32, { bits: 2, zp: 'packed' }));
  });
  it('one executor run three times on new inputs (the constant weight dequantized once, then reused) matches onnxruntime each time', async () => {
    const c = nbitsCase(96, 40, 32, { zp: 'packed', bias: true });
    const bytes = build(c);
    const ex = new graph.Executor(decodeModel(bytes, { fileName: 'nbits.onnx' }));
    const s = await session(bytes);
    const [, dims, values] = c.feeds.a as [number, number[], number[]];
    for (let run = 0; run < 3; run++) {
      const a = Tensor.from(
        values.map((v, i) => v * (run + 1) - ((i * run) % 5) * 0.1),
        dims,
        'float32',
      );
      const ours = ex.run({ a }).outputs.y?.data as Float32Array;
      const want = valuesOf((await s.run({ a: toOrt(a, 'float32') })).y as ort.Tensor);
      want.forEach((w, i) => {
        expect(Math.abs((ours[i] as number) - w)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w)));
      });
    }
    await s.release();
  });
  it('4-bit with g_idx (act-order groups): against MatMul with the weight dequantized by the test', async () => {
    // onnxruntime 1.30's g_idx path reads the group of element i of each 8-value chunk at block start + i and
    // ignores packed zero points, so it is not the reference here: A · Wᵀ in onnxruntime's float MatMul is.
    for (const zp of ['packed', 'float'] as const) {
      const c = nbitsCase(64, 6, 16, { zp, gIdx: true });
      const [K, N] = [64, 6];
      const ours = graph.execute(decodeModel(build(c), { fileName: 'nbits.onnx' }), {
        a: Tensor.from((c.feeds.a as [number, number[], number[]])[2], [2, 3, K], 'float32'),
      }).outputs.y as Tensor;
      const ref: Case = {
        nodes: [node('MatMul', ['a', 'w'], ['y'], { name: 'mm' })],
        inits: [init('w', FLOAT, [K, N], c.wT as number[])],
        feeds: { a: c.feeds.a as [number, number[], number[]] },
        outputs: [['y', FLOAT]],
      };
      const { theirs } = await both(ref);
      const want = valuesOf(theirs.y as ort.Tensor);
      Array.from(ours.data as Float32Array).forEach((v, i) => {
        expect(Math.abs(v - (want[i] as number))).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i] as number)));
      });
    }
  });
  it('4-bit with the trivial g_idx (block order) and float zero points: the same as without g_idx, also in onnxruntime', async () => {
    const c = nbitsCase(64, 6, 16, { zp: 'float', gIdx: true });
    c.inits = c.inits.map((t) =>
      t.name === 'g'
        ? init(
            'g',
            INT32,
            [64],
            Array.from({ length: 64 }, (_, k) => Math.floor(k / 16)),
          )
        : t,
    );
    await expectClose(c);
  });
});

describe('MatMulNBits on the fused 4-bit kernel (budget 0: W kept packed) against onnxruntime-node (tolerance 1e-5 · max(1, |y|))', () => {
  let budget = 0;
  beforeAll(() => {
    budget = graph.setNBitsDequantizeBudget(0);
  });
  afterAll(() => {
    graph.setNBitsDequantizeBudget(budget);
  });
  // M = rows of A: 1 and 3 take the decode kernel, 17 and 64 the panel GEMM (and 1, 3 again with it forced).
  for (const M of [1, 3, 17, 64])
    it(`M=${M}: blocks 16/32/128, K a multiple of the block or not, zero points none/packed/float, bias`, async () => {
      const aDims = M === 3 ? [1, 3, 0] : [M, 0];
      const at = (K: number) => aDims.map((d) => d || K);
      await expectClose(nbitsCase(80, 7, 32, { zp: 'packed', bias: true, aDims: at(80) }));
      await expectClose(nbitsCase(40, 9, 16, { zp: 'float', aDims: at(40) }));
      await expectClose(nbitsCase(256, 5, 128, { aDims: at(256) }));
      await expectClose(nbitsCase(200, 6, 128, { zp: 'float', bias: true, aDims: at(200) }));
      await expectClose(nbitsCase(48, 5, 16, { zp: 'packed', aDims: at(48) }));
    });
  it('M=1 and 3 on the panel GEMM, M=17 on the decode kernel (each forced)', async () => {
    for (const [rows, M] of [
      [0, 1],
      [0, 3],
      [Number.POSITIVE_INFINITY, 17],
    ] as const) {
      const prev = setNBitsGemvRows(rows);
      try {
        await expectClose(nbitsCase(80, 7, 32, { zp: 'packed', bias: true, aDims: [M, 80] }));
      } finally {
        setNBitsGemvRows(prev);
      }
    }
  });
  it('K = 4096 and more rows of W than one panel or copy holds (chunks of K, several panels): within 1e-6 · Σₖ|a·w|', async () => {
    // 4096 float32 terms summed in two orders differ by several ulps of the terms' scale, which can exceed
    // 1e-5 · |y| when they cancel: the bound is relative to Σₖ |a[m, k] · W[n, k]| instead.
    for (const M of [1, 5, 17]) {
      const [K, N] = [4096, 300];
      const c = nbitsCase(K, N, 32, { zp: 'packed', aDims: [M, K] });
      const { ours, theirs } = await both(c);
      const x = (ours.y as Tensor).data as Float32Array;
      const y = valuesOf(theirs.y as ort.Tensor);
      const a = (c.feeds.a as [number, number[], number[]])[2];
      const wT = c.wT as number[];
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let mag = 0;
          for (let k = 0; k < K; k++) mag += Math.abs((a[m * K + k] as number) * (wT[k * N + n] as number));
          expect(Math.abs((x[m * N + n] as number) - (y[m * N + n] as number))).toBeLessThanOrEqual(1e-6 * mag);
        }
    }
  });
  it('agrees with the dequantizing path (W to float32, then the GEMM) within 1e-5 · max(1, |y|)', () => {
    for (const M of [1, 3, 17, 64]) {
      const c = nbitsCase(200, 24, 32, { zp: 'packed', bias: true, aDims: [M, 200] });
      const a = Tensor.from(normals(M * 200, M), [M, 200], 'float32');
      const run = () => graph.execute(decodeModel(build(c), { fileName: 'nbits.onnx' }), { a }).outputs.y?.data as Float32Array;
      const fused = run();
      const prev = setWasmNBits(false);
      let dequantized: Float32Array;
      try {
        dequantized = run();
      } finally {
        setWasmNBits(prev);
      }
      dequantized.forEach((v, i) => {
        expect(Math.abs((fused[i] as number) - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
      });
    }
  });
  it('refuses an A whose last dimension is not K with a typed error naming the node, also once W is packed', () => {
    const c = nbitsCase(64, 4, 32, { aDims: [2, 64] });
    // A declared without a shape, so the executor's input check lets any A through to the kernel.
    const bytes = model(
      { node: c.nodes, initializer: c.inits, input: [vi('a', FLOAT)], output: [vi('y', FLOAT)] },
      {
        opsetImport: [
          { domain: '', version: 17 },
          { domain: 'com.microsoft', version: 1 },
        ],
      },
    );
    const ex = new graph.Executor(decodeModel(bytes, { fileName: 'nbits.onnx' }));
    const good = Tensor.from((c.feeds.a as [number, number[], number[]])[2], [2, 64], 'float32');
    expect([...(ex.run({ a: good }).outputs.y as Tensor).shape]).toEqual([2, 4]);
    const bad = Tensor.from(new Array(120).fill(0.5), [2, 60], 'float32');
    expect(() => ex.run({ a: bad })).toThrow(
      expect.objectContaining({ code: 'INVALID_NODE', message: expect.stringMatching(/mnb.*A \[2, 60\] must end in K=64/) }),
    );
  });
  it("is what runs: the executor's output equals matmulNBits on the same packed weight, bit for bit", () => {
    const c = nbitsCase(200, 6, 128, { zp: 'float', aDims: [17, 200] });
    const a = Tensor.from((c.feeds.a as [number, number[], number[]])[2], [17, 200], 'float32');
    const ours = graph.execute(decodeModel(build(c), { fileName: 'nbits.onnx' }), { a }).outputs.y as Tensor;
    const raw = (name: string) => c.inits.find((t) => t.name === name)?.rawData as Uint8Array;
    const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    const w = { N: 6, K: 200, block: 128, data: raw('b'), scales: f32(raw('s')), zeroPoints: f32(raw('z')) };
    expect(Array.from(ours.data as Float32Array)).toEqual(Array.from(matmulNBits(a, w).data as Float32Array));
  });
});

describe('quantization ops refuse bad input with a typed error', () => {
  const run = (c: Case) => {
    const m = decodeModel(build(c), { fileName: 'bad.onnx' });
    const feeds = Object.fromEntries(
      Object.entries(c.feeds).map(([k, [code, dims, v]]) => [k, Tensor.from(v, dims, code === FLOAT ? 'float32' : 'int32')]),
    );
    return () => graph.execute(m, feeds);
  };
  const codeOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(NormkitError);
      return `${(e as NormkitError).code}: ${(e as Error).message}`;
    }
    throw new Error('expected an error');
  };
  it('a missing scale', () => {
    const c = quantizeCase(UINT8, 'tensor', 13);
    c.nodes = [node('QuantizeLinear', ['x', '', 'z'], ['y'], { name: 'q' })];
    expect(codeOf(run(c))).toMatch(/^INVALID_NODE: .*y_scale is required/);
  });
  it('a blocked scale whose shape does not match block_size', () => {
    const c = dequantizeCase(INT8, 'block', 21);
    (c.nodes[0] as { attribute: Attr[] }).attribute = [int('axis', 1), int('block_size', 2)];
    expect(codeOf(run(c))).toMatch(/^INVALID_NODE: .*block_size 2 .*needs a scale of shape \[2, 3, 5\].*check block_size/);
  });
  it('a zero point whose type differs from x', () => {
    const c = dequantizeCase(INT8, 'tensor', 13);
    c.inits[2] = init('z', UINT8, [], [3]);
    expect(codeOf(run(c))).toMatch(/^INVALID_NODE: .*x_zero_point is uint8 but x is int8/);
  });
  it('a per-axis scale of the wrong length', () => {
    const c = quantizeCase(INT8, 'axis', 13);
    c.inits = [init('s', FLOAT, [5], [1, 1, 1, 1, 1]), init('z', INT8, [5], [0, 0, 0, 0, 0])];
    expect(codeOf(run(c))).toMatch(/^INVALID_NODE: .*per-axis scale must be 1-D of size 6/);
  });
  it('MatMulNBits with B of the wrong size, and a block size that is not a power of 2', () => {
    const c = nbitsCase(64, 4, 32);
    c.inits[0] = init('b', UINT8, [4, 2, 8], new Array(64).fill(0));
    expect(codeOf(run(c))).toMatch(/^INVALID_NODE: .*B \[4, 2, 8\] must hold \[N=4, 2 blocks, 16 bytes\]/);
    const d = nbitsCase(64, 4, 32);
    (d.nodes[0] as { attribute: Attr[] }).attribute[3] = int('block_size', 24);
    expect(codeOf(run(d))).toMatch(/^INVALID_NODE: .*block_size must be a power of 2/);
  });
});

describe('shape inference of the quantization ops', () => {
  it('gives the quantized type of the zero point, the scale type for DequantizeLinear, and the output shapes', () => {
    const c = quantizeCase(INT8, 'axis', 13);
    c.nodes.push(node('DequantizeLinear', ['y', 's', 'z'], ['back'], { name: 'dq', attribute: [int('axis', 1)] as never }));
    c.nodes.push(node('DynamicQuantizeLinear', ['back'], ['dy', 'dys', 'dyz'], { name: 'dyn' }));
    c.outputs = [['back', FLOAT]];
    const m = decodeModel(build(c), { fileName: 'shapes.onnx' });
    graph.inferShapes(m);
    const info = (v: string) => {
      const i = m.graph.valueInfo.get(v) ?? m.graph.outputs.find((o) => o.name === v);
      return [i?.dtype ?? i?.elemType, i?.shape];
    };
    expect(info('y')).toEqual(['int8', [2, 6, 5]]);
    expect(info('back')).toEqual(['float32', [2, 6, 5]]);
    expect(info('dy')).toEqual(['uint8', [2, 6, 5]]);
    expect(info('dys')).toEqual(['float32', []]);
    const n = nbitsCase(64, 12, 32);
    const nm = decodeModel(build(n), { fileName: 'nbits.onnx' });
    graph.inferShapes(nm);
    expect(nm.graph.outputs[0]?.shape ?? nm.graph.valueInfo.get('y')?.shape).toEqual([2, 3, 12]);
  });
});

describe('int4 / uint4 tensors in ONNX files', () => {
  it('decode two per byte (low nibble first, int4 sign-extended) and write back the same bytes', () => {
    const values = [-8, 7, -1, 0, 3, -5, 6];
    const bytes = build({
      nodes: [node('DequantizeLinear', ['x', 's'], ['y'], { name: 'dq' })],
      inits: [init('x', INT4, [7], values), init('s', FLOAT, [], [1])],
      feeds: {},
      outputs: [['y', FLOAT]],
      opset: 21,
    });
    const m = decodeModel(bytes, { fileName: 'int4.onnx' });
    const x = m.graph.initializers.get('x') as Tensor;
    expect(Array.from(x.data as Int32Array)).toEqual(values);
    expect(graph.taggedElemType(x)).toBe(INT4);
    const again = decodeModel(encodeModel(m), { fileName: 'again.onnx' });
    expect(Array.from(again.graph.initializers.get('x')?.data as Int32Array)).toEqual(values);
    const proto = P.ModelProto.decode(encodeModel(m));
    const t = proto.graph?.initializer?.find((i) => i.name === 'x');
    expect(t?.dataType).toBe(INT4);
    expect(Array.from(t?.rawData ?? [])).toEqual(Array.from(rawOf(INT4, values)));
  });
  it('typed int32_data form (one packed byte per entry) decodes the same', () => {
    const values = [1, 15, 0, 9, 4];
    const packed = Array.from(rawOf(UINT4, values));
    const bytes = build({
      nodes: [node('DequantizeLinear', ['x', 's'], ['y'], { name: 'dq' })],
      inits: [{ name: 'x', dims: [5], dataType: UINT4, int32Data: packed } as never, init('s', FLOAT, [], [1])],
      feeds: {},
      outputs: [['y', FLOAT]],
      opset: 21,
    });
    const m = decodeModel(bytes, { fileName: 'uint4.onnx' });
    expect(Array.from(m.graph.initializers.get('x')?.data as Int32Array)).toEqual(values);
    expect(Array.from(graph.execute(m, {}).outputs.y?.data as Float32Array)).toEqual(values);
  });
});
