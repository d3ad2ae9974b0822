export { broadcastShape, type InferredValue, like, sameShape } from './dims.js';
export { einsum } from './einsum.js';
export {
  type ExecuteResult,
  Executor,
  type ExecutorOptions,
  execute,
  type NodeProfile,
  type OpTypeProfile,
  type Profile,
  type RunOptions,
} from './executor.js';
export { roundHalfEven, setNBitsDequantizeBudget } from './ops-quant.js';
export { type ResizeSpec, resizeTensor } from './ops-resize.js';
export {
  defineOnnxOp,
  type FoldRole,
  kernelFor,
  type OnnxOp,
  type OnnxOpSpec,
  type OpContext,
  type OpKernel,
  onnxOp,
  registerOp,
  type ShapeContext,
  type ShapeRule,
  supportedOps,
} from './registry.js';
export { type InferShapesOptions, inferShapes } from './shape-inference.js';
