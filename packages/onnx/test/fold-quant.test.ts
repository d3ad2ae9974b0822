// Converting a model whose MatMul weights are quantized (DequantizeLinear of int8 / uint8 constants).
// A float model x → MatMul(W1) → Add(b1) → LayerNormalization → MatMul(W2) → Add(b2) →
// LayerNormalization is built with GraphBuilder, its weights quantized per output channel by the
// executor's own QuantizeLinear, and written with @normkit/onnx. Folding must center the dequantized
// weights and requantize them with the same scheme (the file stays int8 / uint8), and onnxruntime-node
// must give the converted model the original's outputs within the verification tolerance the fold used
// (8 × the relative change requantizing made to the weights); with a tolerance the requantized weights
// cannot meet, those LNs stay LayerNormalization with the measured difference as the reason.
import {
  analyzeFoldability,
  execute,
  foldLayerNorms,
  GraphBuilder,
  type Model,
  onnxTypeCode,
  tagElemType,
  taggedElemType,
} from '@normkit/graph';
import { Rng, Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../src/index.js';
import { session } from './ort.js';
import { P } from './proto.js';

const [K, N, T] = [12, 16, 5];
const INT8 = onnxTypeCode('int8') as number;
const UINT8 = onnxTypeCode('uint8') as number;

const normals = (shape: number[], seed: number, std = 1) => {
  const r = new Rng(seed);
  return Tensor.from(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal(0, std)),
    shape,
    'float32',
  );
};

/** W quantized per column (axis 1) by the executor's QuantizeLinear: int8 symmetric or uint8 asymmetric. */
function quantize(w: Tensor, code: number): { q: Tensor; scale: Tensor; zp: Tensor } {
  const [rows, cols] = w.shape as [number, number];
  const d = w.data as Float32Array;
  const scale = new Float32Array(cols);
  const zp = new Int32Array(cols);
  for (let c = 0; c < cols; c++) {
    const col = Array.from({ length: rows }, (_, r) => d[r * cols + c] as number);
    const [lo, hi] = [Math.min(0, ...col), Math.max(0, ...col)];
    scale[c] = code === INT8 ? Math.max(-lo, hi) / 127 : (hi - lo) / 255;
    zp[c] = code === INT8 ? 0 : Math.round(-lo / (scale[c] as number));
  }
  const zpT = tagElemType(new Tensor([cols], 'int32', zp), code);
  const b = new GraphBuilder('quantize');
  const y = b.op(
    'QuantizeLinear',
    [b.input('w', 'float32', [rows, cols]), b.constant('s', new Tensor([cols], 'float32', scale)), b.constant('z', zpT)],
    {
      axis: 1,
    },
  );
  b.output(y, 'int32');
  const q = execute(b.model(13), { w }).outputs[y] as Tensor;
  return { q, scale: new Tensor([cols], 'float32', scale), zp: zpT };
}

/** The two-block model; `quantized` says which of W1, W2 are stored as DequantizeLinear of `code` integers. */
function buildModel(quantized: [boolean, boolean], code = INT8): Model {
  const b = new GraphBuilder('two-blocks');
  let h = b.input('x', 'float32', [T, K]);
  const dims: [number, number][] = [
    [K, N],
    [N, N],
  ];
  for (const [i, [rows, cols]] of dims.entries()) {
    const w = normals([rows, cols], 10 + i, 0.4);
    let wName: string;
    if (quantized[i]) {
      const { q, scale, zp } = quantize(w, code);
      wName = b.op(
        'DequantizeLinear',
        [b.constant(`W${i}_q`, q), b.constant(`W${i}_scale`, scale), b.constant(`W${i}_zp`, zp)],
        { axis: 1 },
        { name: `W${i}_dq` },
      );
    } else wName = b.constant(`W${i}`, w);
    const m = b.op('MatMul', [h, wName], {}, { name: `mm${i}` });
    const a = b.op('Add', [m, b.constant(`b${i}`, normals([cols], 20 + i, 0.5))], {}, { name: `add${i}` });
    h = b.op(
      'LayerNormalization',
      [a, b.constant(`g${i}`, normals([cols], 30 + i)), b.constant(`be${i}`, normals([cols], 40 + i, 0.1))],
      { axis: -1 },
      { name: `ln${i}` },
    );
  }
  b.output(h, 'float32', [T, N]);
  // Through the file format, as a user gets it.
  return decodeModel(encodeModel(b.model(17)), { fileName: 'quantized.onnx' });
}

/** Wᵀ [K, N] quantized to 4 bits in blocks of `block` along K per output n (ORT's MatMulNBits layout), with packed zero points or the default 8. */
function nbits(w: Tensor, block: number, withZp: boolean): { b: Tensor; scales: Tensor; zp?: Tensor } {
  const [k, n] = w.shape as [number, number];
  const blocks = Math.ceil(k / block);
  const d = w.data as Float32Array;
  const bytes: number[] = [];
  const scales: number[] = [];
  const zps: number[] = [];
  for (let j = 0; j < n; j++)
    for (let bl = 0; bl < blocks; bl++) {
      const vs = Array.from({ length: block }, (_, i) => (bl * block + i < k ? (d[(bl * block + i) * n + j] as number) : 0));
      const [lo, hi] = [Math.min(0, ...vs), Math.max(0, ...vs)];
      const s = withZp ? (hi - lo) / 15 : Math.max(-lo, hi) / 7;
      const z = withZp ? Math.round(-lo / s) : 8;
      const q = vs.map((v) => Math.max(0, Math.min(15, Math.round(v / s) + z)));
      for (let i = 0; i < block; i += 2) bytes.push((q[i] as number) | ((q[i + 1] as number) << 4));
      scales.push(s);
      zps.push(z);
    }
  const perRow = Math.ceil(blocks / 2);
  const zpBytes: number[] = [];
  for (let j = 0; j < n; j++)
    for (let i = 0; i < perRow; i++)
      zpBytes.push((zps[j * blocks + 2 * i] as number) | ((2 * i + 1 < blocks ? (zps[j * blocks + 2 * i + 1] as number) : 0) << 4));
  const u8 = (v: number[], shape: number[]) => tagElemType(Tensor.from(v, shape, 'int32'), UINT8);
  return {
    b: u8(bytes, [n, blocks, block / 2]),
    scales: Tensor.from(scales, [n * blocks], 'float32'),
    zp: withZp ? u8(zpBytes, [n * perRow]) : undefined,
  };
}

/** The two-block model with com.microsoft MatMulNBits weights (4-bit, block 16): the first with zero points, the second without. */
function buildNBitsModel(): Model {
  const b = new GraphBuilder('two-blocks-q4');
  let h = b.input('x', 'float32', [T, 32]);
  for (const [i, [rows, cols]] of (
    [
      [32, N],
      [N, N],
    ] as [number, number][]
  ).entries()) {
    const q = nbits(normals([rows, cols], 50 + i, 0.4), 16, i === 0);
    const inputs = [h, b.constant(`B${i}`, q.b), b.constant(`S${i}`, q.scales), ...(q.zp ? [b.constant(`Z${i}`, q.zp)] : [])];
    const m = b.op('MatMulNBits', inputs, { K: rows, N: cols, bits: 4, block_size: 16 }, { name: `mnb${i}`, domain: 'com.microsoft' });
    const a = b.op('Add', [m, b.constant(`b${i}`, normals([cols], 60 + i, 0.5))], {}, { name: `add${i}` });
    h = b.op(
      'LayerNormalization',
      [a, b.constant(`g${i}`, normals([cols], 70 + i)), b.constant(`be${i}`, normals([cols], 80 + i, 0.1))],
      { axis: -1 },
      { name: `ln${i}` },
    );
  }
  b.output(h, 'float32', [T, N]);
  return decodeModel(encodeModel(b.model(17, [{ domain: 'com.microsoft', version: 1 }])), { fileName: 'q4.onnx' });
}

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const s = await session(bytes);
  const out = await s.run({ x: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
  await s.release();
  return Object.values(out)[0]?.data as Float32Array;
}

/** max |a − b| / max |a|. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    m = Math.max(m, Math.abs(a[i] as number));
  }
  return d / m;
}

describe('folding LayerNorms into quantized (DequantizeLinear) weights', () => {
  for (const [name, code] of [
    ['int8 symmetric', INT8],
    ['uint8 asymmetric', UINT8],
  ] as const)
    it(`${name} per-axis: requantized with the same scheme, stays ${name.split(' ')[0]} in the file, matches in onnxruntime`, async () => {
      const m = buildModel([true, true], code);
      const analysis = analyzeFoldability(m);
      expect(analysis.layerNorms.map((l) => l.foldable)).toEqual([true, true]);
      const { model: folded, report, verification } = foldLayerNorms(m);
      expect(report.folded.map((f) => f.name)).toEqual(['ln0', 'ln1']);
      expect(report.requantized.map((r) => r.scheme)).toEqual([
        `${name.split(' ')[0]} per-axis (axis 1)`,
        `${name.split(' ')[0]} per-axis (axis 1)`,
      ]);
      // Requantizing rounds each weight by at most half a step: about 1/254 (int8) or 1/510 (uint8) of its column's range.
      expect(report.storageRounding).toBeGreaterThan(0);
      expect(report.storageRounding).toBeLessThan(code === INT8 ? 2 / 254 : 2 / 255);
      expect(verification?.equivalent).toBe(true);
      // The converted file keeps the weights quantized: no float tensor of a weight's size, new integers of the same type.
      const bytes = encodeModel(folded);
      const proto = P.ModelProto.decode(bytes);
      const inits = proto.graph?.initializer ?? [];
      expect(inits.filter((t) => t.dataType === 1 && Number(t.dims?.reduce((a, b) => Number(a) * Number(b), 1)) >= K * N)).toEqual([]);
      for (const r of report.requantized) {
        const q = inits.find((t) => t.name === `${r.into}_quantized`);
        expect(q?.dataType, r.into).toBe(code);
      }
      expect(inits.some((t) => t.name === 'W0_q' || t.name === 'W1_q')).toBe(false);
      // The original and the converted model in onnxruntime, on seeded inputs.
      const original = encodeModel(m);
      const tol = 8 * report.storageRounding;
      for (const seed of [1, 2, 3]) {
        const x = normals([T, K], seed);
        const [a, b] = [await runOrt(original, x), await runOrt(bytes, x)];
        expect(relDiff(a, b)).toBeLessThanOrEqual(tol);
        // And normkit's executor on the converted model agrees with onnxruntime on it.
        const ours = execute(decodeModel(bytes, { fileName: 'folded.onnx' }), { x }).outputs;
        expect(relDiff(b, Object.values(ours)[0]?.data as Float32Array)).toBeLessThanOrEqual(1e-5);
      }
    });

  it('a tolerance the requantized weights cannot meet leaves those LNs unconverted, with the measured difference', () => {
    const m = buildModel([true, true]);
    const { report, verification } = foldLayerNorms(m, { tolerance: 1e-6 });
    expect(report.folded).toEqual([]);
    expect(report.skipped.map((s) => s.name)).toEqual(['ln0', 'ln1']);
    for (const s of report.skipped)
      expect(s.reason).toMatch(
        /^requantizing its centered weights \(int8 per-axis \(axis 1\)\) moves output ".*" by [\d.e+-]+ relative( \(argmax agreement [\d.]+%\))?, beyond the verification tolerance 0\.000001; it stays LayerNormalization$/,
      );
    expect(verification?.equivalent).toBe(true);
  });

  it('with float and quantized components, the float one folds and the quantized one stays when the tolerance is strict', () => {
    const m = buildModel([true, false]);
    const { model: folded, report, verification } = foldLayerNorms(m, { tolerance: 1e-5 });
    expect(report.folded.map((f) => f.name)).toEqual(['ln1']);
    expect(report.skipped.map((s) => s.name)).toEqual(['ln0']);
    expect(report.skipped[0]?.reason).toMatch(/^requantizing its centered weights \(int8 per-axis/);
    expect(verification?.equivalent).toBe(true);
    // The quantized weight is untouched: its DequantizeLinear and int8 initializer are still there.
    expect(folded.graph.nodes.some((n) => n.name === 'W0_dq')).toBe(true);
    expect(taggedElemType(folded.graph.initializers.get('W0_q') as Tensor)).toBe(INT8);
  });

  it('com.microsoft MatMulNBits (4-bit blocks): requantizing changes outputs beyond the tolerance, so the LNs stay, with the measured difference', async () => {
    const m = buildNBitsModel();
    expect(analyzeFoldability(m).layerNorms.map((l) => l.foldable)).toEqual([true, true]);
    // Requantizing 4-bit blocks moves a weight by up to half a step (~1/30 of its block's range), about as
    // much as quantizing did: the default verification refuses the result, and both LNs stay.
    const kept = foldLayerNorms(m);
    expect(kept.report.folded).toEqual([]);
    expect(kept.report.skipped.map((s) => s.name)).toEqual(['ln0', 'ln1']);
    for (const s of kept.report.skipped)
      expect(s.reason).toMatch(/^requantizing its centered weights \(4-bit blocked \(MatMulNBits, block 16\)\) moves output "ln1_out" by /);
    // Forced, the requantized model is written in the same layout and runs in onnxruntime, where it
    // differs from the original by more than 1e-2 (what the refusal protects against).
    const { model: folded, report } = foldLayerNorms(m, { force: true });
    expect(report.folded.map((f) => f.name)).toEqual(['ln0', 'ln1']);
    expect(report.requantized.map((r) => r.scheme)).toEqual([
      '4-bit blocked (MatMulNBits, block 16)',
      '4-bit blocked (MatMulNBits, block 16)',
    ]);
    expect(report.storageRounding).toBeGreaterThan(0);
    expect(report.storageRounding).toBeLessThan(1 / 10);
    const bytes = encodeModel(folded);
    const inits = P.ModelProto.decode(bytes).graph?.initializer ?? [];
    for (const r of report.requantized) expect(inits.find((t) => t.name === r.into)?.dataType, r.into).toBe(UINT8);
    expect(inits.filter((t) => ['B0', 'B1', 'S0', 'S1', 'Z0'].includes(t.name as string))).toEqual([]);
    const x = normals([T, 32], 1);
    const [a, b] = [await runOrt(encodeModel(m), x), await runOrt(bytes, x)];
    expect(relDiff(a, b)).toBeGreaterThan(1e-2);
    const ours = execute(decodeModel(bytes, { fileName: 'folded-q4.onnx' }), { x }).outputs;
    expect(relDiff(b, Object.values(ours)[0]?.data as Float32Array)).toBeLessThanOrEqual(1e-5);
  });
});
