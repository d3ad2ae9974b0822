// NonMaxSuppression, RoiAlign, GridSample, MaxUnpool and Col2Im: normkit's executor against
// onnxruntime-node 1.30 on seeded inputs. Indices compare exactly; float outputs within 1e-5
// relative (2e-5 for cubic GridSample, whose 16-tap sums round in float32 in onnxruntime).

import { inferShapes } from '@normkit/graph';
import { Rng, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { expectOrtMatch, float, normals, normkitErrorOf, opModel } from './op-vs-ort.js';

const i64 = (v: number[], shape = [v.length]) => Tensor.from(v, shape, 'int64');
const f32 = (v: number[], shape = [v.length]) => Tensor.from(v, shape, 'float32');
const uniform = (shape: number[], seed: number, lo: number, hi: number) => {
  const rng = new Rng(seed);
  return f32(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(lo, hi)),
    shape,
  );
};

/** [B, n, 4] boxes: corners [y1, x1, y2, x2] (some flipped) or centers [xc, yc, w, h], clustered so many overlap. */
function boxes(B: number, n: number, seed: number, center: boolean): Tensor {
  const rng = new Rng(seed);
  const v: number[] = [];
  for (let i = 0; i < B * n; i++) {
    const [cx, cy, w, h] = [rng.uniform(0, 6), rng.uniform(0, 6), rng.uniform(1, 4), rng.uniform(1, 4)];
    if (center) v.push(cx, cy, w, h);
    else if (i % 3 === 0) v.push(cy + h / 2, cx + w / 2, cy - h / 2, cx - w / 2);
    else v.push(cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2);
  }
  return f32(v, [B, n, 4]);
}

describe('NonMaxSuppression (exact vs onnxruntime)', () => {
  const scores = uniform([2, 3, 24], 5, 0, 1);
  const nms = (inputs: (Tensor | undefined)[], attrs = {}) =>
    expectOrtMatch(
      'NonMaxSuppression',
      inputs.map((t) => (t ? { const: t } : undefined)),
      attrs,
      { opset: 11, outTypes: ['int64'] },
    );
  it('corner boxes (some flipped), max 5 per class, IoU 0.3, score threshold 0.2', async () => {
    const [y] = await nms([boxes(2, 24, 1, false), scores, i64([5]), f32([0.3]), f32([0.2])]);
    expect(y!.shape[0]).toBeGreaterThan(6);
  });
  it('center_point_box = 1, IoU 0.5, no score threshold', async () => {
    await nms([boxes(2, 24, 2, true), scores, i64([100]), f32([0.5])], { center_point_box: 1 });
  });
  it('max_output_boxes_per_class omitted selects nothing', async () => {
    const [y] = await nms([boxes(2, 24, 1, false), scores]);
    expect(y!.shape).toEqual([0, 3]);
  });
  it('an IoU threshold above 1 is INVALID_NODE', () => {
    const e = normkitErrorOf(
      'NonMaxSuppression',
      [boxes(1, 4, 1, false), uniform([1, 1, 4], 1, 0, 1), i64([2]), f32([1.5])],
      {},
      { opset: 11, outTypes: ['int64'] },
    );
    expect(e.message).toMatch(/NonMaxSuppression_node.*iou_threshold 1.5/);
  });
});

describe('RoiAlign (vs onnxruntime, 1e-5 relative)', () => {
  const x = normals([2, 3, 10, 12], 3);
  const rng = new Rng(4);
  const roiVals: number[] = [];
  for (let r = 0; r < 6; r++) {
    const [x1, y1] = [rng.uniform(-1, 9), rng.uniform(-1, 7)];
    roiVals.push(x1, y1, x1 + rng.uniform(0.5, 8), y1 + rng.uniform(0.5, 6));
  }
  const rois = f32(roiVals, [6, 4]);
  const bi = i64([0, 1, 1, 0, 1, 0]);
  const cases: [string, number, Record<string, unknown>][] = [
    ['opset 16 defaults (half_pixel, avg, adaptive sampling)', 16, { output_height: 3, output_width: 4 }],
    [
      'opset 16 output_half_pixel, max, sampling_ratio 2, spatial_scale 0.5',
      16,
      {
        coordinate_transformation_mode: 'output_half_pixel',
        mode: 'max',
        sampling_ratio: 2,
        spatial_scale: float(0.5),
        output_height: 2,
        output_width: 3,
      },
    ],
    ['opset 16 half_pixel max', 16, { mode: 'max', output_height: 4, output_width: 2 }],
    [
      'opset 10 (output_half_pixel), avg, sampling_ratio 3',
      10,
      { sampling_ratio: 3, output_height: 2, output_width: 2, spatial_scale: float(1.5) },
    ],
  ];
  for (const [name, opset, attrs] of cases)
    it(name, async () => {
      await expectOrtMatch('RoiAlign', [x, rois, bi], attrs as never, { opset, tol: 1e-5 });
    });
  it('a batch index past the batch is INVALID_NODE', () => {
    const e = normkitErrorOf('RoiAlign', [x, f32([0, 0, 2, 2], [1, 4]), i64([2])], {}, { opset: 16 });
    expect(e.message).toMatch(/RoiAlign_node.*batch_indices\[0\] = 2/);
  });
});

describe('GridSample (vs onnxruntime)', () => {
  const x = normals([2, 3, 5, 6], 6);
  const grid = uniform([2, 4, 7, 2], 7, -1.3, 1.3);
  for (const [opset, modes] of [
    [16, ['bilinear', 'nearest', 'bicubic']],
    [20, ['linear', 'nearest', 'cubic']],
  ] as const)
    for (const mode of modes)
      it(`opset ${opset} ${mode}: zeros / border / reflection × align_corners 0 / 1`, async () => {
        for (const padding_mode of ['zeros', 'border', 'reflection'])
          for (const align_corners of [0, 1])
            await expectOrtMatch(
              'GridSample',
              [x, grid],
              { mode, padding_mode, align_corners },
              { opset, tol: mode.endsWith('cubic') ? 2e-5 : 1e-5 },
            );
      });
  it('opset 20, 5-D input (3 spatial dims): linear and nearest, all paddings', async () => {
    const x3 = normals([1, 2, 3, 4, 5], 8);
    const g3 = uniform([1, 2, 3, 4, 3], 9, -1.2, 1.2);
    for (const mode of ['linear', 'nearest'])
      for (const padding_mode of ['zeros', 'border', 'reflection'])
        for (const align_corners of [0, 1])
          await expectOrtMatch('GridSample', [x3, g3], { mode, padding_mode, align_corners }, { opset: 20, tol: 1e-5 });
  });
  it('cubic on 3 spatial dims is UNSUPPORTED_OP naming the mode; an unknown padding mode too', () => {
    const e = normkitErrorOf(
      'GridSample',
      [normals([1, 1, 2, 2, 2], 1), uniform([1, 1, 1, 1, 3], 1, -1, 1)],
      { mode: 'cubic' },
      { opset: 20 },
    );
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/GridSample_node.*cubic mode on 3 spatial dims/);
    expect(normkitErrorOf('GridSample', [x, grid], { padding_mode: 'wrap' }, { opset: 16 }).message).toMatch(/padding_mode "wrap"/);
  });
});

describe('MaxUnpool (exact vs onnxruntime)', () => {
  /** Indices MaxPool(kernel 2, stride 2) could give on [N, C, H, W] planes: one random cell of each window. */
  function poolIndices(N: number, C: number, H: number, W: number, seed: number): Tensor {
    const rng = new Rng(seed);
    const v: number[] = [];
    for (let nc = 0; nc < N * C; nc++)
      for (let i = 0; i < Math.floor(H / 2); i++)
        for (let j = 0; j < Math.floor(W / 2); j++) v.push(nc * H * W + (2 * i + rng.int(2)) * W + 2 * j + rng.int(2));
    return i64(v, [N, C, Math.floor(H / 2), Math.floor(W / 2)]);
  }
  it('kernel 2, stride 2: the inferred [.., 6, 8] output', async () => {
    await expectOrtMatch(
      'MaxUnpool',
      [normals([2, 3, 3, 4], 1), poolIndices(2, 3, 6, 8, 2)],
      { kernel_shape: [2, 2], strides: [2, 2] },
      { opset: 11 },
    );
  });
  it('with output_shape [.., 7, 9] (a pooled odd size)', async () => {
    await expectOrtMatch(
      'MaxUnpool',
      [normals([1, 2, 3, 4], 3), poolIndices(1, 2, 7, 9, 4), { const: i64([1, 2, 7, 9]) }],
      { kernel_shape: [2, 2], strides: [2, 2] },
      { opset: 11 },
    );
  });
  it('kernel 3, stride 2, pads 1: (2 − 1)·2 + 3 − 2 = 3 per spatial dim', async () => {
    const I = i64([0, 2, 6, 8, 9, 13, 14, 17], [1, 2, 2, 2]);
    const [y] = await expectOrtMatch(
      'MaxUnpool',
      [normals([1, 2, 2, 2], 5), I],
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      { opset: 11 },
    );
    expect(y!.shape).toEqual([1, 2, 3, 3]);
  });
  it('an index outside the output is INVALID_NODE', () => {
    const e = normkitErrorOf(
      'MaxUnpool',
      [normals([1, 1, 1, 1], 1), i64([9], [1, 1, 1, 1])],
      { kernel_shape: [2, 2], strides: [2, 2] },
      { opset: 11 },
    );
    expect(e.message).toMatch(/MaxUnpool_node.*I\[0\] = 9 is outside/);
  });
});

describe('Col2Im (vs onnxruntime, 1e-5 relative)', () => {
  it('block 2×2 on a 5×6 image, defaults', async () => {
    await expectOrtMatch('Col2Im', [normals([2, 12, 20], 1), { const: i64([5, 6]) }, { const: i64([2, 2]) }], {}, { opset: 18, tol: 1e-5 });
  });
  it('strides, dilations and asymmetric pads', async () => {
    // rows: ⌊(6 + 1 + 1 − 2·2 − 1)/2⌋ + 1 = 2; cols: (7 + 0 + 2 − 1 − 1)/1 + 1 = 8
    await expectOrtMatch(
      'Col2Im',
      [normals([1, 2 * 6, 16], 2), { const: i64([6, 7]) }, { const: i64([3, 2]) }],
      { strides: [2, 1], dilations: [2, 1], pads: [1, 0, 1, 2] },
      { opset: 18, tol: 1e-5 },
    );
  });
  it('a column count that does not fit the image is INVALID_NODE', () => {
    const e = normkitErrorOf('Col2Im', [normals([1, 4, 7], 1), { const: i64([3, 3]) }, { const: i64([2, 2]) }], {}, { opset: 18 });
    expect(e.message).toMatch(/Col2Im_node.*7 columns.*give 4/);
  });
});

describe('shape rules (inferShapes, inputs fed at run time)', () => {
  const shapeOf = (...args: Parameters<typeof opModel>) => {
    const { model, outs } = opModel(...args);
    return inferShapes(model).get(outs[0]!)?.shape;
  };
  it('NonMaxSuppression [?, 3]; RoiAlign [rois, C, h, w]; GridSample [N, C, *grid]', () => {
    expect(
      shapeOf('NonMaxSuppression', [boxes(1, 4, 1, false), uniform([1, 2, 4], 1, 0, 1)], {}, { opset: 11, outTypes: ['int64'] }),
    ).toEqual([undefined, 3]);
    expect(
      shapeOf(
        'RoiAlign',
        [normals([2, 3, 8, 8], 1), f32([0, 0, 1, 1], [1, 4]), i64([0])],
        { output_height: 2, output_width: 5 },
        { opset: 16 },
      ),
    ).toEqual([1, 3, 2, 5]);
    expect(shapeOf('GridSample', [normals([2, 3, 5, 6], 1), uniform([2, 4, 7, 2], 1, -1, 1)], {}, { opset: 16 })).toEqual([2, 3, 4, 7]);
  });
  it('MaxUnpool from the attributes; Col2Im from constant image/block shapes', () => {
    expect(
      shapeOf('MaxUnpool', [normals([2, 3, 3, 4], 1), i64([0], [1, 1, 1, 1])], { kernel_shape: [2, 2], strides: [2, 2] }, { opset: 11 }),
    ).toEqual([2, 3, 6, 8]);
    expect(shapeOf('Col2Im', [normals([2, 12, 20], 1), { const: i64([5, 6]) }, { const: i64([2, 2]) }], {}, { opset: 18 })).toEqual([
      2, 3, 5, 6,
    ]);
  });
});
