import { type DType, fmtShape, NormkitError, type Tensor } from '@normkit/tensor';
import { elemTypeName, onnxType } from '../elem-types.js';
import type { Graph, Node } from '../ir.js';
import type { InferredValue } from './dims.js';

/** What a kernel sees: the node, the opset of its domain, and its input tensors (`undefined` for omitted optional inputs). */
export interface OpContext {
  node: Node;
  /** Opset version imported for the node's domain. */
  opset: number;
  inputs: (Tensor | undefined)[];
  /** Values visible to the node by name (for control-flow ops whose subgraphs read outer values). */
  scope?: (name: string) => Tensor | undefined;
  /** The opset imports in effect (for subgraphs). */
  opsets?: { domain: string; version: number }[];
  /** The backend the run uses. */
  backend?: import('@normkit/tensor').Backend;
}

/** An op implementation: returns the node's outputs in order (`undefined` for an optional output it does not produce). */
export type OpKernel = (ctx: OpContext) => (Tensor | undefined)[];

/** What a shape rule sees: the node, its opset, and what inference knows of each input. */
export interface ShapeContext {
  node: Node;
  opset: number;
  inputs: (InferredValue | undefined)[];
  /** Infers a subgraph (If/Loop/Scan bodies) whose graph inputs are `inputs`; outer values stay visible. */
  subgraph: (g: Graph, inputs?: (InferredValue | undefined)[]) => Map<string, InferredValue>;
}

/**
 * Output dtypes and shapes from what is known of the inputs (symbolic dims stay strings, unknown dims
 * `undefined`); `[]` when it cannot tell. It must never allocate from a value in the file: the analysis
 * runs on untrusted models.
 */
export type ShapeRule = (ctx: ShapeContext) => InferredValue[];

/**
 * What an op does to a per-token constant shift of its input along the normalized axis — its role in
 * the foldability analysis (`analyzeFoldability`):
 * - `passThrough`: output = input (Identity, inference Dropout, Cast); the walk goes through input 0.
 * - `sum`: adds streams (Add, Sub, Sum); zero-mean parts give a zero-mean result.
 * - `scale`: multiplies by a factor (Mul, Div); per-token factors keep zero-mean, per-feature constants merge into the linear layer.
 * - `linear`: a linear layer with constant weights (MatMul, Gemm, Conv, Gather from a table) — a source whose weights can be centered.
 * - `layout`: moves data without mixing the normalized axis (Reshape, Transpose, Flatten, (Un)Squeeze, Expand).
 * - `select`: picks or joins parts along other axes (Slice, Concat, Pad).
 * - `pool`: averages over other axes (ReduceMean, AveragePool, GlobalAveragePool).
 * - `shapeOnly`: reads only the input's shape (Shape, Size), which centering keeps.
 * - `normalization`: its output (γ⊙x̂+β) is not zero-mean, and it is not shift-invariant unless it is the LN being folded.
 * - `nonlinear`: a nonlinear activation (GELU, ReLU, softmax...).
 * An op without a role blocks the walk ("X is not a zero-mean propagator").
 */
export type FoldRole =
  | 'passThrough'
  | 'sum'
  | 'scale'
  | 'linear'
  | 'layout'
  | 'select'
  | 'pool'
  | 'shapeOnly'
  | 'normalization'
  | 'nonlinear';

/** Everything normkit knows about one ONNX op, in one place (see `defineOnnxOp`). */
export interface OnnxOpSpec {
  /** Computes the outputs. */
  kernel: OpKernel;
  /** Infers output dtypes and shapes (used by `inferShapes` and the passes). Without one, outputs have no shape. */
  shape?: ShapeRule;
  /**
   * Inputs the kernel reads on the host (shape vectors, scalar parameters, inputs of host-loop kernels):
   * `Executor.runAsync` awaits them off an asynchronous device before the node runs. `'all'` = every input.
   */
  hostInputs?: readonly number[] | 'all' | ((node: Node) => number[]);
  /** Role in the foldability analysis; absent = blocks. */
  fold?: FoldRole;
  /** The output can be far larger than the inputs (Expand, Tile...): inference runs the kernel on constants only when the rule bounds the output. */
  grows?: boolean;
  /** Inference may run the kernel on constant inputs (default true; false for random and subgraph ops). */
  constantFoldable?: boolean;
}

/** A registered op: its spec plus where it lives. */
export interface OnnxOp extends OnnxOpSpec {
  /** '' for the default ONNX domain. */
  domain: string;
  opType: string;
}

const registry = new Map<string, OnnxOp>();

const key = (domain: string, opType: string) => `${domain === 'ai.onnx' ? '' : domain}::${opType}`;

/**
 * Defines (or replaces) an ONNX op: its kernel, shape rule, host inputs and foldability role together,
 * read by the executor, `inferShapes`, `Executor.runAsync` and `analyzeFoldability` alike.
 * @example
 * ```ts
 * defineOnnxOp('', 'Relu', {
 *   kernel: ({ inputs }) => [relu(inputs[0]!)],
 *   shape: sameShape,
 *   fold: 'nonlinear',
 * });
 * ```
 */
export function defineOnnxOp(domain: string, opType: string, spec: OnnxOpSpec): OnnxOp {
  const op: OnnxOp = { ...spec, domain: domain === 'ai.onnx' ? '' : domain, opType };
  registry.set(key(domain, opType), op);
  return op;
}

/**
 * Replaces the kernel of `opType` in `domain` ('' = the default ONNX domain), keeping the rest of its
 * definition, or defines a kernel-only op (no shape rule, blocks foldability) when there is none.
 * @example registerOp('', 'Relu', ({ inputs }) => [relu(inputs[0]!)]);
 */
export function registerOp(domain: string, opType: string, kernel: OpKernel): void {
  defineOnnxOp(domain, opType, { ...onnxOp(domain, opType), kernel });
}

/** The definition of an op, or undefined. @example onnxOp('', 'Reshape')?.hostInputs // [1] */
export function onnxOp(domain: string, opType: string): OnnxOp | undefined {
  return registry.get(key(domain, opType));
}

/** The kernel for an op, or undefined. @example kernelFor('', 'Add') */
export function kernelFor(domain: string, opType: string): OpKernel | undefined {
  return registry.get(key(domain, opType))?.kernel;
}

/**
 * Every registered op as `domain::OpType` ('' for the default domain).
 * @example supportedOps().includes('::Conv') // true
 */
export function supportedOps(): string[] {
  return [...registry.keys()].sort();
}

/** Error for an op (or an attribute value) outside what the executor supports. */
export function unsupported(ctx: OpContext | { node: Node; opset: number }, what?: string): NormkitError {
  const n = ctx.node;
  const dom = n.domain || 'ai.onnx';
  const head = `op ${n.opType} (domain ${dom}, opset ${ctx.opset}) in node "${n.name}"`;
  return new NormkitError(
    'UNSUPPORTED_OP',
    what
      ? `${head}: ${what} is not supported by the normkit executor; rewrite the node or export with supported settings`
      : `${head} is not supported by the normkit executor; see supportedOps() for the list, or rewrite the model without it`,
    { op: n.opType, node: n.name, domain: dom, opset: ctx.opset },
  );
}

/** Error for a node whose inputs or attributes are invalid. */
export function invalid(ctx: OpContext, message: string): NormkitError {
  const n = ctx.node;
  return new NormkitError('INVALID_NODE', `node "${n.name}" (${n.opType}): ${message}`, { op: n.opType, node: n.name });
}

/** The i-th input, which must be present. */
export function need(ctx: OpContext, i: number, what = `input ${i}`): Tensor {
  const t = ctx.inputs[i];
  if (!t) throw invalid(ctx, `${what} is required but missing`);
  return t;
}

/** Whether the i-th input is present and non-empty. */
export function has(ctx: OpContext, i: number): boolean {
  const t = ctx.inputs[i];
  return t !== undefined && t.size > 0;
}

/** The i-th input when it is present and non-empty (an optional input), else undefined. */
export function opt(ctx: OpContext, i: number): Tensor | undefined {
  return has(ctx, i) ? ctx.inputs[i] : undefined;
}

/** The values of an integer (or float) tensor as JS numbers. */
export function ints(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/**
 * Input `i` as a shape-like vector (a target shape, repeats): ONNX wants a 1-D int64 tensor, and a
 * float or multi-dimensional one read as dims builds a hostile output (24 dims from a [2, 3, 4] tensor).
 * @example intVector(ctx, 1, 'shape') // [2, 3, 4] from int64 [3]; a float32 [2, 3, 4] is INVALID_NODE
 */
export function intVector(ctx: OpContext, i: number, what: string): number[] {
  const t = need(ctx, i, what);
  if ((t.dtype !== 'int64' && t.dtype !== 'int32') || t.rank > 1)
    throw invalid(
      ctx,
      `${what} "${ctx.node.inputs[i]}" must be a 1-D int64 tensor, got ${t.dtype} ${fmtShape(t.shape)}; check what feeds input ${i}`,
    );
  return ints(t);
}

/** A tensor's single value as a number (scalar or one-element tensor). */
export function scalarOf(ctx: OpContext, t: Tensor, what: string): number {
  if (t.size !== 1) throw invalid(ctx, `${what} must have one element, got shape ${fmtShape(t.shape)}`);
  return Number(t.data[0]);
}

/** Maps an ONNX data-type code to a dtype, or throws UNSUPPORTED_OP naming the type. */
export function dtypeFromOnnx(ctx: OpContext, code: number): DType {
  const t = onnxType(code);
  if (t?.kind !== 'native' || !t.dtype) throw unsupported(ctx, `element type ${elemTypeName(code)}`);
  return t.dtype;
}
