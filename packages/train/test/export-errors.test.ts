import { mul, NormkitError, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { exportModel } from '../src/export/index.js';
import { Flatten, Linear, MLP, Module, ReLU, Sequential, ViT } from '../src/nn/index.js';

class Square extends Module {
  forward(x: Tensor): Tensor {
    return mul(x, x);
  }
}

/** A Linear that computes something else: its forward is not Linear's. */
class DoubledLinear extends Linear {
  override forward(x: Tensor): Tensor {
    return mul(super.forward(x), 2);
  }
}

/** Only the constructor differs: exported as a Linear. */
class Linear16 extends Linear {
  constructor() {
    super(64, 16, { seed: 1 });
  }
}

function errorOf(f: () => unknown): NormkitError {
  try {
    f();
  } catch (e) {
    if (e instanceof NormkitError) return e;
    throw e;
  }
  throw new Error('expected a NormkitError');
}

const SHAPE = ['N', 1, 8, 8];

describe('exportModel refuses what it cannot export, saying where', () => {
  it('an unknown module: UNSUPPORTED_MODULE with its path and class', () => {
    const net = new Sequential(new Flatten(), new Sequential(new Linear(64, 8, { seed: 1 }), new Square()), new Linear(8, 2, { seed: 2 }));
    const e = errorOf(() => exportModel(net, { inputShape: SHAPE }));
    expect(e.code).toBe('UNSUPPORTED_MODULE');
    expect(e.message).toContain('1.1 (Square)');
    expect(e.details).toMatchObject({ path: '1.1', module: 'Square' });
  });

  it('a subclass that overrides a method is refused; one that only changes the constructor is exported', () => {
    const e = errorOf(() => exportModel(new Sequential(new Flatten(), new DoubledLinear(64, 4)), { inputShape: SHAPE }));
    expect(e.code).toBe('UNSUPPORTED_MODULE');
    expect(e.message).toContain('1 (DoubledLinear)');
    const ok = exportModel(new Sequential(new Flatten(), new Linear16(), new ReLU()), { inputShape: SHAPE });
    expect(ok.graph.nodes.map((n) => n.opType)).toEqual(['Flatten', 'Gemm', 'Relu']);
  });

  it('an input that does not fit a layer: SHAPE_MISMATCH naming the layer', () => {
    const e = errorOf(() => exportModel(new MLP({ norm: 'ln', seed: 1 }), { inputShape: SHAPE }));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toContain('1 (Linear) reads [N, 64] but needs 784 on axis 1');
  });

  it("bad options, and rmsFormat 'onnx23' below opset 23", () => {
    const mlp = new MLP({ norm: 'ln', seed: 1, inFeatures: 64, hidden: [8] });
    expect(errorOf(() => exportModel(mlp, { inputShape: SHAPE, opset: 16 })).message).toMatch(/opset must be an integer from 17/);
    expect(errorOf(() => exportModel(mlp, { inputShape: ['N', 'C', 8, 8] })).message).toMatch(/batch axis \(axis 0\) only/);
    expect(errorOf(() => exportModel(mlp, { inputShape: SHAPE, normAs: 'bn' as 'ln' })).code).toBe('INVALID_ARGUMENT');
    const vit = new ViT({ norm: 'rms', seed: 1, imageSize: 8, dim: 8, depth: 1, heads: 2, mlpDim: 8 });
    const e = errorOf(() => exportModel(vit, { inputShape: SHAPE, rmsFormat: 'onnx23' }));
    expect(e.message).toContain('blocks.0.norm1 (RMSNorm)');
    expect(e.message).toContain('pass { opset: 23 }');
  });
});
