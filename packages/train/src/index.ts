/**
 * @normkit/train — train the papers' networks in TypeScript: reverse-mode autograd over
 * @normkit/tensor (every op's gradient lives in its one definition), modules, losses, optimizers,
 * Fashion-MNIST and synthetic data, checkpoints and ONNX export.
 *
 * @example
 * ```ts
 * import { Tensor, matmul, mul, sum } from '@normkit/tensor';
 * import { valueAndGrads } from '@normkit/train';
 * const w = Tensor.randn([3, 2], 0);
 * const x = Tensor.randn([4, 3], 1);
 * const { value, grads } = valueAndGrads(() => sum(mul(matmul(x, w), matmul(x, w))), { w });
 * ```
 */

export { type GradsOf, grad, noGrad, valueAndGrad, valueAndGrads } from './autograd.js';
export { computeGrads, Module, Parameter } from './nn/module.js';
