/**
 * @normkit/tensor — tensors, broadcasting ops, linear algebra, a seeded RNG and the Backend
 * interface with a CPU backend.
 *
 * @example
 * ```ts
 * import { Tensor, matmul, add } from '@normkit/tensor';
 * const y = add(matmul(Tensor.randn([2, 3], 1), Tensor.randn([3, 4], 2)), 1);
 * ```
 */
export { NormkitError, check, fmtShape } from './errors.js';
export { type DType, type TypedArray, type DTypeArrays, allocate, bytesPerElement, convert, dtypeOf, fromNumbers, isFloat, readNumber } from './dtype.js';
export { broadcastShapes, broadcastStrides, normalizeAxes, normalizeAxis, shapesEqual, sizeOf, stridesOf, validateShape } from './shape.js';
export { Rng } from './random.js';
export { Tensor, type DeviceStorage, type NestedArray, inferReshape } from './tensor.js';
export {
  type Backend, type BinaryOp, type ConvOptions, type GemmOptions, type LayerNormResult, type PoolOptions, type ReduceOp, type UnaryOp, type UnaryParamOp,
  getBackend, listBackends, registerBackend, setBackend, withBackend,
} from './backend.js';
export { CpuBackend } from './cpu/backend.js';
export * from './ops.js';
export {
  type EighResult, type MatrixFunctionOptions, type NewtonSchulzOptions, type NewtonSchulzResult, type SolveTriangularOptions,
  cholesky, eigh, inv, invSqrtm, newtonSchulz, solveTriangular, sqrtm,
} from './linalg.js';
