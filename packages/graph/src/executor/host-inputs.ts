import type { Node } from '../ir.js';
import { onnxOp } from './registry.js';

/**
 * The input indices of `node` that its kernel reads on the host (its definition's `hostInputs`:
 * shape vectors, scalar parameters, inputs of host-loop kernels). `Executor.runAsync` awaits these
 * reads before the node runs when the value is still on a device that reads only asynchronously.
 * @example hostInputs(reshapeNode) // [1]
 */
export function hostInputs(node: Node): number[] {
  const rule = onnxOp(node.domain, node.opType)?.hostInputs;
  if (rule === undefined) return [];
  if (typeof rule === 'function') return rule(node);
  if (rule === 'all') return node.inputs.map((_, i) => i);
  return rule.filter((i) => i < node.inputs.length && node.inputs[i]);
}
