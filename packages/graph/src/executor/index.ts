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
export { type ResizeSpec, resizeTensor } from './ops-resize.js';
export { kernelFor, type OpContext, type OpKernel, registerOp, supportedOps } from './registry.js';
export { type InferShapesOptions, inferShapes } from './shape-inference.js';
