/**
 * @normkit/norm — normalization operators as functions over @normkit/tensor tensors, forward and
 * backward. Convention: every operator `op(x, options)` has `opBackward(dy, x, options)` taking the
 * same arguments after the upstream gradient and returning `{ dx, d<Param>... }` for the input and
 * every tensor parameter given (losses: `lossBackward(dLoss, ...)`). Every operator that returns a
 * tensor is also an op of @normkit/tensor's registry, named like the function and differentiated by
 * its `opBackward`, so the autograd tape of @normkit/train records it; the losses that return a number
 * have recorded twins returning a rank-0 tensor (`traceLossTensor`, `normMseLossTensor`,
 * `intlLossTensor`, `intlMomentumLossTensor`).
 *
 * @example
 * ```ts
 * import { Tensor } from '@normkit/tensor';
 * import { layerNorm, layerNormBackward, rmsNorm } from '@normkit/norm';
 * const x = Tensor.randn([2, 8], 1);
 * const y = layerNorm(x, { scale: Tensor.ones([8]), bias: Tensor.zeros([8]) });
 * const { dx, dScale, dBias } = layerNormBackward(Tensor.ones([2, 8]), x, { scale: Tensor.ones([8]), bias: Tensor.zeros([8]) });
 * ```
 */

export {
  type BatchNormCommonOptions,
  type BatchNormGradients,
  type BatchNormOptions,
  type BatchNormTrainingOptions,
  type BatchNormTrainingResult,
  batchNorm,
  batchNormBackward,
  batchNormTraining,
  batchNormTrainingBackward,
} from './batch-norm.js';
export {
  type CenteredWeightNormGradients,
  type CenteredWeightNormOptions,
  centeredWeightNorm,
  centeredWeightNormBackward,
} from './centered-weight-norm.js';
export { type ColumnLayout, centerColumns, centerColumnsBackward, columnMeanDeviation, isColumnCentered } from './column-centering.js';
export {
  type GroupNormGradients,
  type GroupNormOptions,
  groupNorm,
  groupNormBackward,
  type InstanceNormOptions,
  instanceNorm,
  instanceNormBackward,
} from './group-norm.js';
export {
  emaUpdate,
  type IntlLossOptions,
  type IntlWhitenOptions,
  intlBeta,
  intlLoss,
  intlLossBackward,
  intlLossTensor,
  intlMomentumLoss,
  intlMomentumLossBackward,
  intlMomentumLossTensor,
  intlWhiten,
  intlWhitenBackward,
  normMseLoss,
  normMseLossBackward,
  normMseLossTensor,
  type TraceLossOptions,
  traceLoss,
  traceLossBackward,
  traceLossFromCovariance,
  traceLossTensor,
} from './intl.js';
export {
  type ChannelGroupOptions,
  type IterNormInferenceGradients,
  type IterNormInferenceOptions,
  type IterNormOptions,
  type IterNormResult,
  iterNorm,
  iterNormBackward,
  iterNormInference,
  iterNormInferenceBackward,
  iterNormMatrix,
  iterNormSpectrum,
  type WhiteningGradients,
} from './iter-norm.js';
export { type LayerNormGradients, type LayerNormOptions, layerNorm, layerNormBackward, layerNormWithStats } from './layer-norm.js';
export { type MeanVarianceNormalizationOptions, meanVarianceNormalization, meanVarianceNormalizationBackward } from './mvn.js';
export {
  lnG,
  type ParallelLayerNormGradients,
  type ParallelLayerNormOptions,
  parallelLayerNorm,
  parallelLayerNormBackward,
} from './parallel-layer-norm.js';
export { type RmsNormGradients, type RmsNormOptions, rmsNorm, rmsNormBackward } from './rms-norm.js';
export {
  powerFunction,
  type SpectralFunction,
  type SpectralTransformOptions,
  spectralMatrix,
  spectralTransform,
  spectralTransformBackward,
  type WhiteningOptions,
  whiten,
  whitenBackward,
  whiteningMatrix,
} from './whitening.js';
