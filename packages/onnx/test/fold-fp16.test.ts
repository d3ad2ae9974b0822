// Converting a float16 model keeps it float16. The model is written with onnx-proto (independent of our
// writer): x → MatMul(W) → Add(b) → LayerNormalization(γ, β), every tensor float16. After the fold, the
// centered copies of W and b must be stored as float16 (values rounded once), and onnxruntime-node,
// computing in float16, must give the converted model the original's outputs within 4e-3 — four float16
// ulps at 1, the scale of a LayerNorm output: both models round their weights and activations to float16,
// in different places.
import { floatToHalf, foldLayerNorms, halfToFloat } from '@normkit/graph';
import { Rng } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, onnxTensorInfo } from '../src/index.js';
import { session } from './ort.js';
import { model, node, vi } from './proto.js';

const rng = new Rng(5);
const halves = (n: number, scale: number) => Uint16Array.from({ length: n }, () => floatToHalf(scale * rng.normal()));
const raw = (h: Uint16Array) => new Uint8Array(h.buffer.slice(0));

const [K, N] = [8, 16];
const bytes = model({
  node: [
    node('MatMul', ['x', 'W'], ['m']),
    node('Add', ['m', 'b'], ['h']),
    node('LayerNormalization', ['h', 'g', 'be'], ['y'], { attribute: [{ name: 'axis', type: 2, i: -1 }] as never }),
  ],
  initializer: [
    { name: 'W', dims: [K, N], dataType: 10, rawData: raw(halves(K * N, 0.5)) },
    { name: 'b', dims: [N], dataType: 10, rawData: raw(halves(N, 1)) },
    { name: 'g', dims: [N], dataType: 10, rawData: raw(halves(N, 1)) },
    { name: 'be', dims: [N], dataType: 10, rawData: raw(halves(N, 0.1)) },
  ],
  input: [vi('x', 10, [4, K])],
  output: [vi('y', 10, [4, N])],
});

async function run(b: Uint8Array, x: Uint16Array): Promise<number[]> {
  const s = await session(b);
  const out = await s.run({ x: new ort.Tensor('float16', x, [4, K]) });
  await s.release();
  return Array.from(out.y!.data as Uint16Array, halfToFloat);
}

describe('folding a float16 model', () => {
  for (const rmsFormat of ['simplified', 'onnx23', 'decomposed'] as const)
    it(`stores the centered weights as float16 and matches the original in onnxruntime (float16 compute), ${rmsFormat}`, async () => {
      const m = decodeModel(bytes, { fileName: 'fp16.onnx' });
      const { model: folded, report } = foldLayerNorms(m, { rmsFormat });
      expect(report.folded).toHaveLength(1);
      // Rounding the centered weights to float16 changes them by at most half a float16 ulp (2^-11 relative).
      expect(report.storageRounding).toBeGreaterThan(0);
      expect(report.storageRounding).toBeLessThanOrEqual(2 ** -11);
      for (const c of report.centered) {
        const t = folded.graph.initializers.get(c.into)!;
        expect(onnxTensorInfo(t)?.elemType, `${c.into} keeps float16`).toBe(10);
        for (const v of t.data as Float32Array) expect(halfToFloat(floatToHalf(v))).toBe(v); // already rounded
      }
      const out = encodeModel(folded);
      const back = decodeModel(out, { fileName: 'fp16.rms.onnx' });
      for (const c of report.centered) expect(onnxTensorInfo(back.graph.initializers.get(c.into)!)?.elemType).toBe(10);
      const x = halves(4 * K, 1);
      const [a, b] = [await run(bytes, x), await run(out, x)];
      const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      expect(worst).toBeLessThanOrEqual(4e-3);
    });
});
