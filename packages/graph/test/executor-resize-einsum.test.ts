// Resize / Upsample against the ONNX operator documentation's worked examples and hand-computed
// cases; Einsum against a naive summation over every label assignment written here.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { einsum } from '../src/index.js';
import { errorOf, expectClose, runOp } from './executor-helpers.js';

const f = (v: number[], shape?: number[]) => Tensor.from(v, shape ?? [v.length]);
const i64 = (v: number[]) => Tensor.from(v, [v.length], 'int64');
const x22 = f([1, 2, 3, 4], [1, 1, 2, 2]);
const x24 = f([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 2, 4]);
const empty = f([]);

describe('Resize (opset 13+)', () => {
  it('nearest upsample, half_pixel + round_prefer_floor (ONNX: resize_upsample_scales_nearest)', () => {
    const y = runOp('Resize', [x22, empty, f([1, 1, 2, 3])], { mode: 'nearest' }, { opset: 13 })[0]!;
    expectClose(y, [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4], [1, 1, 4, 6]);
  });
  it('nearest downsample (ONNX: resize_downsample_scales_nearest)', () => {
    expectClose(runOp('Resize', [x24, empty, f([1, 1, 0.6, 0.6])], { mode: 'nearest' }, { opset: 13 })[0]!, [1, 3], [1, 1, 1, 2]);
  });
  it('nearest with asymmetric coordinates and each rounding mode (sizes input)', () => {
    const x = f([10, 20, 30], [1, 1, 1, 3]);
    const run = (nearest_mode: string) =>
      runOp(
        'Resize',
        [x, empty, empty, { const: i64([1, 1, 1, 5]) }],
        { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode },
        { opset: 13 },
      )[0]!.toFlatArray();
    // x_in = x_out · 3/5 = 0, 0.6, 1.2, 1.8, 2.4
    expect(run('floor')).toEqual([10, 10, 20, 20, 30]);
    expect(run('ceil')).toEqual([10, 20, 30, 30, 30]);
    expect(run('round_prefer_ceil')).toEqual([10, 20, 20, 30, 30]);
    expect(run('round_prefer_floor')).toEqual([10, 20, 20, 30, 30]);
    // tf_half_pixel_for_nn: (x + 0.5)·3/5 = 0.3, 0.9, 1.5, 2.1, 2.7 → round_prefer_floor 0, 1, 1, 2, 3→2
    const tf = runOp(
      'Resize',
      [x, empty, empty, { const: i64([1, 1, 1, 5]) }],
      { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn' },
      { opset: 11 },
    )[0]!;
    expect(tf.toFlatArray()).toEqual([10, 20, 20, 30, 30]);
  });
  it('linear upsample half_pixel (ONNX: resize_upsample_scales_linear)', () => {
    const y = runOp('Resize', [x22, empty, f([1, 1, 2, 2])], { mode: 'linear' }, { opset: 13 })[0]!;
    expectClose(y, [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4], [1, 1, 4, 4]);
  });
  it('linear upsample align_corners (ONNX: resize_upsample_scales_linear_align_corners)', () => {
    const y = runOp(
      'Resize',
      [x22, empty, f([1, 1, 2, 2])],
      { mode: 'linear', coordinate_transformation_mode: 'align_corners' },
      { opset: 13 },
    )[0]!;
    const t = 1 / 3;
    expectClose(
      y,
      [1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3, 3 + t, 3 + 2 * t, 4],
      [1, 1, 4, 4],
      1e-6,
    );
  });
  it('linear downsample (ONNX: resize_downsample_scales_linear) and asymmetric', () => {
    expectClose(
      runOp('Resize', [x24, empty, f([1, 1, 0.6, 0.6])], { mode: 'linear' }, { opset: 13 })[0]!,
      [2.6666665, 4.3333331],
      [1, 1, 1, 2],
      1e-6,
    );
    const y = runOp(
      'Resize',
      [x22, empty, f([1, 1, 2, 2])],
      { mode: 'linear', coordinate_transformation_mode: 'asymmetric' },
      { opset: 13 },
    )[0]!;
    expectClose(y, [1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4]);
  });
  it('pytorch_half_pixel: an output of length 1 samples coordinate 0', () => {
    const y = runOp(
      'Resize',
      [x24, empty, empty, { const: i64([1, 1, 1, 3]) }],
      { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' },
      { opset: 13 },
    )[0]!;
    // Rows: length 1 → row 0. Columns: scale 3/4, x_in = (x+0.5)·4/3 − 0.5 = 1/6, 1.5, 17/6.
    expectClose(y, [1 + 1 / 6, 2.5, 3 + 5 / 6], [1, 1, 1, 3], 1e-6);
  });
  it('cubic upsample (ONNX: resize_upsample_scales_cubic, first row)', () => {
    const x = Tensor.arange(1, 17).reshape([1, 1, 4, 4]);
    const y = runOp('Resize', [x, empty, f([1, 1, 2, 2])], { mode: 'cubic' }, { opset: 13 })[0]!;
    expect(y.shape).toEqual([1, 1, 8, 8]);
    expectClose(
      f(y.toFlatArray().slice(0, 8)),
      [0.47265625, 0.76953125, 1.24609375, 1.875, 2.28125, 2.91015625, 3.38671875, 3.68359375],
      undefined,
      1e-6,
    );
  });
  it('axes (opset 18) and keep_aspect_ratio_policy', () => {
    const y = runOp('Resize', [x22, empty, f([2, 3])], { mode: 'nearest', axes: [2, 3] }, { opset: 18 })[0]!;
    expect(y.shape).toEqual([1, 1, 4, 6]);
    const z = runOp(
      'Resize',
      [x24, empty, empty, { const: i64([4, 4]) }],
      { mode: 'nearest', axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' },
      { opset: 18 },
    )[0]!;
    expect(z.shape).toEqual([1, 1, 2, 4]);
  });
  it('refuses antialias and unknown modes', () => {
    expect(errorOf(() => runOp('Resize', [x22, empty, f([1, 1, 2, 2])], { mode: 'linear', antialias: 1 }, { opset: 18 })).code).toBe(
      'UNSUPPORTED_OP',
    );
    expect(
      errorOf(() => runOp('Resize', [x22, empty, f([1, 1, 2, 2])], { coordinate_transformation_mode: 'diagonal' }, { opset: 13 })).code,
    ).toBe('UNSUPPORTED_OP');
  });
  it('refuses an output past the allocation limit before allocating (fuzz: float scales read as int32 bits)', () => {
    const e = errorOf(() => runOp('Resize', [x22, empty, f([1, 1, 1065353216, 1065353216])], { mode: 'nearest' }, { opset: 13 }));
    expect(e.code).toBe('TENSOR_TOO_LARGE');
    expect(e.message).toMatch(/Resize node "node"/);
  });
});

describe('Resize-10 and Upsample', () => {
  it('Resize opset 10: asymmetric linear (ONNX: resize_upsample_linear, opset 10)', () => {
    const y = runOp('Resize', [x22, f([1, 1, 2, 2])], { mode: 'linear' }, { opset: 10 })[0]!;
    expectClose(y, [1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4], [1, 1, 4, 4]);
  });
  it('Upsample nearest, scales as input (opset 9) and attribute (opset 7)', () => {
    const want = [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4];
    expectClose(runOp('Upsample', [x22, f([1, 1, 2, 3])], { mode: 'nearest' }, { opset: 9 })[0]!, want, [1, 1, 4, 6]);
    expectClose(runOp('Upsample', [x22], { mode: 'nearest', scales: [1, 1, 2, 3] }, { opset: 7 })[0]!, want, [1, 1, 4, 6]);
    expectClose(
      runOp('Upsample', [x22, f([1, 1, 2, 2])], { mode: 'linear' }, { opset: 9 })[0]!,
      [1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4],
    );
  });
});

/** Naive einsum: loops over every assignment of every label (inputs without ellipses). */
function naiveEinsum(eq: string, xs: Tensor[]): { v: number[]; shape: number[] } {
  const [lhs, rhs] = eq.split('->') as [string, string];
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((t, i) => {
    [...t].forEach((l, d) => {
      size.set(l, xs[i]!.shape[d]!);
    });
  });
  const labels = [...size.keys()];
  const out = [...rhs];
  const outShape = out.map((l) => size.get(l)!);
  const res = new Array(outShape.reduce((a, b) => a * b, 1)).fill(0);
  const vals = xs.map((x) => x.toFlatArray());
  const assign = new Map<string, number>();
  const rec = (k: number) => {
    if (k === labels.length) {
      let p = 1;
      terms.forEach((t, i) => {
        p *= vals[i]![[...t].reduce((off, l, d) => off * xs[i]!.shape[d]! + assign.get(l)!, 0)]!;
      });
      res[out.reduce((off, l, d) => off * outShape[d]! + assign.get(l)!, 0)] += p;
      return;
    }
    for (let v = 0; v < size.get(labels[k]!)!; v++) {
      assign.set(labels[k]!, v);
      rec(k + 1);
    }
  };
  rec(0);
  return { v: res, shape: outShape };
}

describe('Einsum', () => {
  it.each([
    [
      'bhid,bhjd->bhij',
      [
        [2, 3, 4, 5],
        [2, 3, 6, 5],
      ],
    ],
    [
      'bhij,bhjd->bhid',
      [
        [2, 3, 4, 6],
        [2, 3, 6, 5],
      ],
    ],
    [
      'bij,bjk->bik',
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      'ij,jk->ik',
      [
        [3, 4],
        [4, 5],
      ],
    ],
    ['ij->ji', [[3, 4]]],
    ['ij->', [[3, 4]]],
    ['i,i->', [[5], [5]]],
    ['ij,j->i', [[3, 4], [4]]],
    ['i,j->ij', [[3], [4]]],
    ['bid,d->bi', [[2, 3, 4], [4]]],
    [
      'abc,cd,de->abe',
      [
        [2, 3, 4],
        [4, 5],
        [5, 2],
      ],
    ],
    [
      'bnqd,bnkd->bnqk',
      [
        [1, 2, 3, 4],
        [1, 2, 5, 4],
      ],
    ],
    [
      'ijk,jil->kl',
      [
        [2, 3, 4],
        [3, 2, 5],
      ],
    ],
  ])('%s', (eq, shapes) => {
    const xs = (shapes as number[][]).map((s, i) => Tensor.randn(s, 10 + i));
    const want = naiveEinsum(eq as string, xs);
    const y = runOp('Einsum', xs, { equation: eq as string }, { opset: 12 })[0]!;
    expectClose(y, want.v, want.shape, 1e-4);
  });
  it('implicit output and ellipsis broadcasting', () => {
    const a = Tensor.randn([3, 4], 1);
    const b = Tensor.randn([4, 5], 2);
    const ref = naiveEinsum('ij,jk->ik', [a, b]);
    expectClose(einsum('ij,jk', [a, b]), ref.v, ref.shape, 1e-5);
    const c = Tensor.randn([2, 3, 4], 3);
    const d = Tensor.randn([4, 5], 4);
    const y = einsum('...ij,...jk->...ik', [c, d]);
    expect(y.shape).toEqual([2, 3, 5]);
    const r = naiveEinsum('bij,jk->bik', [c, d]);
    expectClose(y, r.v, r.shape, 1e-5);
    expect(einsum('...i->...', [c]).shape).toEqual([2, 3]);
  });
  it('refuses diagonals (repeated labels in one operand)', () => {
    expect(errorOf(() => runOp('Einsum', [Tensor.randn([3, 3], 1)], { equation: 'ii->i' })).code).toBe('UNSUPPORTED_OP');
  });
});
