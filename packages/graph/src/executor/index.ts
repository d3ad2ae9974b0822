export {
  type ExecuteResult,
  type ExecutorOptions,
  type NodeProfile,
  type OpTypeProfile,
  type Profile,
  type RunOptions,
  Executor,
  execute,
} from './executor.js';
export { type OpContext, type OpKernel, kernelFor, registerOp, supportedOps } from './registry.js';
export { einsum } from './einsum.js';
export { type ResizeSpec, resizeTensor } from './ops-resize.js';
export { type InferShapesOptions, inferShapes } from './shape-inference.js';
