import { NormkitError, Tensor } from '@normkit/tensor';
import type { FeatureNorm, GroupNorm, LayerNorm, PLN, RMSNorm } from '../nn/norms.js';
import type { BatchNorm, IterNorm } from '../nn/running-norms.js';
import { type ExportContext, join, type Value, where } from './context.js';
import { expectDim } from './layers.js';

// Exporters of the normalisation modules, eval mode. A per-sample norm over a conv map ('channels'
// layout) is written channels-last between two Transposes, as the module computes it.

/** The axis holding the features of `x` for `m` (as `FeatureNorm.forward` decides), after checking its size. */
function featureAxis(m: FeatureNorm, path: string, x: Value): number {
  const r = x.shape.length;
  const axis = m.layout === 'channels' && r > 2 ? 1 : r - 1;
  expectDim(m, path, x, axis, m.numFeatures, 2);
  return axis;
}

/** `LayerNormalization` over the last axis with scale γ (ones when absent) and optional β. */
function layerNormalization(ctx: ExportContext, path: string, x: Value, eps: number, scale: string, bias?: string): Value {
  return ctx.op(path, 'LayerNormalization', [x.name, scale, ...(bias ? [bias] : [])], x.shape, { axis: -1, epsilon: eps });
}

/** The module's γ as `<path>.weight`, or a ones vector of `n` when it has none. */
function scaleOf(ctx: ExportContext, m: FeatureNorm, path: string, n = m.numFeatures): string {
  return m.weight ? ctx.constant(join(path, 'weight'), m.weight.value) : ctx.constant(join(path, 'ones'), Tensor.ones([n]));
}

const biasOf = (ctx: ExportContext, m: FeatureNorm, path: string): string | undefined =>
  m.bias && ctx.constant(join(path, 'bias'), m.bias.value);

/** Mul γ, then Add β, over the last axis (each only when the module has it). */
function affineLast(ctx: ExportContext, m: FeatureNorm, path: string, y: Value): Value {
  const g = m.weight ? ctx.op(path, 'Mul', [y.name, ctx.constant(join(path, 'weight'), m.weight.value)], y.shape) : y;
  const b = biasOf(ctx, m, path);
  return b ? ctx.op(path, 'Add', [g.name, b], y.shape) : g;
}

/**
 * LayerNorm without affine over groups of `groupSize` contiguous features of the last axis:
 * Reshape [..., C] → [..., C/g, g], LayerNormalization (γ = 1), Reshape back.
 */
function groupedLayerNorm(ctx: ExportContext, path: string, x: Value, groupSize: number, eps: number): Value {
  const lead = x.shape.slice(0, -1);
  const c = x.shape[x.shape.length - 1] as number;
  const groups = ctx.reshape(path, x, [...lead, c / groupSize, groupSize]);
  const ones = ctx.constant(join(path, 'group_ones'), Tensor.ones([groupSize]));
  return ctx.reshape(path, layerNormalization(ctx, path, groups, eps, ones), x.shape);
}

/** LayerNorm: `LayerNormalization(axis=-1, epsilon)` with γ, β. */
export function exportLayerNorm(ctx: ExportContext, m: LayerNorm, path: string, x: Value): Value {
  return ctx.featuresLast(path, x, featureAxis(m, path, x), (v) =>
    layerNormalization(ctx, path, v, m.eps, scaleOf(ctx, m, path), biasOf(ctx, m, path)),
  );
}

/**
 * RMSNorm: in the chosen `rmsFormat` (the node patterns of @normkit/graph's `foldLayerNorms`:
 * `SimplifiedLayerNormalization`, `RMSNormalization` at opset ≥ 23, or Pow → ReduceMean → Add(ε) →
 * Sqrt → Div → Mul(γ)), then Add(β) when it has a bias; with `normAs: 'ln'` a `LayerNormalization`
 * with the same γ, β, ε instead.
 */
export function exportRMSNorm(ctx: ExportContext, m: RMSNorm, path: string, x: Value): Value {
  return ctx.featuresLast(path, x, featureAxis(m, path, x), (v) => {
    if (ctx.settings.normAs === 'ln') return layerNormalization(ctx, path, v, m.eps, scaleOf(ctx, m, path), biasOf(ctx, m, path));
    const y = rmsNormalization(ctx, m, path, v);
    const b = biasOf(ctx, m, path);
    return b ? ctx.op(path, 'Add', [y.name, b], v.shape) : y;
  });
}

function rmsNormalization(ctx: ExportContext, m: RMSNorm, path: string, x: Value): Value {
  const { rmsFormat, opset } = ctx.settings;
  const attrs = { axis: -1, epsilon: m.eps };
  if (rmsFormat === 'simplified') return ctx.op(path, 'SimplifiedLayerNormalization', [x.name, scaleOf(ctx, m, path)], x.shape, attrs);
  if (rmsFormat === 'onnx23') {
    if (opset < 23)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `exportModel: ${where(m, path)}: rmsFormat 'onnx23' writes RMSNormalization, which needs opset ≥ 23 (got ${opset}); pass { opset: 23 } or rmsFormat 'simplified'`,
      );
    return ctx.op(path, 'RMSNormalization', [x.name, scaleOf(ctx, m, path)], x.shape, attrs);
  }
  const sq = ctx.op(path, 'Pow', [x.name, ctx.scalar(join(path, 'two'), 2)], x.shape);
  const meanShape = [...x.shape.slice(0, -1), 1];
  const ms =
    opset >= 18
      ? ctx.op(path, 'ReduceMean', [sq.name, ctx.ints(join(path, 'axes'), [-1])], meanShape, { keepdims: 1 })
      : ctx.op(path, 'ReduceMean', [sq.name], meanShape, { axes: [-1], keepdims: 1 });
  const rms = ctx.op(path, 'Sqrt', [ctx.op(path, 'Add', [ms.name, ctx.scalar(join(path, 'eps'), m.eps)], meanShape).name], meanShape);
  const y = ctx.op(path, 'Div', [x.name, rms.name], x.shape);
  return m.weight ? ctx.op(path, 'Mul', [y.name, ctx.constant(join(path, 'weight'), m.weight.value)], x.shape) : y;
}

/**
 * PLN and LN-G: Reshape to groups + LayerNormalization without affine + Reshape, then Mul γ, Add β
 * (per feature), so the graph shows the group structure.
 */
export function exportPLN(ctx: ExportContext, m: PLN, path: string, x: Value): Value {
  return ctx.featuresLast(path, x, featureAxis(m, path, x), (v) =>
    affineLast(ctx, m, path, groupedLayerNorm(ctx, path, v, m.groupSize, m.eps)),
  );
}

/**
 * GroupNorm: over [N, C, ...] Reshape to [N, G, (C/G)·spatial], LayerNormalization without affine,
 * Reshape back, Mul γ, Add β per channel; on features in the last axis (rows, tokens) the PLN pattern
 * with groups of C/G.
 */
export function exportGroupNorm(ctx: ExportContext, m: GroupNorm, path: string, x: Value): Value {
  const axis = featureAxis(m, path, x);
  const gs = m.numFeatures / m.numGroups;
  if (axis === x.shape.length - 1) return affineLast(ctx, m, path, groupedLayerNorm(ctx, path, x, gs, m.eps));
  const rest = x.shape.slice(2) as number[]; // exportModel allows a symbolic batch axis only
  const perGroup = gs * rest.reduce((a, b) => a * b, 1);
  const grouped = ctx.reshape(path, x, [x.shape[0], m.numGroups, perGroup]);
  const ones = ctx.constant(join(path, 'group_ones'), Tensor.ones([perGroup]));
  let y = ctx.reshape(path, layerNormalization(ctx, path, grouped, m.eps, ones), x.shape);
  const perChannel = (name: string, t: Tensor) => ctx.constant(join(path, name), t.reshape([m.numFeatures, ...rest.map(() => 1)]));
  if (m.weight) y = ctx.op(path, 'Mul', [y.name, perChannel('weight', m.weight.value)], x.shape);
  if (m.bias) y = ctx.op(path, 'Add', [y.name, perChannel('bias', m.bias.value)], x.shape);
  return y;
}

/**
 * BatchNorm: `BatchNormalization` with the running mean and variance (features moved to axis 1 for
 * tokens [B, T, d]).
 */
export function exportBatchNorm(ctx: ExportContext, m: BatchNorm, path: string, x: Value): Value {
  const r = x.shape.length;
  const axis = featureAxis(m, path, x);
  const bn = (v: Value) => {
    const c = m.numFeatures;
    const inputs = [
      v.name,
      scaleOf(ctx, m, path),
      m.bias ? ctx.constant(join(path, 'bias'), m.bias.value) : ctx.constant(join(path, 'zeros'), Tensor.zeros([c])),
      ctx.constant(join(path, 'runningMean'), m.runningMean),
      ctx.constant(join(path, 'runningVar'), m.runningVar),
    ];
    return ctx.op(path, 'BatchNormalization', inputs, v.shape, { epsilon: m.eps });
  };
  if (axis === 1) return bn(x);
  const perm = [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
  return ctx.transpose(
    path,
    bn(ctx.transpose(path, x, perm)),
    perm.map((_, i) => perm.indexOf(i)),
  );
}

/**
 * IterNorm: x̂ = W_run·(x − μ_run) per group as Sub(`<path>.runningMean`) + MatMul(`<path>.runningWm`,
 * the block-diagonal Wᵀ [C, C]) over channels-last features, then Mul γ, Add β.
 */
export function exportIterNorm(ctx: ExportContext, m: IterNorm, path: string, x: Value): Value {
  return ctx.featuresLast(path, x, featureAxis(m, path, x), (v) => {
    const centred = ctx.op(path, 'Sub', [v.name, ctx.constant(join(path, 'runningMean'), m.runningMean)], v.shape);
    const white = ctx.op(path, 'MatMul', [centred.name, ctx.constant(join(path, 'runningWm'), blockDiagonalT(m))], v.shape);
    return affineLast(ctx, m, path, white);
  });
}

/** [C, C] with block g = W_gᵀ, so that a row x·M applies W_g to each group's features. */
function blockDiagonalT(m: IterNorm): Tensor {
  const c = m.numFeatures;
  const d = c / m.numGroups;
  const w = m.runningWm.data as ArrayLike<number>;
  const out = new Float32Array(c * c);
  for (let g = 0; g < m.numGroups; g++)
    for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) out[(g * d + k) * c + g * d + i] = w[g * d * d + i * d + k] as number;
  return new Tensor([c, c], 'float32', out);
}
