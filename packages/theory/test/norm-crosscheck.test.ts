// Cross-check against @normkit/norm (written independently, float32 tensors with float64 accumulation):
// the theory's float64 helpers and its whitening / foldability functions must agree with the operators.
import * as N from '@normkit/norm';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  columnCenter,
  intlBeta,
  isColumnCentered,
  iterNormEigenvalueMap,
  iterNormMatrix,
  layerNorm64,
  parallelNorm64,
  rmsNorm64,
} from '../src/index.js';

const rows = [
  [0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.05, 3.3],
  [1, 2, 3, 4, 5, 6, 7, 8],
];

describe('@normkit/norm cross-check', () => {
  it('layerNorm, rmsNorm, parallelLayerNorm (PLN and PLS) agree to float32 precision', () => {
    const x = Tensor.from(rows);
    const close = (t: Tensor, ref: number[][]) => {
      const v = t.toFlatArray();
      ref.flat().forEach((r, i) => {
        expect(Math.abs(v[i]! - r)).toBeLessThan(2e-6 * Math.max(1, Math.abs(r)));
      });
    };
    close(
      N.layerNorm(x, { epsilon: 1e-5 }),
      rows.map((r) => layerNorm64(r, 1e-5)),
    );
    close(
      N.rmsNorm(x, { epsilon: 1e-5 }),
      rows.map((r) => rmsNorm64(r, 1e-5)),
    );
    for (const g of [2, 4, 8]) {
      close(
        N.parallelLayerNorm(x, { groupSize: g, epsilon: 1e-5 }),
        rows.map((r) => parallelNorm64(r, g, 1e-5)),
      );
      close(
        N.parallelLayerNorm(x, { groupSize: g, epsilon: 1e-5, centering: false }),
        rows.map((r) => parallelNorm64(r, g, 1e-5, false)),
      );
    }
  });

  it('IterNorm matrix and eigenvalue map', () => {
    const S = [
      [2, 1],
      [1, 2],
    ];
    for (const T of [1, 2, 4, 5]) {
      const ours = iterNormMatrix(S, T).flat();
      const theirs = N.iterNormMatrix(Tensor.from(S, undefined, 'float64'), T).toFlatArray();
      ours.forEach((v, i) => {
        expect(Math.abs(v - theirs[i]!)).toBeLessThan(1e-6);
      });
    }
    for (const x of [1, 0.5, 0.1, 0.01, 0.001]) expect(iterNormEigenvalueMap(x, 4)).toBeCloseTo(N.iterNormSpectrum(x, 4), 9);
    for (const n of [128, 256, 8192]) expect(intlBeta(n)).toBeCloseTo(N.intlBeta(n), 12);
  });

  it('column centering and the CCC check', () => {
    const W = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const theirs = N.centerColumns(Tensor.from(W)).toArray() as number[][];
    expect(theirs).toEqual(columnCenter(W).W);
    expect(N.isColumnCentered(Tensor.from(columnCenter(W).W))).toBe(isColumnCentered(columnCenter(W).W));
    expect(N.isColumnCentered(Tensor.from(W))).toBe(isColumnCentered(W));
  });
});
