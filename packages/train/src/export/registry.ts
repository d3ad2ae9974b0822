import { NormkitError } from '@normkit/tensor';
import { MultiHeadSelfAttention } from '../nn/attention.js';
import { CNN } from '../nn/cnn.js';
import { CenteredConv2d, Conv2d, MaxPool2d } from '../nn/conv.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { Flatten, GELU, Identity, ReLU } from '../nn/layers.js';
import { CenteredLinear, Linear } from '../nn/linear.js';
import { MLP } from '../nn/mlp.js';
import type { Module } from '../nn/module.js';
import { GroupNorm, LayerNorm, LNG, PLN, RMSNorm } from '../nn/norms.js';
import { BatchNorm, IterNorm } from '../nn/running-norms.js';
import { Sequential } from '../nn/sequential.js';
import { TransformerBlock, TransformerMlp, ViT } from '../nn/vit.js';
import { type ExportContext, type Value, where } from './context.js';
import {
  exportConv2d,
  exportEmbedding,
  exportFlatten,
  exportGELU,
  exportLinear,
  exportMaxPool2d,
  exportPassThrough,
  exportReLU,
  exportSequential,
} from './layers.js';
import { exportBatchNorm, exportGroupNorm, exportIterNorm, exportLayerNorm, exportPLN, exportRMSNorm } from './norms.js';
import { exportAttention, exportTransformerBlock, exportTransformerMlp, exportViT } from './transformer.js';

// biome-ignore lint/suspicious/noExplicitAny: each exporter takes its own module class; the table pairs them.
type Exporter = (ctx: ExportContext, m: any, path: string, x: Value) => Value;
// biome-ignore lint/suspicious/noExplicitAny: module classes with any constructor signature.
type ModuleClass = abstract new (...args: any[]) => Module;

/** Every module class the exporter knows, with its exporter. */
const EXPORTERS = new Map<ModuleClass, Exporter>([
  [Linear, exportLinear],
  [CenteredLinear, exportLinear],
  [Conv2d, exportConv2d],
  [CenteredConv2d, exportConv2d],
  [MaxPool2d, exportMaxPool2d],
  [Embedding, exportEmbedding],
  [Dropout, exportPassThrough],
  [Identity, exportPassThrough],
  [ReLU, exportReLU],
  [GELU, exportGELU],
  [Flatten, exportFlatten],
  [Sequential, exportSequential],
  [MLP, exportSequential],
  [CNN, exportSequential],
  [LayerNorm, exportLayerNorm],
  [RMSNorm, exportRMSNorm],
  [PLN, exportPLN],
  [LNG, exportPLN],
  [GroupNorm, exportGroupNorm],
  [BatchNorm, exportBatchNorm],
  [IterNorm, exportIterNorm],
  [MultiHeadSelfAttention, exportAttention],
  [TransformerMlp, exportTransformerMlp],
  [TransformerBlock, exportTransformerBlock],
  [ViT, exportViT],
]);

/**
 * The exporter of `m`: that of its class, or of the nearest known ancestor when every class in between
 * only adds a constructor (a subclass that overrides a method may compute something else, so it is
 * refused rather than exported wrongly).
 */
function exporterOf(m: Module): Exporter | undefined {
  for (let proto = Object.getPrototypeOf(m); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const found = EXPORTERS.get(proto.constructor);
    if (found) return found;
    if (Object.getOwnPropertyNames(proto).some((k) => k !== 'constructor')) return undefined;
  }
  return undefined;
}

/** Exports `m` at `path`, or throws UNSUPPORTED_MODULE naming the path and the class. */
export function exportModule(ctx: ExportContext, m: Module, path: string, x: Value): Value {
  const fn = exporterOf(m);
  if (!fn)
    throw new NormkitError(
      'UNSUPPORTED_MODULE',
      `exportModel: ${where(m, path)} cannot be exported: the exporter knows ${[...new Set([...EXPORTERS.keys()].map((c) => c.name))].join(', ')} (and subclasses that only change the constructor); rebuild the network from those modules`,
      { path, module: m.constructor.name },
    );
  return fn(ctx, m, path, x);
}
