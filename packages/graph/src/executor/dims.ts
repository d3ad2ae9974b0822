import { type Tensor, windowOutputSize } from '@normkit/tensor';
import { attr, type Dim, type Node } from '../ir.js';
import type { ShapeContext } from './registry.js';

// Symbolic-dim algebra for shape rules: a Dim is a number, a symbol ('batch', 'seq+1') or undefined.

/** What inference knows about one value. */
export interface InferredValue {
  /** ONNX element type name ('float32', 'float16', 'int64'...): a normkit DType where normkit computes in it. */
  dtype?: string;
  shape?: Dim[];
  /** The whole value, when it is a known constant (initializers, folded chains). */
  value?: Tensor;
  /** Elements of a scalar / 1-D integer value, partially known (shape arithmetic over symbolic dims). */
  sym?: Dim[];
}

/** Broadcast of two dims: 1 yields the other; a number wins over a symbol or unknown. */
export function bdim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  if (a === undefined) return b;
  if (b === undefined) return a;
  return undefined;
}

export function broadcast(shapes: (Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => !s)) return undefined;
  const r = Math.max(...shapes.map((s) => (s as Dim[]).length));
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    let d: Dim = 1;
    for (const s of shapes as Dim[][]) {
      const k = s.length - r + i;
      d = bdim(d, k >= 0 ? s[k] : 1);
    }
    out.push(d);
  }
  return out;
}

export const normAxis = (a: number, rank: number) => (a < 0 ? a + rank : a);
/** `norm`, refusing an axis outside [-rank, rank): an axis of 2^31 must not index (and grow) a shape array. */
export const axisIn = (a: number, rank: number, op: string) => {
  const ax = normAxis(a, rank);
  if (!(Number.isInteger(ax) && ax >= 0 && ax < rank)) throw new Error(`${op} axis ${a} outside rank ${rank}`);
  return ax;
};
export const isNum = (d: Dim): d is number => typeof d === 'number';

/** Beyond any real model's rank: a longer shape vector is a corrupt file, not a shape to build. */
export const MAX_RANK = 64;

/** A shape of `rank` unknown dims, or undefined when the rank is unknown or implausible. */
export function unknownDims(rank: Dim): Dim[] | undefined {
  return isNum(rank) && rank >= 0 && rank <= MAX_RANK ? new Array<Dim>(rank).fill(undefined) : undefined;
}

/** Product of dims as a number, or undefined when any is not a number. */
export function numProd(ds: Dim[]): number | undefined {
  let p = 1;
  for (const d of ds) {
    if (!isNum(d)) return undefined;
    p *= d;
  }
  return p;
}

export function arith(op: string, a: Dim, b: Dim): Dim {
  if (isNum(a) && isNum(b)) {
    switch (op) {
      case 'Add':
        return a + b;
      case 'Sub':
        return a - b;
      case 'Mul':
        return a * b;
      case 'Div':
        return b === 0 ? undefined : Math.trunc(a / b);
    }
  }
  if (op === 'Mul' && (a === 1 || b === 1)) return a === 1 ? b : a;
  if (op === 'Add' && a === 0) return b;
  if ((op === 'Div' && b === 1) || ((op === 'Add' || op === 'Sub') && b === 0)) return a;
  if (a === undefined || b === undefined) return undefined;
  const sign = { Add: '+', Sub: '-', Mul: '*', Div: '/' }[op];
  return sign ? `${a}${sign}${b}` : undefined;
}

/** Solves a Reshape target (0 = copy, -1 = infer) against a partially known input shape. */
export function reshapeTarget(input: Dim[] | undefined, target: Dim[], allowZero: boolean): Dim[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? input?.[i] : d));
  const neg = out.indexOf(-1);
  if (neg < 0 || !input) return out.map((d) => (d === -1 ? undefined : d));
  // Cancel factors: numeric parts divide, symbolic parts must match as multisets.
  const others = out.filter((_, i) => i !== neg);
  const inSyms = input.filter((d) => !isNum(d));
  const outSyms = others.filter((d) => !isNum(d));
  const inNum = numProd(input.filter(isNum)) as number;
  const outNum = numProd(others.filter(isNum)) as number;
  const left = [...inSyms];
  for (const s of outSyms) {
    const k = left.findIndex((x) => x !== undefined && x === s);
    if (k < 0) {
      out[neg] = undefined;
      return out;
    }
    left.splice(k, 1);
  }
  if (left.some((d) => d === undefined) || outNum === 0) out[neg] = undefined;
  else if (left.length === 0) out[neg] = inNum % outNum === 0 ? inNum / outNum : undefined;
  else if (inNum % outNum === 0)
    out[neg] = arith(
      'Mul',
      left.reduce<Dim>((acc, d) => arith('Mul', acc, d), 1),
      inNum / outNum,
    );
  else out[neg] = undefined;
  return out;
}

/** Output size of a sliding window along one axis, when known. */
export function windowOut(
  inp: Dim,
  k: number,
  stride: number,
  padB: number,
  padE: number,
  dil: number,
  ceil: boolean,
  autoPad: string,
): Dim {
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    if (isNum(inp)) return Math.ceil(inp / stride);
    return stride === 1 ? inp : undefined;
  }
  if (!isNum(inp)) {
    // An identity window (k=1 or "same" padding at stride 1) keeps a symbolic size.
    if (stride === 1 && (k - 1) * dil === padB + padE) return inp;
    return undefined;
  }
  const valid = autoPad === 'VALID';
  return windowOutputSize(inp, k, stride, valid ? 0 : padB, valid ? 0 : padE, dil, ceil);
}

/** Elements of an integer-valued input as Dims (from a constant or symbolic propagation). */
export function symOf(info: InferredValue | undefined): Dim[] | undefined {
  if (!info) return undefined;
  if (info.sym) return info.sym;
  if (info.value && info.value.rank <= 1 && info.value.size <= 1024) return info.value.toFlatArray();
  return undefined;
}

/** Dims of `a` where known, else of `b` (same rank); `a` alone when the ranks differ. */
export function mergeDims(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a) return b ? [...b] : undefined;
  if (!b || b.length !== a.length) return a;
  return a.map((d, i) => (typeof d === 'number' ? d : (b[i] ?? d)));
}

export function matmulShape(a: Dim[] | undefined, b: Dim[] | undefined, fused?: Node): Dim[] | undefined {
  if (!a || !b) return undefined;
  let A = [...a];
  let B = [...b];
  if (fused) {
    const swap = (s: Dim[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
    if (attr(fused, 'transA', 'int', 0)) A = swap(A);
    if (attr(fused, 'transB', 'int', 0)) B = swap(B);
  }
  const a1 = A.length === 1;
  const b1 = B.length === 1;
  if (a1) A = [1, ...A];
  if (b1) B = [...B, 1];
  const batch = broadcast([A.slice(0, -2), B.slice(0, -2)]) ?? [];
  const out = [...batch, A[A.length - 2], B[B.length - 1]];
  if (a1) out.splice(out.length - 2, 1);
  if (b1) out.pop();
  return out;
}

/**
 * Shape rule: one output with input 0's shape, and its dtype (or `dtype`).
 * @example defineOnnxOp('', 'Relu', { kernel, shape: sameShape() });
 */
export const sameShape =
  (dtype?: string) =>
  ({ inputs }: ShapeContext): InferredValue[] => [
    { dtype: dtype ?? inputs[0]?.dtype, shape: inputs[0]?.shape ? [...inputs[0].shape] : undefined },
  ];

/**
 * Shape rule: one output, the numpy broadcast of every input's shape, with input `from`'s dtype (or `dtype`).
 * @example defineOnnxOp('', 'Add', { kernel, shape: broadcastShape() });
 */
export const broadcastShape =
  (dtype?: string, from = 0) =>
  ({ inputs }: ShapeContext): InferredValue[] => [{ dtype: dtype ?? inputs[from]?.dtype, shape: broadcast(inputs.map((i) => i?.shape)) }];

/**
 * What inference knows of `x`, with its shape copied and optionally another dtype: the usual
 * one-output "same shape" result inside a larger rule.
 * @example like(ins[0], 'bool') // { dtype: 'bool', shape: [...ins[0].shape] }
 */
export function like(x: InferredValue | undefined, dtype: string | undefined = x?.dtype): InferredValue {
  return { dtype, shape: x?.shape ? [...x.shape] : undefined };
}
