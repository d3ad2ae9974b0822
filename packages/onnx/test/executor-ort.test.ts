import * as graph from '@normkit/graph';
import { NormkitError, Rng, Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../src/index.js';
import { session } from './ort.js';
import { f32raw, model, node, P, vi } from './proto.js';

// Executor ops against onnxruntime-node: each model is built with onnx-proto (independent of our
// writer), run by @normkit/graph's executor on seeded inputs and by onnxruntime, and compared.

type Attr = { name: string; type: number; i?: number; ints?: number[]; s?: Uint8Array };
const ints = (name: string, v: number[]): Attr => ({ name, type: 7, ints: v });
const int = (name: string, v: number): Attr => ({ name, type: 2, i: v });
const str = (name: string, v: string): Attr => ({ name, type: 3, s: new TextEncoder().encode(v) });

const seeded = (shape: number[], seed: number) => {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, () => rng.normal());
};

/** Runs `bytes` in both engines on the same feeds; returns normkit's outputs and onnxruntime's. */
async function both(
  bytes: Uint8Array,
  feeds: Record<string, Tensor>,
): Promise<{ ours: Record<string, Tensor>; theirs: Record<string, ort.Tensor> }> {
  const m = decodeModel(bytes, { fileName: 'test.onnx' });
  const ours = graph.execute(m, feeds).outputs as Record<string, Tensor>;
  const s = await session(bytes);
  const ortFeeds = Object.fromEntries(
    Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', Float32Array.from(t.data as Float32Array), [...t.shape])]),
  );
  const theirs = await s.run(ortFeeds);
  await s.release();
  return { ours, theirs };
}

/** max |a − b| ≤ tol · max(1, |b|) elementwise, same shape. */
function expectMatch(a: Tensor, b: ort.Tensor, tol: number): void {
  expect([...a.shape]).toEqual([...b.dims]);
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  for (let i = 0; i < y.length; i++) {
    const err = Math.abs(Number(x[i]) - Number(y[i]));
    if (err > tol * Math.max(1, Math.abs(Number(y[i]))))
      throw new Error(`element ${i}: normkit ${x[i]}, onnxruntime ${y[i]} (tolerance ${tol})`);
  }
}

function convTransposeModel(xShape: number[], wShape: number[], attrs: Attr[], bias?: number[]): { bytes: Uint8Array; x: Tensor } {
  const initializer = [{ name: 'W', dims: wShape, dataType: 1, rawData: f32raw(seeded(wShape, 2)) }];
  if (bias) initializer.push({ name: 'B', dims: [bias.length], dataType: 1, rawData: f32raw(bias) });
  const bytes = model({
    node: [node('ConvTranspose', ['x', 'W', ...(bias ? ['B'] : [])], ['y'], { name: 'up', attribute: attrs as never })],
    initializer,
    input: [vi('x', 1, xShape)],
    output: [vi('y', 1)],
  });
  return { bytes, x: Tensor.from(seeded(xShape, 1), xShape, 'float32') };
}

describe('ConvTranspose against onnxruntime-node (seeded inputs, tolerance 1e-5 relative)', () => {
  const cases: { name: string; x: number[]; w: number[]; attrs: Attr[]; bias?: number[] }[] = [
    { name: '2-D, defaults', x: [1, 2, 4, 5], w: [2, 3, 3, 3], attrs: [] },
    {
      name: 'strides 3×2 and output_padding 1×1',
      x: [2, 2, 3, 4],
      w: [2, 2, 3, 3],
      attrs: [ints('strides', [3, 2]), ints('output_padding', [1, 1])],
    },
    {
      name: 'asymmetric pads and dilations',
      x: [1, 3, 5, 5],
      w: [3, 2, 3, 2],
      attrs: [ints('pads', [1, 2, 0, 1]), ints('dilations', [2, 1])],
    },
    {
      name: 'group 2 with bias',
      x: [1, 4, 4, 4],
      w: [4, 3, 2, 2],
      attrs: [int('group', 2), ints('strides', [2, 2])],
      bias: [0.5, -1, 2, 0, 1, -0.25],
    },
    {
      name: 'depthwise (group = channels)',
      x: [1, 3, 4, 4],
      w: [3, 1, 3, 3],
      attrs: [int('group', 3), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])],
    },
    {
      name: 'output_shape (pads derived)',
      x: [1, 1, 3, 3],
      w: [1, 2, 3, 3],
      attrs: [ints('strides', [3, 2]), ints('output_shape', [10, 8])],
    },
    {
      name: 'auto_pad SAME_UPPER, odd total padding',
      x: [1, 2, 3, 4],
      w: [2, 2, 4, 3],
      attrs: [str('auto_pad', 'SAME_UPPER'), ints('strides', [2, 2])],
    },
    {
      name: 'auto_pad SAME_LOWER, odd total padding',
      x: [1, 2, 3, 4],
      w: [2, 2, 4, 3],
      attrs: [str('auto_pad', 'SAME_LOWER'), ints('strides', [2, 2])],
    },
    { name: 'auto_pad VALID', x: [1, 2, 3, 3], w: [2, 2, 3, 3], attrs: [str('auto_pad', 'VALID'), ints('strides', [2, 2])] },
    { name: 'kernel_shape given', x: [1, 2, 3, 3], w: [2, 2, 3, 2], attrs: [ints('kernel_shape', [3, 2])] },
    { name: '1-D', x: [2, 3, 7], w: [3, 2, 4], attrs: [ints('strides', [3]), ints('pads', [1, 2])], bias: [1, -1] },
    { name: '3-D', x: [1, 2, 2, 3, 2], w: [2, 2, 2, 2, 3], attrs: [ints('strides', [2, 1, 2]), ints('dilations', [1, 2, 1])] },
    {
      name: 'PaddleOCR-style ×2 upsampling (k 2, s 2, bias)',
      x: [1, 8, 6, 6],
      w: [8, 4, 2, 2],
      attrs: [ints('strides', [2, 2])],
      bias: [0.1, 0.2, 0.3, 0.4],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { bytes, x } = convTransposeModel(c.x, c.w, c.attrs, c.bias);
      const { ours, theirs } = await both(bytes, { x });
      expectMatch(ours.y as Tensor, theirs.y as ort.Tensor, 1e-5);
    });
  }

  it('matches the ONNX operator documentation example (hand values: x = 0..8, W = ones, 2 output channels)', async () => {
    const bytes = model({
      node: [node('ConvTranspose', ['x', 'W'], ['y'])],
      initializer: [{ name: 'W', dims: [1, 2, 3, 3], dataType: 1, rawData: f32raw(new Array(18).fill(1)) }],
      input: [vi('x', 1, [1, 1, 3, 3])],
      output: [vi('y', 1)],
    });
    const x = Tensor.from([0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 3, 3], 'float32');
    const y = graph.execute(decodeModel(bytes), { x }).outputs.y as Tensor;
    const plane = [0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8];
    expect([...y.shape]).toEqual([1, 2, 5, 5]);
    expect([...(y.data as Float32Array)]).toEqual([...plane, ...plane]);
  });

  it('refuses a weight whose channels do not match the input, naming the node and the shapes', () => {
    const { bytes, x } = convTransposeModel([1, 3, 4, 4], [2, 2, 3, 3], []);
    let err: unknown;
    try {
      graph.execute(decodeModel(bytes), { x });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NormkitError);
    expect((err as NormkitError).code).toBe('INVALID_NODE');
    expect((err as NormkitError).message).toMatch(/"up".*\[2, 2, 3, 3\].*3 input channels/);
  });

  it('shape inference gives the output shape the executor produces', () => {
    const { bytes } = convTransposeModel(
      [1, 1, 3, 3],
      [1, 2, 3, 3],
      [ints('strides', [3, 2]), ints('output_padding', [1, 0]), ints('pads', [0, 1, 1, 0])],
    );
    const m = decodeModel(bytes);
    const info = graph.inferShapes(m).get('y');
    // out = stride·(in − 1) + output_padding + k − pad_begin − pad_end: 3·2 + 1 + 3 − 0 − 1 = 9; 2·2 + 0 + 3 − 1 − 0 = 6
    expect(info?.shape).toEqual([1, 2, 9, 6]);
  });
});

describe('Dropout against onnxruntime-node', () => {
  /** y, mask = Dropout(x, ratio, training_mode), ratio and training_mode constants (as torchvision's Swin exports). */
  const dropoutModel = (ratio: number, training: boolean) =>
    model({
      node: [node('Dropout', ['x', 'ratio', 'training'], ['y', 'mask'], { name: 'drop' })],
      initializer: [
        { name: 'ratio', dims: [], dataType: 1, rawData: f32raw([ratio]) },
        { name: 'training', dims: [], dataType: 9, rawData: new Uint8Array([training ? 1 : 0]) },
      ],
      input: [vi('x', 1, [2, 5])],
      output: [vi('y', 1), vi('mask', 9)],
    });
  const x = Tensor.from(seeded([2, 5], 3), [2, 5], 'float32');

  for (const [ratio, training] of [
    [0, true],
    [0.3, false],
  ] as const) {
    it(`ratio ${ratio}, training_mode ${training} is the identity with an all-true mask`, async () => {
      const { ours, theirs } = await both(dropoutModel(ratio, training), { x });
      expectMatch(ours.y as Tensor, theirs.y as ort.Tensor, 0);
      expect([...(ours.mask as Tensor).data].map(Number)).toEqual([...(theirs.mask as ort.Tensor).data].map(Number));
      expect([...(ours.mask as Tensor).data].every((v) => Number(v) === 1)).toBe(true);
    });
  }

  it('a training-mode dropout with ratio > 0 is refused with UNSUPPORTED_OP naming the ratio', () => {
    let err: unknown;
    try {
      graph.execute(decodeModel(dropoutModel(0.1, true)), { x });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NormkitError);
    expect((err as NormkitError).code).toBe('UNSUPPORTED_OP');
    expect((err as NormkitError).message).toMatch(/"drop".*training_mode=true with ratio 0\.1/);
  });
});

// Keep P referenced for readers: the models above are onnx-proto ModelProtos.
void P;

/** A body graph (GraphProto) for Loop / Scan. */
type G = Parameters<typeof model>[0];
const graphAttr = (name: string, g: G) => ({ name, type: 5, g });
const scalarVi = (name: string, elemType: number) => vi(name, elemType, []);

describe('Loop against onnxruntime-node', () => {
  // Body: acc_out = acc + float(i) · W (W from the outer graph); y_i = acc_out · 2; cond_out = sum(acc_out) < limit (outer).
  const body: G = {
    name: 'body',
    node: [
      node('Cast', ['i'], ['fi'], { attribute: [int('to', 1)] as never }),
      node('Mul', ['fi', 'W'], ['step']),
      node('Add', ['acc', 'step'], ['acc_out']),
      node('Add', ['acc_out', 'acc_out'], ['y']),
      node('ReduceSum', ['acc_out'], ['total'], { attribute: [int('keepdims', 0)] as never }),
      node('Less', ['total', 'limit'], ['cond_out']),
    ],
    input: [scalarVi('i', 7), scalarVi('cond', 9), vi('acc', 1, [3])],
    output: [scalarVi('cond_out', 9), vi('acc_out', 1, [3]), vi('y', 1, [3])],
  };
  const loopModel = (inputs: string[], limit: number) =>
    model({
      node: [node('Loop', inputs, ['acc_final', 'ys'], { name: 'loop', attribute: [graphAttr('body', body)] as never })],
      initializer: [
        { name: 'W', dims: [3], dataType: 1, rawData: f32raw([0.5, -1, 2]) },
        { name: 'limit', dims: [], dataType: 1, rawData: f32raw([limit]) },
        { name: 'M', dims: [], dataType: 7, rawData: new Uint8Array(new BigInt64Array([6n]).buffer) },
        { name: 'go', dims: [], dataType: 9, rawData: new Uint8Array([1]) },
      ],
      input: [vi('acc0', 1, [3])],
      output: [vi('acc_final', 1), vi('ys', 1)],
    });
  const acc0 = Tensor.from([1, 2, 3], [3], 'float32');

  for (const [label, inputs, limit] of [
    ['a for loop (M = 6, no condition input) whose body condition stays true', ['M', '', 'acc0'], 1000],
    ['a for loop whose body condition turns false: it ends there, as in onnxruntime', ['M', '', 'acc0'], 5],
    ['M and a condition that ends it early', ['M', 'go', 'acc0'], 12],
    ['a while loop (condition only), reading outer values', ['', 'go', 'acc0'], 20],
  ] as const) {
    it(label, async () => {
      const { ours, theirs } = await both(loopModel([...inputs], limit), { acc0 });
      expectMatch(ours.acc_final as Tensor, theirs.acc_final as ort.Tensor, 1e-6);
      expectMatch(ours.ys as Tensor, theirs.ys as ort.Tensor, 1e-6);
    });
  }

  it('refuses a loop with neither a trip count nor a condition (it would never end)', () => {
    let err: unknown;
    try {
      graph.execute(decodeModel(loopModel(['', '', 'acc0'], 0)), { acc0 });
    } catch (e) {
      err = e;
    }
    expect((err as NormkitError).code).toBe('INVALID_NODE');
    expect((err as NormkitError).message).toMatch(/"loop".*would never end/);
  });
});

describe('Scan against onnxruntime-node', () => {
  // Body: s_out = s + x_t · W (outer); y_t = s_out − x_t.
  const body: G = {
    name: 'body',
    node: [node('Mul', ['x_t', 'W'], ['wx']), node('Add', ['s', 'wx'], ['s_out']), node('Sub', ['s_out', 'x_t'], ['y_t'])],
    input: [vi('s', 1, [2]), vi('x_t', 1, [2])],
    output: [vi('s_out', 1, [2]), vi('y_t', 1, [2])],
  };
  const scanModel = (xShape: number[], attrs: Attr[]) =>
    model(
      {
        node: [
          node('Scan', ['s0', 'x'], ['s_final', 'ys'], {
            name: 'scan',
            attribute: [graphAttr('body', body), int('num_scan_inputs', 1), ...attrs] as never,
          }),
        ],
        initializer: [{ name: 'W', dims: [2], dataType: 1, rawData: f32raw([1.5, -0.5]) }],
        input: [vi('s0', 1, [2]), vi('x', 1, xShape)],
        output: [vi('s_final', 1), vi('ys', 1)],
      },
      { opsetImport: [{ domain: '', version: 16 }] },
    );
  const s0 = Tensor.from([0.25, -1], [2], 'float32');

  for (const [label, xShape, attrs] of [
    ['forward over axis 0', [5, 2], []],
    ['backward input, backward output', [4, 2], [ints('scan_input_directions', [1]), ints('scan_output_directions', [1])]],
    ['scan input axis 1, scan output axis 1', [2, 6], [ints('scan_input_axes', [1]), ints('scan_output_axes', [1])]],
  ] as const) {
    it(label, async () => {
      const x = Tensor.from(seeded([...xShape], 4), [...xShape], 'float32');
      const { ours, theirs } = await both(scanModel([...xShape], [...attrs]), { s0, x });
      expectMatch(ours.s_final as Tensor, theirs.s_final as ort.Tensor, 1e-6);
      expectMatch(ours.ys as Tensor, theirs.ys as ort.Tensor, 1e-6);
    });
  }
});

describe('Cast to narrow types against onnxruntime-node (exact)', () => {
  // Values across the float16 range: rounding ties, the largest half (65504), overflow to ∞ (65520),
  // subnormals (2^-24 and half of it), and integers that wrap in int8 / uint8 / int16.
  const values = [
    0,
    -0,
    1,
    1.0001,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    -2.5,
    3.14159,
    65504,
    65519,
    65520,
    -70000,
    2 ** -24,
    2 ** -25,
    6e-5,
    1e-7,
  ];
  const ints = [0, 1, -1, 127, 128, 255, 256, 300, -129, -300, 32767, 32768, 65535, 70000, -70000];
  // to: 10 float16, 16 bfloat16 (cast back to float for the comparison); 3 int8, 2 uint8, 5 int16, 4 uint16 (cast to int32).
  const cases: { to: number; back: number; xs: number[] }[] = [
    { to: 10, back: 1, xs: values },
    { to: 16, back: 1, xs: values },
    { to: 3, back: 6, xs: ints },
    { to: 2, back: 6, xs: ints },
    { to: 5, back: 6, xs: ints },
    { to: 4, back: 6, xs: ints },
  ];
  for (const c of cases)
    it(`float32 → type ${c.to} → type ${c.back}`, async () => {
      const bytes = model({
        node: [
          node('Cast', ['x'], ['n'], { attribute: [int('to', c.to)] as never }),
          node('Cast', ['n'], ['y'], { attribute: [int('to', c.back)] as never }),
        ],
        input: [vi('x', 1, [c.xs.length])],
        output: [vi('y', c.back)],
      });
      const x = Tensor.from(c.xs, [c.xs.length], 'float32');
      const { ours, theirs } = await both(bytes, { x });
      const a = Array.from(ours.y!.data as ArrayLike<number>, Number);
      const b = Array.from(theirs.y!.data as ArrayLike<number>, Number);
      expect(a).toEqual(b);
    });
});
