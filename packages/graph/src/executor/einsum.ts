import * as T from '@normkit/tensor';
import { fmtShape, NormkitError, sizeOf, type Tensor } from '@normkit/tensor';
import { attr, type Dim } from '../ir.js';
import { bdim, type InferredValue } from './dims.js';
import { defineOnnxOp, invalid, type ShapeContext, unsupported } from './registry.js';

interface Operand {
  t: Tensor;
  labels: string[];
}

/** Labels for the dims an ellipsis stands for (characters no equation uses). */
const ellipsisLabel = (i: number) => String.fromCharCode(0x100 + i);

/**
 * Parses an einsum equation for operands of the given ranks: per-operand labels and output labels
 * (ellipsis dims get private labels, right-aligned; an implicit output is the ellipsis plus the labels
 * used once, sorted). @example parseEinsum('ij,jk', [2, 2]) // { inputs: [['i','j'], ['j','k']], output: ['i','k'] }
 */
export function parseEinsum(equation: string, ranks: readonly number[]): { inputs: string[][]; output: string[] } {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ranks.length)
    throw new NormkitError('INVALID_ARGUMENT', `einsum "${equation}": ${terms.length} terms for ${ranks.length} operands`);
  let ellRank = 0;
  const inputs = terms.map((term, i) => {
    const parts = term.split('...');
    if (parts.length > 2) throw new NormkitError('INVALID_ARGUMENT', `einsum "${equation}": more than one ellipsis in "${term}"`);
    const letters = parts.join('');
    if (!/^[A-Za-z]*$/.test(letters))
      throw new NormkitError('INVALID_ARGUMENT', `einsum "${equation}": term "${term}" has characters other than letters`);
    if (parts.length === 1) {
      if (letters.length !== ranks[i])
        throw new NormkitError(
          'INVALID_ARGUMENT',
          `einsum "${equation}": term "${term}" has ${letters.length} labels but operand ${i} has rank ${ranks[i]}`,
        );
      return [...letters];
    }
    const e = ranks[i]! - letters.length;
    if (e < 0)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `einsum "${equation}": term "${term}" has more labels than operand ${i} has dims (${ranks[i]})`,
      );
    ellRank = Math.max(ellRank, e);
    return [...parts[0]!, ...Array.from({ length: e }, (_, k) => ellipsisLabel(k)), ...parts[1]!];
  });
  // Ellipsis dims are right-aligned: an operand with fewer of them uses the last ones.
  terms.forEach((term, i) => {
    const parts = term.split('...');
    if (parts.length !== 2) return;
    const e = ranks[i]! - parts.join('').length;
    const labels = inputs[i]!;
    for (let k = 0; k < e; k++) labels[parts[0]!.length + k] = ellipsisLabel(ellRank - e + k);
  });
  const ell = Array.from({ length: ellRank }, (_, k) => ellipsisLabel(k));
  let output: string[];
  if (rhs === undefined) {
    const count = new Map<string, number>();
    for (const l of inputs.flat()) count.set(l, (count.get(l) ?? 0) + 1);
    output = [
      ...ell,
      ...[...count]
        .filter(([l, n]) => n === 1 && l.charCodeAt(0) < 0x100)
        .map(([l]) => l)
        .sort(),
    ];
  } else {
    const parts = rhs.split('...');
    if (!/^[A-Za-z]*$/.test(parts.join('')))
      throw new NormkitError('INVALID_ARGUMENT', `einsum "${equation}": output "${rhs}" has characters other than letters`);
    output = parts.length === 2 ? [...parts[0]!, ...ell, ...parts[1]!] : [...rhs];
  }
  return { inputs, output };
}

function sumOut(op: Operand, drop: (l: string) => boolean): Operand {
  const axes = op.labels.flatMap((l, i) => (drop(l) ? [i] : []));
  if (axes.length === 0) return op;
  return { t: T.sum(op.t, axes, false), labels: op.labels.filter((l) => !drop(l)) };
}

function permuteTo(op: Operand, order: readonly string[]): Tensor {
  return T.transpose(
    op.t,
    order.map((l) => op.labels.indexOf(l)),
  );
}

/** Contracts two operands, keeping `keep` labels, as transpose + reshape + batched matmul. */
function contract(a: Operand, b: Operand, keep: Set<string>): Operand {
  a = sumOut(a, (l) => !keep.has(l) && !b.labels.includes(l));
  b = sumOut(b, (l) => !keep.has(l) && !a.labels.includes(l));
  const size = (op: Operand, l: string) => op.t.shape[op.labels.indexOf(l)]!;
  const batch = a.labels.filter((l) => b.labels.includes(l) && keep.has(l));
  const summed = a.labels.filter((l) => b.labels.includes(l) && !keep.has(l));
  const aOnly = a.labels.filter((l) => !b.labels.includes(l));
  const bOnly = b.labels.filter((l) => !a.labels.includes(l));
  for (const l of summed) {
    if (size(a, l) !== size(b, l))
      throw new NormkitError('SHAPE_MISMATCH', `einsum: contracted label sizes differ (${size(a, l)} vs ${size(b, l)})`);
  }
  const batchDims = batch.map((l) => Math.max(size(a, l), size(b, l)));
  let ta = permuteTo(a, [...batch, ...aOnly, ...summed]);
  let tb = permuteTo(b, [...batch, ...summed, ...bOnly]);
  const aDims = aOnly.map((l) => size(a, l));
  const bDims = bOnly.map((l) => size(b, l));
  const kDims = summed.map((l) => size(a, l));
  ta = T.expand(ta, [...batchDims, ...aDims, ...kDims]);
  tb = T.expand(tb, [...batchDims, ...kDims, ...bDims]);
  const nb = sizeOf(batchDims);
  const M = sizeOf(aDims);
  const K = sizeOf(kDims);
  const N = sizeOf(bDims);
  const y = T.matmul(ta.reshape([nb, M, K]), tb.reshape([nb, K, N]));
  return { t: y.reshape([...batchDims, ...aDims, ...bDims]), labels: [...batch, ...aOnly, ...bOnly] };
}

/**
 * General einsum over tensors without repeated labels inside one operand (no diagonals), by pairwise
 * contraction (transpose + reshape + batched matmul), left to right.
 *
 * @example einsum('bhid,bhjd->bhij', q, k) // attention scores
 */
export function einsum(equation: string, xs: readonly Tensor[]): Tensor {
  const { inputs, output } = parseEinsum(
    equation,
    xs.map((t) => t.rank),
  );
  for (const labels of inputs)
    if (new Set(labels).size !== labels.length)
      throw new NormkitError('UNSUPPORTED_OP', `einsum "${equation}": repeated labels within one operand (diagonals) are not supported`, {
        op: 'Einsum',
      });
  if (new Set(output).size !== output.length) throw new NormkitError('INVALID_ARGUMENT', `einsum "${equation}": repeated output label`);
  for (const l of output)
    if (!inputs.some((ls) => ls.includes(l)))
      throw new NormkitError('INVALID_ARGUMENT', `einsum "${equation}": output label "${l}" is in no input`);
  let ops: Operand[] = xs.map((t, i) => ({ t, labels: inputs[i]! }));
  // Sum out labels that only one operand has and the output lacks.
  ops = ops.map((op, i) => sumOut(op, (l) => !output.includes(l) && !ops.some((o, j) => j !== i && o.labels.includes(l))));
  while (ops.length > 1) {
    const keep = new Set([...output, ...ops.slice(2).flatMap((o) => o.labels)]);
    ops = [contract(ops[0]!, ops[1]!, keep), ...ops.slice(2)];
  }
  const last = sumOut(ops[0]!, (l) => !output.includes(l));
  return permuteTo(last, output);
}

defineOnnxOp('', 'Einsum', {
  kernel: (ctx) => {
    const eq = attr(ctx.node, 'equation', 'string');
    if (!eq) throw invalid(ctx, 'attribute "equation" is required');
    const xs = ctx.inputs.filter((t): t is Tensor => t !== undefined);
    try {
      return [einsum(eq, xs)];
    } catch (e) {
      if (e instanceof NormkitError && e.code === 'UNSUPPORTED_OP') throw unsupported(ctx, `equation "${eq}" (diagonal)`);
      if (e instanceof NormkitError) throw invalid(ctx, `${e.message} (shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')})`);
      throw e;
    }
  },
  shape: einsumShape,
  grows: true,
});

/** Shape rule of Einsum. */
function einsumShape(ctx: ShapeContext): InferredValue[] {
  const { node, inputs: ins } = ctx;
  const x = ins[0];
  const eq = attr(node, 'equation', 'string');
  if (!eq || ins.some((i) => !i?.shape)) return [{ dtype: x?.dtype }];
  const shapes = ins.map((i) => i!.shape as Dim[]);
  const { inputs, output } = parseEinsum(
    eq,
    shapes.map((s) => s.length),
  );
  const size = new Map<string, Dim>();
  inputs.forEach((ls, i) => {
    ls.forEach((l, d) => {
      size.set(l, size.has(l) ? bdim(size.get(l), shapes[i]![d]) : shapes[i]![d]);
    });
  });
  return [{ dtype: x?.dtype, shape: output.map((l) => size.get(l)) }];
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const EINSUM_OPS = 'einsum';
