import type { Model } from '@normkit/graph';
import { encodeModel } from '@normkit/onnx';
import type { Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';

ort.env.logLevel = 'error';

/** Runs a normkit Model in onnxruntime-node (1 thread, graph optimizations off so the graph runs as written). */
export async function runOrt(
  model: Model,
  feed: Record<string, Tensor>,
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(encodeModel(model), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'disabled',
  });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feed))
    f[k] = new ort.Tensor(t.dtype === 'int64' ? 'int64' : t.dtype === 'int32' ? 'int32' : 'float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(f);
  await session.release();
  const res: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
  for (const [k, v] of Object.entries(out)) res[k] = { data: v.data as Float32Array, dims: v.dims };
  return res;
}

/** max |a−b| / max |a| and the fraction of rows (last axis) with the same argmax — written here, independent of the code under test. */
export function compare(
  a: { data: Float32Array; dims: readonly number[] },
  b: { data: Float32Array; dims: readonly number[] },
): { rel: number; argmax: number } {
  let md = 0;
  let sc = 0;
  for (let i = 0; i < a.data.length; i++) {
    md = Math.max(md, Math.abs((a.data[i] as number) - (b.data[i] as number)));
    sc = Math.max(sc, Math.abs(a.data[i] as number));
  }
  const cols = a.dims[a.dims.length - 1] ?? 1;
  let rows = 0;
  let same = 0;
  for (let r = 0; r * cols < a.data.length; r++) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < cols; c++) {
      if ((a.data[r * cols + c] as number) > (a.data[r * cols + ia] as number)) ia = c;
      if ((b.data[r * cols + c] as number) > (b.data[r * cols + ib] as number)) ib = c;
    }
    rows++;
    if (ia === ib) same++;
  }
  return { rel: sc > 0 ? md / sc : md, argmax: rows ? same / rows : 1 };
}
