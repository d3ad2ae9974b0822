// A generated pre-LN transformer-like stack of any size, for measuring streamed loading, analysis and
// conversion (bench/scale.ts) and for the CI memory-bound test. Its weights are LazyTensors computed
// from a seed when read, so writing a model of several GB holds one weight at a time.
import { GraphBuilder, LazyTensor, type Model } from '@normkit/graph';
import { saveModel } from '@normkit/onnx';

/** The shape of a generated model. */
export interface ScaleSpec {
  /**
   * Residual blocks, each LayerNorm → MatMul [hidden × hidden] → + bias → added to the stream (or, with
   * `ffn`, LayerNorm → MatMul [hidden × ffn] → Relu → MatMul [ffn × hidden] → + bias → added).
   */
  layers: number;
  /** Hidden size. */
  hidden: number;
  /** Rows of the embedding table and columns of the output projection. */
  vocab: number;
  /** Inner size of a two-matrix MLP block; absent, each block has one [hidden × hidden] matrix. */
  ffn?: number;
  /** Tokens per input row (default 8). */
  tokens?: number;
  seed?: number;
}

/** Sizes of a generated model in bytes (float32). */
export interface ScaleSizes {
  /** All tensors. */
  total: number;
  /** The largest tensor (the embedding table or the output projection). */
  largest: number;
}

/** float32 bytes of a spec's tensors, without building it. @example scaleSizes({ layers: 2, hidden: 4, vocab: 8 }).largest // 128 */
export function scaleSizes(s: ScaleSpec): ScaleSizes {
  const embed = s.vocab * s.hidden * 4;
  const matrices = s.ffn ? 2 * s.hidden * s.ffn : s.hidden * s.hidden;
  const block = (matrices + 3 * s.hidden) * 4;
  const largestMatrix = s.ffn ? s.hidden * s.ffn * 4 : s.hidden * s.hidden * 4;
  return { total: 2 * embed + s.layers * block + 2 * s.hidden * 4, largest: Math.max(embed, largestMatrix) };
}

/** Seeded values in [-scale, scale), computed when read (xorshift32: fast enough for GBs). */
function lazyWeights(shape: number[], seed: number, scale: number): LazyTensor<'float32'> {
  const n = shape.reduce((a, b) => a * b, 1);
  return new LazyTensor(shape, 'float32', () => {
    const out = new Float32Array(n);
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = ((x >>> 0) / 4294967296 - 0.5) * 2 * scale;
    }
    return out;
  });
}

/**
 * The model of `spec`: token ids → embedding → `layers` pre-LN residual blocks → LayerNorm → logits.
 * Every LayerNorm is foldable (the stream is a sum of the embedding, dense outputs and biases).
 * @example const m = scaleModel({ layers: 2, hidden: 64, vocab: 128 });
 */
export function scaleModel(spec: ScaleSpec): Model {
  const { layers, hidden: d, vocab: v } = spec;
  const seed = spec.seed ?? 1;
  const b = new GraphBuilder('scale');
  const ids = b.input('input_ids', 'int64', [1, spec.tokens ?? 8]);
  let x = b.op('Gather', [b.constant('embed', lazyWeights([v, d], seed, 1)), ids], {}, { name: 'embed_gather' });
  const ln = (name: string, input: string, k: number) =>
    b.op(
      'LayerNormalization',
      [input, b.constant(`${name}.gamma`, lazyWeights([d], seed + k, 1)), b.constant(`${name}.beta`, lazyWeights([d], seed + k + 1, 0.1))],
      { axis: -1, epsilon: 1e-5 },
      { name },
    );
  for (let l = 0; l < layers; l++) {
    const h = ln(`ln_${l}`, x, 10 * l + 2);
    const y = spec.ffn ? mlp(b, h, d, spec.ffn, l, seed) : dense(b, h, `w_${l}`, [d, d], seed + 10 * l + 4, `dense_${l}`);
    const yb = b.op('Add', [y, b.constant(`bias_${l}`, lazyWeights([d], seed + 10 * l + 5, 0.1))], {}, { name: `bias_add_${l}` });
    x = b.op('Add', [x, yb], {}, { name: `residual_${l}` });
  }
  const f = ln('ln_f', x, 7);
  b.output(
    b.op('MatMul', [f, b.constant('lm_head', lazyWeights([d, v], seed + 9, 1 / Math.sqrt(d)))], {}, { name: 'lm_head', output: 'logits' }),
  );
  return b.model(17);
}

/** h · W for a seeded [rows, cols] weight W named `weight`. */
function dense(b: GraphBuilder, h: string, weight: string, shape: [number, number], seed: number, name: string): string {
  return b.op('MatMul', [h, b.constant(weight, lazyWeights(shape, seed, 1 / Math.sqrt(shape[0])))], {}, { name });
}

/** Relu(h · W_up) · W_down: the two matrices of a transformer MLP, [d, ffn] and [ffn, d]. */
function mlp(b: GraphBuilder, h: string, d: number, ffn: number, l: number, seed: number): string {
  const up = b.op('Relu', [dense(b, h, `w_up_${l}`, [d, ffn], seed + 10 * l + 4, `up_${l}`)], {}, { name: `relu_${l}` });
  return dense(b, up, `w_down_${l}`, [ffn, d], seed + 10 * l + 6, `down_${l}`);
}

/**
 * Writes `scaleModel(spec)` to `path` with every weight in the external-data file `<path>.data`,
 * one tensor at a time. Returns the sizes.
 * @example await writeScaleModel('/tmp/scale.onnx', { layers: 24, hidden: 1024, vocab: 2048 });
 */
export async function writeScaleModel(path: string, spec: ScaleSpec): Promise<ScaleSizes> {
  await saveModel(scaleModel(spec), path, { externalDataThreshold: 1024 });
  return scaleSizes(spec);
}
