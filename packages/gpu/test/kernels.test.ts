// Every Backend kernel of the gpu.js backend against the CPU backend (the reference), within 1e-4
// relative, on seeded random shapes that are not multiples of the matmul tile (4) — in the default
// Node mode, in gpu.js cpu mode, with a tiny texture limit that forces tensors to be split, and in
// headless-gl where the optional `gl` package and a display exist.

import * as T from '@normkit/tensor';
import {
  abs,
  add,
  argmax,
  avgPool,
  cast,
  clip,
  concat,
  conv,
  div,
  elu,
  equal,
  exp,
  expand,
  gather,
  gemm,
  greater,
  hardSigmoid,
  hardSwish,
  layerNormKernel,
  leakyRelu,
  less,
  logicalAnd,
  logicalNot,
  logicalOr,
  logicalXor,
  logSoftmax,
  matmul,
  maximum,
  maxPool,
  minimum,
  mod,
  mul,
  pad,
  pow,
  powScalar,
  rmsNormKernel,
  slice,
  softmax,
  sub,
  Tensor,
  tile,
  transpose,
  where,
} from '@normkit/tensor';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { createGpuBackend, type GpuBackend, initWebGpu } from '../src/index.js';
import { matchesCpu, Rng, randomDims } from './helpers.js';

// The conformance suite: every kernel family in every mode that runs here. WebGPU runs in Node
// through Dawn (the `webgpu` package) on SwiftShader when chromium's Vulkan ICD exists (test setup).
const webgpu = await initWebGpu();
if (!webgpu.available) console.warn(`[gpu kernels test] WebGPU skipped: ${webgpu.reason}`);
const modes: { label: string; opts: Parameters<typeof createGpuBackend>[0] }[] = [
  { label: 'default mode', opts: { mode: 'webasm' } },
  { label: 'split (maxTextureSize 12 → 121 elements per texture)', opts: { mode: 'webasm', maxTextureSize: 12 } },
  { label: 'gpu.js cpu mode', opts: { mode: 'cpu' } },
];
if (GPU.isHeadlessGLSupported) modes.push({ label: 'headlessgl', opts: { mode: 'headlessgl' } });
if (webgpu.available) {
  modes.push({ label: `webgpu (${webgpu.adapter?.architecture ?? 'Dawn'})`, opts: { mode: 'webgpu' } });
}

const UNARY = [
  'neg',
  'abs',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'reciprocal',
  'erf',
  'tanh',
  'sigmoid',
  'relu',
  'geluTanh',
  'silu',
  'softplus',
  'sin',
  'cos',
  'floor',
  'ceil',
  'round',
  'sign',
] as const;
const POSITIVE = new Set(['log', 'sqrt', 'rsqrt', 'reciprocal']);

for (const { label, opts } of modes) {
  describe(`gpu backend kernels vs CPU backend (${label})`, () => {
    const g: GpuBackend = createGpuBackend({ ...opts, strict: true });
    afterAll(() => g.dispose());
    const rng = new Rng(label.length * 7919);
    const randn = (shape: number[], seed: number, scale = 1) => Tensor.randn(shape, seed, { std: scale });

    it('unary ops, including values exactly at .5 for round', async () => {
      const [a, b] = randomDims(rng, 2, 3, 11);
      const x = randn([a!, b!], 1, 3);
      for (const op of UNARY) {
        const input = POSITIVE.has(op) ? T.add(abs(x), 0.1) : x;
        await matchesCpu(g, op, () => (T as unknown as Record<string, (t: Tensor) => Tensor>)[op === 'geluTanh' ? 'gelu' : op]!(input));
      }
      await matchesCpu(g, 'gelu tanh', () => T.gelu(x, 'tanh'));
      await matchesCpu(g, 'round half-even', () => T.round(Tensor.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49])));
      await matchesCpu(g, 'tanh large', () => T.tanh(Tensor.from([-100, -20, 20, 100, 0])));
      await matchesCpu(g, 'sigmoid large', () => T.sigmoid(Tensor.from([-100, -20, 20, 100, 0])));
    });

    it('parameterised unary ops', async () => {
      const x = randn(randomDims(rng, 3, 2, 7), 2, 2);
      await matchesCpu(g, 'leakyRelu', () => leakyRelu(x, 0.2));
      await matchesCpu(g, 'elu', () => elu(x, 0.7));
      await matchesCpu(g, 'hardSigmoid', () => hardSigmoid(x, 0.3, 0.4));
      await matchesCpu(g, 'hardSwish', () => hardSwish(x));
      await matchesCpu(g, 'clip', () => clip(x, -0.5, 0.75));
      await matchesCpu(g, 'clip half-open', () => clip(x, -0.5));
      await matchesCpu(g, 'powScalar 2', () => powScalar(x, 2));
      await matchesCpu(g, 'powScalar 3 (negative base)', () => powScalar(x, 3));
      await matchesCpu(g, 'powScalar 0.5', () => powScalar(abs(x), 0.5));
      await matchesCpu(g, 'powScalar 1.7', () => powScalar(abs(x), 1.7));
    });

    it('broadcasting binary ops and comparisons', async () => {
      const [m, n, k] = randomDims(rng, 3, 2, 9);
      const a = randn([m!, 1, k!], 3);
      const b = randn([n!, k!], 4);
      const pos = T.add(abs(b), 0.5);
      await matchesCpu(g, 'add', () => add(a, b));
      await matchesCpu(g, 'sub', () => sub(b, a));
      await matchesCpu(g, 'mul', () => mul(a, b));
      await matchesCpu(g, 'div', () => div(a, pos));
      await matchesCpu(g, 'pow', () => pow(T.add(abs(a), 0.1), b));
      for (const e of [0, 2, 3]) await matchesCpu(g, `pow integer exponent ${e}, negative base`, () => pow(a, Tensor.full([1], e)));
      await matchesCpu(g, 'min', () => minimum(a, b));
      await matchesCpu(g, 'max', () => maximum(a, b));
      await matchesCpu(g, 'mod', () => mod(T.mul(a, 5), pos));
      await matchesCpu(g, 'scalar add', () => add(a, 2.5));
      for (const [name, f] of [
        ['equal', equal],
        ['less', less],
        ['greater', greater],
        ['lessEqual', T.lessEqual],
        ['greaterEqual', T.greaterEqual],
      ] as const) {
        await matchesCpu(g, name, () => f(a, b));
      }
      await matchesCpu(g, 'equal (exact ties)', () => equal(T.round(a), T.round(T.mul(a, 1))));
      const p = greater(a, 0);
      const q = less(b, 0.3);
      await matchesCpu(g, 'and', () => logicalAnd(p, q));
      await matchesCpu(g, 'or', () => logicalOr(p, q));
      await matchesCpu(g, 'xor', () => logicalXor(p, q));
      await matchesCpu(g, 'not', () => logicalNot(p));
      await matchesCpu(g, 'where', () => where(greater(a, b), a, b));
      await matchesCpu(g, 'where with -inf', () => where(greater(b, 0), b, Tensor.full([1], Number.NEGATIVE_INFINITY)));
    });

    it('reductions over contiguous, non-contiguous and all axes', async () => {
      const shape = randomDims(rng, 4, 2, 7);
      const x = randn(shape, 5);
      for (const op of ['sum', 'mean', 'max', 'min', 'prod', 'l1Norm', 'l2Norm', 'sumSquare', 'logSumExp'] as const) {
        const f = (T as unknown as Record<string, (t: Tensor, axes?: number[], keep?: boolean) => Tensor>)[op]!;
        await matchesCpu(g, `${op} last`, () => f(x, [-1], false));
        await matchesCpu(g, `${op} [1,2] keepDims`, () => f(x, [1, 2], true));
        await matchesCpu(g, `${op} [0,3]`, () => f(x, [0, 3], false));
        if (op !== 'prod') await matchesCpu(g, `${op} all`, () => f(x));
      }
      await matchesCpu(g, 'argmax (CPU fallback)', () => argmax(x, 1));
    });

    it('softmax and log-softmax along each axis', async () => {
      const x = randn(randomDims(rng, 3, 3, 13), 6, 4);
      for (const axis of [0, 1, -1]) {
        await matchesCpu(g, `softmax ${axis}`, () => softmax(x, axis));
        await matchesCpu(g, `logSoftmax ${axis}`, () => logSoftmax(x, axis));
      }
      await matchesCpu(g, 'softmax with -inf (masked)', () =>
        softmax(where(greater(x, 1), Tensor.full([1], Number.NEGATIVE_INFINITY), x), -1),
      );
    });

    it('matmul: 2-D, batched with broadcast, vectors, K not a tile multiple', async () => {
      for (let i = 0; i < 3; i++) {
        const [m, k, n, bsz] = randomDims(rng, 4, 1, 19);
        await matchesCpu(g, `matmul [${m},${k}]x[${k},${n}]`, () => matmul(randn([m!, k!], 10 + i), randn([k!, n!], 20 + i)));
        await matchesCpu(g, 'batched, shared B', () => matmul(randn([bsz!, m!, k!], 30 + i), randn([k!, n!], 40 + i)));
        await matchesCpu(g, 'batched, broadcast A', () => matmul(randn([1, m!, k!], 50 + i), randn([bsz!, k!, n!], 60 + i)));
        await matchesCpu(g, 'vector · matrix', () => matmul(randn([k!], 70 + i), randn([k!, n!], 80 + i)));
      }
      await matchesCpu(g, 'K = 67', () => matmul(randn([3, 67], 1), randn([67, 5], 2)));
    });

    it('gemm with transposes, alpha, beta and broadcast C', async () => {
      const [m, k, n] = randomDims(rng, 3, 2, 11);
      const a = randn([m!, k!], 1);
      const at = randn([k!, m!], 2);
      const b = randn([k!, n!], 3);
      const bt = randn([n!, k!], 4);
      await matchesCpu(g, 'gemm', () => gemm(a, b, randn([n!], 5)));
      await matchesCpu(g, 'gemm transA transB', () => gemm(at, bt, randn([m!, 1], 6), { transA: true, transB: true, alpha: 0.5, beta: 2 }));
      await matchesCpu(g, 'gemm no C', () => gemm(a, bt, undefined, { transB: true }));
    });

    it('conv (1-D, 2-D, strides, pads, dilations, groups) and pooling', async () => {
      const x = randn([2, 4, 9, 7], 1);
      await matchesCpu(g, 'conv2d pad', () => conv(x, randn([6, 4, 3, 3], 2), randn([6], 3), { pads: [1, 1, 1, 1] }));
      await matchesCpu(g, 'conv2d stride dilation', () =>
        conv(x, randn([3, 4, 3, 2], 4), undefined, { strides: [2, 1], dilations: [1, 2], pads: [0, 1, 2, 0] }),
      );
      await matchesCpu(g, 'conv2d groups', () => conv(x, randn([4, 2, 3, 3], 5), randn([4], 6), { group: 2, pads: [1, 1, 1, 1] }));
      await matchesCpu(g, 'depthwise', () => conv(x, randn([4, 1, 3, 3], 7), undefined, { group: 4 }));
      await matchesCpu(g, 'conv1d', () => conv(randn([2, 3, 11], 8), randn([5, 3, 4], 9), randn([5], 10), { strides: [2], pads: [1, 2] }));
      await matchesCpu(g, 'maxPool', () => maxPool(x, { kernelShape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] }));
      await matchesCpu(g, 'avgPool', () => avgPool(x, { kernelShape: [2, 3], strides: [1, 2], pads: [1, 1, 0, 1] }));
      await matchesCpu(g, 'avgPool count pad, ceil', () =>
        avgPool(x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true, ceilMode: true }),
      );
    });

    it('transpose, concat, slice, pad, gather, expand, tile, cast', async () => {
      const shape = randomDims(rng, 3, 2, 8);
      const x = randn(shape, 1);
      await matchesCpu(g, 'transpose', () => transpose(x, [2, 0, 1]));
      await matchesCpu(g, 'concat', () => concat([x, randn([shape[0]!, 3, shape[2]!], 2), x], 1));
      await matchesCpu(g, 'slice', () => slice(x, [0, 1], [-1, 100], [0, 2]));
      await matchesCpu(g, 'slice negative step', () => slice(x, [-1, -1], [-100, -100], [1, 2], [-2, -1]));
      await matchesCpu(g, 'pad constant', () => pad(x, [0, 1, 2, 1, 0, 3], 'constant', 1.5));
      await matchesCpu(g, 'pad reflect', () => pad(x, [1, 1, 1, 1, 1, 1], 'reflect'));
      await matchesCpu(g, 'pad edge', () => pad(x, [2, 0, 1, 0, 3, 2], 'edge'));
      const ids = Tensor.from(
        [
          [0, -1, 1],
          [1, 1, 0],
        ],
        undefined,
        'int64',
      );
      await matchesCpu(g, 'gather axis 0', () => gather(x, ids, 0));
      await matchesCpu(g, 'gather axis 2', () => gather(x, Tensor.from([1, 0, -1], undefined, 'int32'), 2));
      await matchesCpu(g, 'gather scalar index', () => gather(x, Tensor.scalar(1, 'int64'), 1));
      await matchesCpu(g, 'expand', () => expand(randn([shape[0]!, 1, shape[2]!], 3), [2, shape[0]!, 4, shape[2]!]));
      await matchesCpu(g, 'tile', () => tile(x, [2, 1, 3]));
      await matchesCpu(g, 'cast float→bool', () => cast(T.round(x), 'bool'));
      await matchesCpu(g, 'cast bool→float', () => cast(greater(x, 0), 'float32'));
      if (g.device.asyncReads) {
        // webgpu: the CPU fallback needs its device input on the host, which only an awaited read gives.
        expect(() => T.withBackend(g, () => cast(T.mul(x, 10), 'int64'))).toThrow(/cast float32->int64 runs on the CPU.*await t\.read\(\)/);
        const m = T.withBackend(g, () => T.mul(x, 10));
        await m.read();
        await matchesCpu(g, 'cast float→int64 (CPU fallback, input read first)', () => cast(m, 'int64'));
      } else await matchesCpu(g, 'cast float→int64 (CPU fallback)', () => cast(T.mul(x, 10), 'int64'));
      await matchesCpu(g, 'bool transpose', () => transpose(greater(x, 0), [1, 0, 2]));
    });

    it('fused LayerNorm (y, mean, invStdDev) and RMSNorm, with broadcast params and axis < rank-1', async () => {
      for (let i = 0; i < 3; i++) {
        const [r, d] = randomDims(rng, 2, 1, 37);
        const x = add(randn([r!, d!], 100 + i, 2), 3); // |mean| ≫ 0 checks the centring
        const gamma = randn([d!], 200 + i);
        const beta = randn([d!], 300 + i);
        for (const k of ['y', 'mean', 'invStdDev'] as const)
          await matchesCpu(g, `layerNorm ${k} [${r},${d}]`, () => layerNormKernel(x, gamma, beta, -1, 1e-5)[k]);
        await matchesCpu(g, 'layerNorm no params', () => layerNormKernel(x, undefined, undefined, -1, 1e-6).y);
        await matchesCpu(g, 'rmsNorm', () => rmsNormKernel(x, gamma, undefined, -1, 1e-6));
        await matchesCpu(g, 'rmsNorm with bias', () => rmsNormKernel(x, gamma, beta, -1, 1e-5));
      }
      const x4 = randn([2, 3, 4, 5], 7);
      await matchesCpu(
        g,
        'layerNorm axis 1, [4,5] params broadcast',
        () => layerNormKernel(x4, randn([1, 5], 8), randn([4, 1], 9), 1, 1e-5).y,
      );
      await matchesCpu(g, 'layerNorm axis 1 mean', () => layerNormKernel(x4, undefined, undefined, 1, 1e-5).mean);
      await matchesCpu(g, 'rmsNorm axis 2', () => rmsNormKernel(x4, randn([4, 5], 10), undefined, 2, 1e-5));
    });

    it('empty tensors fall back to the CPU backend', async () => {
      const e = Tensor.zeros([0, 3]);
      expect(T.withBackend(g, () => add(e, 1)).shape).toEqual([0, 3]);
      expect(T.withBackend(g, () => add(e, 1)).onHost).toBe(true);
      expect(T.withBackend(g, () => exp(e)).shape).toEqual([0, 3]);
    });

    it('took only the documented CPU fallbacks', async () => {
      expect(Object.keys(g.describe().fallbacks).sort(), JSON.stringify(g.fallbackReasons)).toEqual([
        'argmax',
        'binary add',
        'cast float32->int64',
        'unary exp',
      ]);
    });
  });
}
