import type { Tensor } from '@normkit/tensor';

/**
 * Gives a tensor that a pass derived from another (a centered copy of a weight, a bias with β folded
 * in) the storage of the one it came from, returning the tensor to use. The graph package does not know
 * how a file stores its tensors; the ONNX layer registers a derivation that keeps a float16 weight
 * float16 (values rounded once, as the file will hold them) — so a converted model keeps its types and
 * the verification sees the values that will be written.
 */
export type TensorDerivation = (from: Tensor, to: Tensor) => Tensor;

// On globalThis so that the ESM and CJS builds of this package, loaded side by side, share it.
const slot = Symbol.for('@normkit/graph.tensorDerivation');
type Slot = { [slot]?: TensorDerivation };

/**
 * Registers how derived tensors inherit storage (one registration; `undefined` removes it). @normkit/onnx
 * registers one when it is imported.
 * @example setTensorDerivation((from, to) => to)
 */
export function setTensorDerivation(fn: TensorDerivation | undefined): void {
  (globalThis as Slot)[slot] = fn;
}

/**
 * `to`, given the storage of `from` by the registered derivation (itself when none is registered).
 * @example g.initializers.set(name, derivedTensor(w, centeredW))
 */
export function derivedTensor(from: Tensor, to: Tensor): Tensor {
  const fn = (globalThis as Slot)[slot];
  return fn ? fn(from, to) : to;
}
