// Helpers for the executor tests: run one op on given tensors, compare with tolerance.
import { NormkitError, type Tensor } from '@normkit/tensor';
import { expect } from 'vitest';
import { type Attribute, execute, singleOpModel } from '../src/index.js';

type AttrValue = number | string | number[] | string[] | Tensor | Attribute;

/**
 * Runs a single node `op` on `inputs` (graph inputs named in0, in1, ...; `undefined` = omitted optional
 * input; `{ const: t }` = an initializer) and returns its outputs in order.
 */
export function runOp(
  op: string,
  inputs: (Tensor | undefined | { const: Tensor })[],
  attrs: Record<string, AttrValue> = {},
  opts: { opset?: number; domain?: string; outputs?: number } = {},
): Tensor[] {
  const outTypes = Array.from({ length: opts.outputs ?? 1 }, () => 'float32' as const);
  const { model, feeds, outputs: outs } = singleOpModel(op, inputs, attrs, { ...opts, outTypes, name: 'node' });
  const r = execute(model, feeds);
  return outs.map((o) => r.outputs[o] as Tensor);
}

/** Expects `t` to have `shape` and values within `tol` (absolute, scaled by max(1, |expected|)). */
export function expectClose(t: Tensor, expected: number[], shape?: number[], tol = 1e-5): void {
  if (shape) expect([...t.shape]).toEqual(shape);
  const v = t.toFlatArray();
  expect(v.length).toBe(expected.length);
  for (let i = 0; i < v.length; i++) {
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      expect(Number.isNaN(v[i]!)).toBe(true);
      continue;
    }
    if (!Number.isFinite(e)) {
      expect(v[i]).toBe(e);
      continue;
    }
    const err = Math.abs(v[i]! - e);
    if (err > tol * Math.max(1, Math.abs(e)))
      throw new Error(`element ${i}: got ${v[i]}, expected ${e} (tolerance ${tol}); all: [${v.join(', ')}]`);
  }
}

/** The NormkitError `f` throws (fails the test when it throws nothing or something else). */
export function errorOf(f: () => unknown): NormkitError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NormkitError);
    return e as NormkitError;
  }
  throw new Error('expected a NormkitError');
}
