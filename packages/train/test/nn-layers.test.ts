import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm,
  CenteredConv2d,
  CenteredLinear,
  Conv2d,
  Embedding,
  Flatten,
  GELU,
  GroupNorm,
  IterNorm,
  LayerNorm,
  Linear,
  LNG,
  MaxPool2d,
  MultiHeadSelfAttention,
  PLN,
  ReLU,
  RMSNorm,
  Sequential,
  TransformerBlock,
} from '../src/nn/index.js';
import { checkModule, randn64, randomizeParams } from './nn-helpers.js';

const f64 = { dtype: 'float64' as const };

describe('gradCheck of every layer, weights and input (float64, rtol 1e-5, atol 1e-8)', () => {
  const cases: [string, () => { m: import('../src/nn/module.js').Module; x: Tensor }][] = [
    ['Linear on [N, in]', () => ({ m: new Linear(5, 3, { ...f64, seed: 1 }), x: randn64([4, 5], 2) })],
    ['Linear on tokens [B, T, in]', () => ({ m: new Linear(5, 3, { ...f64, seed: 1 }), x: randn64([2, 3, 5], 2) })],
    ['CenteredLinear', () => ({ m: new CenteredLinear(5, 4, { ...f64, seed: 1 }), x: randn64([3, 5], 2) })],
    [
      'Conv2d (groups 2, stride 2, padding 1)',
      () => ({ m: new Conv2d(4, 6, 3, { ...f64, seed: 1, groups: 2, stride: 2, padding: 1 }), x: randn64([2, 4, 5, 5], 2) }),
    ],
    ['CenteredConv2d', () => ({ m: new CenteredConv2d(2, 3, 2, { ...f64, seed: 1, padding: 1 }), x: randn64([2, 2, 3, 3], 2) })],
    ['ReLU', () => ({ m: new ReLU(), x: randn64([3, 4], 2) })],
    ['GELU (erf)', () => ({ m: new GELU(), x: randn64([3, 4], 2) })],
    ['GELU (tanh)', () => ({ m: new GELU('tanh'), x: randn64([3, 4], 2) })],
    ['MaxPool2d', () => ({ m: new MaxPool2d(2), x: randn64([2, 2, 4, 4], 2) })],
    [
      'Flatten + Linear (Sequential)',
      () => ({ m: new Sequential(new Flatten(), new Linear(8, 2, { ...f64, seed: 1 })), x: randn64([3, 2, 2, 2], 2) }),
    ],
    ['LayerNorm', () => ({ m: new LayerNorm(6, f64), x: randn64([3, 6], 2) })],
    ['LayerNorm over conv channels', () => ({ m: new LayerNorm(3, { ...f64, layout: 'channels' }), x: randn64([2, 3, 2, 2], 2) })],
    ['RMSNorm with bias', () => ({ m: new RMSNorm(6, { ...f64, bias: true }), x: randn64([3, 6], 2) })],
    ['PLN (group size 3)', () => ({ m: new PLN(6, { ...f64, groupSize: 3 }), x: randn64([3, 6], 2) })],
    ['LNG (3 groups) on tokens', () => ({ m: new LNG(6, 3, f64), x: randn64([2, 3, 6], 2) })],
    ['GroupNorm', () => ({ m: new GroupNorm(2, 4, { ...f64, layout: 'channels' }), x: randn64([2, 4, 3, 3], 2) })],
    ['BatchNorm 1-d (train)', () => ({ m: new BatchNorm(4, f64), x: randn64([6, 4], 2) })],
    ['BatchNorm 2-d (train)', () => ({ m: new BatchNorm(3, { ...f64, layout: 'channels' }), x: randn64([2, 3, 2, 2], 2) })],
    ['BatchNorm (eval)', () => ({ m: new BatchNorm(4, f64).eval(), x: randn64([6, 4], 2) })],
    ['IterNorm (train, 2 groups)', () => ({ m: new IterNorm(4, { ...f64, numGroups: 2 }), x: randn64([8, 4], 2) })],
    ['IterNorm (eval)', () => ({ m: new IterNorm(4, f64).eval(), x: randn64([8, 4], 2) })],
    ['PLN over conv channels', () => ({ m: new PLN(4, { ...f64, groupSize: 2, layout: 'channels' }), x: randn64([2, 4, 2, 3], 2) })],
    ['BatchNorm on tokens [B, T, d] (train)', () => ({ m: new BatchNorm(4, f64), x: randn64([2, 3, 4], 2) })],
    [
      'TransformerBlock (cbwc: RMSNorm + centred proj / fc2)',
      () => ({
        m: new TransformerBlock(6, 2, 8, { seed: 1, dtype: 'float64', centered: true, norm: 'cbwc', normOpts: f64 }),
        x: randn64([2, 3, 6], 2),
      }),
    ],
    ['MultiHeadSelfAttention', () => ({ m: new MultiHeadSelfAttention(6, 2, { ...f64, seed: 1 }), x: randn64([2, 3, 6], 2) })],
  ];
  for (const [name, make] of cases)
    it(name, () => {
      const { m, x } = make();
      randomizeParams(m, 77);
      const r = checkModule(m, x);
      expect(r.ok, r.summary).toBe(true);
    });

  it('Embedding (gradient into the gathered rows, repeated ids accumulate)', () => {
    const m = new Embedding(5, 3, { ...f64, seed: 1 });
    const r = checkModule(m, Tensor.from([[1, 3, 1]], undefined, 'int64'));
    expect(r.ok, r.summary).toBe(true);
  });
});
