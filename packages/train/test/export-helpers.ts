import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execute, type Model } from '@normkit/graph';
import { saveModel } from '@normkit/onnx';
import { Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { crossEntropy } from '../src/losses.js';
import { computeGrads, type Module } from '../src/nn/index.js';
import { AdamW } from '../src/optim/index.js';

ort.env.logLevel = 'error';

/** One training batch: inputs and integer labels. */
export type BatchOf = (step: number) => { x: Tensor; y: Tensor };

/** Seeded N(0, 1) inputs of `shape` with labels cycling through 10 classes. */
export const randomBatches =
  (shape: number[], seed = 100): BatchOf =>
  (step) => ({
    x: Tensor.randn(shape, seed + step),
    y: Tensor.from(
      Array.from({ length: shape[0] as number }, (_, i) => (i * 7 + step * 3) % 10),
      [shape[0] as number],
      'int64',
    ),
  });

/**
 * `steps` AdamW steps (lr 1e-2, so every weight, γ and β moves away from its initial value) in train
 * mode, which also moves BatchNorm / IterNorm running statistics; leaves the module in eval mode.
 * `data`: an input shape for seeded random batches, or a batch source.
 */
export function trainBriefly(m: Module, data: number[] | BatchOf, steps = 3): Module {
  const batchOf = Array.isArray(data) ? randomBatches(data) : data;
  m.train();
  const opt = new AdamW(m.parameters(), { lr: 1e-2 });
  for (let s = 0; s < steps; s++) {
    const { x, y } = batchOf(s);
    computeGrads(() => crossEntropy(m.forward(x), y), m.parameters());
    opt.step();
    opt.zeroGrad();
  }
  return m.eval();
}

/** The model's single output, run by the normkit executor. */
export function runNormkit(model: Model, x: Tensor, input = 'pixels'): Float32Array {
  const out = Object.values(execute(model, { [input]: x }).outputs)[0] as Tensor;
  return Float32Array.from(out.toFlatArray());
}

/** Writes the model with @normkit/onnx's `saveModel` and runs the file in onnxruntime-node (one thread; float32 or int64 input). */
export async function runOrtFile(model: Model, x: Tensor, input = 'pixels'): Promise<Float32Array> {
  const dir = mkdtempSync(join(tmpdir(), 'normkit-export-'));
  try {
    const file = join(dir, 'model.onnx');
    await saveModel(model, file);
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const feed =
      x.dtype === 'int64'
        ? new ort.Tensor('int64', x.data as BigInt64Array, [...x.shape])
        : new ort.Tensor('float32', x.data as Float32Array, [...x.shape]);
    const out = await session.run({ [input]: feed });
    await session.release();
    return Float32Array.from(Object.values(out)[0]?.data as Float32Array);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** max |a − b| / max |ref|: the largest difference relative to the scale of the reference output. */
export function relDiff(ref: ArrayLike<number>, other: ArrayLike<number>): number {
  if (ref.length !== other.length) return Number.POSITIVE_INFINITY;
  let d = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs((ref[i] as number) - (other[i] as number)));
    s = Math.max(s, Math.abs(ref[i] as number));
  }
  return s > 0 ? d / s : d;
}

/** Row-wise argmax of [rows, cols] values. */
export function argmaxRows(v: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * cols < v.length; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if ((v[r * cols + c] as number) > (v[r * cols + best] as number)) best = c;
    out.push(best);
  }
  return out;
}
