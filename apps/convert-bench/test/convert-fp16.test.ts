// `normkit convert` on a float16 model: the model is written with onnx-proto (independent of our
// writer), every tensor float16. The CLI must fold it, verify in normkit and in onnxruntime (float16
// inputs and outputs crossing as float16), within a tolerance that follows the float16 rounding of the
// stored weights (it says so on stderr), and write the centered weights as float16.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floatToHalf } from '@normkit/graph';
import { loadModel, onnxTensorInfo } from '@normkit/onnx';
import { Rng } from '@normkit/tensor';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, tempDir } from './helpers.js';

const P = onnxProto.onnx;
const rng = new Rng(7);
const halves = (n: number, scale: number) =>
  new Uint8Array(Uint16Array.from({ length: n }, () => floatToHalf(scale * rng.normal())).buffer);
const vi = (name: string, dims: number[]) => ({
  name,
  type: { tensorType: { elemType: 10, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});
const [K, N] = [8, 16];

describe('normkit convert on a float16 model', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('keeps it float16 and verifies it in both engines', async () => {
    const input = join(tmp.dir, 'fp16.onnx');
    const bytes = P.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'fp16',
        node: [
          { opType: 'MatMul', input: ['x', 'W'], output: ['m'] },
          { opType: 'Add', input: ['m', 'b'], output: ['h'] },
          { opType: 'LayerNormalization', input: ['h', 'g', 'be'], output: ['y'], attribute: [{ name: 'axis', type: 2, i: -1 }] },
        ],
        initializer: [
          { name: 'W', dims: [K, N], dataType: 10, rawData: halves(K * N, 0.5) },
          { name: 'b', dims: [N], dataType: 10, rawData: halves(N, 1) },
          { name: 'g', dims: [N], dataType: 10, rawData: halves(N, 1) },
          { name: 'be', dims: [N], dataType: 10, rawData: halves(N, 0.1) },
        ],
        input: [vi('x', [4, K])],
        output: [vi('y', [4, N])],
      },
    }).finish();
    writeFileSync(input, bytes);
    const output = join(tmp.dir, 'fp16.rms.onnx');
    const r = await cli('convert', input, '-o', output, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/verification tolerance .*rounding of storing the centered weights/);
    const res = json<{ equivalent: boolean; verification: { engine: string; equivalent: boolean }[] }>(r);
    expect(res.equivalent).toBe(true);
    expect(res.verification.map((v) => [v.engine, v.equivalent])).toEqual([
      ['normkit-cpu', true],
      ['onnxruntime', true],
    ]);
    const written = await loadModel(output);
    const centered = [...written.graph.initializers].filter(([name]) => name.includes('centered'));
    expect(centered.length).toBeGreaterThan(0);
    for (const [name, t] of centered) expect(onnxTensorInfo(t)?.elemType, name).toBe(10);
  });
});
