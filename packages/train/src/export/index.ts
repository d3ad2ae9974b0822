import type { Dim, Model, RmsFormat } from '@normkit/graph';
import { NormkitError } from '@normkit/tensor';
import type { Module } from '../nn/module.js';
import { ExportContext, fmtDims, type Value } from './context.js';
import { exportModule } from './registry.js';

/** Options of `exportModel`. */
export interface ExportOptions {
  /** Name of the graph input. Default 'pixels'. */
  inputName?: string;
  /** Name of the graph output. Default 'logits'. */
  outputName?: string;
  /** Shape of the input; only axis 0 (the batch) may be symbolic. Default ['N', 1, 28, 28]. */
  inputShape?: Dim[];
  /** Element type of the input: 'int64' for a network that starts with an `Embedding`. Default 'float32'. */
  inputDType?: 'float32' | 'int64';
  /** Default-domain opset, 17 to 23. Default 17 (LayerNormalization); ≥ 20 writes GELU as `Gelu`. */
  opset?: number;
  /**
   * How an RMSNorm is written, as @normkit/graph's `foldLayerNorms` writes a folded LN:
   * 'simplified' (`SimplifiedLayerNormalization`, onnxruntime's RMSNorm), 'onnx23'
   * (`RMSNormalization`, needs opset 23) or 'decomposed' (Pow, ReduceMean, Add, Sqrt, Div, Mul).
   * Default 'simplified'.
   */
  rmsFormat?: RmsFormat;
  /**
   * 'ln' writes every RMSNorm as a `LayerNormalization` with the same γ, β, ε: the LN network a CBWC
   * network equals (exactly when every input of those norms is zero-mean). Default 'rms'.
   */
  normAs?: 'rms' | 'ln';
  /** Graph name. Default the module's class name. */
  name?: string;
}

/**
 * A trained network as a @normkit/graph `Model` (write it with @normkit/onnx's `saveModel`). Always
 * eval-mode semantics, whatever the module's mode: Dropout vanishes, BatchNorm uses its running
 * statistics (`BatchNormalization`), IterNorm its running mean and whitening matrix (Sub + MatMul),
 * CenteredLinear / CenteredConv2d their effective (centred) weights. Linear is `Gemm(transB=1)` on 2-D
 * inputs and `MatMul(Wᵀ) + Add` on tokens; LayerNorm is `LayerNormalization`; RMSNorm follows
 * `rmsFormat` (+ Add β); PLN, LN-G and GroupNorm are Reshape to groups + `LayerNormalization` without
 * affine + Reshape + Mul γ + Add β; GELU is the erf form (or `Gelu` at opset ≥ 20); attention is
 * MatMul/Softmax/Transpose/Reshape as PyTorch exports timm's ViT. Nodes are named after the module
 * path (`blocks.0.attn.qkv/MatMul`), initializers after the parameter path
 * (`blocks.0.mlp.fc2.weight`; Wᵀ for a MatMul; the effective W for a centred layer). Weights are
 * copied as float32. A module it does not know raises UNSUPPORTED_MODULE naming its path and class.
 *
 * @example
 * ```ts
 * import { saveModel } from '@normkit/onnx';
 * const vit = new ViT({ norm: 'ln', seed: 1 });
 * // ... train ...
 * const model = exportModel(vit, { inputShape: ['N', 1, 28, 28] });
 * await saveModel(model, 'vit.onnx');
 * ```
 */
export function exportModel(model: Module, opts: ExportOptions = {}): Model {
  const inputShape = opts.inputShape ?? ['N', 1, 28, 28];
  const opset = opts.opset ?? 17;
  const rmsFormat = opts.rmsFormat ?? 'simplified';
  const normAs = opts.normAs ?? 'rms';
  checkOptions(inputShape, opset, rmsFormat, normAs);
  const ctx = new ExportContext(opts.name ?? model.constructor.name, { opset, rmsFormat, normAs }, exportModule);
  const inputName = opts.inputName ?? 'pixels';
  const input: Value = { name: ctx.b.input(inputName, opts.inputDType ?? 'float32', inputShape), shape: inputShape };
  const out = exportModule(ctx, model, '', input);
  const outputName = opts.outputName ?? 'logits';
  nameOutput(ctx, out.name, outputName, inputName);
  ctx.b.output(outputName, 'float32', out.shape);
  const m = ctx.b.model(opset);
  m.irVersion = opset >= 23 ? 11 : opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
  m.docString = `${model.constructor.name} exported by @normkit/train exportModel (eval mode)`;
  return m;
}

function checkOptions(shape: Dim[], opset: number, rmsFormat: string, normAs: string): void {
  const bad = (what: string) => new NormkitError('INVALID_ARGUMENT', `exportModel: ${what}`);
  if (!Number.isInteger(opset) || opset < 17 || opset > 23)
    throw bad(`opset must be an integer from 17 (LayerNormalization) to 23, got ${opset}`);
  if (!['simplified', 'onnx23', 'decomposed'].includes(rmsFormat))
    throw bad(`rmsFormat must be 'simplified', 'onnx23' or 'decomposed', got '${rmsFormat}'`);
  if (normAs !== 'rms' && normAs !== 'ln') throw bad(`normAs must be 'rms' or 'ln', got '${normAs}'`);
  const ok = (d: Dim, i: number) => (typeof d === 'number' ? Number.isInteger(d) && d > 0 : i === 0 && typeof d === 'string' && d !== '');
  if (shape.length === 0 || !shape.every(ok))
    throw bad(`inputShape ${fmtDims(shape)} must be positive integers, with a name allowed for the batch axis (axis 0) only`);
}

/** Gives the final value the output name: renames the node output, or adds an Identity when it is not a node's. */
function nameOutput(ctx: ExportContext, value: string, name: string, inputName: string): void {
  const g = ctx.b.graph;
  const producer = value === inputName ? undefined : g.nodes.find((n) => n.outputs.includes(value));
  if (!producer) {
    ctx.b.op('Identity', [value], {}, { name: `${name}/Identity`, output: name });
    return;
  }
  for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === value ? name : i));
  producer.outputs = producer.outputs.map((o) => (o === value ? name : o));
}
