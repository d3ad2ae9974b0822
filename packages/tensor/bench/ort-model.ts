import onnx from 'onnx-proto';

/** Bytes of an ONNX model computing Y = A·B for float32 A [m, k] and B [k, n] (one MatMul node). */
export function matmulModel(m: number, k: number, n: number): Uint8Array {
  const P = onnx.onnx;
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
  const graph = P.GraphProto.create({
    name: 'matmul',
    node: [P.NodeProto.create({ opType: 'MatMul', input: ['A', 'B'], output: ['Y'], name: 'mm' })],
    input: [vi('A', [m, k]), vi('B', [k, n])],
    output: [vi('Y', [m, n])],
  });
  const model = P.ModelProto.create({
    irVersion: 8,
    producerName: 'normkit-bench',
    opsetImport: [P.OperatorSetIdProto.create({ domain: '', version: 17 })],
    graph,
  });
  return P.ModelProto.encode(model).finish();
}

/** Bytes of an ONNX model computing Y = Conv(X, W) (no bias) with the given pads/strides, float32 NCHW. */
export function convModel(x: number[], w: number[], pads: number[], strides: number[]): Uint8Array {
  const P = onnx.onnx;
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
  const ints = (name: string, v: number[]) => P.AttributeProto.create({ name, type: P.AttributeProto.AttributeType.INTS, ints: v });
  const graph = P.GraphProto.create({
    name: 'conv',
    node: [
      P.NodeProto.create({
        opType: 'Conv',
        input: ['X', 'W'],
        output: ['Y'],
        name: 'conv',
        attribute: [ints('pads', pads), ints('strides', strides)],
      }),
    ],
    input: [vi('X', x), vi('W', w)],
    output: [P.ValueInfoProto.create({ name: 'Y' })],
  });
  const model = P.ModelProto.create({
    irVersion: 8,
    producerName: 'normkit-bench',
    opsetImport: [P.OperatorSetIdProto.create({ domain: '', version: 17 })],
    graph,
  });
  return P.ModelProto.encode(model).finish();
}
