import { mul, sub, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { gradCheck } from '../src/gradcheck.js';
import { crossEntropy } from '../src/losses.js';
import { CNN, computeGrads, MLP, type Module, ViT } from '../src/nn/index.js';
import { randn64 } from './nn-helpers.js';

const labels = Tensor.from([3, 1, 7], undefined, 'int64');
const images = randn64([3, 1, 28, 28], 5);

/** gradCheck of the cross-entropy loss of `net` on a fixed batch w.r.t. the named parameters, `sample` elements each. */
function checkNetwork(net: Module, names: string[], sample = 6) {
  const params = Object.fromEntries(net.namedParameters());
  const wrt = Object.fromEntries(names.map((n) => [n, (params[n] ?? expect.fail(`no parameter ${n}`)).value]));
  return gradCheck(() => crossEntropy(net.forward(images), labels), wrt, { sample, seed: 3, rtol: 1e-5, atol: 1e-8 });
}

describe('gradCheck of whole networks (float64, sampled elements, rtol 1e-5, atol 1e-8)', () => {
  it('MLP (ln) w.r.t. the first, a norm and the last layer', () => {
    const net = new MLP({ norm: 'ln', seed: 1, hidden: [16, 12], dtype: 'float64' });
    const r = checkNetwork(net, ['1.weight', '1.bias', '2.weight', '5.bias', '7.weight']);
    expect(r.ok, r.summary).toBe(true);
  });

  it('MLP (cbwc: gradients reach the free V) and PLN as the only nonlinearity', () => {
    const cbwc = new MLP({ norm: 'cbwc', seed: 1, hidden: [16, 12], dtype: 'float64' });
    expect(checkNetwork(cbwc, ['1.weightV', '1.biasV', '4.weightV', '5.bias']).ok).toBe(true);
    const pln = new MLP({ norm: 'pln', groupSize: 4, activation: 'none', seed: 1, hidden: [16, 12], dtype: 'float64' });
    const r = checkNetwork(pln, ['1.weight', '4.weight', '5.weight']);
    expect(r.ok, r.summary).toBe(true);
  });

  it('CNN (bn, train mode) w.r.t. both convolutions, a BatchNorm and the head', () => {
    const net = new CNN({ norm: 'bn', seed: 1, channels: [3, 4], dtype: 'float64' });
    const r = checkNetwork(net, ['0.weight', '1.weight', '4.weight', '4.bias', '9.weight']);
    expect(r.ok, r.summary).toBe(true);
  });

  it('ViT-tiny (small dims, ln) w.r.t. patch embedding, class token, positions, attention, MLP, final norm, head', () => {
    const net = new ViT({ norm: 'ln', seed: 1, dim: 8, depth: 2, heads: 2, mlpDim: 12, patchSize: 7, dtype: 'float64' });
    const r = checkNetwork(net, [
      'patchEmbed.weight',
      'clsToken',
      'posEmbed',
      'blocks.0.attn.qkv.weight',
      'blocks.1.attn.proj.bias',
      'blocks.1.mlp.fc1.weight',
      'blocks.0.norm2.weight',
      'norm.bias',
      'head.weight',
    ]);
    expect(r.ok, r.summary).toBe(true);
  });

  it('ViT-tiny (cbwc) w.r.t. the centred sources', () => {
    const net = new ViT({ norm: 'cbwc', seed: 1, dim: 8, depth: 1, heads: 2, mlpDim: 12, patchSize: 7, dtype: 'float64' });
    const r = checkNetwork(net, ['patchEmbed.weightV', 'clsToken', 'posEmbed', 'blocks.0.attn.proj.weightV', 'blocks.0.mlp.fc2.biasV']);
    expect(r.ok, r.summary).toBe(true);
  });
});

describe('training', () => {
  it('plain gradient descent on computeGrads fits a small batch (ViT-tiny loss falls by half in 30 steps)', () => {
    const net = new ViT({ norm: 'cbwc', seed: 2, dim: 16, depth: 1, heads: 2, mlpDim: 16, patchSize: 7 });
    const x = Tensor.randn([8, 1, 28, 28], 3);
    const y = Tensor.from([0, 1, 2, 3, 4, 5, 6, 7], undefined, 'int64');
    const params = net.parameters();
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      for (const p of params) p.grad = undefined;
      losses.push(computeGrads(() => crossEntropy(net.forward(x), y), params));
      for (const p of params) p.value = sub(p.value, mul(p.grad as Tensor, 0.1));
    }
    expect(losses[0]).toBeGreaterThan(1.5);
    expect(losses[29] as number).toBeLessThan((losses[0] as number) / 2);
  });
});
