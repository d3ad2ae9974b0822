import { fmtShape, sizeOf, type Tensor } from '@normkit/tensor';
import { attr, type Dim } from '../ir.js';
import { type InferredValue, isNum, normAxis, sameShape } from './dims.js';
import { hostNumbers, pick, tensorOf } from './host-data.js';
import { defineOnnxOp, invalid, need, type OpContext, type ShapeContext } from './registry.js';

// Data-dependent selection ops, written as host loops: ReverseSequence, Compress, Unique.

/** An axis attribute checked against the input's rank (INVALID_NODE naming the node otherwise). */
function axisOf(ctx: OpContext, name: string, value: number, rank: number): number {
  const ax = normAxis(value, rank);
  if (!Number.isInteger(ax) || ax < 0 || ax >= rank) throw invalid(ctx, `${name}=${value} is outside the input's rank ${rank}`);
  return ax;
}

/** Flat index of (outer o, position p along an axis of size n, inner j). */
const at = (o: number, p: number, j: number, n: number, inner: number) => (o * n + p) * inner + j;

/**
 * ReverseSequence: reverses the first `sequence_lens[b]` steps along `time_axis` for each batch entry
 * along `batch_axis`; the remaining steps are copied.
 */
function reverseSequence(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0);
  const lens = hostNumbers(need(ctx, 1, 'sequence_lens'));
  if (x.rank < 2) throw invalid(ctx, `input must have rank ≥ 2, got ${fmtShape(x.shape)}`);
  const bAx = axisOf(ctx, 'batch_axis', attr(ctx.node, 'batch_axis', 'int', 1), x.rank);
  const tAx = axisOf(ctx, 'time_axis', attr(ctx.node, 'time_axis', 'int', 0), x.rank);
  if (bAx === tAx || bAx > 1 || tAx > 1)
    throw invalid(ctx, `batch_axis and time_axis must be 0 and 1 in some order, got ${bAx} and ${tAx}`);
  const B = x.shape[bAx]!;
  const Tn = x.shape[tAx]!;
  if (lens.length !== B) throw invalid(ctx, `sequence_lens has ${lens.length} entries for a batch of ${B}`);
  const inner = sizeOf(x.shape.slice(2));
  const from = new Float64Array(x.size);
  for (let b = 0; b < B; b++) {
    const len = lens[b]!;
    if (!(len >= 0 && len <= Tn)) throw invalid(ctx, `sequence_lens[${b}] = ${len} is outside [0, ${Tn}]`);
    for (let t = 0; t < Tn; t++) {
      const src = t < len ? len - 1 - t : t;
      const [d0, d1, s0, s1] = bAx === 0 ? [b, t, b, src] : [t, b, src, b];
      for (let j = 0; j < inner; j++) from[(d0 * x.shape[1]! + d1) * inner + j] = (s0 * x.shape[1]! + s1) * inner + j;
    }
  }
  return [pick(x, x.shape, from)];
}

/** Compress: the slices along `axis` (or elements of the flattened input) whose condition is true. */
function compress(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0);
  const cond = hostNumbers(need(ctx, 1, 'condition'));
  const axAttr = attr(ctx.node, 'axis', 'int');
  const ax = axAttr === undefined ? undefined : axisOf(ctx, 'axis', axAttr, x.rank);
  const n = ax === undefined ? x.size : x.shape[ax]!;
  if (cond.length > n)
    throw invalid(ctx, `condition has ${cond.length} entries but the ${ax === undefined ? 'flattened input' : `axis ${ax}`} has ${n}`);
  const keep: number[] = [];
  for (let i = 0; i < cond.length; i++) if (cond[i]) keep.push(i);
  if (ax === undefined) return [pick(x, [keep.length], keep)];
  const outer = sizeOf(x.shape.slice(0, ax));
  const inner = sizeOf(x.shape.slice(ax + 1));
  const from: number[] = [];
  for (let o = 0; o < outer; o++) for (const p of keep) for (let j = 0; j < inner; j++) from.push(at(o, p, j, n, inner));
  return [
    pick(
      x,
      x.shape.map((d, i) => (i === ax ? keep.length : d)),
      from,
    ),
  ];
}

/** Lexicographic order of two slices (arrays of numbers); -0 equals 0. */
function cmpSlices(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/**
 * Unique: the distinct elements (or slices along `axis`), sorted ascending or in order of first
 * occurrence, with the first-occurrence indices, the inverse indices and the counts (int64).
 */
function unique(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0);
  const axAttr = attr(ctx.node, 'axis', 'int');
  const ax = axAttr === undefined ? undefined : axisOf(ctx, 'axis', axAttr, x.rank);
  const v = hostNumbers(x);
  const n = ax === undefined ? x.size : x.shape[ax]!;
  const outer = ax === undefined ? 1 : sizeOf(x.shape.slice(0, ax));
  const inner = ax === undefined ? 1 : sizeOf(x.shape.slice(ax + 1));
  const slices: number[][] = [];
  for (let p = 0; p < n; p++) {
    const s: number[] = [];
    for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) s.push(v[at(o, p, j, n, inner)]!);
    slices.push(s);
  }
  const firsts: number[] = [];
  const groupOf = new Map<string, number>();
  const inverse = new Array<number>(n);
  const counts: number[] = [];
  for (let p = 0; p < n; p++) {
    const k = slices[p]!.map((e) => (e === 0 ? 0 : e)).join(',');
    let g = groupOf.get(k);
    if (g === undefined) {
      g = firsts.length;
      groupOf.set(k, g);
      firsts.push(p);
      counts.push(0);
    }
    inverse[p] = g;
    counts[g]!++;
  }
  let order = firsts.map((_, g) => g);
  if (attr(ctx.node, 'sorted', 'int', 1)) order.sort((a, b) => cmpSlices(slices[firsts[a]!]!, slices[firsts[b]!]!));
  else order = order.slice();
  const rank = new Array<number>(order.length);
  order.forEach((g, r) => {
    rank[g] = r;
  });
  const U = order.length;
  const from: number[] = [];
  if (ax === undefined) for (const g of order) from.push(firsts[g]!);
  else for (let o = 0; o < outer; o++) for (const g of order) for (let j = 0; j < inner; j++) from.push(at(o, firsts[g]!, j, n, inner));
  const yShape = ax === undefined ? [U] : x.shape.map((d, i) => (i === ax ? U : d));
  return [
    pick(x, yShape, from),
    tensorOf(
      [U],
      'int64',
      order.map((g) => firsts[g]!),
    ),
    tensorOf(
      [n],
      'int64',
      inverse.map((g) => rank[g]!),
    ),
    tensorOf(
      [U],
      'int64',
      order.map((g) => counts[g]!),
    ),
  ];
}

/** Input 0's shape with the `axis` attribute's dim unknown (flattened to one unknown dim without one). */
function selectedShape({ node, inputs }: ShapeContext): Dim[] | undefined {
  const s = inputs[0]?.shape;
  const a = attr(node, 'axis', 'int');
  if (a === undefined) return [undefined];
  if (!s) return undefined;
  const ax = normAxis(a, s.length);
  return s.map((d, i) => (i === ax ? undefined : d));
}

defineOnnxOp('', 'ReverseSequence', { kernel: reverseSequence, shape: sameShape(), hostInputs: 'all' });
defineOnnxOp('', 'Compress', {
  kernel: compress,
  shape: (ctx) => [{ dtype: ctx.inputs[0]?.dtype, shape: selectedShape(ctx) }],
  hostInputs: 'all',
});
defineOnnxOp('', 'Unique', {
  kernel: unique,
  shape: (ctx): InferredValue[] => {
    const s = ctx.inputs[0]?.shape;
    const a = attr(ctx.node, 'axis', 'int');
    const n = a === undefined ? (s?.every(isNum) ? sizeOf(s as number[]) : undefined) : s?.[normAxis(a, s.length)];
    return [
      { dtype: ctx.inputs[0]?.dtype, shape: selectedShape(ctx) },
      { dtype: 'int64', shape: [undefined] },
      { dtype: 'int64', shape: [n] },
      { dtype: 'int64', shape: [undefined] },
    ];
  },
  hostInputs: 'all',
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const SELECT_OPS = 'select';
