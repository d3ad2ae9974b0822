import { fmtShape, NormkitError, Rng, sizeOf, Tensor, validateShape } from '@normkit/tensor';
import type { Model } from '../ir.js';
import { constantOf } from './graph-facts.js';
import { assertModel } from './recognize.js';

/** Runs a model on named inputs and returns its outputs by name. */
export type ExecuteFn = (model: Model, inputs: Record<string, Tensor>) => Record<string, Tensor> | Map<string, Tensor> | Promise<unknown>;

/** Options of `verifyEquivalence`; every field is optional. */
export interface VerifyOptions {
  /** Given inputs (one feed, or several); compared in addition to the random ones. */
  inputs?: Record<string, Tensor> | Record<string, Tensor>[];
  /** Seed of the random inputs (default 0). */
  seed?: number;
  /** Number of random feeds (default 2). */
  runs?: number;
  /** Executor; defaults to the one registered with `setVerifyExecutor` (the package executor). */
  execute?: ExecuteFn;
  /** Sizes for symbolic dims by name (default: batch-like 2, sequence-like 8, others 4). */
  dims?: Record<string, number>;
  /** Relative tolerance on `maxRelDiff` (default 1e-5). */
  tolerance?: number;
}

/** How one graph output of the two models compares, worst case over every feed. */
export interface OutputComparison {
  /** The graph output's name. */
  name: string;
  /** max |a − b| over the output's elements (Infinity when a difference is NaN). */
  maxAbsDiff: number;
  /** max |a − b| divided by max |a| over the output (relative to the output's scale). */
  maxRelDiff: number;
  /** Fraction of rows (over the last axis) whose argmax is the same; 1 for outputs with one column. */
  argmaxAgreement: number;
}

/** What `verifyEquivalence` returns. */
export interface VerifyResult {
  /** One comparison per graph output of the original model. */
  outputs: OutputComparison[];
  /** Every `maxRelDiff` ≤ `tolerance` and every `argmaxAgreement` is 1. */
  equivalent: boolean;
  /** The relative tolerance applied. */
  tolerance: number;
  /** How many feeds both models ran on (random plus given). */
  feeds: number;
}

let defaultExecute: ExecuteFn | undefined;

/**
 * Registers the executor `verifyEquivalence` uses when none is passed.
 * @example setVerifyExecutor((m, inputs) => execute(m, inputs).outputs)
 */
export function setVerifyExecutor(fn: ExecuteFn | undefined): void {
  defaultExecute = fn;
}

/**
 * Seeded random feeds for a model's runtime inputs: float inputs standard normal; int64/int32 inputs
 * (token ids) uniform in [0, n) where n is the smallest table a Gather indexes with them (2 when none
 * is found); inputs named like a mask are all ones. Symbolic dims get `dims[name]` or a default. A feed
 * of more than 2^28 elements in all (a declared dim of 2^31, say) is refused with TENSOR_TOO_LARGE
 * before anything is allocated.
 *
 * @example
 * ```ts
 * const feed = randomInputs(model, 0); // { input_ids: Tensor(int64, [2, 8]) }
 * ```
 */
export function randomInputs(model: Model, seed = 0, dims: Record<string, number> = {}): Record<string, Tensor> {
  const g = model.graph;
  const rng = new Rng(seed);
  const consumers = g.consumers();
  const producers = g.producers();
  const feed: Record<string, Tensor> = {};
  const shapes = feedShapes(model, dims);
  for (const v of g.runtimeInputs()) {
    const shape = shapes.get(v.name) as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const dt = v.dtype ?? 'float32';
    if (dt === 'int64' || dt === 'int32') {
      const limit = gatherLimit(g, v.name, consumers, producers);
      const isMask = /mask/i.test(v.name);
      const vals = Array.from({ length: size }, () => (isMask ? 1 : rng.int(limit)));
      feed[v.name] = Tensor.from(vals, shape, dt);
    } else if (dt === 'bool')
      feed[v.name] = Tensor.from(
        Array.from({ length: size }, () => 1),
        shape,
        'bool',
      );
    else {
      const t = new Tensor(shape, dt === 'float64' ? 'float64' : 'float32');
      const d = t.data as Float32Array;
      for (let i = 0; i < size; i++) d[i] = rng.normal();
      feed[v.name] = t;
    }
  }
  return feed;
}

/** The most elements `randomInputs` generates for one feed (all inputs together: 1 GiB of float32). */
const MAX_FEED_ELEMENTS = 2 ** 28;

/**
 * The shape `randomInputs` gives each runtime input, checked before anything is allocated: a declared
 * dim of 2^31 (or a `dims` entry) past MAX_FEED_ELEMENTS in all is TENSOR_TOO_LARGE, a negative or
 * fractional `dims` entry INVALID_SHAPE, each naming the input and the way out.
 */
function feedShapes(model: Model, dims: Record<string, number>): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let total = 0;
  for (const v of model.graph.runtimeInputs()) {
    const shape = (v.shape ?? []).map((d) => {
      if (typeof d === 'number' && d > 0) return d;
      if (typeof d === 'string') {
        if (dims[d] !== undefined) return dims[d] as number;
        if (/batch|^n$|^b$/i.test(d)) return 2;
        if (/seq|len|token|time|^s$|^t$/i.test(d)) return 8;
      }
      return 4;
    });
    validateShape(shape, `randomInputs: input "${v.name}"`, Number.MAX_SAFE_INTEGER);
    total += sizeOf(shape);
    if (total > MAX_FEED_ELEMENTS)
      throw new NormkitError(
        'TENSOR_TOO_LARGE',
        `randomInputs: input "${v.name}" of shape ${fmtShape(shape)} brings the feed to ${total} elements, over the ${MAX_FEED_ELEMENTS} random inputs are generated for; give its symbolic dims smaller sizes (dims / verifyOptions.dims), fix a declared dim that large, or pass your own inputs (verifyOptions.inputs with runs: 0)`,
        { input: v.name, shape },
      );
    shapes.set(v.name, shape);
  }
  return shapes;
}

function gatherLimit(
  g: Model['graph'],
  name: string,
  consumers: Map<string, import('../ir.js').Node[]>,
  producers: Map<string, import('../ir.js').Node>,
): number {
  let best = Number.POSITIVE_INFINITY;
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length > 0) {
    const v = stack.pop() as string;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const n of consumers.get(v) ?? []) {
      if (n.opType === 'Gather' && n.inputs[1] === v) {
        const t = constantOf(g, n.inputs[0] as string, producers);
        const ax = (n.attributes.axis?.value as number | undefined) ?? 0;
        if (t) best = Math.min(best, t.shape[ax < 0 ? ax + t.rank : ax] as number);
      } else if (['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Identity', 'Flatten', 'Expand'].includes(n.opType) && n.inputs[0] === v)
        stack.push(...n.outputs);
    }
  }
  return Number.isFinite(best) ? best : 2;
}

function toRecord(out: unknown): Record<string, Tensor> {
  if (out instanceof Promise)
    throw new NormkitError('ASYNC_EXECUTOR', 'verifyEquivalence: the executor returned a Promise; pass a synchronous execute function');
  if (out instanceof Map) return Object.fromEntries(out);
  if (out && typeof out === 'object' && 'outputs' in out) return toRecord((out as { outputs: unknown }).outputs);
  return out as Record<string, Tensor>;
}

/**
 * Runs `original` and `converted` on seeded random inputs (and the given ones) and compares every graph
 * output: max abs difference, max difference relative to the output's scale, and argmax agreement along
 * the last axis. `equivalent` when every relative difference is within `tolerance` and every argmax agrees.
 *
 * @example
 * ```ts
 * const v = verifyEquivalence(model, folded, { seed: 1, runs: 2 });
 * v.outputs[0]; // { name: 'logits', maxAbsDiff: 3e-7, maxRelDiff: 4e-8, argmaxAgreement: 1 }
 * ```
 */
export function verifyEquivalence(original: Model, converted: Model, opts: VerifyOptions = {}): VerifyResult {
  assertModel(original, 'verifyEquivalence');
  assertModel(converted, 'verifyEquivalence');
  const run = opts.execute ?? defaultExecute;
  if (!run)
    throw new NormkitError(
      'NO_EXECUTOR',
      'verifyEquivalence: no executor: pass { execute } or import @normkit/graph (which registers its executor)',
    );
  const tolerance = opts.tolerance ?? 1e-5;
  const feeds: Record<string, Tensor>[] = [];
  for (let r = 0; r < (opts.runs ?? 2); r++) feeds.push(randomInputs(original, (opts.seed ?? 0) + r, opts.dims));
  if (opts.inputs) feeds.push(...(Array.isArray(opts.inputs) ? opts.inputs : [opts.inputs]));
  const acc = new Map<string, OutputComparison & { rows: number; agree: number }>();
  for (const feed of feeds) {
    const a = toRecord(run(original, feed));
    const b = toRecord(run(converted, feed));
    for (const o of original.graph.outputs) {
      const x = a[o.name];
      const y = b[o.name];
      if (!x || !y)
        throw new NormkitError(
          'VERIFY_MISSING_OUTPUT',
          `verifyEquivalence: output "${o.name}" missing from the ${!x ? 'original' : 'converted'} model's results`,
        );
      if (x.shape.join() !== y.shape.join())
        throw new NormkitError(
          'VERIFY_SHAPE',
          `verifyEquivalence: output "${o.name}" has shape [${x.shape}] in the original and [${y.shape}] converted`,
        );
      const { maxAbsDiff: maxAbs, maxRelDiff, rows, agree } = outputDifference(x, y);
      const e = acc.get(o.name) ?? { name: o.name, maxAbsDiff: 0, maxRelDiff: 0, argmaxAgreement: 1, rows: 0, agree: 0 };
      e.maxAbsDiff = Math.max(e.maxAbsDiff, maxAbs);
      e.maxRelDiff = Math.max(e.maxRelDiff, maxRelDiff);
      e.rows += rows;
      e.agree += agree;
      acc.set(o.name, e);
    }
  }
  const outputs = [...acc.values()].map(({ rows, agree, ...c }) => ({ ...c, argmaxAgreement: rows > 0 ? agree / rows : 1 }));
  return {
    outputs,
    equivalent: outputs.every((o) => o.maxRelDiff <= tolerance && o.argmaxAgreement === 1),
    tolerance,
    feeds: feeds.length,
  };
}

/**
 * How a candidate output differs from its reference (same shape): the largest |difference| (∞ where
 * either is NaN), that relative to the largest |reference| value, and over the rows of the last axis
 * how many have the same argmax (`rows` is 0 for a last axis of one: nothing to agree on). The measure
 * of `verifyEquivalence`, for callers that run the models themselves (the web page).
 * @example outputDifference(Tensor.from([1, 2]), Tensor.from([1, 2.5])) // { maxAbsDiff: 0.5, maxRelDiff: 0.25, rows: 1, agree: 1 }
 */
export function outputDifference(
  reference: Tensor,
  candidate: Tensor,
): { maxAbsDiff: number; maxRelDiff: number; rows: number; agree: number } {
  const xd = reference.data as ArrayLike<number | bigint>;
  const yd = candidate.data as ArrayLike<number | bigint>;
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < xd.length; i++) {
    const u = Number(xd[i]);
    const d = Math.abs(u - Number(yd[i]));
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    if (Math.abs(u) > scale) scale = Math.abs(u);
  }
  const cols = reference.rank > 0 ? (reference.shape[reference.rank - 1] as number) : 1;
  let rows = 0;
  let agree = 0;
  if (cols > 1)
    for (let r = 0; r * cols < xd.length; r++) {
      let ia = 0;
      let ib = 0;
      for (let c = 1; c < cols; c++) {
        if (Number(xd[r * cols + c]) > Number(xd[r * cols + ia])) ia = c;
        if (Number(yd[r * cols + c]) > Number(yd[r * cols + ib])) ib = c;
      }
      rows++;
      if (ia === ib) agree++;
    }
  return { maxAbsDiff: maxAbs, maxRelDiff: scale > 0 ? maxAbs / scale : maxAbs, rows, agree };
}
