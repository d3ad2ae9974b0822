import type { Node } from '../ir.js';

/**
 * Which inputs of a node the executor's kernels read on the host (as JS numbers or typed arrays):
 * integer shape inputs (Reshape's shape, Slice's starts...), scalar parameters (Clip's min), the
 * inputs of kernels written as host loops (TopK, NonZero, ConvTranspose...), and the inputs of the
 * kernels that device backends leave to the CPU (ArgMax/ArgMin, casts to integer types).
 * `Executor.runAsync` awaits these reads before the node runs, when the value is still on a device
 * that reads only asynchronously. `'all'` means every input.
 */
const HOST_INPUTS: Record<string, readonly number[] | 'all'> = {
  // shape and index inputs
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  Slice: [1, 2, 3, 4],
  Pad: [1, 2, 3],
  Squeeze: [1],
  Unsqueeze: [1],
  Split: [1],
  ConstantOfShape: [0],
  Range: [0, 1, 2],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceL1: [1],
  ReduceL2: [1],
  ReduceSumSquare: [1],
  ReduceLogSumExp: [1],
  Resize: 'all',
  Upsample: 'all',
  Clip: [1, 2],
  Pow: [1],
  Trilu: [1],
  If: [0],
  // kernels written as host loops
  TopK: 'all',
  CumSum: 'all',
  ScatterND: 'all',
  ScatterElements: 'all',
  NonZero: 'all',
  OneHot: 'all',
  GatherElements: 'all',
  GatherND: 'all',
  ConvTranspose: 'all',
  LRN: 'all',
  IsNaN: 'all',
  IsInf: 'all',
  Mish: 'all',
  // device backends run these on the CPU
  ArgMax: 'all',
  ArgMin: 'all',
};

/**
 * Cast targets computed on the CPU: integer and float64 results are host dtypes, and float16 / bfloat16
 * round each value on the host (see `narrowValue`).
 */
const HOST_CASTS = new Set([2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 16]);

/**
 * The input indices of `node` that must be on the host when it runs (see HOST_INPUTS).
 * @example hostInputs(reshapeNode) // [1]
 */
export function hostInputs(node: Node): number[] {
  const all = node.inputs.map((_, i) => i);
  if (node.opType === 'Cast' || node.opType === 'CastLike') {
    const to = node.attributes.to;
    return node.opType === 'Cast' && to?.type === 'int' && !HOST_CASTS.has(Number(to.value)) ? [] : [0];
  }
  const rule = HOST_INPUTS[node.opType];
  if (rule === undefined) return [];
  return rule === 'all' ? all : rule.filter((i) => i < node.inputs.length && node.inputs[i]);
}
