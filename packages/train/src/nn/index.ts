// The public API of the layers, norms and networks of @normkit/train.
export { type AttentionOptions, MultiHeadSelfAttention } from './attention.js';
export { CNN, type CnnOptions } from './cnn.js';
export { CenteredConv2d, Conv2d, type Conv2dOptions, MaxPool2d } from './conv.js';
export { Dropout } from './dropout.js';
export { Embedding } from './embedding.js';
export { deriveSeed, type FloatDType, type InitOptions, normalInit, rngOf, type Seed, uniformInit } from './init.js';
export { Flatten, GELU, Identity, ReLU } from './layers.js';
export { CenteredLinear, Linear, type LinearOptions } from './linear.js';
export { type MakeNormOptions, makeNorm, NORM_KINDS, type NormKind } from './make-norm.js';
export { MLP, type MlpOptions, type NetworkOptions } from './mlp.js';
export { computeGrads, Module, Parameter } from './module.js';
export {
  type FeatureLayout,
  FeatureNorm,
  GroupNorm,
  LayerNorm,
  LNG,
  type NormModuleOptions,
  PLN,
  type PlnModuleOptions,
  RMSNorm,
  type RmsNormModuleOptions,
} from './norms.js';
export { BatchNorm, IterNorm, type IterNormModuleOptions, type RunningNormOptions } from './running-norms.js';
export { Sequential } from './sequential.js';
export { TransformerBlock, type TransformerBlockOptions, TransformerMlp, ViT, type VitOptions } from './vit.js';
