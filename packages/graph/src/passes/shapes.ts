import { type DType, Tensor } from '@normkit/tensor';
import { attr, type Graph, type Node } from '../ir.js';

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

const ELEM_TYPE_BY_CODE: Record<number, string> = {
  1: 'float32',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

/**
 * The constant tensor behind a value: an initializer, a Constant node, or an Identity chain to one.
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
    return undefined;
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

function broadcast(a: PartialShape, b: PartialShape): PartialShape {
  const r = Math.max(a.length, b.length);
  const out: PartialShape = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i];
    const y = b[b.length - r + i];
    const xa = a.length - r + i >= 0 ? x : 1;
    const ya = b.length - r + i >= 0 ? y : 1;
    if (xa === 1) out.push(ya);
    else if (ya === 1) out.push(xa);
    else if (xa === undefined) out.push(ya);
    else out.push(xa);
  }
  return out;
}

/** Product of known dims, or undefined when one is unknown. @example prodDims([2, undefined]); // undefined */
export function prodDims(dims: PartialShape): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (d === undefined) return undefined;
    p *= d;
  }
  return p;
}

function normAxis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'Where',
  'Equal',
  'Less',
  'Greater',
  'And',
  'Or',
  'PRelu',
  'Mod',
]);
const UNARY_SAME = new Set([
  'Relu',
  'Gelu',
  'Erf',
  'Tanh',
  'Sigmoid',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Neg',
  'Abs',
  'Identity',
  'Dropout',
  'Softmax',
  'LogSoftmax',
  'LeakyRelu',
  'Elu',
  'HardSigmoid',
  'HardSwish',
  'Softplus',
  'Clip',
  'Cast',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Not',
  'Sin',
  'Cos',
  'LayerNormalization',
  'RMSNormalization',
  'SimplifiedLayerNormalization',
  'BatchNormalization',
  'InstanceNormalization',
  'GroupNormalization',
  'Silu',
  'Mish',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
  'Selu',
  'Celu',
  'ThresholdedRelu',
  'IsNaN',
  'IsInf',
  'CastLike',
]);

/**
 * Infers partial shapes, element types and small integer values for every value of `g` it can, from
 * the graph inputs, initializers, value-info and op semantics. Unknown stays `undefined`; it never throws.
 *
 * @example
 * ```ts
 * const facts = inferFacts(model.graph);
 * facts.shapes.get('h'); // e.g. [undefined, undefined, 768]
 * ```
 */
export function inferFacts(g: Graph, seed?: Map<string, PartialShape>): GraphFacts {
  const shapes = new Map<string, PartialShape>();
  const dtypes = new Map<string, string>();
  const ints = new Map<string, PartialShape>();
  const dimOf = (d: unknown) => (typeof d === 'number' && d >= 0 ? d : undefined);
  for (const v of [...g.inputs, ...g.valueInfo.values(), ...g.outputs]) {
    if (v.shape && !shapes.has(v.name)) shapes.set(v.name, v.shape.map(dimOf));
    const t = v.dtype ?? v.elemType;
    if (t && !dtypes.has(v.name)) dtypes.set(v.name, t);
  }
  if (seed) for (const [k, v] of seed) shapes.set(k, [...v]);
  for (const [k, t] of g.initializers) {
    shapes.set(k, [...t.shape]);
    dtypes.set(k, t.dtype);
    if ((t.dtype === 'int64' || t.dtype === 'int32') && t.size <= 16) ints.set(k, t.toFlatArray());
  }
  let order: Node[];
  try {
    order = g.topologicalOrder();
  } catch {
    order = g.nodes;
  }
  const sh = (n: string | undefined) => (n ? shapes.get(n) : undefined);
  const set = (n: string | undefined, s: PartialShape | undefined) => {
    if (!n || !s) return;
    const prev = shapes.get(n);
    if (!prev || prev.length !== s.length) shapes.set(n, s);
    else
      shapes.set(
        n,
        prev.map((d, i) => d ?? s[i]),
      );
  };
  for (const n of order) {
    const [i0, i1, i2] = n.inputs;
    const o = n.outputs[0];
    const s0 = sh(i0);
    try {
      // Element types.
      if (o) {
        if (n.opType === 'Cast') {
          const to = attr(n, 'to', 'int', 1);
          dtypes.set(o, ELEM_TYPE_BY_CODE[to] ?? `elem${to}`);
        } else if (n.opType === 'Shape' || n.opType === 'ArgMax' || n.opType === 'ArgMin' || n.opType === 'NonZero') dtypes.set(o, 'int64');
        else if (['Equal', 'Less', 'Greater', 'And', 'Or', 'Not', 'IsNaN'].includes(n.opType)) dtypes.set(o, 'bool');
        else if (n.opType === 'Constant') {
          const c = constantOf(g, o);
          if (c) dtypes.set(o, c.dtype);
        } else if (n.opType === 'Where' && i1 && dtypes.has(i1)) dtypes.set(o, dtypes.get(i1) as string);
        else if (i0 && dtypes.has(i0)) dtypes.set(o, dtypes.get(i0) as string);
      }
      // Integer values (shape arithmetic).
      if (o) {
        if (n.opType === 'Constant') {
          const c = constantOf(g, o);
          if (c && (c.dtype === 'int64' || c.dtype === 'int32') && c.size <= 16) ints.set(o, c.toFlatArray());
          if (c) set(o, [...c.shape]);
        } else if (n.opType === 'Shape' && s0) {
          const start = normAxis(attr(n, 'start', 'int', 0), s0.length);
          const endA = n.attributes.end ? normAxis(attr(n, 'end', 'int', s0.length), s0.length) : s0.length;
          ints.set(o, s0.slice(start, endA));
        } else if (n.opType === 'Gather' && i0 && ints.has(i0) && i1 && ints.has(i1)) {
          const v = ints.get(i0) as PartialShape;
          const idx = ints.get(i1) as PartialShape;
          ints.set(
            o,
            idx.map((k) => (k === undefined ? undefined : v[k < 0 ? k + v.length : k])),
          );
        } else if (
          (n.opType === 'Unsqueeze' || n.opType === 'Squeeze' || n.opType === 'Cast' || n.opType === 'Identity') &&
          i0 &&
          ints.has(i0)
        ) {
          ints.set(o, [...(ints.get(i0) as PartialShape)]);
        } else if (n.opType === 'Concat' && n.inputs.every((x) => ints.has(x))) {
          ints.set(
            o,
            n.inputs.flatMap((x) => ints.get(x) as PartialShape),
          );
        } else if (n.opType === 'Slice' && i0 && ints.has(i0) && i1 && i2 && ints.has(i1) && ints.has(i2)) {
          const v = ints.get(i0) as PartialShape;
          const st = (ints.get(i1) as PartialShape)[0];
          const en = (ints.get(i2) as PartialShape)[0];
          if (st !== undefined && en !== undefined) {
            const a = st < 0 ? st + v.length : Math.min(st, v.length);
            const b = en < 0 ? en + v.length : Math.min(en, v.length);
            ints.set(o, v.slice(a, b));
          }
        } else if (['Mul', 'Add', 'Sub', 'Div'].includes(n.opType) && i0 && i1 && ints.has(i0) && ints.has(i1)) {
          const a = ints.get(i0) as PartialShape;
          const b = ints.get(i1) as PartialShape;
          const len = Math.max(a.length, b.length);
          const out: PartialShape = [];
          for (let k = 0; k < len; k++) {
            const x = a.length === 1 ? a[0] : a[k];
            const y = b.length === 1 ? b[0] : b[k];
            if (x === undefined || y === undefined) out.push(undefined);
            else if (n.opType === 'Mul') out.push(x * y);
            else if (n.opType === 'Add') out.push(x + y);
            else if (n.opType === 'Sub') out.push(x - y);
            else out.push(Math.trunc(x / y));
          }
          ints.set(o, out);
        }
      }
      // Shapes.
      if (!o || n.opType === 'Constant') continue;
      switch (n.opType) {
        case 'MatMul': {
          const s1 = sh(i1);
          if (s0 && s1 && s0.length >= 2 && s1.length >= 2) {
            const batch = broadcast(s0.slice(0, -2), s1.slice(0, -2));
            set(o, [...batch, s0[s0.length - 2], s1[s1.length - 1]]);
          } else if (s0 && s1 && s1.length === 2 && s0.length === 1) set(o, [s1[1]]);
          break;
        }
        case 'Gemm': {
          const s1 = sh(i1);
          if (s0 && s1) {
            const m = attr(n, 'transA', 'int', 0) ? s0[1] : s0[0];
            const nn = attr(n, 'transB', 'int', 0) ? s1[0] : s1[1];
            set(o, [m, nn]);
          }
          break;
        }
        case 'Gather': {
          const s1 = sh(i1) ?? (i1 && ints.has(i1) ? [(ints.get(i1) as PartialShape).length] : undefined);
          if (s0 && s1) {
            const ax = normAxis(attr(n, 'axis', 'int', 0), s0.length);
            const idxShape = i1 && g.initializers.has(i1) ? [...(g.initializers.get(i1) as Tensor).shape] : s1;
            set(o, [...s0.slice(0, ax), ...idxShape, ...s0.slice(ax + 1)]);
          }
          break;
        }
        case 'Transpose': {
          if (s0) {
            const perm = attr(
              n,
              'perm',
              'ints',
              s0.map((_, k) => s0.length - 1 - k),
            );
            set(
              o,
              perm.map((p) => s0[p]),
            );
          }
          break;
        }
        case 'Reshape': {
          const target = i1 ? ints.get(i1) : undefined;
          if (target) {
            const out: PartialShape = target.map((d, k) => (d === 0 && !attr(n, 'allowzero', 'int', 0) ? s0?.[k] : d === -1 ? -1 : d));
            const neg = out.indexOf(-1);
            if (neg >= 0) {
              const total = s0 ? prodDims(s0) : undefined;
              const rest = prodDims(out.filter((_, k) => k !== neg));
              out[neg] = total !== undefined && rest !== undefined && rest > 0 ? total / rest : undefined;
            }
            set(o, out);
          } else {
            const ts = i1 ? sh(i1) : undefined;
            if (ts && ts[0] !== undefined) set(o, new Array(ts[0]).fill(undefined));
          }
          break;
        }
        case 'Flatten': {
          if (s0) {
            const ax = normAxis(attr(n, 'axis', 'int', 1), s0.length);
            set(o, [prodDims(s0.slice(0, ax)), prodDims(s0.slice(ax))]);
          }
          break;
        }
        case 'Unsqueeze': {
          const axes = n.attributes.axes ? attr(n, 'axes', 'ints', []) : i1 ? ints.get(i1) : undefined;
          if (s0 && axes?.every((a) => a !== undefined)) {
            const r = s0.length + axes.length;
            const ax = (axes as number[]).map((a) => normAxis(a, r));
            const out: PartialShape = [];
            let k = 0;
            for (let j = 0; j < r; j++) out.push(ax.includes(j) ? 1 : s0[k++]);
            set(o, out);
          }
          break;
        }
        case 'Squeeze': {
          const axes = n.attributes.axes ? attr(n, 'axes', 'ints', []) : i1 ? ints.get(i1) : undefined;
          if (s0 && axes?.every((a) => a !== undefined)) {
            const ax = (axes as number[]).map((a) => normAxis(a, s0.length));
            set(
              o,
              s0.filter((_, j) => !ax.includes(j)),
            );
          } else if (s0 && !axes && s0.every((d) => d !== undefined))
            set(
              o,
              s0.filter((d) => d !== 1),
            );
          break;
        }
        case 'Concat': {
          const ss = n.inputs.map((x) => sh(x));
          if (ss.every((x) => x) && ss.length > 0) {
            const r = (ss[0] as PartialShape).length;
            const ax = normAxis(attr(n, 'axis', 'int', 0), r);
            const out = [...(ss[0] as PartialShape)];
            let tot: number | undefined = 0;
            for (const x of ss) tot = tot === undefined || x?.[ax] === undefined ? undefined : tot + (x[ax] as number);
            out[ax] = tot;
            for (const x of ss) for (let j = 0; j < r; j++) if (j !== ax && out[j] === undefined) out[j] = x?.[j];
            set(o, out);
          }
          break;
        }
        case 'ReduceMean':
        case 'ReduceSum':
        case 'ReduceMax':
        case 'ReduceMin':
        case 'ReduceL2':
        case 'ReduceSumSquare': {
          if (s0) {
            const axes = n.attributes.axes ? attr(n, 'axes', 'ints', []) : i1 ? ints.get(i1) : undefined;
            const keep = attr(n, 'keepdims', 'int', 1);
            const ax = axes ? axes.map((a) => (a === undefined ? -999 : normAxis(a, s0.length))) : s0.map((_, j) => j);
            if (ax.includes(-999)) break;
            set(o, keep ? s0.map((d, j) => (ax.includes(j) ? 1 : d)) : s0.filter((_, j) => !ax.includes(j)));
          }
          break;
        }
        case 'Conv': {
          const s1 = sh(i1);
          if (s0 && s1) {
            const sp = s0.length - 2;
            const k = attr(n, 'kernel_shape', 'ints', s1.slice(2) as number[]);
            const st = attr(n, 'strides', 'ints', new Array(sp).fill(1));
            const dl = attr(n, 'dilations', 'ints', new Array(sp).fill(1));
            const pads = attr(n, 'pads', 'ints', new Array(2 * sp).fill(0));
            const out: PartialShape = [s0[0], s1[0]];
            for (let j = 0; j < sp; j++) {
              const x = s0[2 + j];
              const kk = k[j];
              out.push(
                x === undefined || kk === undefined
                  ? undefined
                  : Math.floor((x + (pads[j] ?? 0) + (pads[j + sp] ?? 0) - (dl[j] ?? 1) * (kk - 1) - 1) / (st[j] ?? 1)) + 1,
              );
            }
            set(o, out);
          }
          break;
        }
        case 'GlobalAveragePool':
        case 'GlobalMaxPool':
          if (s0)
            set(
              o,
              s0.map((d, j) => (j < 2 ? d : 1)),
            );
          break;
        case 'Slice': {
          if (s0) {
            const starts = i1 ? ints.get(i1) : undefined;
            const ends = i2 ? ints.get(i2) : undefined;
            const axesV = n.inputs[3] ? ints.get(n.inputs[3]) : starts?.map((_, j) => j);
            const out = [...s0];
            if (starts && ends && axesV?.every((a) => a !== undefined)) {
              axesV.forEach((a, j) => {
                const ax = normAxis(a as number, s0.length);
                const d = s0[ax];
                const st = starts[j];
                const en = ends[j];
                if (d === undefined || st === undefined || en === undefined) out[ax] = undefined;
                else {
                  const a0 = Math.max(0, Math.min(d, st < 0 ? st + d : st));
                  const b0 = Math.max(0, Math.min(d, en < 0 ? en + d : en));
                  out[ax] = Math.max(0, b0 - a0);
                }
              });
            } else if (axesV?.every((a) => a !== undefined)) for (const a of axesV) out[normAxis(a as number, s0.length)] = undefined;
            else out.fill(undefined);
            set(o, out);
          }
          break;
        }
        case 'Expand': {
          const t = i1 ? ints.get(i1) : undefined;
          if (s0 && t) set(o, broadcast(s0, t));
          break;
        }
        case 'Split': {
          if (s0) {
            const ax = normAxis(attr(n, 'axis', 'int', 0), s0.length);
            const sizes = n.attributes.split ? attr(n, 'split', 'ints', []) : i1 ? ints.get(i1) : undefined;
            n.outputs.forEach((out, j) => {
              const s = [...s0];
              const d = s0[ax];
              s[ax] = sizes ? sizes[j] : d === undefined ? undefined : d / n.outputs.length;
              set(out, s);
            });
          }
          break;
        }
        case 'Shape':
          if (s0) set(o, [s0.length]);
          break;
        default:
          if (ELEMENTWISE.has(n.opType)) {
            const ss = n.inputs.filter((x) => x).map((x) => sh(x));
            if (ss.every((x) => x))
              set(
                o,
                (ss as PartialShape[]).reduce((a, b) => broadcast(a, b)),
              );
          } else if (UNARY_SAME.has(n.opType) || n.domain === 'com.microsoft') {
            if (s0) set(o, [...s0]);
          }
      }
    } catch {
      // Facts are best effort: a malformed node leaves its outputs unknown.
    }
  }
  return { shapes, dtypes, ints };
}

/** The DType of a value when it is one normkit computes with. @example dtypeFromFacts(inferFacts(g), 'x'); // 'float32' */
export function dtypeFromFacts(f: GraphFacts, name: string): DType | undefined {
  const t = f.dtypes.get(name);
  return t === 'float32' || t === 'float64' || t === 'int32' || t === 'int64' || t === 'bool' ? t : undefined;
}
