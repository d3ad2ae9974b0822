// Test helper: builds a one-node ONNX model in memory (onnx-proto) and runs it in onnxruntime-node.
import onnx from 'onnx-proto';
import * as ort from 'onnxruntime-node';

ort.env.logLevel = 'error';
const P = onnx.onnx;

export type Attr = { name: string; i?: number; f?: number; ints?: number[] };

export function oneNodeModel(
  opType: string,
  opset: number,
  inputs: { name: string; dims: number[] }[],
  outputs: { name: string; dims: number[] }[],
  attrs: Attr[] = [],
): Uint8Array {
  const F = P.TensorProto.DataType.FLOAT;
  const vi = (name: string, dims: number[]) =>
    P.ValueInfoProto.create({
      name,
      type: P.TypeProto.create({
        tensorType: P.TypeProto.Tensor.create({
          elemType: F,
          shape: P.TensorShapeProto.create({ dim: dims.map((d) => P.TensorShapeProto.Dimension.create({ dimValue: d })) }),
        }),
      }),
    });
  const attribute = attrs.map((a) =>
    a.ints
      ? P.AttributeProto.create({ name: a.name, type: P.AttributeProto.AttributeType.INTS, ints: a.ints })
      : a.f !== undefined
        ? P.AttributeProto.create({ name: a.name, type: P.AttributeProto.AttributeType.FLOAT, f: a.f })
        : P.AttributeProto.create({ name: a.name, type: P.AttributeProto.AttributeType.INT, i: a.i ?? 0 }),
  );
  const graph = P.GraphProto.create({
    name: opType,
    node: [P.NodeProto.create({ opType, name: 'n0', input: inputs.map((i) => i.name), output: outputs.map((o) => o.name), attribute })],
    input: inputs.map((i) => vi(i.name, i.dims)),
    output: outputs.map((o) => vi(o.name, o.dims)),
  });
  const model = P.ModelProto.create({
    irVersion: 10,
    producerName: 'normkit-test',
    opsetImport: [P.OperatorSetIdProto.create({ domain: '', version: opset })],
    graph,
  });
  return P.ModelProto.encode(model).finish();
}

/** Creates a one-thread session for `bytes` and runs it on float32 feeds. */
export async function runOrt(
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
  const out = await s.run(f);
  await s.release();
  const res: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(out)) res[k] = v.data as Float32Array;
  return res;
}
