export { type FoldOptions, type FoldReport, type FoldResult, foldLayerNorms, type RmsFormat, upgradeOpset } from './fold.js';
export {
  type AnalyzeOptions,
  analyzeFoldability,
  type CenteredParam,
  centerTensor,
  type FoldabilityReport,
  type FoldComponent,
  type FoldSource,
  type LayerNormVerdict,
  type MergedScale,
  mapAxisThroughReshape,
  type SharedWeight,
} from './foldability.js';
export { constantOf, type GraphFacts, inferFacts, type PartialShape } from './graph-facts.js';
export { type QuantizedWeight, quantizedWeight, type RequantizedWeight, requantize } from './quantized.js';
export { type FusedNorm, type NearMiss, type RecognizeResult, recognizeLayerNorms } from './recognize.js';
export { derivedTensor, setTensorDerivation, type TensorDerivation } from './storage.js';
export {
  type ExecuteFn,
  type OutputComparison,
  outputDifference,
  randomInputs,
  setVerifyExecutor,
  type VerifyOptions,
  type VerifyResult,
  verifyEquivalence,
} from './verify.js';
