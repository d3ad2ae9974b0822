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

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const s = await session(bytes);
  const out = await s.run({ x: new ort.Tensor('float32', x.data as Float32Array, [T, K]) });
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
        /^requantizing its centered weights \(int8 per-axis \(axis 1\)\) moves output ".*" by [\d.e+-]+ relative, beyond the verification tolerance 0\.000001; it stays LayerNormalization$/,
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
});
