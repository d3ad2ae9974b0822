import { type DType, Tensor } from '@normkit/tensor';
import { isNativeDType } from '../elem-types.js';
import { inferValueInfos } from '../executor/shape-inference.js';
import { type Dim, type Graph, Model } from '../ir.js';
import { dequantizedValue, quantizedWeight } from './quantized.js';

/** A partially known shape: numbers where known, `undefined` where not (symbolic or not inferable). */
export type PartialShape = (number | undefined)[];

/**
 * What the passes know about a graph's values: partial shapes, element types, and the values of small
 * integer tensors (shape arithmetic: `Shape → Gather → Unsqueeze → Concat → Reshape`).
 */
export interface GraphFacts {
  shapes: Map<string, PartialShape>;
  dtypes: Map<string, string>;
  /** Values of 1-D / scalar integer tensors, partially known (for Reshape targets computed at run time). */
  ints: Map<string, PartialShape>;
}

/**
 * The constant tensor behind a value: an initializer, a Constant node, an Identity chain to one, or a
 * DequantizeLinear of constants (a quantized weight: its dequantized value).
 * @example constantOf(model.graph, 'gamma')?.shape; // [768]
 */
export function constantOf(g: Graph, name: string, producers = g.producers()): Tensor | undefined {
  for (let hops = 0; hops < 8; hops++) {
    const init = g.initializers.get(name);
    if (init) return init;
    const p = producers.get(name);
    if (!p) return undefined;
    if (p.opType === 'Constant') {
      const a = p.attributes.value;
      if (a?.type === 'tensor') return a.value;
      const f = p.attributes.value_float;
      if (f?.type === 'float' || f?.type === 'int') return Tensor.scalar(f.value);
      const fs = p.attributes.value_floats;
      if (fs?.type === 'floats' || fs?.type === 'ints') return Tensor.from(fs.value);
      const i = p.attributes.value_int;
      if (i?.type === 'int') return Tensor.scalar(i.value, 'int64');
      const is = p.attributes.value_ints;
      if (is?.type === 'ints') return Tensor.from(is.value, [is.value.length], 'int64');
      return undefined;
    }
    if (p.opType === 'Identity' && p.inputs[0]) {
      name = p.inputs[0];
      continue;
    }
    // A weight stored quantized: its dequantized value.
    const w = quantizedWeight(name, producers, (v) => constantOf(g, v, producers));
    return w && dequantizedValue(w);
  }
  return undefined;
}

/** Values of a constant as JS numbers (float64), or undefined. @example constNumbers(g, 'eps'); // [1e-5] */
export function constNumbers(g: Graph, name: string, producers = g.producers()): number[] | undefined {
  const t = constantOf(g, name, producers);
  if (!t) return undefined;
  try {
    return t.toFlatArray();
  } catch {
    return undefined;
  }
}

/**
 * The passes' view of the package's one shape engine (`inferShapes` is the other view of it): partial
 * shapes with symbolic dims as `undefined`, element types, and the known elements of small integer
 * values (shape arithmetic). `seed` gives shapes known from elsewhere (a seeded dim wins). Pass the
 * Model rather than its Graph where you have it, so ops fold at the model's opsets.
 *
 * @example
 * ```ts
 * const facts = inferFacts(model);
 * facts.shapes.get('h'); // e.g. [undefined, undefined, 768]
 * ```
 */
export function inferFacts(model: Model | Graph, seed?: Map<string, PartialShape>): GraphFacts {
  const g = model instanceof Model ? model.graph : model;
  const infos = inferValueInfos(model, { seed: seed as Map<string, Dim[]> | undefined });
  const facts: GraphFacts = { shapes: new Map(), dtypes: new Map(), ints: new Map() };
  const known = (d: Dim) => (typeof d === 'number' && d >= 0 ? d : undefined);
  for (const v of [...g.inputs, ...g.valueInfo.values(), ...g.outputs]) {
    const t = v.dtype ?? v.elemType;
    if (t) facts.dtypes.set(v.name, t);
    if (v.shape) facts.shapes.set(v.name, v.shape.map(known));
  }
  for (const [name, info] of infos) {
    if (info.shape) facts.shapes.set(name, info.shape.map(known));
    if (info.dtype) facts.dtypes.set(name, info.dtype);
    const elems = info.sym ?? (info.value && info.value.rank <= 1 && info.value.size <= 64 ? info.value.toFlatArray() : undefined);
    if (elems && (info.dtype === 'int64' || info.dtype === 'int32'))
      facts.ints.set(
        name,
        elems.map((d) => (typeof d === 'number' ? d : undefined)),
      );
  }
  return facts;
}

/** The DType of a value when it is one normkit computes with. @example dtypeFromFacts(inferFacts(g), 'x'); // 'float32' */
export function dtypeFromFacts(f: GraphFacts, name: string): DType | undefined {
  const t = f.dtypes.get(name);
  return isNativeDType(t) ? t : undefined;
}
