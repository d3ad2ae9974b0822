import {
  add,
  fmtShape,
  type GradContext,
  NormkitError,
  type OpDef,
  type OpRecorder,
  setOpRecorder,
  shapesEqual,
  Tensor,
} from '@normkit/tensor';

// Reverse-mode automatic differentiation. While a function runs, a Tape records every op whose inputs
// depend on a watched tensor (the ops report themselves through @normkit/tensor's `runOp`); then the
// tape is walked backward from a scalar, calling each op's `grad` from its one definition. The tape
// and every intermediate gradient are dropped when the backward pass ends.

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
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { def, ctx } = this.entries[i] as Entry;
      const g = grads.get(ctx.output);
      if (!g) continue;
      if (!keep.has(ctx.output)) grads.delete(ctx.output); // its consumers are all done: free it
      if (!def.grad)
        throw new NormkitError(
          'NO_GRADIENT',
          `autograd: op "${def.name}" has no gradient, but the result depends on its output ${fmtShape(ctx.output.shape)}; wrap that use in noGrad() if it is meant as a constant`,
          { op: def.name, shape: ctx.output.shape },
        );
      const dxs = def.grad(g, ctx);
      ctx.inputs.forEach((x, k) => {
        const dx = dxs[k];
        if (!x || !dx || !this.live.has(x)) return;
        if (!shapesEqual(dx.shape, x.shape))
          throw new NormkitError(
            'GRADIENT_SHAPE',
            `autograd: the gradient of op "${def.name}" for input ${k} has shape ${fmtShape(dx.shape)} but the input has ${fmtShape(x.shape)}; the op's grad is wrong`,
            { op: def.name, shape: dx.shape, expected: x.shape },
          );
        const prev = grads.get(x);
        grads.set(x, prev ? add(prev, dx) : dx);
      });
    }
    return grads;
  }
}

/** Gradients keyed like the tensors they belong to (an array or a record of tensors). */
export type GradsOf<T> = { [K in keyof T]: Tensor };

/**
 * Runs `f`, then returns its scalar value and the gradient of that value with respect to each tensor
 * of `wrt` (an array or a record). A tensor used several times gets the sum of its gradients; a tensor
 * that `f`'s value does not depend on gets zeros. Higher-order gradients are not supported: the
 * backward pass records nothing.
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
): { value: Tensor; grads: GradsOf<T> } {
  const watched = Object.values(wrt) as Tensor[];
  const tape = new Tape(watched);
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
  const pick = (t: Tensor) => map.get(t) ?? Tensor.zeros(t.shape, t.dtype);
  const grads = (
    Array.isArray(wrt) ? watched.map(pick) : Object.fromEntries(Object.entries(wrt).map(([k, t]) => [k, pick(t)]))
  ) as GradsOf<T>;
  return { value, grads };
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
