import { type DType, Tensor } from '@normkit/tensor';
import { type Attribute, type Dim, Graph, Model, type OpsetImport } from './ir.js';

type AttrValue = number | string | number[] | string[] | Tensor | Graph | Attribute;

/** Infers an attribute tag from a plain value: integers → int(s), other numbers → float(s). Pass an `Attribute` to force a type. */
export function toAttribute(v: AttrValue): Attribute {
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (v instanceof Tensor) return { type: 'tensor', value: v };
  if (v instanceof Graph) return { type: 'graph', value: v };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { type: 'strings', value: v as string[] };
    return (v as number[]).every(Number.isInteger) ? { type: 'ints', value: v as number[] } : { type: 'floats', value: v as number[] };
  }
  return v as Attribute;
}

/**
 * Builds graphs in code: inputs, constants, nodes, outputs. Each `op` call returns the output
 * value name(s), so calls compose like expressions.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('mlp');
 * const x = b.input('x', 'float32', ['batch', 4]);
 * const w = b.constant('w', Tensor.randn([4, 2], 1));
 * const y = b.op('Relu', [b.op('MatMul', [x, w])]);
 * b.output(y);
 * const model = b.model(17);
 * ```
 */
export class GraphBuilder {
  readonly graph: Graph;
  private counter = 0;

  constructor(name = 'graph') {
    this.graph = new Graph(name);
  }

  /** Declares a graph input. */
  input(name: string, dtype: DType, shape: Dim[]): string {
    this.graph.inputs.push({ name, dtype, shape });
    return name;
  }

  /** Adds an initializer (a unique name is derived from `name`). */
  constant(name: string, value: Tensor): string {
    const n = this.graph.initializers.has(name) ? this.fresh(name) : name;
    this.graph.initializers.set(n, value);
    return n;
  }

  /** Adds a node with one output and returns the output's name. @example b.op('Gemm', [x, w, c], { transB: 1 }) */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; domain?: string; output?: string } = {},
  ): string {
    return this.opN(opType, inputs, 1, attrs, opts)[0] as string;
  }

  /** Adds a node with `n` outputs and returns their names. */
  opN(
    opType: string,
    inputs: string[],
    n: number,
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; domain?: string; output?: string } = {},
  ): string[] {
    const name = opts.name ?? this.fresh(opType);
    const outputs = Array.from({ length: n }, (_, i) =>
      i === 0 && opts.output ? opts.output : n === 1 ? `${name}_out` : `${name}_out${i}`,
    );
    const attributes: Record<string, Attribute> = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = toAttribute(v);
    this.graph.addNode({ name, opType, domain: opts.domain ?? '', inputs, outputs, attributes });
    return outputs;
  }

  /** Marks `value` as a graph output (optionally with a type and shape). */
  output(value: string, dtype: DType = 'float32', shape?: Dim[]): void {
    this.graph.outputs.push({ name: value, dtype, shape });
  }

  /** A name not used yet, from `base`. */
  fresh(base: string): string {
    let n: string;
    do n = `${base}_${this.counter++}`;
    while (this.graph.initializers.has(n) || this.graph.nodes.some((x) => x.name === n));
    return n;
  }

  /** Wraps the graph in a model importing the default domain at `opset` (plus `extra` imports). */
  model(opset = 17, extra: OpsetImport[] = []): Model {
    return new Model(this.graph, [{ domain: '', version: opset }, ...extra]);
  }
}

/** An input of `singleOpModel`: a tensor fed at run time, `{ const: t }` (an initializer), or undefined (an omitted optional input). */
export type SingleOpInput = Tensor | { const: Tensor } | undefined;

/**
 * A model of one node `opType` (for testing one op in the executor or another engine): fed inputs
 * become graph inputs `in0`, `in1`, ..., constants initializers `c0`, `c1`, ...; the node's outputs
 * are the graph outputs, declared with `outTypes` (default one float32 output).
 * @example
 * ```ts
 * const { model, feeds, outputs } = singleOpModel('Gelu', [x], {}, { domain: 'com.microsoft' });
 * execute(model, feeds).outputs[outputs[0]];
 * ```
 */
export function singleOpModel(
  opType: string,
  inputs: SingleOpInput[],
  attrs: Record<string, AttrValue> = {},
  opts: { opset?: number; domain?: string; outTypes?: DType[]; name?: string } = {},
): { model: Model; feeds: Record<string, Tensor>; outputs: string[] } {
  const b = new GraphBuilder(opType);
  const feeds: Record<string, Tensor> = {};
  const names = inputs.map((t, i) => {
    if (t === undefined) return '';
    if ('const' in t) return b.constant(`c${i}`, t.const);
    feeds[`in${i}`] = t;
    return b.input(`in${i}`, t.dtype, [...t.shape]);
  });
  const types = opts.outTypes ?? ['float32'];
  const outputs = b.opN(opType, names, types.length, attrs, { domain: opts.domain ?? '', name: opts.name ?? `${opType}_node` });
  outputs.forEach((o, i) => {
    b.output(o, types[i]);
  });
  const extra = opts.domain ? [{ domain: opts.domain, version: 1 }] : [];
  return { model: b.model(opts.opset ?? 17, extra), feeds, outputs };
}
