import { sum, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { valueAndGrads } from '../src/autograd.js';
import {
  BatchNorm,
  CNN,
  Dropout,
  GroupNorm,
  Identity,
  IterNorm,
  LayerNorm,
  type LNG,
  MLP,
  type Module,
  makeNorm,
  NORM_KINDS,
  type PLN,
  RMSNorm,
  ViT,
} from '../src/nn/index.js';
import { randn64 } from './nn-helpers.js';

describe('Dropout', () => {
  it('is the identity in eval mode and with p = 0', () => {
    const x = randn64([4, 5], 1);
    expect(new Dropout(0.5, { seed: 1 }).eval().forward(x)).toBe(x);
    expect(new Dropout(0, { seed: 1 }).forward(x)).toBe(x);
  });

  it('keeps 1 − p of the elements (within 4σ), scales them by 1/(1 − p), and its gradient is the mask', () => {
    const p = 0.3;
    const n = 100_000;
    const x = Tensor.ones([n], 'float64');
    const drop = new Dropout(p, { seed: 4 });
    let out: Tensor | undefined;
    const { value, grads } = valueAndGrads(() => sum((out = drop.forward(x))), [x]);
    const y = (out as Tensor).data as Float64Array;
    let kept = 0;
    for (const v of y) {
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo(1 / (1 - p), 14);
      }
    }
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    expect(Math.abs(Number(value.data[0]) - kept / (1 - p))).toBeLessThan(1e-9 * n);
    expect(Array.from(grads[0]?.data as Float64Array)).toEqual(Array.from(y)); // x = 1: ∂Σy/∂x = mask = y
  });

  it('draws a new mask at every call, the same sequence for the same seed', () => {
    const x = Tensor.ones([64]);
    const a = new Dropout(0.5, { seed: 9 });
    const b = new Dropout(0.5, { seed: 9 });
    const a1 = a.forward(x).toFlatArray();
    expect(a.forward(x).toFlatArray()).not.toEqual(a1);
    expect(b.forward(x).toFlatArray()).toEqual(a1);
  });
});

/** Per-channel batch mean and unbiased variance of x [N, C, ...] (channel axis 1), naive loops. */
function channelStats(x: Tensor): { mean: number[]; unbiasedVar: number[]; biasedVar: number[] } {
  const [N, C] = x.shape as [number, number];
  const S = x.size / (N * C);
  const d = x.data as Float64Array;
  const out = { mean: [] as number[], unbiasedVar: [] as number[], biasedVar: [] as number[] };
  for (let c = 0; c < C; c++) {
    const vals: number[] = [];
    for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) vals.push(d[(n * C + c) * S + s] as number);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const ss = vals.reduce((a, b) => a + (b - m) ** 2, 0);
    out.mean.push(m);
    out.unbiasedVar.push(ss / (vals.length - 1));
    out.biasedVar.push(ss / vals.length);
  }
  return out;
}

describe('BatchNorm running statistics', () => {
  for (const [name, shape, layout] of [
    ['1-d [N, C]', [8, 3], 'last'],
    ['2-d [N, C, H, W]', [4, 3, 2, 5], 'channels'],
  ] as const) {
    it(`${name}: after one train step running = 0.9·init + 0.1·batch (unbiased variance), 1e-12; eval uses them`, () => {
      const bn = new BatchNorm(3, { dtype: 'float64', layout });
      const x = randn64([...shape], 3, 2);
      bn.forward(x);
      const s = channelStats(x);
      for (let c = 0; c < 3; c++) {
        expect(bn.runningMean.get(c)).toBeCloseTo(0.1 * (s.mean[c] as number), 12);
        expect(bn.runningVar.get(c)).toBeCloseTo(0.9 + 0.1 * (s.unbiasedVar[c] as number), 12);
      }
      const before = bn.runningMean.toFlatArray();
      const x2 = randn64([...shape], 5);
      const y = bn.eval().forward(x2);
      expect(bn.runningMean.toFlatArray()).toEqual(before); // eval leaves the buffers alone
      const S = x2.size / (shape[0] * 3);
      for (let i = 0; i < x2.size; i++) {
        const c = Math.floor(i / S) % 3;
        const ref = ((x2.data[i] as number) - bn.runningMean.get(c)) / Math.sqrt(bn.runningVar.get(c) + 1e-5);
        expect(y.data[i]).toBeCloseTo(ref, 12);
      }
    });
  }

  it('train mode normalises with the batch statistics (biased variance)', () => {
    const bn = new BatchNorm(3, { dtype: 'float64' });
    const x = randn64([6, 3], 8, 3);
    const y = bn.forward(x);
    const s = channelStats(x);
    for (let i = 0; i < x.size; i++) {
      const c = i % 3;
      expect(y.data[i]).toBeCloseTo(((x.data[i] as number) - (s.mean[c] as number)) / Math.sqrt((s.biasedVar[c] as number) + 1e-5), 12);
    }
  });
});

describe('IterNorm', () => {
  it('running mean after one step is 0.1·batch mean; eval applies runningWm to x − runningMean', () => {
    const it_ = new IterNorm(4, { dtype: 'float64', numGroups: 2 });
    expect(it_.runningWm.shape).toEqual([2, 2, 2]);
    const x = randn64([16, 4], 2);
    it_.forward(x);
    const s = channelStats(x);
    for (let c = 0; c < 4; c++) expect(it_.runningMean.get(c)).toBeCloseTo(0.1 * (s.mean[c] as number), 12);
    const x2 = randn64([5, 4], 3);
    const y = it_.eval().forward(x2);
    for (let n = 0; n < 5; n++)
      for (let c = 0; c < 4; c++) {
        const g = Math.floor(c / 2);
        let ref = 0;
        for (let k = 0; k < 2; k++) ref += it_.runningWm.get(g, c % 2, k) * (x2.get(n, g * 2 + k) - it_.runningMean.get(g * 2 + k));
        expect(y.get(n, c)).toBeCloseTo(ref, 12);
      }
  });

  it('whitens a batch: the output covariance is close to I after T = 5 (well-conditioned input)', () => {
    const x = randn64([512, 3], 4);
    const y = new IterNorm(3, { dtype: 'float64' }).forward(x);
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) {
        let s = 0;
        for (let n = 0; n < 512; n++) s += y.get(n, a) * y.get(n, b);
        expect(s / 512).toBeCloseTo(a === b ? 1 : 0, 1);
      }
  });
});

describe('train / eval', () => {
  const all = (m: Module): Module[] => [m, ...m.namedChildren().flatMap(([, c]) => all(c))];
  it('switch every descendant of a ViT and an MLP', () => {
    for (const net of [new ViT({ norm: 'bn', seed: 1, depth: 2, dim: 16, heads: 2, mlpDim: 16 }), new MLP({ norm: 'ln', seed: 1 })]) {
      const mods = all(net);
      expect(mods.length).toBeGreaterThan(5);
      net.eval();
      expect(mods.every((m) => !m.training)).toBe(true);
      net.train();
      expect(mods.every((m) => m.training)).toBe(true);
    }
  });
});

describe('makeNorm', () => {
  it('builds the kind asked for', () => {
    expect(makeNorm('ln', 16)).toBeInstanceOf(LayerNorm);
    const rms = makeNorm('rms', 16) as RMSNorm;
    expect(rms).toBeInstanceOf(RMSNorm);
    expect(rms.bias).toBeUndefined();
    const cbwc = makeNorm('cbwc', 16) as RMSNorm;
    expect(cbwc).toBeInstanceOf(RMSNorm);
    expect(cbwc.bias).toBeDefined(); // it replaces an LN: γ and β
    expect((makeNorm('pln', 16) as PLN).groupSize).toBe(8);
    expect((makeNorm('pln', 16, { groupSize: 4 }) as PLN).groupSize).toBe(4);
    expect((makeNorm('lng', 16, { groups: 4 }) as LNG).groupSize).toBe(4);
    expect(makeNorm('bn', 16)).toBeInstanceOf(BatchNorm);
    expect(makeNorm('gn', 16, { groups: 4 })).toBeInstanceOf(GroupNorm);
    expect(makeNorm('iternorm', 16)).toBeInstanceOf(IterNorm);
    expect(makeNorm('none', 16)).toBeInstanceOf(Identity);
    expect(NORM_KINDS).toContain('cbwc');
  });

  it('explains what is missing or wrong', () => {
    expect(() => makeNorm('lng', 16)).toThrow(/needs \{ groups \}/);
    expect(() => makeNorm('pln', 12, { groupSize: 5 })).toThrow(/group size 5 does not divide the 12 features/);
    expect(() => makeNorm('nope' as 'ln', 4)).toThrow(/unknown norm kind 'nope'/);
  });

  it('every kind runs in every network (float32 forward shapes)', () => {
    const x = Tensor.randn([4, 1, 28, 28], 1);
    for (const norm of NORM_KINDS) {
      const o = { norm, seed: 2, groups: 4 };
      expect(new MLP({ ...o, hidden: [32, 32] }).forward(x).shape).toEqual([4, 10]);
      expect(new CNN({ ...o, channels: [8, 8] }).forward(x).shape).toEqual([4, 10]);
      expect(new ViT({ ...o, dim: 16, depth: 1, heads: 2, mlpDim: 16, patchSize: 7 }).forward(x).shape).toEqual([4, 10]);
    }
  });
});

describe('names', () => {
  it('follow PyTorch / timm', () => {
    const names = new ViT({ norm: 'cbwc', seed: 1, depth: 1 }).namedParameters().map(([n]) => n);
    // own parameters first, then the children's, as PyTorch's named_parameters()
    expect(names).toEqual([
      'clsToken',
      'posEmbed',
      'patchEmbed.weightV',
      'patchEmbed.biasV',
      'blocks.0.norm1.weight',
      'blocks.0.norm1.bias',
      'blocks.0.attn.qkv.weight',
      'blocks.0.attn.qkv.bias',
      'blocks.0.attn.proj.weightV',
      'blocks.0.attn.proj.biasV',
      'blocks.0.norm2.weight',
      'blocks.0.norm2.bias',
      'blocks.0.mlp.fc1.weight',
      'blocks.0.mlp.fc1.bias',
      'blocks.0.mlp.fc2.weightV',
      'blocks.0.mlp.fc2.biasV',
      'norm.weight',
      'norm.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(Object.keys(new BatchNorm(3).stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningVar']);
    expect(new MLP({ norm: 'none', seed: 1 }).namedParameters().map(([n]) => n)).toEqual([
      '1.weight',
      '1.bias',
      '4.weight',
      '4.bias',
      '7.weight',
      '7.bias',
    ]);
  });
});
