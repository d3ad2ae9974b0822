import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  analyzeFoldability,
  defineOnnxOp,
  execute,
  GraphBuilder,
  inferShapes,
  kernelFor,
  onnxOp,
  registerOp,
  sameShape,
  supportedOps,
} from '../src/index.js';

// One definition per ONNX op: the executor, shape inference, the async executor's host reads and the
// foldability analysis all read the same `defineOnnxOp` entry.

/** MatMul (constant W) → op → LayerNormalization: foldable exactly when `op` passes a zero-mean stream through. */
function lnAfter(domain: string, opType: string) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', ['batch', 4]);
  const h = b.op('MatMul', [x, b.constant('w', Tensor.randn([4, 4], 1))]);
  const y = b.op(opType, [h], {}, { domain });
  const ln = b.op('LayerNormalization', [y, b.constant('g', Tensor.ones([4])), b.constant('bt', Tensor.zeros([4]))], { axis: -1 });
  b.output(ln);
  return { model: b.model(17, domain ? [{ domain, version: 1 }] : []), y };
}

describe('defineOnnxOp', () => {
  it('every op the executor runs has a shape rule (Constant is folded from its kernel instead)', () => {
    const without = supportedOps().filter((k) => {
      const [domain, op] = k.split('::') as [string, string];
      return !onnxOp(domain, op)?.shape;
    });
    expect(without).toEqual(['::Constant']);
  });

  it('a user-defined op is run, shape-inferred and walked through by the analysis from its one definition', () => {
    defineOnnxOp('com.example', 'Copy', { kernel: ({ inputs }) => [inputs[0]], shape: sameShape(), fold: 'passThrough' });
    const { model, y } = lnAfter('com.example', 'Copy');
    expect(inferShapes(model).get(y)?.shape).toEqual(['batch', 4]);
    const out = execute(model, { x: Tensor.from([[1, 2, 3, 4]]) }).outputs;
    expect(Object.values(out)[0]?.shape).toEqual([1, 4]);
    expect(analyzeFoldability(model).layerNorms[0]?.foldable).toBe(true);
  });

  it('without a fold role the analysis blocks at that op and names it; a nonlinear role says so', () => {
    defineOnnxOp('com.example', 'Opaque', { kernel: ({ inputs }) => [inputs[0]], shape: sameShape() });
    const blocked = analyzeFoldability(lnAfter('com.example', 'Opaque').model).layerNorms[0];
    expect(blocked?.foldable).toBe(false);
    expect(blocked?.reason).toContain('Opaque is not a zero-mean propagator');
    defineOnnxOp('com.example', 'Act', { kernel: ({ inputs }) => [inputs[0]], shape: sameShape(), fold: 'nonlinear' });
    expect(analyzeFoldability(lnAfter('com.example', 'Act').model).layerNorms[0]?.reason).toContain('nonlinear activation');
  });

  it('without a shape rule the outputs have no inferred shape (nothing is guessed)', () => {
    defineOnnxOp('com.example', 'NoRule', { kernel: ({ inputs }) => [inputs[0]] });
    const { model, y } = lnAfter('com.example', 'NoRule');
    expect(inferShapes(model).get(y)?.shape).toBeUndefined();
  });

  it('registerOp replaces only the kernel, keeping the shape rule, host inputs and fold role', () => {
    const before = onnxOp('', 'Reshape');
    const original = before?.kernel;
    try {
      let calls = 0;
      registerOp('', 'Reshape', (ctx) => {
        calls++;
        return original?.(ctx) ?? [];
      });
      const after = onnxOp('', 'Reshape');
      expect(after?.shape).toBe(before?.shape);
      expect(after?.hostInputs).toEqual([1]);
      expect(after?.fold).toBe('layout');
      const b = new GraphBuilder('g');
      const x = b.input('x', 'float32', [2, 3]);
      b.output(b.op('Reshape', [x, b.constant('s', Tensor.from([3, 2], [2], 'int64'))]));
      execute(b.model(17), { x: Tensor.zeros([2, 3]) });
      expect(calls).toBe(1);
    } finally {
      if (original) registerOp('', 'Reshape', original);
    }
    expect(kernelFor('', 'Reshape')).toBe(original);
  });

  it('declares the host reads of the kernels that read values on the host', () => {
    expect(onnxOp('', 'Reshape')?.hostInputs).toEqual([1]);
    expect(onnxOp('', 'Loop')?.hostInputs).toEqual([0, 1]);
    expect(onnxOp('', 'TopK')?.hostInputs).toBe('all');
    expect(onnxOp('', 'Add')?.hostInputs).toBeUndefined();
  });
});

describe('shape rules of the control-flow ops', () => {
  it('Loop: carried values keep their shape; a scan output gains a leading axis of the trip count', () => {
    const body = new GraphBuilder('body');
    body.input('i', 'int64', []);
    const c = body.input('c', 'bool', []);
    const v = body.input('v', 'float32', [3]);
    const v2 = body.op('Add', [v, body.constant('one', Tensor.ones([3]))]);
    body.output(body.op('Identity', [c]));
    body.output(v2);
    body.output(body.op('Identity', [v2]));
    const b = new GraphBuilder('g');
    const v0 = b.input('v0', 'float32', [3]);
    const [vf, scanned] = b.opN('Loop', [b.constant('M', Tensor.from([5], [], 'int64')), '', v0], 2, { body: body.graph }) as [
      string,
      string,
    ];
    b.output(vf);
    b.output(scanned);
    const m = b.model(17);
    const infos = inferShapes(m);
    expect(infos.get(vf)?.shape).toEqual([3]);
    expect(infos.get(scanned)?.shape).toEqual([5, 3]);
    const out = execute(m, { v0: Tensor.zeros([3]) }).outputs;
    expect(out[scanned]?.shape).toEqual([5, 3]);
  });
});
