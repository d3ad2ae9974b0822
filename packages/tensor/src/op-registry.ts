import { NormkitError } from './errors.js';
import type { Tensor } from './tensor.js';

/**
 * One definition per op. Today a definition carries the op's name and its gradient; the kernels, the
 * shape/dtype rule, the host inputs and the foldability role join it here as the registry grows, so
 * that the executor, the passes, the backends and training all read one place.
 *
 * Ops run through `runOp`, which hands each call to the active `OpRecorder` (the autograd tape of
 * @normkit/train) with its inputs, attributes and output. While an op computes, recording is paused:
 * an op built from other ops is recorded once, as itself, and differentiated by its own `grad`.
 */
export interface OpDef<A = unknown, S = unknown> {
  /** Unique name, e.g. `add`, `matmul`, `layerNorm`. */
  readonly name: string;
  /**
   * Vector–Jacobian product: given the gradient `dy` of the op's output, the gradient of each input
   * in input order, each with that input's shape (`undefined` where the op is not differentiable in
   * that input, e.g. integer indices). Absent: the op is not differentiable (comparisons, argmax...).
   * It must not keep the tensors it returns or creates: the autograd tape recycles their storage once
   * it has used them (see `recycle`).
   */
  readonly grad?: GradFn<A, S>;
}

/** What a gradient function sees of the forward call. */
export interface GradContext<A = unknown, S = unknown> {
  /** The op's tensor inputs as recorded (`undefined` for omitted optional inputs). */
  readonly inputs: readonly (Tensor | undefined)[];
  /** The forward output. */
  readonly output: Tensor;
  /** The non-tensor arguments of the call (axes, options...). */
  readonly attrs: A;
  /** Whatever the forward chose to keep for the backward pass (statistics, masks...). */
  readonly saved: S;
  /**
   * Which inputs' gradients will be used, in input order (set by the autograd tape during the backward
   * pass; absent: all of them). A gradient function may return `undefined` where this is false and
   * skip the work, e.g. the input-pixel gradient of a first layer or that of a frozen weight.
   */
  readonly needsGrad?: readonly boolean[];
}

/** A vector–Jacobian product; see `OpDef.grad`. */
export type GradFn<A = unknown, S = unknown> = (dy: Tensor, ctx: GradContext<A, S>) => readonly (Tensor | undefined)[];

/** Receives every op call while it is active (see `setOpRecorder`). */
export interface OpRecorder {
  /** Called once per op call, after it computed, with its definition, inputs, attributes, output and saved state. */
  record(def: OpDef, ctx: GradContext): void;
}

const definitions = new Map<string, OpDef>();
// The recorder lives on globalThis so that the ESM and CJS builds of this package, loaded side by side
// in one process, report to the same tape.
const slot = Symbol.for('@normkit/tensor.opRecorder');
type Slot = { [slot]?: OpRecorder };
const getRecorder = (): OpRecorder | undefined => (globalThis as Slot)[slot];
const putRecorder = (r: OpRecorder | undefined): void => {
  (globalThis as Slot)[slot] = r;
};

/**
 * Defines an op (names are unique across every package) and returns the definition to run it with.
 * @example
 * ```ts
 * const SQUARE = defineOp({ name: 'myLib.square', grad: (dy, { inputs: [x] }) => [mul(dy, mul(x!, 2))] });
 * const square = (x: Tensor) => runOp(SQUARE, [x], {}, () => mul(x, x));
 * ```
 */
export function defineOp<A = unknown, S = unknown>(def: OpDef<A, S>): OpDef<A, S> {
  if (definitions.has(def.name))
    throw new NormkitError('DUPLICATE_OP', `defineOp: an op named "${def.name}" is already defined; pick a unique (namespaced) name`, {
      op: def.name,
    });
  definitions.set(def.name, def as OpDef);
  return def;
}

/** The definition of a named op, or undefined. @example opDefinition('matmul')?.grad !== undefined */
export function opDefinition(name: string): OpDef | undefined {
  return definitions.get(name);
}

/** Names of every defined op, sorted. @example listOps().includes('add') // true */
export function listOps(): string[] {
  return [...definitions.keys()].sort();
}

/**
 * Makes `r` the recorder every op call is reported to (undefined: none) and returns the previous one,
 * so that callers can restore it. The autograd tape of @normkit/train is the usual recorder.
 * @example const prev = setOpRecorder(tape); try { f(); } finally { setOpRecorder(prev); }
 */
export function setOpRecorder(r: OpRecorder | undefined): OpRecorder | undefined {
  const prev = getRecorder();
  putRecorder(r);
  return prev;
}

/** Whether an op call would be recorded now. @example isRecording() // false outside a gradient tape */
export function isRecording(): boolean {
  return getRecorder() !== undefined;
}

/**
 * Runs one op: `compute` produces the output (and optionally what the gradient needs), and the call is
 * reported to the active recorder. Ops that `compute` calls are not recorded.
 * @example runOp(SQUARE, [x], {}, () => mul(x, x))
 */
export function runOp<A, S = undefined>(
  def: OpDef<A, S>,
  inputs: readonly (Tensor | undefined)[],
  attrs: A,
  compute: () => Tensor | { output: Tensor; saved: S },
): Tensor {
  const r = getRecorder();
  if (!r) {
    const res = compute();
    return 'output' in res ? res.output : res;
  }
  putRecorder(undefined);
  let res: Tensor | { output: Tensor; saved: S };
  try {
    res = compute();
  } finally {
    putRecorder(r);
  }
  const [output, saved] = 'output' in res ? [res.output, res.saved] : [res, undefined as S];
  r.record(def as OpDef, { inputs, output, attrs, saved });
  return output;
}
