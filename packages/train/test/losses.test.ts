import { intlLoss, intlWhiten, normMseLoss, traceLoss } from '@normkit/norm';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { valueAndGrads } from '../src/autograd.js';
import { gradCheck } from '../src/gradcheck.js';
import { crossEntropy, intlObjective, mse } from '../src/losses.js';

const f64 = (rows: number[][]) => Tensor.from(rows, undefined, 'float64');
const randn = (shape: number[], seed: number) => Tensor.randn(shape, seed, { dtype: 'float64' });
const ids = (v: number[]) => Tensor.from(v, undefined, 'int64');

/** Independent reference: −log(e^{z_y} / Σ e^{z_c}) per row, without any max shift (moderate logits only). */
function naiveCe(z: number[][], y: number[], smoothing = 0): number[] {
  return z.map((row, n) => {
    const se = row.reduce((s, v) => s + Math.exp(v), 0);
    const nll = (c: number) => -Math.log(Math.exp(row[c] as number) / se);
    // PyTorch: (1 − ε)·nll(y) + ε·mean_c nll(c)
    return (1 - smoothing) * nll(y[n] as number) + (smoothing * row.reduce((s, _, c) => s + nll(c), 0)) / row.length;
  });
}

describe('crossEntropy', () => {
  const z = [
    [2, 0.5, -1, 0.25],
    [-0.3, 1.7, 0.2, 0.9],
    [0.1, 0.1, 3, -2],
  ];
  const y = [0, 3, 2];

  it('equals −log softmax at the label, mean and sum, float64 to 1e-14', () => {
    const ref = naiveCe(z, y);
    const mean = ref.reduce((a, b) => a + b, 0) / 3;
    expect(Number(crossEntropy(f64(z), ids(y)).data[0])).toBeCloseTo(mean, 14);
    expect(Number(crossEntropy(f64(z), ids(y), { reduction: 'sum' }).data[0])).toBeCloseTo(mean * 3, 13);
  });

  it('label smoothing matches PyTorch’s (1 − ε)·nll + ε·mean_c(−log p_c), to 1e-14', () => {
    const ref = naiveCe(z, y, 0.1).reduce((a, b) => a + b, 0) / 3;
    expect(Number(crossEntropy(f64(z), ids(y), { labelSmoothing: 0.1 }).data[0])).toBeCloseTo(ref, 14);
  });

  it('is stable for huge logits (log-sum-exp): finite, exact for a dominant class', () => {
    const big = Tensor.from([
      [1000, 0, -1000],
      [1000, 0, -1000],
    ]);
    const r = crossEntropy(big, Tensor.from([0, 1], undefined, 'int32'), { reduction: 'sum' });
    expect(r.dtype).toBe('float32');
    // row 0: log(1 + e^-1000 + e^-2000) = 0; row 1: 1000 + 0
    expect(Number(r.data[0])).toBe(1000);
  });

  it('gradient is (softmax − onehot)/N (formula) and passes gradCheck', () => {
    const logits = f64(z);
    const { grads } = valueAndGrads(() => crossEntropy(logits, ids(y)), [logits]);
    const g = grads[0] as Tensor;
    z.forEach((row, n) => {
      const se = row.reduce((s, v) => s + Math.exp(v), 0);
      for (const [c, v] of row.entries()) expect(g.get(n, c)).toBeCloseTo((Math.exp(v) / se - (c === y[n] ? 1 : 0)) / 3, 14);
    });
    const r = gradCheck(
      () => crossEntropy(logits, ids(y), { labelSmoothing: 0.2, reduction: 'sum' }),
      { logits },
      { rtol: 1e-6, atol: 1e-9 },
    );
    expect(r.ok, r.summary).toBe(true);
  });

  it('names bad labels and shapes', () => {
    expect(() => crossEntropy(f64(z), ids([0, 4, 1]))).toThrow(/label 4 at row 1/);
    expect(() => crossEntropy(f64(z), ids([0, 1]))).toThrow(/labels must be int32\/int64 \[3\]/);
    expect(() => crossEntropy(Tensor.zeros([2, 3, 4]), ids([0, 1]))).toThrow(/logits must be float \[N, C\]/);
  });
});

describe('mse', () => {
  it('is Σ(p − t)²/n (or the sum) and passes gradCheck in both arguments', () => {
    const p = Tensor.from([1, 2, -3], undefined, 'float64');
    const t = Tensor.from([1, 4, -1], undefined, 'float64');
    expect(Number(mse(p, t).data[0])).toBeCloseTo(8 / 3, 15);
    expect(Number(mse(p, t, { reduction: 'sum' }).data[0])).toBe(8);
    const r = gradCheck(() => mse(p, t), { p, t }, { rtol: 1e-6, atol: 1e-9 });
    expect(r.ok, r.summary).toBe(true);
  });

  it('refuses mismatched shapes', () => {
    expect(() => mse(Tensor.zeros([2]), Tensor.zeros([3]))).toThrow(/one shape and dtype/);
  });
});

describe('intlObjective', () => {
  const crops = [randn([16, 6], 1), randn([16, 6], 2), randn([16, 6], 3)];

  it('equals its definition composed from the recorded norm ops, and @normkit/norm’s intlLoss (1e-12)', () => {
    const beta = 0.07;
    const t = crops.map((c) => intlWhiten(c, { iters: 4 }));
    let ref = 0;
    for (let i = 1; i < 3; i++)
      ref += normMseLoss(t[i] as Tensor, t[0] as Tensor) + beta * (traceLoss(t[i] as Tensor) + traceLoss(t[0] as Tensor));
    ref /= 2;
    const v = Number(intlObjective(crops, { beta, iters: 4 }).data[0]);
    expect(v).toBeCloseTo(ref, 12);
    expect(v).toBeCloseTo(intlLoss(crops, { beta, iters: 4 }), 12);
    // default β = 0.01·(log2 16 − 3) = 0.01
    expect(Number(intlObjective(crops).data[0])).toBeCloseTo(intlLoss(crops, { beta: 0.01 }), 12);
  });

  it('passes gradCheck w.r.t. every crop (rtol 1e-5, atol 1e-8)', () => {
    const [a, b, c] = crops as [Tensor, Tensor, Tensor];
    const r = gradCheck(() => intlObjective([a, b, c], { beta: 0.05 }), { a, b, c }, { rtol: 1e-5, atol: 1e-8 });
    expect(r.ok, r.summary).toBe(true);
  });
});
