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

export {
  type Backend,
  type BinaryOp,
  type ConvOptions,
  type GemmOptions,
  type GradKernels,
  getBackend,
  type LayerNormResult,
  listBackends,
  type NormBackwardOptions,
  type NormBackwardResult,
  type PoolOptions,
  type ReduceOp,
  registerBackend,
  setBackend,
  type UnaryOp,
  type UnaryParamOp,
  withBackend,
} from './backend.js';
export { isConstantData, markConstant } from './constant-data.js';
export { CpuBackend, cpuGradKernels } from './cpu/backend.js';
export { gemmF32, gemmJs } from './cpu/gemm.js';
export {
  disposeGemmThreads,
  type GemmInfo,
  gemmInfo,
  gemmThreads,
  type RelaxedSimd,
  relaxedSimd,
  setGemmFma,
  setGemmThreads,
  wasmGemmAvailable,
} from './cpu/gemm-wasm.js';
export { dequantizeNBits, matmulNBits, type NBitsWeight } from './cpu/nbits.js';
export { setNBitsGemvRows, setWasmNBits, wasmNBitsAvailable } from './cpu/nbits-wasm.js';
export {
  allocate,
  bytesPerElement,
  convert,
  type DType,
  type DTypeArrays,
  dtypeOf,
  fromNumbers,
  isFloat,
  readNumber,
  type TypedArray,
} from './dtype.js';
export { check, fmtShape, NormkitError } from './errors.js';
export {
  cholesky,
  type EighResult,
  eigh,
  inv,
  invSqrtm,
  type MatrixFunctionOptions,
  type NewtonSchulzOptions,
  type NewtonSchulzResult,
  newtonSchulz,
  type SolveTriangularOptions,
  solveTriangular,
  sqrtm,
} from './linalg.js';
export {
  defineOp,
  type GradContext,
  type GradFn,
  isRecording,
  listOps,
  type OpDef,
  type OpRecorder,
  opDefinition,
  runOp,
  setOpRecorder,
} from './op-registry.js';
export {
  concatShape,
  convShape,
  gatherShape,
  gemmShape,
  matmulShape,
  padShape,
  poolShape,
  reduceShape,
  tileShape,
  transposeShape,
} from './op-shapes.js';
export * from './ops/index.js';
export { Rng } from './random.js';
export {
  broadcastShapes,
  broadcastStrides,
  normalizeAxes,
  normalizeAxis,
  setMaxTensorElements,
  shapesEqual,
  sizeOf,
  stridesOf,
  validateShape,
  windowOutputSize,
} from './shape.js';
export { allocatedSince, recycle, setStoragePoolLimit, storageMark, storagePoolBytes } from './storage-pool.js';
export { type DeviceStorage, inferReshape, type NestedArray, Tensor } from './tensor.js';
