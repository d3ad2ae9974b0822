import type { Model } from '@normkit/graph';
import { NormkitError } from '@normkit/tensor';
import type { Architecture, ArchitectureInfo, BuildOptions } from '../architecture.js';
import { bert } from './bert.js';
import { bloom } from './bloom.js';
import { convnext } from './convnext.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';
import { mlpMixer } from './mlp-mixer.js';
import { swin } from './swin.js';
import { vit } from './vit.js';
import { whisperEncoder } from './whisper-encoder.js';

const ALL: Architecture[] = [gpt2, bert, vit, swin, convnext, llama, bloom, whisperEncoder, mlpMixer];
const BUILDERS = new Map(ALL.map((a) => [a.name, a]));

/**
 * The zoo's architectures with what the exact foldability analysis is expected to say about them.
 *
 * @example
 * ```ts
 * architectures.find((a) => a.name === 'gpt2')?.expected('small'); // { layerNorms: 25, foldable: 25 }
 * ```
 */
export const architectures: ArchitectureInfo[] = ALL.map(({ name, description, expected, why }) => ({ name, description, expected, why }));

/**
 * Builds a zoo architecture as a normkit Model with seeded weights. `opset` 14 writes LayerNorms as
 * the decomposed subgraph older exporters emit; 17+ writes `LayerNormalization` nodes.
 *
 * @example
 * ```ts
 * const m = buildModel('gpt2', { size: 'tiny', opset: 17, seed: 1 });
 * m.graph.nodes.filter((n) => n.opType === 'LayerNormalization').length; // 5
 * ```
 */
export function buildModel(arch: string, opts: BuildOptions = {}): Model {
  const b = BUILDERS.get(arch);
  if (!b)
    throw new NormkitError('UNKNOWN_ARCHITECTURE', `buildModel: unknown architecture "${arch}"; known: ${[...BUILDERS.keys()].join(', ')}`);
  const size = opts.size ?? 'tiny';
  if (!['tiny', 'small', 'base'].includes(size))
    throw new NormkitError('INVALID_ARGUMENT', `buildModel: size must be tiny, small or base, got ${size}`);
  const opset = opts.opset ?? 17;
  if (![14, 17, 23].includes(opset)) throw new NormkitError('INVALID_ARGUMENT', `buildModel: opset must be 14, 17 or 23, got ${opset}`);
  const full: Required<BuildOptions> = {
    size,
    opset,
    seed: opts.seed ?? 0,
    batch: opts.batch ?? 1,
    seqLen: opts.seqLen ?? b.seq?.(size) ?? 0,
    imageSize: opts.imageSize ?? b.image?.(size) ?? 0,
  };
  const m = b.build(full);
  m.producerName = 'normkit-zoo';
  m.docString = `${arch} (${size}, opset ${opset}, seed ${full.seed})`;
  return m;
}
