// Behaviour of the operators beyond the ONNX test directories: opset-18 GroupNorm against
// onnxruntime-node, running statistics, whitening properties, errors.
import { NormkitError, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  batchNorm,
  batchNormTraining,
  centeredWeightNorm,
  columnMeanDeviation,
  emaUpdate,
  groupNorm,
  intlBeta,
  intlLoss,
  intlMomentumLoss,
  intlWhiten,
  iterNorm,
  iterNormInference,
  layerNorm,
  layerNormWithStats,
  lnG,
  normMseLoss,
  parallelLayerNorm,
  rmsNorm,
  traceLoss,
  whiten,
} from '../src/index.js';
import { oneNodeModel, runOrt } from './ort-helper.js';

const arr = (t: Tensor) => Array.from(t.data as Float32Array);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};
/** Sample covariance (biased) of the channels of y [m, C], written here. */
function cov(y: number[], m: number, C: number): number[] {
  const mu = new Array(C).fill(0);
  for (let i = 0; i < m; i++) for (let c = 0; c < C; c++) mu[c] += y[i * C + c]! / m;
  const S: number[] = [];
  for (let a = 0; a < C; a++)
    for (let b = 0; b < C; b++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += (y[i * C + a]! - mu[a]) * (y[i * C + b]! - mu[b]);
      S.push(s / m);
    }
  return S;
}
// biome-ignore lint/suspicious/noApproximativeNumericConstant: CWN's literal default NScale
const CWN_SCALE = 1.414;
const eye = (n: number) => Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));

describe('GroupNormalization opset 18 (per-group γ, β) and 21 against onnxruntime-node', () => {
  for (const opset of [18, 21]) {
    it(`opset ${opset}`, async () => {
      const [N, C, S, G] = [2, 6, 5, 3];
      const x = Tensor.randn([N, C, S], 3);
      const k = opset === 18 ? G : C;
      const s = Tensor.randn([k], 4);
      const b = Tensor.randn([k], 5);
      const bytes = oneNodeModel(
        'GroupNormalization',
        opset,
        [
          { name: 'x', dims: [N, C, S] },
          { name: 's', dims: [k] },
          { name: 'b', dims: [k] },
        ],
        [{ name: 'y', dims: [N, C, S] }],
        [
          { name: 'num_groups', i: G },
          { name: 'epsilon', f: 1e-3 },
        ],
      );
      const ref = await runOrt(bytes, {
        x: { data: x.data as Float32Array, dims: [N, C, S] },
        s: { data: s.data as Float32Array, dims: [k] },
        b: { data: b.data as Float32Array, dims: [k] },
      });
      const got = groupNorm(x, { numGroups: G, scale: s, bias: b, epsilon: 1e-3, affine: opset === 18 ? 'group' : 'channel' });
      expect(maxDiff(arr(got), ref.y as Float32Array)).toBeLessThan(1e-5);
      // Without `affine`, the layout is inferred from the parameter size.
      expect(maxDiff(arr(groupNorm(x, { numGroups: G, scale: s, bias: b, epsilon: 1e-3 })), ref.y as Float32Array)).toBeLessThan(1e-5);
    });
  }
  it('LayerNormalization (opset 17) and RMSNormalization (opset 23) on random [7, 33] agree with onnxruntime-node', async () => {
    const x = Tensor.randn([7, 33], 9, { mean: 2, std: 3 });
    const g = Tensor.randn([33], 10);
    const b = Tensor.randn([33], 11);
    const feeds = {
      x: { data: x.data as Float32Array, dims: [7, 33] },
      g: { data: g.data as Float32Array, dims: [33] },
      b: { data: b.data as Float32Array, dims: [33] },
    };
    const ln = await runOrt(
      oneNodeModel(
        'LayerNormalization',
        17,
        [
          { name: 'x', dims: [7, 33] },
          { name: 'g', dims: [33] },
          { name: 'b', dims: [33] },
        ],
        [{ name: 'y', dims: [7, 33] }],
      ),
      feeds,
    );
    expect(maxDiff(arr(layerNorm(x, { scale: g, bias: b })), ln.y as Float32Array)).toBeLessThan(1e-5);
    const rms = await runOrt(
      oneNodeModel(
        'RMSNormalization',
        23,
        [
          { name: 'x', dims: [7, 33] },
          { name: 'g', dims: [33] },
        ],
        [{ name: 'y', dims: [7, 33] }],
      ),
      { x: feeds.x, g: feeds.g },
    );
    expect(maxDiff(arr(rmsNorm(x, { scale: g })), rms.y as Float32Array)).toBeLessThan(1e-5);
  });
});

describe('batchNorm', () => {
  const x = Tensor.from([[[1, 2]], [[3, 6]]], undefined, 'float64'); // [N=2, C=1, 2]
  it('training: batch statistics, running update with momentum (PyTorch convention), unbiased option', () => {
    const r = batchNormTraining(x, {
      runningMean: Tensor.from([1], undefined, 'float64'),
      runningVar: Tensor.from([2], undefined, 'float64'),
      momentum: 0.1,
    });
    // mean 3, biased var (4 + 1 + 0 + 9)/4 = 3.5, unbiased 14/3
    expect(arr(r.batchMean)).toEqual([3]);
    expect(arr(r.batchVar)[0]).toBeCloseTo(3.5, 12);
    expect(arr(r.runningMean)[0]).toBeCloseTo(0.9 * 1 + 0.1 * 3, 12);
    expect(arr(r.runningVar)[0]).toBeCloseTo(0.9 * 2 + 0.1 * 3.5, 12);
    const u = batchNormTraining(x, { momentum: 0.5, unbiasedRunningVar: true });
    expect(arr(u.runningVar)[0]).toBeCloseTo(0.5 * 1 + 0.5 * (14 / 3), 12);
    const want = [1, 2, 3, 6].map((v) => (v - 3) / Math.sqrt(3.5 + 1e-5));
    expect(maxDiff(arr(r.y), want)).toBeLessThan(1e-12);
  });
  it('inference uses the running statistics; NHWC via channelAxis -1', () => {
    const xh = Tensor.randn([2, 3, 4], 1, { dtype: 'float64' }); // N, W, C (channels last)
    const rm = Tensor.from([0.1, -0.2, 0.3], undefined, 'float64');
    const rv = Tensor.from([1, 2, 0.5], undefined, 'float64');
    const y = arr(
      batchNorm(xh, {
        runningMean: Tensor.from([0.1, -0.2, 0.3, 0], undefined, 'float64'),
        runningVar: Tensor.from([1, 2, 0.5, 1], undefined, 'float64'),
        channelAxis: -1,
      }),
    );
    const X = arr(xh);
    const want = X.map((v, i) => (v - [0.1, -0.2, 0.3, 0][i % 4]!) / Math.sqrt([1, 2, 0.5, 1][i % 4]! + 1e-5));
    expect(maxDiff(y, want)).toBeLessThan(1e-12);
    // The same 3-element statistics on the channels-last layout are a shape error (4 channels there).
    expect(() => batchNorm(xh, { runningMean: rm, runningVar: rv, channelAxis: -1 })).toThrow(/one per channel/);
  });
});

describe('iterNorm', () => {
  const x = Tensor.randn([200, 4], 21, { dtype: 'float64' });
  const mixed = Tensor.from(
    arr(x).map((v, i, a) => (i % 4 === 1 ? v + 0.9 * a[i - 1]! : v)),
    [200, 4],
    'float64',
  );
  it('with enough iterations the output covariance is ≈ I (whitening); T = 5 is close', () => {
    // T = 10 converges here; far more steps of the uncoupled Newton iteration amplify round-off (T = 50: 3e-3).
    const C10 = cov(arr(iterNorm(mixed, { T: 10, epsilon: 0 }).y), 200, 4);
    expect(maxDiff(C10, eye(4))).toBeLessThan(1e-9);
    const C5 = cov(arr(iterNorm(mixed).y), 200, 4);
    expect(maxDiff(C5, eye(4))).toBeLessThan(0.05);
  });
  it('running statistics: momentum 1 copies the batch; inference then equals training', () => {
    const tr = iterNorm(mixed, { momentum: 1, numGroups: 2 });
    expect(maxDiff(arr(tr.runningMean), arr(tr.mean))).toBe(0);
    const inf = iterNormInference(mixed, { runningMean: tr.runningMean, runningWm: tr.runningWm, numGroups: 2 });
    expect(maxDiff(arr(inf), arr(tr.y))).toBeLessThan(1e-12);
    const tr2 = iterNorm(mixed, { numGroups: 2 });
    // default momentum 0.1 from mean 0 and identity W
    expect(
      maxDiff(
        arr(tr2.runningMean),
        arr(tr2.mean).map((v) => 0.1 * v),
      ),
    ).toBeLessThan(1e-15);
    expect(tr2.runningWm.shape).toEqual([2, 2, 2]);
  });
});

describe('whiten', () => {
  const x = Tensor.randn([300, 3], 31, { dtype: 'float64' });
  const mixed = Tensor.from(
    arr(x).map((v, i, a) => (i % 3 === 2 ? v - 0.7 * a[i - 2]! + 0.3 * a[i - 1]! : v)),
    [300, 3],
    'float64',
  );
  for (const method of ['zca', 'pca', 'cholesky'] as const) {
    it(`${method}: covariance of the output is I`, () => {
      const y = arr(whiten(mixed, { method, epsilon: 0 }));
      expect(maxDiff(cov(y, 300, 3), eye(3))).toBeLessThan(1e-9);
    });
  }
  it('PCA orders components by decreasing variance of the input direction; ZCA stays closest to the input', () => {
    const z = arr(whiten(mixed, { method: 'zca', epsilon: 0 }));
    const p = arr(whiten(mixed, { method: 'pca', epsilon: 0 }));
    const X = arr(mixed);
    const dist = (y: number[]) => y.reduce((a, v, i) => a + (v - X[i]!) ** 2, 0);
    expect(dist(z)).toBeLessThan(dist(p));
  });
});

describe('parallelLayerNorm, lnG, centered weight norm, CCC check', () => {
  it('lnG(x, 2) equals PLN with groupSize F/2', () => {
    const x = Tensor.randn([3, 10], 3, { dtype: 'float64' });
    expect(maxDiff(arr(lnG(x, 2)), arr(parallelLayerNorm(x, { groupSize: 5 })))).toBe(0);
  });
  it('default groupSize is 8; bad group sizes throw NormkitError', () => {
    const x = Tensor.randn([2, 16], 1);
    expect(maxDiff(arr(parallelLayerNorm(x)), arr(parallelLayerNorm(x, { groupSize: 8 })))).toBe(0);
    expect(() => parallelLayerNorm(Tensor.randn([2, 12], 1))).toThrow(/groupSize 8 must divide/);
  });
  it('CWN rows have zero mean and norm s·‖v_c‖/(‖v_c‖ + ε)', () => {
    const V = Tensor.randn([4, 6], 2, { dtype: 'float64' });
    const W = arr(centeredWeightNorm(V));
    const v = arr(V);
    for (let o = 0; o < 4; o++) {
      const row = W.slice(o * 6, o * 6 + 6);
      expect(Math.abs(row.reduce((a, t) => a + t, 0))).toBeLessThan(1e-12);
      const vr = v.slice(o * 6, o * 6 + 6);
      const mu = vr.reduce((a, t) => a + t, 0) / 6;
      const nv = Math.sqrt(vr.reduce((a, t) => a + (t - mu) ** 2, 0));
      expect(Math.sqrt(row.reduce((a, t) => a + t * t, 0))).toBeCloseTo((CWN_SCALE * nv) / (nv + 1e-5), 12);
    }
  });
  it('columnMeanDeviation measures the CCC violation', () => {
    // column 0: mean 2 / max 3; column 1: mean 3 / max 4 → worst 0.75
    expect(
      columnMeanDeviation(
        Tensor.from([
          [1, 2],
          [3, 4],
        ]),
      ),
    ).toBeCloseTo(0.75, 6);
  });
});

describe('INTL', () => {
  it('axis 1 whitening with many iterations gives unit (unbiased) feature variances, so the trace loss vanishes', () => {
    const z = Tensor.randn([64, 6], 5, { dtype: 'float64' });
    expect(traceLoss(intlWhiten(z, { axis: 1, iters: 40 }), { axis: 1 })).toBeLessThan(1e-12);
    expect(traceLoss(intlWhiten(z, { axis: 1, iters: 1 }), { axis: 1 })).toBeGreaterThan(1e-3);
  });
  it('identical crops: alignment 0, loss = 2β·TL(t0)', () => {
    const z = Tensor.randn([16, 8], 6, { dtype: 'float64' });
    const t = intlWhiten(z);
    expect(normMseLoss(t, t)).toBeLessThan(1e-12);
    expect(intlLoss([z, z])).toBeCloseTo(2 * intlBeta(16) * traceLoss(t), 12);
  });
  it('EMA variant: the key enters only through the alignment term (no TL(t_key)), averaged over the online crops', () => {
    const [z0, z1, z2] = [7, 8, 9].map((s) => Tensor.randn([16, 8], s, { dtype: 'float64' })) as [Tensor, Tensor, Tensor];
    const [t0, t1, t2] = [z0, z1, z2].map((z) => intlWhiten(z)) as [Tensor, Tensor, Tensor];
    const b = intlBeta(16);
    // With one online crop and the key = crop 0, intl_m is intlLoss minus β·TL(t_0).
    expect(intlMomentumLoss([z1], z0)).toBeCloseTo(intlLoss([z0, z1]) - b * traceLoss(t0), 12);
    const expected = (normMseLoss(t1, t0) + b * traceLoss(t1) + normMseLoss(t2, t0) + b * traceLoss(t2)) / 2;
    expect(intlMomentumLoss([z1, z2], z0)).toBeCloseTo(expected, 12);
    expect(() => intlMomentumLoss([], z0)).toThrow(/online crop/);
    expect(() => intlMomentumLoss([Tensor.randn([8, 8], 1, { dtype: 'float64' })], z0)).toThrow(NormkitError);
  });
  it('emaUpdate: target ← m·target + (1 − m)·online, in place; m = 1 keeps, m = 0 copies', () => {
    const target = Tensor.from([1, 2, 3, 4], [2, 2], 'float64');
    const online = Tensor.from([5, 6, 7, 8], [2, 2], 'float64');
    expect(emaUpdate(target, online, 0.75)).toBe(target);
    expect([...target.data]).toEqual([2, 3, 4, 5]);
    emaUpdate(target, online, 1);
    expect([...target.data]).toEqual([2, 3, 4, 5]);
    emaUpdate(target, online, 0);
    expect([...target.data]).toEqual([5, 6, 7, 8]);
    expect(() => emaUpdate(target, online, 1.5)).toThrow(/momentum/);
    expect(() => emaUpdate(target, Tensor.zeros([4], 'float64'), 0.9)).toThrow(/must match/);
  });
});

describe('errors are NormkitErrors that say what to do', () => {
  it('bad inputs', () => {
    expect(() => layerNorm(Tensor.from([1, 2], undefined, 'int32'))).toThrow(/float32 or float64/);
    expect(() => layerNorm(Tensor.randn([2, 3], 1), { scale: Tensor.ones([4]) })).toThrow(NormkitError);
    expect(() => groupNorm(Tensor.randn([1, 6, 2], 1), { numGroups: 4 })).toThrow(/divisor/);
    expect(() => groupNorm(Tensor.randn([1, 6, 2], 1), { numGroups: 3, scale: Tensor.ones([5]) })).toThrow(/opset-18/);
    expect(() => layerNorm(Tensor.randn([2, 3], 1), { axis: 2 })).toThrow(NormkitError);
    expect(() => whiten(Tensor.randn([2, 4], 1, { dtype: 'float64' }), { epsilon: 0 })).toThrow(/epsilon/);
  });
  it('LN optional outputs have ONNX shapes', () => {
    const r = layerNormWithStats(Tensor.randn([2, 3, 4], 1), { axis: 1 });
    expect(r.mean.shape).toEqual([2, 1, 1]);
    expect(r.invStdDev.shape).toEqual([2, 1, 1]);
  });
});
