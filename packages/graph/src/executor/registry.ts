import { type DType, fmtShape, NormkitError, type Tensor } from '@normkit/tensor';
import { elemTypeName, onnxType } from '../elem-types.js';
import type { Node } from '../ir.js';

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

const registry = new Map<string, OpKernel>();

const key = (domain: string, opType: string) => `${domain === 'ai.onnx' ? '' : domain}::${opType}`;

/**
 * Registers (or replaces) the kernel for `opType` in `domain` ('' = the default ONNX domain).
 * @example registerOp('', 'Relu', ({ inputs }) => [relu(inputs[0]!)]);
 */
export function registerOp(domain: string, opType: string, kernel: OpKernel): void {
  registry.set(key(domain, opType), kernel);
}

/** The kernel for an op, or undefined. @example kernelFor('', 'Add') */
export function kernelFor(domain: string, opType: string): OpKernel | undefined {
  return registry.get(key(domain, opType));
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
