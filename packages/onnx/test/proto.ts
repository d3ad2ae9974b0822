import onnx from 'onnx-proto';

/** Independent ModelProto construction with onnx-proto (protobufjs), so tests do not build inputs with the code under test. */
export const P = onnx.onnx;

export function vi(name: string, elemType: number, dims?: (number | string)[]): onnx.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
      },
    },
  };
}

export function node(opType: string, inputs: string[], outputs: string[], extra: Partial<onnx.onnx.INodeProto> = {}): onnx.onnx.INodeProto {
  return { opType, input: inputs, output: outputs, ...extra };
}

export function model(graph: onnx.onnx.IGraphProto, extra: Partial<onnx.onnx.IModelProto> = {}): Uint8Array {
  return P.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph, ...extra }).finish();
}

export function f32raw(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Appends a protobuf field (any number, length-delimited) to an encoded message: an "unknown field" for older readers. */
export function withUnknownField(msg: Uint8Array, field: number, payload: Uint8Array): Uint8Array {
  const tag: number[] = [];
  let t = field * 8 + 2;
  while (t >= 0x80) {
    tag.push((t & 0x7f) | 0x80);
    t >>>= 7;
  }
  tag.push(t);
  return new Uint8Array([...msg, ...tag, payload.length, ...payload]);
}
