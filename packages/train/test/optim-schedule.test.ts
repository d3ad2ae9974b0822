import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Parameter } from '../src/nn/module.js';
import { clipGradNorm, SGD, warmupCosine } from '../src/optim/index.js';

describe('warmupCosine', () => {
  const lrAt = warmupCosine({ baseLr: 0.4, warmupSteps: 10, totalSteps: 110, minLr: 0.004 });

  it('warms up linearly to baseLr at the last warm-up step (tol 1e-15)', () => {
    expect(lrAt(0)).toBeCloseTo(0.04, 15);
    expect(lrAt(4)).toBeCloseTo(0.2, 15); // middle of the warm-up: (4 + 1)/10
    expect(lrAt(9)).toBe(0.4);
  });

  it('decays by a cosine: half way at the middle, the floor at the last step and after (tol 1e-15)', () => {
    // progress p = (s − 10 + 1)/100: p = ½ at s = 59, p = 1 at s = 109
    expect(lrAt(59)).toBeCloseTo((0.4 + 0.004) / 2, 15);
    expect(lrAt(34)).toBeCloseTo(0.004 + 0.396 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), 15);
    expect(lrAt(109)).toBeCloseTo(0.004, 15);
    expect(lrAt(500)).toBeCloseTo(0.004, 15);
  });

  it('drives any optimizer through opt.lr', () => {
    const opt = new SGD([new Parameter(Tensor.zeros([2]))], { lr: 1 });
    opt.lr = lrAt(4);
    expect(opt.groups[0]?.lr).toBeCloseTo(0.2, 15);
  });

  it('refuses bad settings and steps with a message naming them', () => {
    expect(() => warmupCosine({ baseLr: 0.1, warmupSteps: 10, totalSteps: 10 })).toThrow(
      /totalSteps must be an integer > warmupSteps \(10\), got 10/,
    );
    expect(() => warmupCosine({ baseLr: 0.1, totalSteps: 10, minLr: 0.2 })).toThrow(/minLr must be in \[0, baseLr = 0.1\]/);
    expect(() => lrAt(-1)).toThrow(/step must be an integer ≥ 0/);
  });
});

describe('clipGradNorm', () => {
  const make = (vals: number[]) => {
    const p = new Parameter(Tensor.zeros([vals.length], 'float64'));
    p.grad = Tensor.from(Float64Array.from(vals));
    return p;
  };

  it('returns the global 2-norm and scales every gradient by maxNorm/(norm + 1e-6) (tol 1e-15)', () => {
    const ps = [make([3, 0, -4]), make([12]), new Parameter(Tensor.zeros([2]))];
    const norm = clipGradNorm(ps, 6.5);
    expect(norm).toBeCloseTo(13, 14); // √(9 + 16 + 144)
    const k = 6.5 / (13 + 1e-6);
    expect(Array.from(ps[0]!.grad!.data as Float64Array)).toEqual([3 * k, 0, -4 * k]);
    expect(Array.from(ps[1]!.grad!.data as Float64Array)).toEqual([12 * k]);
    expect(ps[2]?.grad).toBeUndefined();
  });

  it('leaves gradients under the limit as they are', () => {
    const p = make([0.3, 0.4]);
    const g = p.grad;
    expect(clipGradNorm([p], 1)).toBeCloseTo(0.5, 15);
    expect(p.grad).toBe(g);
  });

  it('scales a gradient tensor shared by two parameters once, without changing it in place', () => {
    const shared = Tensor.from(Float64Array.from([3, 4]));
    const a = new Parameter(Tensor.zeros([2], 'float64'));
    const b = new Parameter(Tensor.zeros([2], 'float64'));
    a.grad = shared;
    b.grad = shared;
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(Math.sqrt(50), 14);
    expect(Array.from(shared.data as Float64Array)).toEqual([3, 4]);
    const k = 1 / (Math.sqrt(50) + 1e-6);
    expect(Array.from(a.grad!.data as Float64Array)).toEqual([3 * k, 4 * k]);
    expect(Array.from(b.grad!.data as Float64Array)).toEqual([3 * k, 4 * k]);
  });

  it('supports the max norm (normType Infinity) and reports NaN without scaling', () => {
    expect(clipGradNorm([make([1, -7]), make([2])], 100, Number.POSITIVE_INFINITY)).toBe(7);
    const p = make([1, Number.NaN]);
    expect(clipGradNorm([p], 1)).toBeNaN();
    expect(p.grad?.data[0]).toBe(1);
  });
});
