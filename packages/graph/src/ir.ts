import { type DType, NormkitError, type Tensor } from '@normkit/tensor';

/** A tensor dimension: a number, or a symbolic name (`"batch"`, `"seq"`), or undefined when unknown. */
export type Dim = number | string | undefined;

/** Type and (possibly partial) shape of a named value. `elemType` is the ONNX element type name when it is not a `DType` we compute with (kept for lossless round trips). */
export interface ValueInfo {
  /** The value's name, unique in the graph. */
  name: string;
  /** Element type, when it is one normkit computes with. */
  dtype?: DType;
  /** ONNX element type name (`float16`, `uint8`, ...) when `dtype` cannot hold it. */
  elemType?: string;
  /** Dimensions (numbers, symbolic names or undefined); absent when the rank is unknown. */
  shape?: Dim[];
  /** The ONNX doc_string, when the model had one. */
  docString?: string;
  /** Fields the IR does not model (non-tensor types, denotations, metadata_props), carried through verbatim by the ONNX layer. */
  extra?: Record<string, unknown>;
}

/** A node attribute, tagged with its ONNX type so a round trip keeps ints as ints and floats as floats. */
export type Attribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: Tensor }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graph'; value: Graph }
  | { type: 'graphs'; value: Graph[] }
  /** Anything else (sparse tensors, type protos, references to function attributes): kept verbatim by the ONNX layer. */
  | { type: 'raw'; value: unknown };

/** One operator application of a graph: an ONNX NodeProto reading and writing named values. */
export interface Node {
  /** Unique within the graph (the ONNX layer names unnamed nodes). */
  name: string;
  /** The ONNX operator name, e.g. `MatMul`, `LayerNormalization`. */
  opType: string;
  /** '' (the default ONNX domain), 'com.microsoft', ... */
  domain: string;
  /** Value names; '' marks an omitted optional input. */
  inputs: string[];
  /** Names of the values the node writes. */
  outputs: string[];
  /** The node's attributes by name. */
  attributes: Record<string, Attribute>;
  /** The ONNX doc_string, when the model had one. */
  docString?: string;
  /** Fields the IR does not model (metadata_props, overload, ...), carried through verbatim. */
  extra?: Record<string, unknown>;
}

/** One opset a model imports: an operator domain and its version (ONNX OperatorSetIdProto). */
export interface OpsetImport {
  /** '' or 'ai.onnx' (the default domain), 'com.microsoft', ... */
  domain: string;
  /** The opset version of that domain, e.g. 17. */
  version: number;
}

/**
 * A computation graph: nodes over named values, with initializers (constant tensors), graph inputs and
 * outputs, and value-info (known types/shapes of intermediate values).
 *
 * @example
 * ```ts
 * const g = new Graph('mlp');
 * g.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 4] });
 * g.initializers.set('w', Tensor.randn([4, 2], 1));
 * g.addNode({ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] });
 * g.outputs.push({ name: 'y', dtype: 'float32' });
 * g.topologicalOrder(); // [the MatMul node]
 * ```
 */
export class Graph {
  /** The graph's name. */
  name: string;
  /** The nodes, in stored order (`topologicalOrder()` gives a dependency order). */
  nodes: Node[] = [];
  /** Declared graph inputs (may include initializers, as older ONNX exports list them). */
  inputs: ValueInfo[] = [];
  /** Declared graph outputs. */
  outputs: ValueInfo[] = [];
  /** Constant tensors by value name. */
  initializers = new Map<string, Tensor>();
  /** Known types and shapes of intermediate values, by name. */
  valueInfo = new Map<string, ValueInfo>();
  /** The ONNX doc_string, when the model had one. */
  docString?: string;
  /** Graph fields the IR does not model (sparse initializers, quantization annotations), verbatim. */
  extra?: Record<string, unknown>;

  constructor(name = 'graph') {
    this.name = name;
  }

  /** Adds a node (naming it `${opType}_${n}` when no name is given) and returns it. */
  addNode(spec: Partial<Node> & Pick<Node, 'opType' | 'inputs' | 'outputs'>): Node {
    const node: Node = {
      name: spec.name ?? this.uniqueName(spec.opType),
      domain: spec.domain ?? '',
      attributes: spec.attributes ?? {},
      ...spec,
    } as Node;
    this.nodes.push(node);
    return node;
  }

  /** A node or value name not used yet in this graph, starting from `base`. */
  uniqueName(base: string): string {
    const used = this.usedNames();
    if (!used.has(base)) return base;
    for (let i = 1; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
  }

  private usedNames(): Set<string> {
    const s = new Set<string>();
    for (const n of this.nodes) {
      s.add(n.name);
      for (const o of n.outputs) s.add(o);
      for (const i of n.inputs) s.add(i);
    }
    for (const v of this.inputs) s.add(v.name);
    for (const k of this.initializers.keys()) s.add(k);
    return s;
  }

  /** Map from value name to the node that produces it. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) if (o) m.set(o, n);
    return m;
  }

  /** Map from value name to the nodes that read it (in node order). */
  consumers(): Map<string, Node[]> {
    const m = new Map<string, Node[]>();
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        const list = m.get(i);
        if (list) {
          if (!list.includes(n)) list.push(n);
        } else m.set(i, [n]);
      }
    }
    return m;
  }

  /** Whether `name` is a constant: an initializer, or the output of a Constant node. */
  isConstant(name: string): boolean {
    if (this.initializers.has(name)) return true;
    const p = this.producers().get(name);
    return p?.opType === 'Constant';
  }

  /** Names of the graph's non-initializer inputs. */
  runtimeInputs(): ValueInfo[] {
    return this.inputs.filter((v) => !this.initializers.has(v.name));
  }

  /**
   * Nodes in an order where every node comes after the producers of its inputs (Kahn's algorithm,
   * stable: ties keep the stored order). Throws `GRAPH_CYCLE` naming a node on the cycle, and
   * `UNDEFINED_VALUE` for an input nothing produces.
   */
  topologicalOrder(): Node[] {
    const available = new Set<string>(['', ...this.initializers.keys(), ...this.inputs.map((v) => v.name)]);
    const producers = this.producers();
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (!available.has(i) && !producers.has(i) && !this.outerScope.has(i)) {
          throw new NormkitError(
            'UNDEFINED_VALUE',
            `graph "${this.name}": node "${n.name}" (${n.opType}) reads "${i}", which no node, input or initializer provides`,
            { node: n.name, value: i },
          );
        }
      }
    }
    const pending = new Map<Node, number>();
    const waiting = new Map<string, Node[]>();
    for (const n of this.nodes) {
      const deps = new Set(n.inputs.filter((i) => i && !available.has(i) && !this.outerScope.has(i)));
      pending.set(n, deps.size);
      for (const d of deps) {
        const list = waiting.get(d);
        if (list) list.push(n);
        else waiting.set(d, [n]);
      }
    }
    const order: Node[] = [];
    const ready = this.nodes.filter((n) => pending.get(n) === 0);
    const index = new Map(this.nodes.map((n, i) => [n, i]));
    // A binary heap is overkill here; a sorted insert keeps stored order for ties.
    while (ready.length > 0) {
      const n = ready.shift() as Node;
      order.push(n);
      for (const o of n.outputs) {
        for (const c of waiting.get(o) ?? []) {
          const left = (pending.get(c) as number) - 1;
          pending.set(c, left);
          if (left === 0) {
            const at = ready.findIndex((r) => (index.get(r) as number) > (index.get(c) as number));
            if (at < 0) ready.push(c);
            else ready.splice(at, 0, c);
          }
        }
        waiting.delete(o);
      }
    }
    if (order.length !== this.nodes.length) {
      const stuck = this.nodes.find((n) => (pending.get(n) as number) > 0) as Node;
      throw new NormkitError(
        'GRAPH_CYCLE',
        `graph "${this.name}" has a cycle through node "${stuck.name}" (${stuck.opType}); an ONNX graph must be acyclic`,
        { node: stuck.name },
      );
    }
    return order;
  }

  /** Names visible from an enclosing graph (for If/Loop bodies). */
  outerScope = new Set<string>();

  /** Sorts `nodes` topologically in place. */
  sortInPlace(): this {
    this.nodes = this.topologicalOrder();
    return this;
  }

  /**
   * Removes nodes whose outputs reach no graph output, and initializers nothing reads. Returns the
   * number of nodes removed.
   */
  removeDeadNodes(): number {
    const live = new Set(this.outputs.map((o) => o.name));
    const producers = this.producers();
    const keep = new Set<Node>();
    const stack = [...live];
    while (stack.length > 0) {
      const v = stack.pop() as string;
      const p = producers.get(v);
      if (!p || keep.has(p)) continue;
      keep.add(p);
      for (const i of p.inputs)
        if (i && !live.has(i)) {
          live.add(i);
          stack.push(i);
        }
      for (const [, a] of Object.entries(p.attributes))
        for (const sub of subgraphsOf(a))
          for (const name of sub.freeVariables())
            if (!live.has(name)) {
              live.add(name);
              stack.push(name);
            }
    }
    const before = this.nodes.length;
    this.nodes = this.nodes.filter((n) => keep.has(n));
    for (const k of [...this.initializers.keys()]) if (!live.has(k) && !this.inputs.some((v) => v.name === k)) this.initializers.delete(k);
    return before - this.nodes.length;
  }

  /** Values this graph reads that it does not define itself (captured from an outer scope). */
  freeVariables(): Set<string> {
    const defined = new Set<string>(['', ...this.initializers.keys(), ...this.inputs.map((v) => v.name)]);
    for (const n of this.nodes) for (const o of n.outputs) defined.add(o);
    const free = new Set<string>();
    for (const n of this.nodes) {
      for (const i of n.inputs) if (!defined.has(i)) free.add(i);
      for (const a of Object.values(n.attributes))
        for (const sub of subgraphsOf(a)) for (const f of sub.freeVariables()) if (!defined.has(f)) free.add(f);
    }
    return free;
  }

  /** A deep copy of the structure; tensors are shared (treat them as immutable). */
  clone(): Graph {
    const g = new Graph(this.name);
    g.nodes = this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: cloneAttributes(n.attributes) }));
    g.inputs = this.inputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : undefined }));
    g.outputs = this.outputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : undefined }));
    g.initializers = new Map(this.initializers);
    g.valueInfo = new Map([...this.valueInfo].map(([k, v]) => [k, { ...v, shape: v.shape ? [...v.shape] : undefined }]));
    g.docString = this.docString;
    g.extra = this.extra;
    g.outerScope = new Set(this.outerScope);
    return g;
  }
}

function cloneAttributes(attrs: Record<string, Attribute>): Record<string, Attribute> {
  const out: Record<string, Attribute> = {};
  for (const [k, a] of Object.entries(attrs)) {
    if (a.type === 'graph') out[k] = { type: 'graph', value: a.value.clone() };
    else if (a.type === 'graphs') out[k] = { type: 'graphs', value: a.value.map((g) => g.clone()) };
    else if (a.type === 'ints' || a.type === 'floats' || a.type === 'strings') out[k] = { ...a, value: [...a.value] } as Attribute;
    else out[k] = { ...a };
  }
  return out;
}

/** The subgraphs held by an attribute (If branches, Loop bodies). */
export function subgraphsOf(a: Attribute): Graph[] {
  if (a.type === 'graph') return [a.value];
  if (a.type === 'graphs') return a.value;
  return [];
}

/**
 * A model: a graph plus the opsets and metadata of an ONNX ModelProto.
 * @example const m = new Model(graph, [{ domain: '', version: 17 }]);
 */
export class Model {
  /** The main graph. */
  graph: Graph;
  /** The opsets the model imports (default: the default domain at 17). */
  opsetImports: OpsetImport[];
  /** ONNX IR version written on export. Default 8. */
  irVersion = 8;
  /** The producing tool's name. Default `normkit`. */
  producerName = 'normkit';
  /** The producing tool's version. */
  producerVersion = '';
  /** The model's domain (reverse-DNS namespace), often empty. */
  domain = '';
  /** The model's own version number. */
  modelVersion = 0;
  /** The ONNX doc_string. */
  docString = '';
  /** ONNX metadata_props as key → value. */
  metadataProps: Record<string, string> = {};
  /** ModelProto fields the IR does not model (functions, training_info, configuration), verbatim. */
  extra?: Record<string, unknown>;

  constructor(graph: Graph, opsetImports: OpsetImport[] = [{ domain: '', version: 17 }]) {
    this.graph = graph;
    this.opsetImports = opsetImports;
  }

  /** The opset version imported for `domain` ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d)?.version;
  }

  /** A copy with a cloned graph. */
  clone(): Model {
    const m = new Model(
      this.graph.clone(),
      this.opsetImports.map((o) => ({ ...o })),
    );
    Object.assign(m, {
      irVersion: this.irVersion,
      producerName: this.producerName,
      producerVersion: this.producerVersion,
      domain: this.domain,
      modelVersion: this.modelVersion,
      docString: this.docString,
      metadataProps: { ...this.metadataProps },
      extra: this.extra,
    });
    return m;
  }
}

/** Reads an attribute's value with a default, checking its type. @example attr(node, 'axis', 'int', -1) */
export function attr<T extends Attribute['type']>(
  node: Node,
  name: string,
  type: T,
  fallback: Extract<Attribute, { type: T }>['value'],
): Extract<Attribute, { type: T }>['value'];
export function attr<T extends Attribute['type']>(node: Node, name: string, type: T): Extract<Attribute, { type: T }>['value'] | undefined;
export function attr<T extends Attribute['type']>(node: Node, name: string, type: T, fallback?: unknown): unknown {
  const a = node.attributes[name];
  if (!a) return fallback;
  if (a.type !== type && !(type === 'float' && a.type === 'int') && !(type === 'int' && a.type === 'float')) {
    throw new NormkitError('BAD_ATTRIBUTE', `node "${node.name}" (${node.opType}): attribute "${name}" is ${a.type}, expected ${type}`, {
      node: node.name,
    });
  }
  return a.value;
}
