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

export { type GradOptions, type GradsOf, grad, noGrad, valueAndGrad, valueAndGrads } from './autograd.js';
export {
  type AtomicFs,
  type Checkpoint,
  type CheckpointInput,
  type CheckpointMeta,
  type CheckpointTarget,
  crc32,
  decodeTensors,
  encodeTensors,
  loadCheckpoint,
  NORMKIT_VERSION,
  parseCheckpoint,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  serializeCheckpoint,
  writeFileAtomic,
} from './checkpoint.js';
export * from './data/index.js';
export { type ExportOptions, exportModel } from './export/index.js';
export { type GradCheckElement, type GradCheckOptions, type GradCheckResult, gradCheck } from './gradcheck.js';
export { type CrossEntropyOptions, crossEntropy, type IntlObjectiveOptions, intlObjective, type MseOptions, mse } from './losses.js';
export * from './nn/index.js';
export {
  AdamW,
  type AdamWHyper,
  type BaseHyper,
  clipGradNorm,
  type Group,
  type Hyper,
  LARS,
  type LarsHyper,
  type LrSchedule,
  MomentumOptimizer,
  Optimizer,
  type OptimizerState,
  type ParamGroup,
  SGD,
  type SgdHyper,
  trustRatio,
  type WarmupCosineOptions,
  warmupCosine,
} from './optim/index.js';
export {
  type EvalResult,
  evaluate,
  type TrainBatch,
  type TrainLoader,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  train,
} from './trainer.js';
