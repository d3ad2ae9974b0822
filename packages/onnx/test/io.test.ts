import { Graph, Model } from '@normkit/graph';
import { NormkitError, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, OpaqueTensor, onnxTensorInfo, tensorFromProto, tensorToProto } from '../src/index.js';
import { canon } from './helpers.js';
import { f32raw, model, node, P, vi, withUnknownField } from './proto.js';

const roundTrip = (bytes: Uint8Array) => {
  const m1 = decodeModel(bytes);
  const out = encodeModel(m1);
  const m2 = decodeModel(out);
  expect(canon(m2)).toEqual(canon(m1));
  return { m1, m2, out };
};

describe('tensors: raw_data and typed fields', () => {
  it('reads float32 from raw_data and float_data alike', () => {
    const a = tensorFromProto(P.TensorProto.encode({ dims: [2, 2], dataType: 1, rawData: f32raw([1, 2, 3, 4.5]) }).finish());
    const b = tensorFromProto(P.TensorProto.encode({ dims: [2, 2], dataType: 1, floatData: [1, 2, 3, 4.5] }).finish());
    expect(a.dtype).toBe('float32');
    expect(a.toArray()).toEqual([
      [1, 2],
      [3, 4.5],
    ]);
    expect(b.toArray()).toEqual([
      [1, 2],
      [3, 4.5],
    ]);
  });

  it('keeps int64 exact, including INT64_MAX/MIN (as in Slice ends)', () => {
    const bytes = P.TensorProto.encode({
      dims: [3],
      dataType: 7,
      int64Data: ['9223372036854775807', '-9223372036854775808', '-1'],
    }).finish();
    const t = tensorFromProto(bytes);
    expect(t.dtype).toBe('int64');
    expect([...(t.data as BigInt64Array)]).toEqual([2n ** 63n - 1n, -(2n ** 63n), -1n]);
    // Written back in the same (typed) form, onnx-proto reads the same values.
    const back = P.TensorProto.decode(tensorToProto(t, 'x'));
    expect(back.int64Data.map(String)).toEqual(['9223372036854775807', '-9223372036854775808', '-1']);
    expect(back.name).toBe('x');
  });

  it('int64 attributes at INT64_MAX survive (clamped back exactly)', () => {
    const attr = { name: 'ends', type: 7, ints: ['9223372036854775807', '-9223372036854775808', '3'] };
    const bytes = model(
      {
        node: [node('Slice', ['x'], ['y'], { attribute: [attr as never] })],
        input: [vi('x', 1, [4])],
        output: [vi('y', 1)],
      },
      { opsetImport: [{ domain: '', version: 9 }] },
    );
    const { out } = roundTrip(bytes);
    const n = P.ModelProto.decode(out).graph?.node?.[0];
    expect(n?.attribute?.[0]?.ints?.map(String)).toEqual(['9223372036854775807', '-9223372036854775808', '3']);
  });

  it('float16 weights widen to float32 exactly and are written back as the same float16 bits', () => {
    const halves = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555]);
    const bytes = P.TensorProto.encode({ dims: [7], dataType: 10, rawData: new Uint8Array(halves.buffer) }).finish();
    const t = tensorFromProto(bytes);
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.data as Float32Array)).toEqual([1, -2, 65504, 2 ** -24, -0, Number.POSITIVE_INFINITY, 0.333251953125]);
    expect(onnxTensorInfo(t)?.elemType).toBe(10);
    const back = P.TensorProto.decode(tensorToProto(t));
    expect(back.dataType).toBe(10);
    expect(Buffer.from(back.rawData).equals(Buffer.from(halves.buffer))).toBe(true);
  });

  it('int8/uint8 widen to int32 and come back as the same bytes', () => {
    const raw = new Uint8Array([0, 127, 128, 255]);
    for (const dataType of [2, 3]) {
      const t = tensorFromProto(P.TensorProto.encode({ dims: [4], dataType, rawData: raw }).finish());
      expect(t.dtype).toBe('int32');
      expect(Array.from(t.data as Int32Array)).toEqual(dataType === 2 ? [0, 127, 128, 255] : [0, 127, -128, -1]);
      expect(Buffer.from(P.TensorProto.decode(tensorToProto(t)).rawData).equals(Buffer.from(raw))).toBe(true);
    }
  });

  it('string tensors are opaque: shape known, values refused with UNSUPPORTED_DTYPE, bytes restored on write', () => {
    const enc = new TextEncoder();
    const bytes = model({
      initializer: [{ name: 'labels', dims: [2], dataType: 8, stringData: [enc.encode('cat'), enc.encode('dog')] }],
      node: [node('Identity', ['labels'], ['y'])],
      output: [vi('y', 8)],
    });
    const { m1, out } = roundTrip(bytes);
    const t = m1.graph.initializers.get('labels') as Tensor;
    expect(t).toBeInstanceOf(OpaqueTensor);
    expect(t.shape).toEqual([2]);
    expect(() => t.data).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    const strings = P.ModelProto.decode(out).graph?.initializer?.[0]?.stringData?.map((b) => new TextDecoder().decode(b));
    expect(strings).toEqual(['cat', 'dog']);
    expect(m1.graph.outputs[0]?.elemType).toBe('string');
  });
});

describe('models', () => {
  it('keeps Constant nodes and initializers, doc strings, metadata and opsets', () => {
    const bytes = model(
      {
        name: 'g',
        docString: 'graph doc',
        node: [
          node('Constant', [], ['c'], {
            attribute: [{ name: 'value', type: 4, t: { name: 'cval', dims: [2], dataType: 1, floatData: [1, 2] } }],
          }),
          node('Add', ['x', 'c'], ['s'], { name: 'add', docString: 'node doc' }),
          node('Mul', ['s', 'w'], ['y'], { domain: '' }),
        ],
        initializer: [{ name: 'w', dims: [2], dataType: 1, rawData: f32raw([3, 4]), docString: 'weight doc' }],
        input: [vi('x', 1, ['batch', 2])],
        output: [vi('y', 1, ['batch', 2])],
        valueInfo: [vi('s', 1, [undefined as never, 2])],
      },
      {
        producerName: 'tests',
        producerVersion: '1.2',
        docString: 'model doc',
        modelVersion: 7,
        metadataProps: [{ key: 'author', value: 'me' }],
        opsetImport: [
          { domain: '', version: 17 },
          { domain: 'com.microsoft', version: 1 },
        ],
      },
    );
    const { m1, out } = roundTrip(bytes);
    expect(m1.graph.nodes.map((n) => n.name)).toEqual(['Constant_0', 'add', 'Mul_2']);
    expect(m1.graph.nodes[1]?.docString).toBe('node doc');
    const c = m1.graph.nodes[0]?.attributes.value;
    expect(c?.type).toBe('tensor');
    expect((c as { value: Tensor }).value.toArray()).toEqual([1, 2]);
    expect(m1.graph.initializers.get('w')?.toArray()).toEqual([3, 4]);
    expect(m1.graph.inputs[0]?.shape).toEqual(['batch', 2]);
    expect(m1.graph.valueInfo.get('s')?.shape).toEqual([undefined, 2]);
    expect(m1.metadataProps).toEqual({ author: 'me' });
    expect(m1.opsetImports).toEqual([
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    expect([m1.producerName, m1.producerVersion, m1.docString, m1.modelVersion]).toEqual(['tests', '1.2', 'model doc', 7]);
    // The writer does not invent names: unnamed nodes stay unnamed; the doc strings and typed/raw forms stay.
    const p = P.ModelProto.decode(out);
    expect(p.graph?.node?.map((n) => n.name)).toEqual(['', 'add', '']);
    expect(p.graph?.initializer?.[0]?.docString).toBe('weight doc');
    expect(p.graph?.initializer?.[0]?.rawData?.length).toBe(8);
    expect(p.graph?.node?.[0]?.attribute?.[0]?.t?.floatData).toEqual([1, 2]);
    expect(p.graph?.node?.[0]?.attribute?.[0]?.t?.name).toBe('cval');
  });

  it('names unnamed and duplicate-named nodes uniquely and restores the file names on write', () => {
    const bytes = model({
      node: [node('Relu', ['x'], ['a'], { name: 'Relu_1' }), node('Relu', ['a'], ['b']), node('Relu', ['b'], ['c'], { name: 'Relu_1' })],
      input: [vi('x', 1, [1])],
      output: [vi('c', 1, [1])],
    });
    const { m1, out } = roundTrip(bytes);
    const names = m1.graph.nodes.map((n) => n.name);
    expect(new Set(names).size).toBe(3);
    expect(names[0]).toBe('Relu_1');
    expect(P.ModelProto.decode(out).graph?.node?.map((n) => n.name)).toEqual(['Relu_1', '', 'Relu_1']);
    // A pass renaming a node gets its new name written.
    (m1.graph.nodes[1] as { name: string }).name = 'renamed';
    expect(P.ModelProto.decode(encodeModel(m1)).graph?.node?.[1]?.name).toBe('renamed');
  });

  it('keeps fields it does not know, on the model, graph, node, tensor and value info', () => {
    const payload = new Uint8Array([1, 2, 3]);
    const graphBytes = withUnknownField(
      P.GraphProto.encode({
        node: [],
        initializer: [],
        input: [],
        output: [],
      }).finish(),
      77,
      payload,
    );
    const nodeBytes = withUnknownField(P.NodeProto.encode(node('Relu', ['x'], ['y'])).finish(), 9, payload);
    const tensorBytes = withUnknownField(
      P.TensorProto.encode({ name: 'w', dims: [1], dataType: 1, rawData: f32raw([1]) }).finish(),
      16,
      payload,
    );
    const viBytes = withUnknownField(P.ValueInfoProto.encode(vi('x', 1, [1])).finish(), 4, payload);
    const outVi = P.ValueInfoProto.encode(vi('y', 1, [1])).finish();
    // Assemble GraphProto by hand: node(1), initializer(5), input(11), output(12), then the unknown field.
    const field = (n: number, b: Uint8Array) => withUnknownField(new Uint8Array(0), n, b);
    const graph = new Uint8Array([
      ...field(1, nodeBytes),
      ...field(5, tensorBytes),
      ...field(11, viBytes),
      ...field(12, outVi),
      ...graphBytes,
    ]);
    const modelBytes = withUnknownField(
      new Uint8Array([...P.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }).finish(), ...field(7, graph)]),
      25,
      payload,
    );
    const { m1, out } = roundTrip(modelBytes);
    expect(m1.extra?.protoFields).toHaveLength(1);
    expect(m1.graph.extra?.protoFields).toHaveLength(1);
    expect(m1.graph.nodes[0]?.extra?.protoFields).toHaveLength(1);
    expect(m1.graph.inputs[0]?.extra?.protoFields).toHaveLength(1);
    expect(onnxTensorInfo(m1.graph.initializers.get('w') as Tensor)?.fields).toHaveLength(1);
    // Every unknown field appears in the output, byte for byte.
    const hex = Buffer.from(out).toString('hex');
    for (const f of [25, 77, 9, 16, 4]) expect(hex).toContain(Buffer.from(field(f, payload)).toString('hex'));
  });

  it('reads If subgraphs that use outer values, and writes them back', () => {
    const branch = (op: string) => ({ name: op, node: [node(op, ['x'], [`${op}_out`])], output: [vi(`${op}_out`, 1, [2])] });
    const bytes = model({
      node: [
        node('If', ['cond'], ['y'], {
          attribute: [
            { name: 'then_branch', type: 5, g: branch('Relu') },
            { name: 'else_branch', type: 5, g: branch('Neg') },
          ],
        }),
      ],
      input: [vi('cond', 9, []), vi('x', 1, [2])],
      output: [vi('y', 1, [2])],
    });
    const { m1 } = roundTrip(bytes);
    const then = m1.graph.nodes[0]?.attributes.then_branch?.value as Graph;
    expect(then).toBeInstanceOf(Graph);
    expect(then.outerScope.has('x')).toBe(true);
    expect(m1.graph.inputs[0]?.shape).toEqual([]);
  });

  it('writes models built in code', () => {
    const g = new Graph('built');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 3] });
    g.initializers.set('w', Tensor.from([[1], [2], [3]]));
    g.addNode({ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: ['n', 1] });
    const m = new Model(g, [{ domain: '', version: 17 }]);
    const p = P.ModelProto.decode(encodeModel(m));
    expect(p.graph?.node?.[0]?.name).toBe('MatMul');
    expect(p.graph?.initializer?.[0]?.dims?.map(Number)).toEqual([3, 1]);
    expect(decodeModel(encodeModel(m)).graph.initializers.get('w')?.toArray()).toEqual([[1], [2], [3]]);
  });

  it('refuses to encode past the protobuf limit with a clear error', () => {
    const g = new Graph('big');
    g.initializers.set('w', Tensor.zeros([1000]));
    g.addNode({ opType: 'Identity', inputs: ['w'], outputs: ['y'] });
    g.outputs.push({ name: 'y', dtype: 'float32' });
    expect(() => encodeModel(new Model(g), { maxProtoBytes: 1000 })).toThrow(expect.objectContaining({ code: 'MODEL_TOO_LARGE' }));
    void NormkitError;
  });
});
