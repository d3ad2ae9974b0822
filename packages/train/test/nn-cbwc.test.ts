import { layerNorm, rmsNorm } from '@normkit/norm';
import { add, mul, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { CenteredConv2d, CenteredLinear, CNN, LayerNorm, Linear, MLP, type Module, RMSNorm, ViT } from '../src/nn/index.js';
import { randn64, randomizeParams } from './nn-helpers.js';

/** Largest |mean over axis 0| of a [d, ...] tensor's columns, in float64. */
function worstColumnMean(W: Tensor): number {
  const d = W.shape[0] as number;
  const inner = W.size / d;
  let worst = 0;
  for (let i = 0; i < inner; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += W.data[k * inner + i] as number;
    worst = Math.max(worst, Math.abs(s / d));
  }
  return worst;
}

/** Largest |a − b| over two tensors of one shape. */
function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return m;
}

describe('CBWC layers', () => {
  it('effectiveWeight() and effectiveBias() stay column-centred (|mean| ≤ 1e-6, float32) after random updates of V', () => {
    const layers = [new CenteredLinear(64, 32, { seed: 1 }), new CenteredConv2d(3, 16, 3, { seed: 2 })];
    for (const m of layers) {
      for (let step = 0; step < 5; step++) {
        // what an optimizer does: V ← V − lr·(some gradient), here a large random one with a non-zero mean
        for (const [i, p] of m.parameters().entries())
          p.value = add(p.value, mul(Tensor.randn([...p.value.shape], 100 * step + i, { mean: 0.3 }), 0.5));
        expect(worstColumnMean(m.effectiveWeight())).toBeLessThanOrEqual(1e-6);
        expect(worstColumnMean(m.effectiveBias() as Tensor)).toBeLessThanOrEqual(1e-6);
      }
      // the free parameter itself is not centred: the centring is in the forward pass
      expect(worstColumnMean(m.weight.value)).toBeGreaterThan(0.01);
    }
  });

  it('RMSNorm(γ, β) after a CenteredLinear equals LayerNorm(γ, β) on the same activations (float64, 1e-10); not after a plain Linear', () => {
    const x = randn64([16, 12], 1, 3);
    const gamma = randn64([8], 2);
    const beta = randn64([8], 3);
    const fc = new CenteredLinear(12, 8, { seed: 4, dtype: 'float64' });
    randomizeParams(fc, 5, 2);
    const h = fc.forward(x);
    expect(maxDiff(rmsNorm(h, { scale: gamma, bias: beta }), layerNorm(h, { scale: gamma, bias: beta }))).toBeLessThan(1e-10);
    const plain = new Linear(12, 8, { seed: 4, dtype: 'float64' });
    randomizeParams(plain, 5, 2);
    const hp = plain.forward(x);
    expect(maxDiff(rmsNorm(hp, { scale: gamma, bias: beta }), layerNorm(hp, { scale: gamma, bias: beta }))).toBeGreaterThan(1e-3);
  });

  it('the RMSNorm / LayerNorm modules agree the same way after a CenteredConv2d, per position over channels', () => {
    const conv = new CenteredConv2d(2, 6, 3, { seed: 1, dtype: 'float64', padding: 1 });
    randomizeParams(conv, 9, 2);
    const h = conv.forward(randn64([2, 2, 5, 5], 3));
    const rms = new RMSNorm(6, { dtype: 'float64', bias: true, layout: 'channels' });
    const ln = new LayerNorm(6, { dtype: 'float64', layout: 'channels' });
    randomizeParams(rms, 11);
    randomizeParams(ln, 11);
    expect(maxDiff(rms.forward(h), ln.forward(h))).toBeLessThan(1e-10);
  });
});

describe('CBWC networks equal their LayerNorm twins (same parameters, float64, 1e-10)', () => {
  const x = randn64([3, 1, 28, 28], 7);
  const cases: [string, (o: { norm: 'cbwc' | 'ln'; centerSources?: boolean }) => Module][] = [
    ['MLP', (o) => new MLP({ ...o, seed: 1, hidden: [32, 24], dtype: 'float64' })],
    ['CNN', (o) => new CNN({ ...o, seed: 1, channels: [4, 6], dtype: 'float64' })],
    ['ViT', (o) => new ViT({ ...o, seed: 1, dim: 16, depth: 2, heads: 2, mlpDim: 24, patchSize: 7, dtype: 'float64' })],
  ];
  for (const [name, make] of cases)
    it(name, () => {
      const cbwc = make({ norm: 'cbwc' });
      randomizeParams(cbwc, 21, 0.3); // γ, β of every norm away from 1, 0; sources uncentred in V
      const ln = make({ norm: 'ln', centerSources: true });
      ln.loadStateDict(cbwc.stateDict());
      expect(maxDiff(cbwc.forward(x), ln.forward(x))).toBeLessThan(1e-10);
      // Uncentred sources: the LN network is unchanged (LN is mean-invariant: centring is function-preserving
      // there), while the RMSNorm network computes something else (the centring is what makes RMSNorm = LN).
      const plainState = Object.fromEntries(
        Object.entries(cbwc.stateDict()).map(([k, v]) => [k.replace(/weightV$/, 'weight').replace(/biasV$/, 'bias'), v]),
      );
      const lnPlain = make({ norm: 'ln', centerSources: false });
      lnPlain.loadStateDict(plainState);
      expect(maxDiff(cbwc.forward(x), lnPlain.forward(x))).toBeLessThan(1e-10);
      const rmsPlain = make({ norm: 'cbwc', centerSources: false });
      rmsPlain.loadStateDict(plainState);
      expect(maxDiff(cbwc.forward(x), rmsPlain.forward(x))).toBeGreaterThan(1e-3);
    });
});
