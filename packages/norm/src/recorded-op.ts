// How the operators of this package become ops of @normkit/tensor's registry (`defineOp` / `runOp`):
// each operator defines its op beside itself and runs its body through `runOp`, so that the autograd
// tape of @normkit/train records it once, as itself, and differentiates it with the operator's
// existing `*Backward` function. The helpers here are the pieces every operator shares.
import { cast, defineOp, fmtShape, isRecording, NormkitError, type OpDef, runOp, Tensor } from '@normkit/tensor';

type MaybeTensor = Tensor | undefined;

/**
 * Gradients in input order, each in its input's dtype (a float32 γ of a float64 x gets a float32 dγ;
 * the host backward passes compute in float64 and return the dtype of x); undefined where the input
 * was omitted.
 */
export function matchInputs(inputs: readonly MaybeTensor[], grads: readonly MaybeTensor[]): MaybeTensor[] {
  return inputs.map((x, k) => {
    const g = grads[k];
    if (!x || !g) return undefined;
    return g.dtype === x.dtype ? g : cast(g, x.dtype);
  });
}

/** Gradients of an operator over x with an optional per-feature affine γ (scale), β (bias). */
interface AffineGradients {
  dx: Tensor;
  dScale?: Tensor;
  dBias?: Tensor;
}

/** Options of an affine operator as its backward takes them: the recorded attributes plus γ, β. */
type WithAffine<A> = A & { scale?: Tensor; bias?: Tensor };

/**
 * Defines the op of an operator over inputs [x, scale, bias] whose gradient is
 * `backward(dy, x, { ...attrs, scale, bias })` (the package's `opBackward` convention).
 */
export function affineOp<A extends object>(
  name: string,
  backward: (dy: Tensor, x: Tensor, opts: WithAffine<A>) => AffineGradients,
): OpDef<A> {
  return defineOp<A>({
    name,
    grad: (dy, { inputs, attrs }) => {
      const [x, scale, bias] = inputs;
      const g = backward(dy, x as Tensor, { ...attrs, scale, bias });
      return matchInputs(inputs, [g.dx, g.dScale, g.dBias]);
    },
  });
}

/**
 * `opts` without the named keys: what an op records as its attributes once its tensors are inputs.
 * @example withoutKeys({ axis: 1, scale, bias }, 'scale', 'bias') // { axis: 1 }
 */
export function withoutKeys<T extends object, K extends keyof T>(opts: T, ...keys: K[]): Omit<T, K> {
  const rest: Partial<T> = { ...opts };
  for (const k of keys) delete rest[k];
  return rest as Omit<T, K>;
}

/**
 * Runs an operator whose result holds more than its differentiable output y (statistics, running
 * buffers): `compute` runs once as the op `def`, recorded on `result.y`; the rest of the result is
 * returned as is and carries no gradient.
 */
export function runOpOnY<A, R extends { y: Tensor }>(def: OpDef<A>, inputs: readonly MaybeTensor[], attrs: A, compute: () => R): R {
  let result: R | undefined;
  runOp(def, inputs, attrs, () => {
    result = compute();
    return result.y;
  });
  return result as R;
}

/**
 * Throws when an operator is asked to write into `out` while a gradient tape records: the tape keys
 * gradients by tensor identity and keeps inputs for the backward pass, so a tensor overwritten in
 * place would silently give wrong gradients.
 */
export function refuseOutWhileRecording(op: string, out: Tensor | undefined): void {
  if (!out || !isRecording()) return;
  throw new NormkitError(
    'INVALID_ARGUMENT',
    `${op}: the out option writes y into an existing tensor ${fmtShape(out.shape)}, which a gradient tape cannot follow; drop out inside the differentiated function, or run the call under noGrad()`,
    { op, shape: out.shape },
  );
}

/** A loss value as a rank-0 tensor of `dtype` (the output of the `*Tensor` loss ops). */
export function lossTensor(value: number, dtype: string): Tensor {
  return Tensor.scalar(value, dtype === 'float64' ? 'float64' : 'float32');
}

/** The value of a loss op's upstream gradient (a one-element tensor). */
export function upstream(dy: Tensor): number {
  return (dy.data as Float32Array)[0] as number;
}
