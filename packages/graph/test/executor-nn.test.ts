// Linear, convolution, pooling, softmax, reductions and normalization ops against naive loops written here.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { errorOf, expectClose, runOp } from './executor-helpers.js';

const f = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length]);
const i64 = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length], 'int64');
const rnd = (shape: number[], seed: number) => Tensor.randn(shape, seed);
const idx = (shape: readonly number[], ...ix: number[]) => ix.reduce((off, v, d) => off * shape[d]! + v, 0);

/** Naive N-d convolution (NCHW, 2-D) with pads/strides/dilations/groups. */
function naiveConv2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  o: { pads: number[]; strides: number[]; dil: number[]; group: number },
): { v: number[]; shape: number[] } {
  const [N, _C, H, W] = x.shape as number[];
  const [M, Cg, KH, KW] = w.shape as number[];
  const OH = Math.floor((H! + o.pads[0]! + o.pads[2]! - (KH! - 1) * o.dil[0]! - 1) / o.strides[0]!) + 1;
  const OW = Math.floor((W! + o.pads[1]! + o.pads[3]! - (KW! - 1) * o.dil[1]! - 1) / o.strides[1]!) + 1;
  const xv = x.toFlatArray();
  const wv = w.toFlatArray();
  const out: number[] = [];
  const Mg = M! / o.group;
  for (let n = 0; n < N!; n++)
    for (let m = 0; m < M!; m++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b.toFlatArray()[m]! : 0;
          const g = Math.floor(m / Mg);
          for (let c = 0; c < Cg!; c++)
            for (let kh = 0; kh < KH!; kh++)
              for (let kw = 0; kw < KW!; kw++) {
                const ih = oh * o.strides[0]! - o.pads[0]! + kh * o.dil[0]!;
                const iw = ow * o.strides[1]! - o.pads[1]! + kw * o.dil[1]!;
                if (ih < 0 || iw < 0 || ih >= H! || iw >= W!) continue;
                s += xv[idx(x.shape, n, g * Cg! + c, ih, iw)]! * wv[idx(w.shape, m, c, kh, kw)]!;
              }
          out.push(s);
        }
  return { v: out, shape: [N!, M!, OH, OW] };
}

describe('MatMul and Gemm', () => {
  it('MatMul broadcasts batch dims and handles 1-D operands', () => {
    const a = rnd([2, 1, 3, 4], 1);
    const b = rnd([5, 4, 2], 2);
    const y = runOp('MatMul', [a, b])[0]!;
    expect(y.shape).toEqual([2, 5, 3, 2]);
    const av = a.toFlatArray();
    const bv = b.toFlatArray();
    const want: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 5; j++)
        for (let r = 0; r < 3; r++)
          for (let c = 0; c < 2; c++) {
            let s = 0;
            for (let k = 0; k < 4; k++) s += av[idx([2, 1, 3, 4], i, 0, r, k)]! * bv[idx([5, 4, 2], j, k, c)]!;
            want.push(s);
          }
    expectClose(y, want, undefined, 1e-5);
    expectClose(runOp('MatMul', [f([1, 2]), f([3, 4, 5, 6], [2, 2])])[0]!, [13, 16], [2]);
  });
  it('Gemm with transA/transB, alpha, beta and broadcast C', () => {
    const a = f([1, 2, 3, 4, 5, 6], [3, 2]); // Aᵀ is [2, 3]
    const b = f([1, 0, 1, 0, 1, 1], [2, 3]); // Bᵀ is [3, 2]
    const c = f([100, 200], [1, 2]);
    // Aᵀ·Bᵀ = [[1,3,5],[2,4,6]]·[[1,0],[0,1],[1,1]] = [[6, 8], [8, 10]]
    expectClose(runOp('Gemm', [a, b, c], { transA: 1, transB: 1, alpha: 2, beta: 0.5 })[0]!, [62, 116, 66, 120], [2, 2]);
    expectClose(runOp('Gemm', [a, f([1, 1], [2, 1])])[0]!, [3, 7, 11], [3, 1]);
  });
});

describe('Conv', () => {
  it.each([
    { name: 'pads+strides', pads: [1, 1, 1, 1], strides: [2, 2], dil: [1, 1], group: 1, c: 2, m: 3 },
    { name: 'dilation+asym pads', pads: [0, 1, 2, 0], strides: [1, 1], dil: [2, 1], group: 1, c: 2, m: 2 },
    { name: 'groups', pads: [1, 0, 1, 0], strides: [1, 2], dil: [1, 1], group: 2, c: 4, m: 4 },
    { name: 'depthwise', pads: [1, 1, 1, 1], strides: [1, 1], dil: [1, 1], group: 3, c: 3, m: 3 },
  ])('$name', ({ pads, strides, dil, group, c, m }) => {
    const x = rnd([2, c, 5, 6], 3);
    const w = rnd([m, c / group, 3, 3], 4);
    const bias = rnd([m], 5);
    const want = naiveConv2d(x, w, bias, { pads, strides, dil, group });
    const y = runOp('Conv', [x, { const: w }, { const: bias }], { pads, strides, dilations: dil, group })[0]!;
    expectClose(y, want.v, want.shape, 1e-4);
  });
  it('auto_pad SAME_UPPER / SAME_LOWER / VALID', () => {
    const x = rnd([1, 1, 5, 5], 6);
    const w = rnd([1, 1, 2, 2], 7);
    // SAME with k=2, s=1: total pad 1 per axis; UPPER puts it at the end, LOWER at the start.
    const up = naiveConv2d(x, w, undefined, { pads: [0, 0, 1, 1], strides: [1, 1], dil: [1, 1], group: 1 });
    const lo = naiveConv2d(x, w, undefined, { pads: [1, 1, 0, 0], strides: [1, 1], dil: [1, 1], group: 1 });
    const va = naiveConv2d(x, w, undefined, { pads: [0, 0, 0, 0], strides: [1, 1], dil: [1, 1], group: 1 });
    expectClose(runOp('Conv', [x, w], { auto_pad: 'SAME_UPPER' })[0]!, up.v, [1, 1, 5, 5], 1e-5);
    expectClose(runOp('Conv', [x, w], { auto_pad: 'SAME_LOWER' })[0]!, lo.v, [1, 1, 5, 5], 1e-5);
    expectClose(runOp('Conv', [x, w], { auto_pad: 'VALID' })[0]!, va.v, [1, 1, 4, 4], 1e-5);
    // Stride 2 on 5: out 3, total pad (3-1)*2+2-5 = 1.
    expect(runOp('Conv', [x, w], { auto_pad: 'SAME_UPPER', strides: [2, 2] })[0]!.shape).toEqual([1, 1, 3, 3]);
  });
  it('1-D conv', () => {
    const x = f([1, 2, 3, 4], [1, 1, 4]);
    const w = f([1, -1], [1, 1, 2]);
    expectClose(runOp('Conv', [x, w])[0]!, [-1, -1, -1], [1, 1, 3]);
  });
});

describe('pooling', () => {
  const x = f(
    Array.from({ length: 16 }, (_, i) => i),
    [1, 1, 4, 4],
  );
  it('MaxPool / AveragePool with strides, pads, count_include_pad, ceil_mode', () => {
    expectClose(runOp('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] })[0]!, [5, 7, 13, 15], [1, 1, 2, 2]);
    expectClose(runOp('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] })[0]!, [2.5, 4.5, 10.5, 12.5], [1, 1, 2, 2]);
    // 3×3 window with pad 1 at the corner: values 0,1,4,5 → mean 2.5 (exclude pad) or 10/9 (include).
    const exc = runOp('AveragePool', [x], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })[0]!;
    expect(exc.shape).toEqual([1, 1, 4, 4]);
    // Centre window at (1, 1): values 0..2, 4..6, 8..10 → mean 5.
    expectClose(f(exc.toFlatArray().slice(0, 1).concat(exc.toFlatArray().slice(5, 6))), [2.5, 5]);
    const inc = runOp('AveragePool', [x], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 })[0]!;
    expectClose(f([inc.toFlatArray()[0]!]), [10 / 9]);
    // ceil_mode: 4 with k=3, s=2 → floor gives 1, ceil gives 2.
    expect(runOp('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] })[0]!.shape).toEqual([1, 1, 1, 1]);
    expectClose(runOp('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })[0]!, [10, 11, 14, 15], [1, 1, 2, 2]);
    expectClose(runOp('MaxPool', [x], { kernel_shape: [2, 2], auto_pad: 'SAME_UPPER', strides: [2, 2] })[0]!, [5, 7, 13, 15]);
  });
  it('Global pools', () => {
    expectClose(runOp('GlobalAveragePool', [x])[0]!, [7.5], [1, 1, 1, 1]);
    expectClose(runOp('GlobalMaxPool', [x])[0]!, [15], [1, 1, 1, 1]);
  });
  it('MaxPool Indices output is refused, not faked', () => {
    expect(errorOf(() => runOp('MaxPool', [x], { kernel_shape: [2, 2] }, { outputs: 2 })).code).toBe('UNSUPPORTED_OP');
  });
});

describe('Softmax family', () => {
  const x = f([1, 2, 3, 4, 1, 1], [2, 3]);
  const sm = (r: number[]) => {
    const m = Math.max(...r);
    const e = r.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  it('Softmax / LogSoftmax along the last axis (opset 13)', () => {
    const want = [...sm([1, 2, 3]), ...sm([4, 1, 1])];
    expectClose(runOp('Softmax', [x], {}, { opset: 13 })[0]!, want);
    expectClose(runOp('LogSoftmax', [x], {}, { opset: 13 })[0]!, want.map(Math.log));
    expectClose(runOp('Softmax', [x], { axis: 0 }, { opset: 13 })[0]!, [
      sm([1, 4])[0]!,
      sm([2, 1])[0]!,
      sm([3, 1])[0]!,
      sm([1, 4])[1]!,
      sm([2, 1])[1]!,
      sm([3, 1])[1]!,
    ]);
  });
  it('opset < 13 coerces to 2-D at axis (default 1)', () => {
    const x3 = f([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    // axis=1 on [2,2,2]: each batch row of 4 is one softmax.
    expectClose(runOp('Softmax', [x3], {}, { opset: 11 })[0]!, [...sm([1, 2, 3, 4]), ...sm([5, 6, 7, 8])]);
    expectClose(runOp('LogSoftmax', [x3], { axis: 0 }, { opset: 11 })[0]!, sm([1, 2, 3, 4, 5, 6, 7, 8]).map(Math.log));
  });
  it('Hardmax', () => {
    expectClose(runOp('Hardmax', [x], {}, { opset: 13 })[0]!, [0, 0, 1, 1, 0, 0]);
  });
});

describe('reductions', () => {
  const x = f([1, 2, 3, 4, 5, 6], [2, 3]);
  it.each([
    ['ReduceSum', [5, 7, 9], [6, 15]],
    ['ReduceMean', [2.5, 3.5, 4.5], [2, 5]],
    ['ReduceMax', [4, 5, 6], [3, 6]],
    ['ReduceMin', [1, 2, 3], [1, 4]],
    ['ReduceProd', [4, 10, 18], [6, 120]],
    ['ReduceSumSquare', [17, 29, 45], [14, 77]],
    ['ReduceL2', [Math.sqrt(17), Math.sqrt(29), Math.sqrt(45)], [Math.sqrt(14), Math.sqrt(77)]],
    ['ReduceL1', [5, 7, 9], [6, 15]],
    [
      'ReduceLogSumExp',
      [Math.log(Math.exp(1) + Math.exp(4)), Math.log(Math.exp(2) + Math.exp(5)), Math.log(Math.exp(3) + Math.exp(6))],
      [Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), Math.log(Math.exp(4) + Math.exp(5) + Math.exp(6))],
    ],
  ])('%s: axes attribute (opset 11/13) and input (opset 18)', (op, axis0, axis1) => {
    const attrOpset = op === 'ReduceSum' ? 11 : 13;
    expectClose(runOp(op as string, [x], { axes: [0], keepdims: 0 }, { opset: attrOpset })[0]!, axis0 as number[], [3]);
    expectClose(runOp(op as string, [x], { axes: [-1] }, { opset: attrOpset })[0]!, axis1 as number[], [2, 1]);
    expectClose(runOp(op as string, [x, { const: i64([1]) }], { keepdims: 0 }, { opset: 18 })[0]!, axis1 as number[], [2]);
  });
  it('no axes reduces everything; noop_with_empty_axes keeps the input', () => {
    expectClose(runOp('ReduceSum', [x], { keepdims: 0 }, { opset: 13 })[0]!, [21], []);
    expectClose(runOp('ReduceMean', [x], {}, { opset: 18 })[0]!, [3.5], [1, 1]);
    expectClose(runOp('ReduceSum', [x, { const: i64([]) }], { noop_with_empty_axes: 1 }, { opset: 13 })[0]!, [1, 2, 3, 4, 5, 6], [2, 3]);
  });
  it('ArgMax / ArgMin with keepdims and select_last_index', () => {
    const y = f([1, 3, 3, 0, 0, -1], [2, 3]);
    expect(runOp('ArgMax', [y], { axis: 1 })[0]!.toFlatArray()).toEqual([1, 0]);
    expect(runOp('ArgMax', [y], { axis: 1, select_last_index: 1, keepdims: 0 })[0]!.toFlatArray()).toEqual([2, 1]);
    expect(runOp('ArgMin', [y], { axis: 0 })[0]!.shape).toEqual([1, 3]);
    expect(runOp('ArgMin', [y], { axis: 0 })[0]!.toFlatArray()).toEqual([1, 1, 1]);
  });
});

/** Reference LN over the trailing `d` elements of each row, in float64. */
function refNorm(xv: number[], d: number, eps: number, rms = false): { y: number[]; mean: number[]; inv: number[] } {
  const y: number[] = [];
  const mean: number[] = [];
  const inv: number[] = [];
  for (let r = 0; r < xv.length / d; r++) {
    const row = xv.slice(r * d, (r + 1) * d);
    const mu = rms ? 0 : row.reduce((a, b) => a + b, 0) / d;
    const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / d;
    const s = 1 / Math.sqrt(v + eps);
    mean.push(mu);
    inv.push(s);
    for (const e of row) y.push((e - mu) * s);
  }
  return { y, mean, inv };
}

describe('normalization ops', () => {
  it('LayerNormalization with Mean/InvStdDev outputs, negative axis, omitted bias', () => {
    const x = rnd([2, 3, 4], 1);
    const g = rnd([3, 4], 2);
    const b = rnd([3, 4], 3);
    const ref = refNorm(x.toFlatArray(), 12, 1e-3);
    const gv = g.toFlatArray();
    const bv = b.toFlatArray();
    const [y, mean, inv] = runOp('LayerNormalization', [x, g, b], { axis: -2, epsilon: 1e-3 }, { outputs: 3 });
    expectClose(
      y!,
      ref.y.map((v, i) => v * gv[i % 12]! + bv[i % 12]!),
      [2, 3, 4],
      1e-5,
    );
    expectClose(mean!, ref.mean, [2, 1, 1], 1e-6);
    expectClose(inv!, ref.inv, [2, 1, 1], 1e-5);
    const [y2] = runOp('LayerNormalization', [x, g.reshape([12]).reshape([3, 4])], { axis: 1, epsilon: 1e-3 });
    expectClose(
      y2!,
      ref.y.map((v, i) => v * gv[i % 12]!),
      [2, 3, 4],
      1e-5,
    );
  });
  it('LayerNormalization: scale that broadcasts against the whole input (ONNX function body semantics)', () => {
    const x = rnd([2, 3, 4], 4);
    const g = rnd([2, 1, 4], 5);
    const ref = refNorm(x.toFlatArray(), 4, 1e-5);
    const gv = g.toFlatArray();
    const y = runOp('LayerNormalization', [x, g], { axis: -1 })[0]!;
    expectClose(
      y,
      ref.y.map((v, i) => v * gv[Math.floor(i / 12) * 4 + (i % 4)]!),
      [2, 3, 4],
      1e-5,
    );
  });
  it('RMSNormalization (opset 23) and SimplifiedLayerNormalization in both domains', () => {
    const x = rnd([3, 5], 6);
    const g = rnd([5], 7);
    const gv = g.toFlatArray();
    const ref = refNorm(x.toFlatArray(), 5, 1e-6, true);
    const want = ref.y.map((v, i) => v * gv[i % 5]!);
    expectClose(runOp('RMSNormalization', [x, g], { epsilon: 1e-6 }, { opset: 23 })[0]!, want, [3, 5], 1e-5);
    expectClose(runOp('SimplifiedLayerNormalization', [x, g], { epsilon: 1e-6 })[0]!, want, [3, 5], 1e-5);
    const [y, inv] = runOp('SimplifiedLayerNormalization', [x, g], { epsilon: 1e-6 }, { domain: 'com.microsoft', outputs: 2 });
    expectClose(y!, want, [3, 5], 1e-5);
    expectClose(inv!, ref.inv, [3, 1], 1e-5);
  });
  it('SkipLayerNormalization / SkipSimplifiedLayerNormalization (com.microsoft)', () => {
    const x = rnd([2, 3, 4], 8);
    const skip = rnd([2, 3, 4], 9);
    const g = rnd([4], 10);
    const beta = rnd([4], 11);
    const bias = rnd([4], 12);
    const s = x.toFlatArray().map((v, i) => v + skip.toFlatArray()[i]! + bias.toFlatArray()[i % 4]!);
    const ln = refNorm(s, 4, 1e-12);
    const [y, , , sum] = runOp('SkipLayerNormalization', [x, skip, g, beta, bias], {}, { domain: 'com.microsoft', outputs: 4 });
    expectClose(
      y!,
      ln.y.map((v, i) => v * g.toFlatArray()[i % 4]! + beta.toFlatArray()[i % 4]!),
      [2, 3, 4],
      1e-5,
    );
    expectClose(sum!, s, [2, 3, 4], 1e-6);
    const rms = refNorm(s, 4, 1e-5, true);
    const [y2] = runOp('SkipSimplifiedLayerNormalization', [x, skip, g, bias], { epsilon: 1e-5 }, { domain: 'com.microsoft' });
    expectClose(
      y2!,
      rms.y.map((v, i) => v * g.toFlatArray()[i % 4]!),
      [2, 3, 4],
      1e-5,
    );
  });
  it('BatchNormalization (inference) per channel', () => {
    const x = rnd([2, 3, 2, 2], 13);
    const [sc, bi, mu, va] = [f([1, 2, 3]), f([0, 1, -1]), f([0.5, -0.5, 0]), f([1, 4, 0.25])];
    const want = x.toFlatArray().map((v, i) => {
      const c = Math.floor(i / 4) % 3;
      return ((v - mu.toFlatArray()[c]!) / Math.sqrt(va.toFlatArray()[c]! + 1e-5)) * sc.toFlatArray()[c]! + bi.toFlatArray()[c]!;
    });
    expectClose(runOp('BatchNormalization', [x, sc, bi, mu, va])[0]!, want, [2, 3, 2, 2], 1e-5);
  });
  it('InstanceNormalization and GroupNormalization (opset 21 per-channel, opset 18 per-group parameters)', () => {
    const x = rnd([2, 4, 3], 14);
    const xv = x.toFlatArray();
    const sc = f([1, 2, 3, 4]);
    const bi = f([0, 0.5, 1, 1.5]);
    const inst = refNorm(xv, 3, 1e-5).y.map(
      (v, i) => v * sc.toFlatArray()[Math.floor(i / 3) % 4]! + bi.toFlatArray()[Math.floor(i / 3) % 4]!,
    );
    expectClose(runOp('InstanceNormalization', [x, sc, bi])[0]!, inst, [2, 4, 3], 1e-5);
    const grp = refNorm(xv, 6, 1e-5).y; // 2 groups of 2 channels × 3
    expectClose(
      runOp('GroupNormalization', [x, sc, bi], { num_groups: 2 }, { opset: 21 })[0]!,
      grp.map((v, i) => v * sc.toFlatArray()[Math.floor(i / 3) % 4]! + bi.toFlatArray()[Math.floor(i / 3) % 4]!),
      [2, 4, 3],
      1e-5,
    );
    const gs = f([2, 3]);
    const gb = f([1, -1]);
    expectClose(
      runOp('GroupNormalization', [x, gs, gb], { num_groups: 2 }, { opset: 18 })[0]!,
      grp.map((v, i) => v * gs.toFlatArray()[Math.floor(i / 6) % 2]! + gb.toFlatArray()[Math.floor(i / 6) % 2]!),
      [2, 4, 3],
      1e-5,
    );
  });
  it('MeanVarianceNormalization and LpNormalization', () => {
    const x = rnd([2, 3], 15);
    const mvn = refNorm(x.toFlatArray(), 3, 0).y;
    expectClose(runOp('MeanVarianceNormalization', [x], { axes: [1] })[0]!, mvn, [2, 3], 1e-5);
    const xv = x.toFlatArray();
    const n0 = Math.hypot(xv[0]!, xv[1]!, xv[2]!);
    expectClose(f(runOp('LpNormalization', [x])[0]!.toFlatArray().slice(0, 3)), [xv[0]! / n0, xv[1]! / n0, xv[2]! / n0]);
  });
  it('EmbedLayerNormalization (com.microsoft)', () => {
    const ids = Tensor.from([1, 0, 2, 3], [2, 2], 'int32');
    const seg = Tensor.from([0, 1, 1, 0], [2, 2], 'int32');
    const word = rnd([4, 3], 16);
    const pos = rnd([2, 3], 17);
    const segE = rnd([2, 3], 18);
    const g = f([1, 1, 1]);
    const b = f([0, 0, 0]);
    const mask = Tensor.from([1, 1, 1, 0], [2, 2], 'int32');
    const [y, mi] = runOp('EmbedLayerNormalization', [ids, seg, word, pos, segE, g, b, mask], {}, { domain: 'com.microsoft', outputs: 2 });
    const sums: number[] = [];
    const idv = ids.toFlatArray();
    const sgv = seg.toFlatArray();
    for (let t = 0; t < 4; t++)
      for (let h = 0; h < 3; h++)
        sums.push(word.toFlatArray()[idv[t]! * 3 + h]! + pos.toFlatArray()[(t % 2) * 3 + h]! + segE.toFlatArray()[sgv[t]! * 3 + h]!);
    expectClose(y!, refNorm(sums, 3, 1e-12).y, [2, 2, 3], 1e-5);
    expect(mi!.toFlatArray()).toEqual([2, 1]);
  });
});

describe('com.microsoft Attention', () => {
  /** Naive multi-head self-attention with an additive key mask (−10000) and optional causal mask. */
  function naiveAttention(x: Tensor, w: Tensor, b: Tensor, heads: number, keep: (bi: number, i: number, j: number) => boolean): number[] {
    const [B, S, D] = x.shape as [number, number, number];
    const H = w.shape[1]! / 3;
    const h = H / heads;
    const xv = x.toFlatArray();
    const wv = w.toFlatArray();
    const bv = b.toFlatArray();
    const proj = (bi: number, s: number, col: number) => {
      let acc = bv[col]!;
      for (let d = 0; d < D; d++) acc += xv[(bi * S + s) * D + d]! * wv[d * 3 * H + col]!;
      return acc;
    };
    const out = new Array(B * S * H).fill(0);
    for (let bi = 0; bi < B; bi++)
      for (let n = 0; n < heads; n++)
        for (let i = 0; i < S; i++) {
          const scores: number[] = [];
          for (let j = 0; j < S; j++) {
            let dot = 0;
            for (let e = 0; e < h; e++) dot += proj(bi, i, n * h + e) * proj(bi, j, H + n * h + e);
            scores.push(dot / Math.sqrt(h) + (keep(bi, i, j) ? 0 : -10000));
          }
          const m = Math.max(...scores);
          const ex = scores.map((s) => Math.exp(s - m));
          const sum = ex.reduce((p, q) => p + q, 0);
          for (let e = 0; e < h; e++) {
            let acc = 0;
            for (let j = 0; j < S; j++) acc += (ex[j]! / sum) * proj(bi, j, 2 * H + n * h + e);
            out[(bi * S + i) * H + n * h + e] = acc;
          }
        }
    return out;
  }
  const x = rnd([2, 3, 4], 40);
  const w = rnd([4, 12], 41);
  const b = rnd([12], 42);
  it('with a 2-D key mask', () => {
    const mask = Tensor.from([1, 1, 0, 1, 1, 1], [2, 3], 'int32');
    const want = naiveAttention(x, w, b, 2, (bi, _i, j) => mask.toFlatArray()[bi * 3 + j] === 1);
    expectClose(runOp('Attention', [x, w, b, mask], { num_heads: 2 }, { domain: 'com.microsoft' })[0]!, want, [2, 3, 4], 1e-5);
  });
  it('unidirectional with 1-D key lengths, and the present output', () => {
    const lens = Tensor.from([3, 2], [2], 'int32');
    const want = naiveAttention(x, w, b, 2, (bi, i, j) => j <= i && j < lens.toFlatArray()[bi]!);
    const [y, present] = runOp('Attention', [x, w, b, lens], { num_heads: 2, unidirectional: 1 }, { domain: 'com.microsoft', outputs: 2 });
    expectClose(y!, want, [2, 3, 4], 1e-5);
    expect(present!.shape).toEqual([2, 2, 2, 3, 2]);
  });
  it('MultiHeadAttention on separate q, k, v equals Attention on the packed weights', () => {
    const ws = [0, 1, 2].map((i) =>
      Tensor.from(
        w.toFlatArray().filter((_, j) => Math.floor((j % 12) / 4) === i),
        [4, 4],
      ),
    );
    const [q, k, v] = ws.map((wi) => runOp('MatMul', [x, wi])[0]!) as [Tensor, Tensor, Tensor];
    const mask = Tensor.from([1, 1, 0, 1, 1, 1], [2, 3], 'int32');
    const want = runOp('Attention', [x, w, b, mask], { num_heads: 2 }, { domain: 'com.microsoft' })[0]!;
    const [got, pk] = runOp('MultiHeadAttention', [q, k, v, b, mask], { num_heads: 2 }, { domain: 'com.microsoft', outputs: 2 });
    expectClose(got!, want.toFlatArray(), [2, 3, 4], 1e-5);
    expect(pk!.shape).toEqual([2, 2, 3, 2]);
  });
});
