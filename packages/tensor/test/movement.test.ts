import {
  cast,
  concat,
  expand,
  flatten,
  gather,
  layerNormKernel,
  NormkitError,
  pad,
  permute,
  reshape,
  rmsNormKernel,
  slice,
  split,
  squeeze,
  Tensor,
  tile,
  transpose,
  unsqueeze,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, mulberry, prod, randArray, randShape, ravel, refBroadcast, unravel } from './ref.js';

describe('transpose / reshape / squeeze', () => {
  /** The data of `shape` permuted by `perm`, element by element from the index permutation. */
  const permuted = (data: ArrayLike<number>, shape: number[], perm: number[]) => {
    const outShape = perm.map((p) => shape[p]!);
    return Array.from({ length: data.length }, (_, o) => {
      const oi = unravel(o, outShape);
      const ii = new Array<number>(shape.length);
      perm.forEach((p, d) => {
        ii[p] = oi[d]!;
      });
      return data[ravel(ii, shape)]!;
    });
  };

  it('transpose matches index permutation on random shapes (float32 and int64)', () => {
    const rnd = mulberry(20);
    for (let t = 0; t < 40; t++) {
      const shape = randShape(rnd, 1, 5, 4);
      const perm = shape.map((_, i) => i).sort(() => rnd() - 0.5);
      const data = randArray(prod(shape), rnd);
      const y = transpose(new Tensor(shape, 'float32', data), perm);
      expect(y.shape).toEqual(perm.map((p) => shape[p]!));
      expect(y.toFlatArray()).toEqual(permuted(data, shape, perm));
    }
    expect(transpose(Tensor.from([[1, 2, 3]], undefined, 'int64')).toArray()).toEqual([[1], [2], [3]]);
    expect(permute(Tensor.zeros([2, 0, 3]), [2, 0, 1]).shape).toEqual([3, 2, 0]);
    expect(() => transpose(Tensor.zeros([2, 3]), [0, 0])).toThrow(/transpose: perm \[0, 0\]/);
  });

  it('the transposes of vision and attention models (NCHW ↔ NHWC, Kᵀ per head, size-1 axes) match the index permutation', () => {
    const rnd = mulberry(21);
    const cases = [
      [
        [2, 45, 37],
        [0, 2, 1],
      ],
      [
        [1, 40, 7, 9],
        [0, 2, 3, 1],
      ],
      [
        [1, 7, 9, 40],
        [0, 3, 1, 2],
      ],
      [
        [2, 4, 33, 16],
        [0, 1, 3, 2],
      ],
      [
        [40, 1, 33],
        [2, 1, 0],
      ],
      [
        [3, 9, 50],
        [0, 2, 1],
      ],
      [
        [10, 12, 9],
        [1, 0, 2],
      ],
      [
        [2, 70, 3, 65],
        [0, 3, 2, 1],
      ],
    ];
    for (const [shape, perm] of cases as [number[], number[]][]) {
      const data = randArray(prod(shape), rnd);
      expect(transpose(new Tensor(shape, 'float32', data), perm).toFlatArray(), `${shape} by ${perm}`).toEqual(permuted(data, shape, perm));
    }
  });
  it('reshape / squeeze / unsqueeze / flatten', () => {
    const x = Tensor.arange(0, 6);
    expect(reshape(x, [2, -1]).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(() => reshape(x, [4, -1])).toThrow(/reshape: cannot infer -1 reshaping \[6\]/);
    expect(squeeze(Tensor.zeros([1, 3, 1])).shape).toEqual([3]);
    expect(squeeze(Tensor.zeros([1, 3, 1]), [-1]).shape).toEqual([1, 3]);
    expect(() => squeeze(Tensor.zeros([2, 3]), [0])).toThrow(NormkitError);
    expect(unsqueeze(Tensor.zeros([3]), [0, -1]).shape).toEqual([1, 3, 1]);
    expect(flatten(Tensor.zeros([2, 3, 4]), 2).shape).toEqual([6, 4]);
    expect(flatten(Tensor.zeros([2, 3, 4]), 0).shape).toEqual([1, 24]);
  });
});

describe('concat / split', () => {
  it('concat along each axis equals stacking by index', () => {
    const a = Tensor.from([
      [1, 2],
      [3, 4],
    ]);
    const b = Tensor.from([[5, 6]]);
    expect(concat([a, b], 0).toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(concat([a, Tensor.from([[7], [8]]), Tensor.zeros([2, 0])], -1).toArray()).toEqual([
      [1, 2, 7],
      [3, 4, 8],
    ]);
    expect(concat([Tensor.from([1], undefined, 'int64'), Tensor.from([2, 3], undefined, 'int64')], 0).toArray()).toEqual([1, 2, 3]);
    expect(() => concat([a, Tensor.zeros([2, 3])], 0)).toThrow(/concat: shapes \[2, 2\] and \[2, 3\] differ outside axis 0/);
    expect(() => concat([a, a], 2)).toThrow(/concat: axis 2 is out of range/);
  });
  it('split into sizes and equal parts, round-tripping through concat', () => {
    const x = Tensor.arange(0, 24).reshape([2, 3, 4]);
    const parts = split(x, [1, 3], -1);
    expect(parts.map((p) => p.shape)).toEqual([
      [2, 3, 1],
      [2, 3, 3],
    ]);
    expect(parts[0]!.toFlatArray()).toEqual([0, 4, 8, 12, 16, 20]);
    expect(concat(parts, 2).toFlatArray()).toEqual(x.toFlatArray());
    expect(split(x, 3, 1).map((p) => p.shape)).toEqual([
      [2, 1, 4],
      [2, 1, 4],
      [2, 1, 4],
    ]);
    // ONNX num_outputs with an uneven dim: ceil-sized chunks, the last smaller.
    expect(split(Tensor.arange(0, 5), 2).map((p) => p.toFlatArray())).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
    expect(() => split(x, [1, 1], 1)).toThrow(/split: sizes \[1, 1\] do not sum to dimension 1 of \[2, 3, 4\]/);
  });
});

/** Reference ONNX Slice for one axis: the list of source indices. */
function refSliceIdx(dim: number, start: number, end: number, step: number): number[] {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  const out: number[] = [];
  if (step > 0) {
    s = Math.max(0, Math.min(dim, s));
    e = Math.max(0, Math.min(dim, e));
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = Math.max(0, Math.min(dim - 1, s));
    e = Math.max(-1, Math.min(dim - 1, e));
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

describe('slice (ONNX semantics)', () => {
  it('hand cases with negative steps and clamping', () => {
    const x = Tensor.arange(0, 5);
    expect(slice(x, [-1], [-6], [0], [-1]).toArray()).toEqual([4, 3, 2, 1, 0]);
    expect(slice(x, [-10], [-20], [0], [-1]).toArray()).toEqual([0]);
    expect(slice(x, [10], [0], [0], [-2]).toArray()).toEqual([4, 2]);
    expect(slice(x, [1], [100]).toArray()).toEqual([1, 2, 3, 4]);
    expect(slice(x, [3], [1]).toArray()).toEqual([]);
    expect(slice(x, [0], [-1], [0], [3]).toArray()).toEqual([0, 3]);
    const m = Tensor.arange(0, 12).reshape([3, 4]);
    expect(slice(m, [0, 3], [3, 0], [0, 1], [2, -2]).toArray()).toEqual([
      [3, 1],
      [11, 9],
    ]);
    expect(slice(m, [1], [2], [-1]).toArray()).toEqual([[1], [5], [9]]);
    expect(() => slice(x, [0], [1], [0], [0])).toThrow(/slice: step must not be 0/);
  });
  it('matches the per-axis index reference on random shapes, starts, ends, steps', () => {
    const rnd = mulberry(21);
    for (let t = 0; t < 60; t++) {
      const shape = randShape(rnd, 1, 3, 6);
      const data = randArray(prod(shape), rnd);
      const axes = shape.map((_, i) => i).filter(() => rnd() < 0.7);
      const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
      const starts = axes.map((a) => ri(-shape[a]! - 2, shape[a]! + 2));
      const ends = axes.map((a) => ri(-shape[a]! - 2, shape[a]! + 2));
      const steps = axes.map(() => [1, 2, 3, -1, -2, -3][ri(0, 5)]!);
      const idx = shape.map((d, a) => {
        const j = axes.indexOf(a);
        return j < 0 ? Array.from({ length: d }, (_, i) => i) : refSliceIdx(d, starts[j]!, ends[j]!, steps[j]!);
      });
      const outShape = idx.map((l) => l.length);
      const y = slice(new Tensor(shape, 'float32', data), starts, ends, axes, steps);
      expect(y.shape).toEqual(outShape);
      expect(y.toFlatArray()).toEqual(
        Array.from(
          { length: prod(outShape) },
          (_, o) =>
            data[
              ravel(
                unravel(o, outShape).map((v, d) => idx[d]![v]!),
                shape,
              )
            ]!,
        ),
      );
    }
  });
});

describe('pad', () => {
  const x = Tensor.from([1, 2, 3]);
  it('constant / reflect / edge hand cases (numpy semantics)', () => {
    expect(pad(x, [2, 1]).toArray()).toEqual([0, 0, 1, 2, 3, 0]);
    expect(pad(x, [2, 1], 'constant', 9).toArray()).toEqual([9, 9, 1, 2, 3, 9]);
    expect(pad(x, [2, 2], 'reflect').toArray()).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(pad(x, [2, 2], 'edge').toArray()).toEqual([1, 1, 1, 2, 3, 3, 3]);
    expect(pad(x, [-1, 1]).toArray()).toEqual([2, 3, 0]);
    const m = Tensor.from([
      [1, 2],
      [3, 4],
    ]);
    expect(pad(m, [1, 0, 0, 1], 'reflect').toArray()).toEqual([
      [3, 4, 3],
      [1, 2, 1],
      [3, 4, 3],
    ]);
    expect(pad(m, [0, 1, 1, 0], 'edge').toArray()).toEqual([
      [1, 1, 2],
      [3, 3, 4],
      [3, 3, 4],
    ]);
    expect(pad(Tensor.from([5, 6], undefined, 'int64'), [1, 1], 'constant', 7).toArray()).toEqual([7, 5, 6, 7]);
    expect(() => pad(m, [1, 1])).toThrow(/pad: expected 4 pads for \[2, 2\]/);
  });
  it('matches a per-index reference for random shapes and modes', () => {
    const rnd = mulberry(22);
    const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    for (let t = 0; t < 40; t++) {
      const shape = randShape(rnd, 1, 3, 5).map((d) => d + 1);
      const mode = (['constant', 'reflect', 'edge'] as const)[t % 3];
      const pads = [...shape, ...shape].map((d) => (mode === 'reflect' ? ri(0, d - 1) : ri(-1, 3)));
      const data = randArray(prod(shape), rnd);
      const y = pad(new Tensor(shape, 'float32', data), pads, mode, 0.5);
      const r = shape.length;
      const outShape = shape.map((d, i) => d + pads[i]! + pads[i + r]!);
      expect(y.shape).toEqual(outShape);
      const exp = Array.from({ length: prod(outShape) }, (_, o) => {
        const ii = unravel(o, outShape).map((v, d) => {
          const i = v - pads[d]!;
          const n = shape[d]!;
          if (i >= 0 && i < n) return i;
          if (mode === 'constant') return -1;
          if (mode === 'edge') return i < 0 ? 0 : n - 1;
          return i < 0 ? -i : 2 * (n - 1) - i;
        });
        return ii.includes(-1) ? 0.5 : data[ravel(ii, shape)]!;
      });
      expect(y.toFlatArray()).toEqual(exp);
    }
  });
});

describe('gather / expand / tile / cast', () => {
  it('gather with negative, int32 and int64, multi-dim indices on any axis', () => {
    const x = Tensor.arange(0, 12).reshape([3, 4]);
    expect(gather(x, Tensor.from([-1, 0], undefined, 'int64')).toArray()).toEqual([
      [8, 9, 10, 11],
      [0, 1, 2, 3],
    ]);
    expect(gather(x, Tensor.from([[1, -1]], undefined, 'int32'), 1).toArray()).toEqual([[[1, 3]], [[5, 7]], [[9, 11]]]);
    expect(gather(x, Tensor.scalar(2, 'int64'), 0).toArray()).toEqual([8, 9, 10, 11]);
    expect(gather(Tensor.from([5, 6, 7], undefined, 'int64'), Tensor.from([2, -3], undefined, 'int64')).toArray()).toEqual([7, 5]);
    expect(() => gather(x, Tensor.from([3], undefined, 'int64'))).toThrow(/gather: index 3 is out of range for axis 0 of \[3, 4\]/);
    expect(() => gather(x, Tensor.from([0]))).toThrow(/gather: indices must be int32 or int64, got float32/);
    expect(() => gather(x, Tensor.from([0], undefined, 'int64'), 2)).toThrow(/gather: axis 2/);
  });
  it('expand and tile match broadcasting/repetition by index', () => {
    const rnd = mulberry(23);
    for (let t = 0; t < 30; t++) {
      const shape = randShape(rnd, 0, 3, 3).map((d) => (rnd() < 0.4 ? 1 : d));
      const target = [...(rnd() < 0.5 ? [2] : []), ...shape.map((d) => (d === 1 ? 1 + Math.floor(rnd() * 3) : d))];
      const data = randArray(prod(shape), rnd);
      const y = expand(new Tensor(shape, 'float32', data), target);
      const out = refBroadcast(shape, target);
      expect(y.shape).toEqual(out);
      expect(y.toFlatArray()).toEqual(
        Array.from({ length: prod(out) }, (_, o) => {
          const oi = unravel(o, out);
          return data[
            ravel(
              shape.map((d, i) => (d === 1 ? 0 : oi[i + out.length - shape.length]!)),
              shape,
            )
          ]!;
        }),
      );
      const reps = shape.map(() => 1 + Math.floor(rnd() * 3));
      const z = tile(new Tensor(shape, 'float32', data), reps);
      const ts = shape.map((d, i) => d * reps[i]!);
      expect(z.shape).toEqual(ts);
      expect(z.toFlatArray()).toEqual(
        Array.from(
          { length: prod(ts) },
          (_, o) =>
            data[
              ravel(
                unravel(o, ts).map((v, d) => v % shape[d]!),
                shape,
              )
            ]!,
        ),
      );
    }
    expect(expand(Tensor.from([[1], [2]]), [2, 3]).toArray()).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(expand(Tensor.from([1, 2, 3]), [1, 1]).shape).toEqual([1, 3]);
    expect(() => expand(Tensor.from([1, 2, 3]), [2])).toThrow(/expand: shapes \[3\] and \[2\]/);
    expect(tile(Tensor.from([1, 2], undefined, 'int64'), [2]).toArray()).toEqual([1, 2, 1, 2]);
  });
  it('cast follows ONNX (truncation toward zero, bool = nonzero)', () => {
    const x = Tensor.from([-1.7, -0.2, 0, 0.5, 2.9]);
    expect(cast(x, 'int64').toArray()).toEqual([-1, 0, 0, 0, 2]);
    expect(cast(x, 'int32').toArray()).toEqual([-1, 0, 0, 0, 2]);
    expect(cast(x, 'bool').toArray()).toEqual([1, 1, 0, 1, 1]);
    expect(cast(Tensor.from([3, -4], undefined, 'int64'), 'float32').toArray()).toEqual([3, -4]);
    expect(cast(Tensor.from([true, false]), 'float32').toArray()).toEqual([1, 0]);
    expect(cast(x, 'float64').dtype).toBe('float64');
  });
});

describe('fused norm kernels', () => {
  it('layerNormKernel / rmsNormKernel match the definitions over trailing axes', () => {
    const rnd = mulberry(24);
    const shape = [3, 4, 5];
    const data = randArray(60, rnd, -3, 5);
    const g = randArray(20, rnd);
    const b = randArray(20, rnd);
    const x = new Tensor(shape, 'float32', data);
    const ln = layerNormKernel(x, new Tensor([4, 5], 'float32', g), new Tensor([4, 5], 'float32', b), 1, 1e-5);
    const rms = rmsNormKernel(x, new Tensor([4, 5], 'float32', g), undefined, -2, 1e-5);
    const expLn: number[] = [];
    const expRms: number[] = [];
    for (let r = 0; r < 3; r++) {
      const row = Array.from(data.subarray(r * 20, r * 20 + 20));
      const mu = row.reduce((s, v) => s + v, 0) / 20;
      const vr = row.reduce((s, v) => s + (v - mu) ** 2, 0) / 20;
      const ms = row.reduce((s, v) => s + v * v, 0) / 20;
      for (const [j, v] of row.entries()) expLn.push(((v - mu) / Math.sqrt(vr + 1e-5)) * g[j]! + b[j]!);
      for (const [j, v] of row.entries()) expRms.push((v / Math.sqrt(ms + 1e-5)) * g[j]!);
      expect(ln.mean.get(r, 0, 0)).toBeCloseTo(mu, 5);
      expect(ln.invStdDev.get(r, 0, 0)).toBeCloseTo(1 / Math.sqrt(vr + 1e-5), 4);
    }
    expectClose(ln.y.toFlatArray(), expLn, 1e-5, 1e-5);
    expectClose(rms.toFlatArray(), expRms, 1e-5, 1e-5);
    expect(() => layerNormKernel(x, undefined, undefined, 3)).toThrow(/layerNorm: axis 3 is out of range/);
    expect(() => rmsNormKernel(x, Tensor.zeros([3]), undefined, -1)).toThrow(/rmsNorm \(scale\)/);
  });
});
