import {
  add,
  allocatedSince,
  fmtShape,
  type GradContext,
  NormkitError,
  type OpDef,
  type OpRecorder,
  recycle,
  setOpRecorder,
  shapesEqual,
  storageMark,
  Tensor,
} from '@normkit/tensor';

// Reverse-mode automatic differentiation. While a function runs, a Tape records every op whose inputs
// depend on a watched tensor (the ops report themselves through @normkit/tensor's `runOp`); then the
// tape is walked backward from a scalar, calling each op's `grad` from its one definition, telling it
// which inputs need a gradient. The tape and every intermediate gradient are dropped when the backward
// pass ends; the storage of the gradients it consumed (and, when asked, of the forward's intermediate
// results) goes back to @normkit/tensor's storage pool for the next step's ops.

interface Entry {
  def: OpDef;
  ctx: GradContext;
}

/** Records differentiable op calls that depend on the watched tensors. */
class Tape implements OpRecorder {
  readonly entries: Entry[] = [];
  private readonly live = new Set<Tensor>();

  constructor(watched: Iterable<Tensor>) {
    for (const t of watched) this.live.add(t);
  }

  record(def: OpDef, ctx: GradContext): void {
    if (ctx.inputs.includes(ctx.output)) return; // an identity: the tensor already carries its gradient
    if (!ctx.inputs.some((t) => t !== undefined && this.live.has(t))) return;
    // Integer and bool outputs (argmax, comparisons) carry no gradient; a float output of an op without
    // a grad is recorded so that the backward pass can name it if a gradient ever reaches it.
    if (ctx.output.dtype !== 'float32' && ctx.output.dtype !== 'float64') return;
    this.entries.push({ def, ctx });
    this.live.add(ctx.output);
  }

  /** Walks the tape backward from `y` (seeded with `dy`) and returns the gradient of each watched tensor. */
  backward(y: Tensor, dy: Tensor, watched: readonly Tensor[]): Map<Tensor, Tensor> {
    const grads = new Map<Tensor, Tensor>([[y, dy]]);
    const keep = new Set(watched);
    const store = new GradStore(grads);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { def, ctx } = this.entries[i] as Entry;
      const g = grads.get(ctx.output);
      if (!g) continue;
      if (!def.grad)
        throw new NormkitError(
          'NO_GRADIENT',
          `autograd: op "${def.name}" has no gradient, but the result depends on its output ${fmtShape(ctx.output.shape)}; wrap that use in noGrad() if it is meant as a constant`,
          { op: def.name, shape: ctx.output.shape },
        );
      const needs = ctx.inputs.map((x) => x !== undefined && this.live.has(x));
      const dxs = def.grad(g, { ...ctx, needsGrad: needs });
      const dropped: Tensor[] = [];
      ctx.inputs.forEach((x, k) => {
        const dx = dxs[k];
        if (!dx) return;
        if (!x || !needs[k]) {
          dropped.push(dx);
          return;
        }
        if (!shapesEqual(dx.shape, x.shape))
          throw new NormkitError(
            'GRADIENT_SHAPE',
            `autograd: the gradient of op "${def.name}" for input ${k} has shape ${fmtShape(dx.shape)} but the input has ${fmtShape(x.shape)}; the op's grad is wrong`,
            { op: def.name, shape: dx.shape, expected: x.shape },
          );
        if (store.accumulate(x, dx)) dropped.push(dx);
      });
      // Its consumers are all done: the output's gradient is dropped (unless it is a result).
      if (!keep.has(ctx.output)) store.remove(ctx.output, g);
      for (const t of dropped) store.release(t);
    }
    return grads;
  }
}

/**
 * The gradients of a backward pass, with the storage they own: gradients created during the pass
 * (after its `storageMark`) are seen only by the tape and the ops' grad functions, so once no entry
 * of the map shares a gradient's storage, the storage is recycled for later ops; and a gradient that
 * receives a second contribution is summed into in place when nothing else shares it.
 */
class GradStore {
  private readonly mark = storageMark();
  private readonly refs = new Map<ArrayBufferLike, number>();

  constructor(private readonly grads: Map<Tensor, Tensor>) {}

  private key(t: Tensor): ArrayBufferLike | undefined {
    return allocatedSince(t, this.mark) ? t.data.buffer : undefined;
  }

  private count(t: Tensor, delta: number): number {
    const k = this.key(t);
    if (!k) return -1;
    const n = (this.refs.get(k) ?? 0) + delta;
    if (n > 0) this.refs.set(k, n);
    else this.refs.delete(k);
    return n;
  }

  /** Adds `dx` to the gradient of `x`; returns true when `dx` itself was not kept (summed into another). */
  accumulate(x: Tensor, dx: Tensor): boolean {
    const prev = this.grads.get(x);
    if (!prev) {
      this.grads.set(x, dx);
      this.count(dx, 1);
      return false;
    }
    const k = this.key(prev);
    if (k && this.refs.get(k) === 1 && prev.dtype === dx.dtype && this.key(dx) !== k) {
      const a = prev.data as Float32Array;
      const b = dx.data as Float32Array;
      for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
      return true;
    }
    const sum = add(prev, dx);
    this.grads.set(x, sum);
    this.count(sum, 1);
    this.remove(x, prev, false);
    return true;
  }

  /** Drops the map's entry for `t` (when `unset`) and its reference to gradient `g`, recycling g's storage if that was the last. */
  remove(t: Tensor, g: Tensor, unset = true): void {
    if (unset) this.grads.delete(t);
    if (this.count(g, -1) === 0) recycle(g);
  }

  /** Recycles a gradient the map never held (or no longer holds), unless an entry shares its storage. */
  release(t: Tensor): void {
    const k = this.key(t);
    if (k && !this.refs.has(k)) recycle(t);
  }
}

/** Gradients keyed like the tensors they belong to (an array or a record of tensors). */
export type GradsOf<T> = { [K in keyof T]: Tensor };

/** Options of `valueAndGrads` and `computeGrads`. */
export interface GradOptions {
  /**
   * Once the gradients are computed, hand the storage of `f`'s intermediate results (the outputs of
   * the recorded ops and what they kept for their gradients, other than the value and what the
   * gradients share) back for reuse by later ops,
   * so that a training loop does not allocate (and fault in) fresh memory for every activation of every
   * step. Those intermediates must not be read afterwards: reading one throws RECYCLED. Default false
   * for `valueAndGrads`, true for `computeGrads`.
   */
  recycle?: boolean;
}

/**
 * Runs `f`, then returns its scalar value and the gradient of that value with respect to each tensor
 * of `wrt` (an array or a record). A tensor used several times gets the sum of its gradients; a tensor
 * that `f`'s value does not depend on gets zeros. Higher-order gradients are not supported: the
 * backward pass records nothing. The gradients the backward pass creates and consumes along the way
 * are recycled (see @normkit/tensor's `recycle`); with `recycle`, `f`'s intermediates are too.
 *
 * @example
 * ```ts
 * const w = Tensor.randn([3, 2], 0);
 * const x = Tensor.randn([4, 3], 1);
 * const { value, grads } = valueAndGrads(() => sum(mul(matmul(x, w), matmul(x, w))), { w });
 * grads.w.shape; // [3, 2]
 * ```
 */
export function valueAndGrads<T extends readonly Tensor[] | Record<string, Tensor>>(
  f: () => Tensor,
  wrt: T,
  opts: GradOptions = {},
): { value: Tensor; grads: GradsOf<T> } {
  const watched = Object.values(wrt) as Tensor[];
  const tape = new Tape(watched);
  const mark = storageMark();
  const prev = setOpRecorder(tape);
  let value: Tensor;
  try {
    value = f();
  } finally {
    setOpRecorder(prev);
  }
  if (!(value instanceof Tensor) || value.size !== 1)
    throw new NormkitError(
      'NOT_A_SCALAR',
      `valueAndGrads: the function must return a one-element tensor (a loss), got ${value instanceof Tensor ? fmtShape(value.shape) : typeof value}; reduce it with sum() or mean() first`,
    );
  const map = noGrad(() => tape.backward(value, Tensor.full(value.shape, 1, value.dtype), watched));
  if (opts.recycle) recycleIntermediates(tape, mark, [value, ...map.values()]);
  const pick = (t: Tensor) => map.get(t) ?? Tensor.zeros(t.shape, t.dtype);
  const grads = (
    Array.isArray(wrt) ? watched.map(pick) : Object.fromEntries(Object.entries(wrt).map(([k, t]) => [k, pick(t)]))
  ) as GradsOf<T>;
  return { value, grads };
}

/** The tensors an op kept for its gradient: `saved` itself, or the tensors in it (an array or a plain record). */
function savedTensors(saved: unknown): Tensor[] {
  if (saved instanceof Tensor) return [saved];
  if (!saved || typeof saved !== 'object') return [];
  return Object.values(saved).filter((v): v is Tensor => v instanceof Tensor);
}

/**
 * Recycles the storage of the tape's recorded outputs and of the tensors the ops kept for their
 * gradients, when created after `mark` (during `f`), except storage that one of `kept` (the value, the
 * gradients) shares; every such tensor sharing a recycled storage forgets it.
 */
function recycleIntermediates(tape: Tape, mark: number, kept: readonly Tensor[]): void {
  const keep = new Set(kept.filter((t) => allocatedSince(t, mark)).map((t) => t.data.buffer));
  const views = new Map<ArrayBufferLike, Tensor[]>();
  for (const { ctx } of tape.entries)
    for (const t of [ctx.output, ...savedTensors(ctx.saved)]) {
      if (!allocatedSince(t, mark) || keep.has(t.data.buffer)) continue;
      const list = views.get(t.data.buffer);
      if (list) list.push(t);
      else views.set(t.data.buffer, [t]);
    }
  for (const [first, ...rest] of views.values()) recycle(first as Tensor, rest);
}

/**
 * The gradient function of a scalar function of one tensor (tfjs's `tf.grad`).
 * @example const dSquare = grad((x) => sum(mul(x, x))); dSquare(Tensor.from([1, 2])) // [2, 4]
 */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => valueAndGrads(() => f(x), [x]).grads[0] as Tensor;
}

/**
 * The value-and-gradients function of a scalar function of several tensors (tfjs's `tf.valueAndGrads`).
 * @example const { value, grads: [da, db] } = valueAndGrad((a, b) => sum(mul(a, b)))(a, b);
 */
export function valueAndGrad(f: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...xs) => {
    const r = valueAndGrads(() => f(...xs), xs);
    return { value: r.value, grads: r.grads as Tensor[] };
  };
}

/**
 * Runs `fn` with recording off: nothing inside contributes to a gradient (PyTorch's `torch.no_grad`).
 * @example const logits = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const prev = setOpRecorder(undefined);
  try {
    return fn();
  } finally {
    setOpRecorder(prev);
  }
}
