// One node run by @normkit/graph's executor and by onnxruntime-node on the same seeded inputs: the
// model is built with singleOpModel, written by our encoder, and fed to both engines.
import { type Attribute, execute, type Model, type SingleOpInput, singleOpModel } from '@normkit/graph';
import { NormkitError, Rng, Tensor } from '@normkit/tensor';
import { expect } from 'vitest';
import { ortExecute } from './ort.js';

/** An attribute value as GraphBuilder takes it (integers become int attributes: use `float(v)` for a float one). */
export type AttrValue = number | string | number[] | string[] | Tensor | Attribute;

/** A float attribute, even for an integral value. @example { seed: float(1) } */
export const float = (value: number): Attribute => ({ type: 'float', value });
/** A graph input (fed at run time) or `{ const: t }` (an initializer), or `undefined` (omitted). */
export type OpInput = SingleOpInput;

/** Seeded standard normals of `shape` as float32. @example normals([2, 3], 1) */
export function normals(shape: number[], seed: number, scale = 1): Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(
    Array.from({ length: n }, () => rng.normal() * scale),
    shape,
    'float32',
  );
}

/** Seeded integers in [lo, hi) of `shape`. @example ints([4], 1, 0, 3, 'int64') */
export function randInts(shape: number[], seed: number, lo: number, hi: number, dtype: 'int64' | 'int32' | 'float32' = 'float32'): Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(
    Array.from({ length: n }, () => lo + rng.int(hi - lo)),
    shape,
    dtype,
  );
}

/** The single-node model: inputs in0, in1... (or initializers c0, c1...), its outputs declared with `outTypes`. */
export function opModel(
  op: string,
  inputs: OpInput[],
  attrs: Record<string, AttrValue>,
  opts: { opset?: number; domain?: string; outTypes?: Tensor['dtype'][] } = {},
): { model: Model; feeds: Record<string, Tensor>; outs: string[] } {
  const { model, feeds, outputs } = singleOpModel(op, inputs, attrs, opts);
  return { model, feeds, outs: outputs };
}

/** Runs one node in both engines; returns normkit's outputs and onnxruntime's, in output order. */
export async function bothEngines(
  op: string,
  inputs: OpInput[],
  attrs: Record<string, AttrValue> = {},
  opts: { opset?: number; domain?: string; outTypes?: Tensor['dtype'][] } = {},
): Promise<{ ours: Tensor[]; theirs: Tensor[] }> {
  const { model, feeds, outs } = opModel(op, inputs, attrs, opts);
  const r = execute(model, feeds).outputs as Record<string, Tensor>;
  const o = (await ortExecute(model, feeds)).outputs;
  return { ours: outs.map((n) => r[n] as Tensor), theirs: outs.map((n) => o[n] as Tensor) };
}

/**
 * Expects the same shape and values within `tol` · max(1, |theirs|) (0 = exact, for integers).
 * Names the first differing element.
 */
export function expectSame(ours: Tensor, theirs: Tensor, tol = 0, what = 'output'): void {
  expect([...ours.shape], `${what} shape`).toEqual([...theirs.shape]);
  const a = ours.toFlatArray();
  const b = theirs.toFlatArray();
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    if (!(err <= tol * Math.max(1, Math.abs(b[i]!))) && !(Number.isNaN(a[i]!) && Number.isNaN(b[i]!)))
      throw new Error(`${what} element ${i}: normkit ${a[i]}, onnxruntime ${b[i]} (tolerance ${tol})`);
  }
}

/** Runs one node in both engines and compares every output (`tol` per output, or one for all). */
export async function expectOrtMatch(
  op: string,
  inputs: OpInput[],
  attrs: Record<string, AttrValue> = {},
  opts: { opset?: number; domain?: string; outTypes?: Tensor['dtype'][]; tol?: number | number[] } = {},
): Promise<Tensor[]> {
  const { ours, theirs } = await bothEngines(op, inputs, attrs, opts);
  ours.forEach((t, i) => {
    const tol = Array.isArray(opts.tol) ? (opts.tol[i] ?? 0) : (opts.tol ?? 0);
    expectSame(t, theirs[i]!, tol, `output ${i}`);
  });
  return ours;
}

/** The NormkitError that running the node throws (the test fails if it throws nothing else). */
export function normkitErrorOf(
  op: string,
  inputs: OpInput[],
  attrs: Record<string, AttrValue> = {},
  opts: { opset?: number; domain?: string; outTypes?: Tensor['dtype'][] } = {},
): NormkitError {
  const { model, feeds } = opModel(op, inputs, attrs, opts);
  try {
    execute(model, feeds);
  } catch (e) {
    expect(e).toBeInstanceOf(NormkitError);
    return e as NormkitError;
  }
  throw new Error(`${op}: expected a NormkitError`);
}
