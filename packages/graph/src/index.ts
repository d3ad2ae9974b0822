/**
 * @normkit/graph — the graph IR, builder, shape inference, executor and the foldable-LayerNorm passes.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from '@normkit/graph';
 * const b = new GraphBuilder('g');
 * b.output(b.op('Relu', [b.input('x', 'float32', [2])]));
 * ```
 */

export { GraphBuilder, type SingleOpInput, singleOpModel, toAttribute } from './builder.js';
export {
  bf16ToFloat,
  elemTypeName,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  isNativeDType,
  narrowValue,
  nativeCode,
  type OnnxTypeInfo,
  onnxType,
  onnxTypeCode,
  packBits,
  tagElemType,
  taggedElemType,
  unpackBits,
} from './elem-types.js';
export {
  broadcastShape,
  defineOnnxOp,
  type ExecuteResult,
  Executor,
  type ExecutorOptions,
  einsum,
  execute,
  type FoldRole,
  type InferredValue,
  type InferShapesOptions,
  inferShapes,
  kernelFor,
  like,
  type NodeProfile,
  type OnnxOp,
  type OnnxOpSpec,
  type OpContext,
  type OpKernel,
  type OpTypeProfile,
  onnxOp,
  type Profile,
  type ResizeSpec,
  type RunOptions,
  registerOp,
  resizeTensor,
  roundHalfEven,
  type ShapeContext,
  type ShapeRule,
  sameShape,
  setNBitsDequantizeBudget,
  supportedOps,
} from './executor/index.js';
export { type Attribute, attr, type Dim, Graph, Model, type Node, type OpsetImport, subgraphsOf, type ValueInfo } from './ir.js';
export { isLazy, LazyTensor, releaseLazy } from './lazy-tensor.js';
export * from './passes/index.js';

import { execute as runModel } from './executor/index.js';
import { setVerifyExecutor } from './passes/index.js';

// verifyEquivalence runs models with this package's executor unless given another.
setVerifyExecutor((model, inputs) => runModel(model, inputs).outputs);
