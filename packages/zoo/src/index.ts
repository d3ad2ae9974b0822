/**
 * @normkit/zoo — standard architectures (GPT-2, BERT, ViT, Swin, ConvNeXt, Llama, BLOOM, Whisper
 * encoder, MLP-Mixer) as normkit graphs with seeded weights, and the foldability table.
 *
 * @example
 * ```ts
 * import { buildModel } from '@normkit/zoo';
 * import { foldLayerNorms } from '@normkit/graph';
 * const { report } = foldLayerNorms(buildModel('gpt2', { size: 'tiny', opset: 17, seed: 0 }));
 * ```
 */
export type { Architecture, ArchitectureInfo, BuildOptions, ZooOpset, ZooSize } from './architecture.js';
export { architectures, buildModel } from './architectures/index.js';
export { Layers } from './layers.js';
export { quantizeDynamic } from './quantize.js';
export { foldabilityTable, type TableRow } from './table.js';
