// Identities that hold for all inputs, checked with fast-check on random shapes and values.

import { add, concat, gemm, matmul, slice, softmax, split, sum, Tensor, transpose } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectClose, mulberry, randArray } from './ref.js';

const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
const tensorOf = (shape: number[], seed: number) =>
  new Tensor(
    shape,
    'float32',
    randArray(
      shape.reduce((a, b) => a * b, 1),
      mulberry(seed),
    ),
  );

describe('properties', () => {
  it('transpose by a permutation, then by its inverse, is the identity', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), fc.integer(), (shape, seed, pseed) => {
        const x = tensorOf(shape, seed);
        const rnd = mulberry(pseed);
        const perm = shape.map((_, i) => i).sort(() => rnd() - 0.5);
        const inv = new Array<number>(perm.length);
        perm.forEach((p, i) => {
          inv[p] = i;
        });
        const y = transpose(transpose(x, perm), inv);
        expect(y.shape).toEqual(shape);
        expect(y.toFlatArray()).toEqual(x.toFlatArray());
      }),
      { numRuns: 60 },
    );
  });

  it('split then concat along any axis is the identity; a full reverse slice twice is too', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), fc.nat(), (shape, seed, a) => {
        const x = tensorOf(shape, seed);
        const axis = a % shape.length;
        const d = shape[axis]!;
        const cut = Math.floor(d / 2);
        expect(concat(split(x, [cut, d - cut], axis), axis).toFlatArray()).toEqual(x.toFlatArray());
        const rev = (t: Tensor) => slice(t, [-1], [-d - 1], [axis], [-1]);
        expect(rev(rev(x)).toFlatArray()).toEqual(x.toFlatArray());
      }),
      { numRuns: 60 },
    );
  });

  it('matmul distributes over addition and agrees with gemm on transposed operands', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        (m, k, n, seed) => {
          const a = tensorOf([m, k], seed);
          const b = tensorOf([k, n], seed + 1);
          const c = tensorOf([k, n], seed + 2);
          expectClose(matmul(a, add(b, c)).toFlatArray(), add(matmul(a, b), matmul(a, c)).toFlatArray(), 1e-4, 1e-4);
          const viaGemm = gemm(transpose(a), transpose(b), undefined, { transA: true, transB: true });
          expectClose(viaGemm.toFlatArray(), matmul(a, b).toFlatArray(), 1e-5, 1e-5);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('softmax sums to one and ignores a constant shift', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer(), fc.double({ min: -50, max: 50, noNaN: true }), (shape, seed, shift) => {
        const x = tensorOf(shape, seed);
        const s = softmax(x, -1);
        const ones = sum(s, -1).toFlatArray();
        for (const v of ones) expect(v).toBeCloseTo(1, 5);
        expectClose(softmax(add(x, shift), -1).toFlatArray(), s.toFlatArray(), 1e-6, 1e-4);
      }),
      { numRuns: 60 },
    );
  });
});
