import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { execute, GraphBuilder, onnxTypeCode, taggedElemType } from '../src/index.js';

// Narrow integer values are held in int32 tensors tagged with their ONNX type. Zero points that reach
// QuantizeLinear from a Cast or from a graph input carry the tag too, so the kernel knows the range:
// y = saturate(round(x / scale) + zp) into int8's [-128, 127] (values by hand from the ONNX formula).

const INT8 = onnxTypeCode('int8') as number;
const x = Tensor.from([1, 100, -100], [3]);
const expected = [-1, 127, -128]; // 2 − 3, 200 − 3 saturated, −200 − 3 saturated

describe('narrow integer types through Cast and graph inputs', () => {
  it('a zero point made by Cast(to = int8) is tagged int8 and QuantizeLinear saturates to int8', () => {
    const b = new GraphBuilder('g');
    const xi = b.input('x', 'float32', [3]);
    const zp = b.op('Cast', [b.constant('zpf', Tensor.from([-3], []))], { to: INT8 });
    const y = b.op('QuantizeLinear', [xi, b.constant('s', Tensor.from([0.5], [])), zp]);
    b.output(y);
    const out = execute(b.model(13), { x }).outputs[y] as Tensor;
    expect(Array.from(out.data as Int32Array)).toEqual(expected);
    expect(taggedElemType(out)).toBe(INT8);
  });

  it('a zero point fed to an int8 graph input as int32 values is tagged int8', () => {
    const b = new GraphBuilder('g');
    const xi = b.input('x', 'float32', [3]);
    b.graph.inputs.push({ name: 'zp', elemType: 'int8', shape: [] });
    const y = b.op('QuantizeLinear', [xi, b.constant('s', Tensor.from([0.5], [])), 'zp']);
    b.output(y);
    const out = execute(b.model(13), { x, zp: Tensor.from([-3], [], 'int32') }).outputs[y] as Tensor;
    expect(Array.from(out.data as Int32Array)).toEqual(expected);
  });
});
