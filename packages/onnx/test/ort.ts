import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Rng, type Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { floatToHalf, halfToFloat } from '../src/dtypes.js';
import { tensorFromProto, tensorName } from '../src/index.js';

/** An onnxruntime-node session on one CPU thread, from model bytes. */
export function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 4,
  });
}

/** Our tensor as an ORT tensor of ORT's declared type (float16 inputs get half bits). */
export function toOrt(t: Tensor, type: string): ort.Tensor {
  const dims = [...t.shape];
  const d = t.data as ArrayLike<number | bigint>;
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(d as ArrayLike<number>, Number), dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(d as ArrayLike<number>, Number), dims);
    case 'float16':
      return new ort.Tensor(
        'float16',
        Uint16Array.from(d as ArrayLike<number>, (v) => floatToHalf(Number(v))),
        dims,
      );
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(d as ArrayLike<number | bigint>, (v) => BigInt(v)),
        dims,
      );
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(d as ArrayLike<number>, Number), dims);
    case 'bool':
      return new ort.Tensor(
        'bool',
        Uint8Array.from(d as ArrayLike<number>, (v) => (Number(v) ? 1 : 0)),
        dims,
      );
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(d as ArrayLike<number>, Number), dims);
    case 'int8':
      return new ort.Tensor('int8', Int8Array.from(d as ArrayLike<number>, Number), dims);
    default:
      throw new Error(`test helper: no ORT conversion for ${type}`);
  }
}

/**
 * Inputs for a model: the `.pb` files of `test_data_set_0` beside it (matched by name, else by
 * position) when they exist, else seeded random values shaped by ORT's input metadata (symbolic
 * dims = 1), integers in [0, 2).
 */
export function inputsFor(modelPath: string, s: ort.InferenceSession, seed = 1): Record<string, ort.Tensor> {
  const meta = s.inputMetadata;
  const feeds: Record<string, ort.Tensor> = {};
  const dir = join(dirname(modelPath), 'test_data_set_0');
  const pbs = existsSync(dir) ? readdirSync(dir).filter((f) => /^input_\d+\.pb$/.test(f)) : [];
  pbs.sort((a, b) => Number(a.match(/\d+/)?.[0]) - Number(b.match(/\d+/)?.[0]));
  if (pbs.length === meta.length) {
    for (const [i, f] of pbs.entries()) {
      const bytes = readFileSync(join(dir, f));
      const name = tensorName(bytes);
      const m = meta.find((x) => x.name === name) ?? meta[i];
      if (!m?.isTensor) throw new Error('non-tensor input');
      feeds[m.name] = toOrt(tensorFromProto(bytes), m.type);
    }
    return feeds;
  }
  const rng = new Rng(seed);
  for (const m of meta) {
    if (!m.isTensor) throw new Error('non-tensor input');
    const dims = m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const vals = Array.from({ length: n }, () => rng.normal());
    const asInts = vals.map((v) => (v > 0 ? 1 : 0));
    switch (m.type) {
      case 'float32':
      case 'float64':
      case 'float16':
        feeds[m.name] = toOrtFromNumbers(vals, m.type, dims);
        break;
      default:
        feeds[m.name] = toOrtFromNumbers(asInts, m.type, dims);
    }
  }
  return feeds;
}

function toOrtFromNumbers(vals: number[], type: string, dims: number[]): ort.Tensor {
  const fake = { shape: dims, data: vals } as unknown as Tensor;
  return toOrt(fake, type);
}

/** Whether two ORT results are bit-identical (NaN equals NaN). Returns the first difference, or ''. */
export function sameOutputs(a: ort.InferenceSession.ReturnType, b: ort.InferenceSession.ReturnType): string {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) return `output names differ: ${ka} vs ${kb}`;
  for (const k of ka) {
    const x = a[k] as ort.Tensor;
    const y = b[k] as ort.Tensor;
    if (x.type !== y.type || x.dims.join() !== y.dims.join()) return `${k}: ${x.type}${x.dims} vs ${y.type}${y.dims}`;
    const dx = x.data as ArrayLike<unknown>;
    const dy = y.data as ArrayLike<unknown>;
    for (let i = 0; i < dx.length; i++) if (!Object.is(dx[i], dy[i]) && dx[i] !== dy[i]) return `${k}[${i}]: ${dx[i]} vs ${dy[i]}`;
  }
  return '';
}

import type { Model } from '@normkit/graph';
import { Tensor as NTensor } from '@normkit/tensor';
import { encodeModel } from '../src/index.js';

/** ORT's output as our tensor. */
export function fromOrt(t: ort.Tensor): NTensor {
  const d = t.data;
  const dims = [...t.dims];
  if (t.type === 'float32') return new NTensor(dims, 'float32', d as Float32Array);
  if (t.type === 'float64') return new NTensor(dims, 'float64', d as Float64Array);
  if (t.type === 'int64') return new NTensor(dims, 'int64', d as BigInt64Array);
  if (t.type === 'int32') return new NTensor(dims, 'int32', d as Int32Array);
  if (t.type === 'bool') return new NTensor(dims, 'bool', d as Uint8Array);
  if (t.type === 'float16') {
    const u = d as Uint16Array;
    return new NTensor(
      dims,
      'float32',
      Float32Array.from(u, (h) => halfToFloat(h)),
    );
  }
  throw new Error(`test helper: ORT output type ${t.type}`);
}

/** An `execute` that runs the IR through onnxruntime-node (writes it with our encoder first). */
export async function ortExecute(model: Model, inputs: Record<string, NTensor>): Promise<{ outputs: Record<string, NTensor> }> {
  const s = await session(encodeModel(model));
  const feeds: Record<string, ort.Tensor> = {};
  for (const m of s.inputMetadata) {
    const t = inputs[m.name];
    if (t && m.isTensor) feeds[m.name] = toOrt(t, m.type);
  }
  const res = await s.run(feeds);
  await s.release();
  const outputs: Record<string, NTensor> = {};
  for (const [k, v] of Object.entries(res)) outputs[k] = fromOrt(v as ort.Tensor);
  return { outputs };
}
