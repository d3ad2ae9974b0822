import type { Tensor } from '@normkit/tensor';
import type { Node } from '../ir.js';

/**
 * Fusions the executor applies to its plan, as onnxruntime does when it creates a session: a chain of
 * nodes that computes a known function in several passes over memory becomes one node with one kernel.
 * The model is never changed; only the executor's step list is. Each fusion checks that the chain's
 * intermediate values have no other reader (and are not graph outputs) and that its constants are
 * scalars with the exact values, so the fused step computes the same function.
 *
 * GELU, as exporters write it for opsets below 20 (PyTorch, Hugging Face, the zoo):
 *   y = Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)      or      y = Mul(Mul(x, 0.5), Add(Erf(Div(x, √2)), 1))
 * (Div by √2 may also be Mul by 1/√2; Add and Mul operands in either order) becomes `Gelu(x)` at opset 20.
 */
export interface FusedNode {
  /** The node that replaces the chain (not part of the model). */
  node: Node;
  /** Opset of the replacement's semantics. */
  opset: number;
  /** The chain's nodes, in plan order; the replacement runs where the last of them ran. */
  replaces: Node[];
  /** The chain's output has at least this rank (its constants' broadcast), which Gelu(x) of a scalar x lacks. */
  minRank: number;
}

interface Context {
  constant(name: string): Tensor | undefined;
  /** Readers of each value among the planned nodes. */
  readers: Map<string, Node[]>;
  /** Values that must stay visible (graph outputs). */
  pinned: Set<string>;
}

/**
 * The fusable GELU chains among `nodes` (the plan's nodes in order).
 * @example findGeluChains(steps.map((s) => s.node), { constant: (n) => constants.get(n), outputs: ['y'] })
 */
export function findGeluChains(
  nodes: readonly Node[],
  opts: { constant: (name: string) => Tensor | undefined; outputs: readonly string[] },
): FusedNode[] {
  const readers = new Map<string, Node[]>();
  for (const n of nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const ctx: Context = { constant: opts.constant, readers, pinned: new Set(opts.outputs) };
  const found: FusedNode[] = [];
  for (const erf of nodes) {
    if (erf.opType !== 'Erf' || erf.domain !== '') continue;
    const chain = geluChain(erf, nodes, ctx);
    if (chain) found.push(chain);
  }
  return found;
}

const near = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.abs(want);

/** The value of a constant scalar (size 1, rank ≤ 1), or undefined. */
function scalar(ctx: Context, name: string): number | undefined {
  const t = ctx.constant(name);
  return t && t.size === 1 && t.rank <= 1 && t.dtype === 'float32' ? (t.data[0] as number) : undefined;
}

/** The only reader of `value` if it has exactly one and is not pinned, with the index of `value` among its inputs. */
function soleReader(ctx: Context, value: string, opType: string): { node: Node; other: string } | undefined {
  const r = ctx.readers.get(value);
  if (r?.length !== 1 || ctx.pinned.has(value)) return undefined;
  const node = r[0] as Node;
  if (node.opType !== opType || node.domain !== '' || node.inputs.length !== 2) return undefined;
  const other = node.inputs[0] === value ? node.inputs[1] : node.inputs[0];
  return other !== undefined && other !== value ? { node, other } : undefined;
}

function producerOf(nodes: readonly Node[], value: string): Node | undefined {
  return nodes.find((n) => n.outputs.includes(value));
}

function geluChain(erf: Node, nodes: readonly Node[], ctx: Context): FusedNode | undefined {
  const [d] = erf.inputs;
  const e = erf.outputs[0];
  if (!d || !e) return undefined;
  // x / √2 (or x · 1/√2), read only by the Erf.
  const scale = producerOf(nodes, d);
  if (scale?.domain !== '' || ctx.pinned.has(d) || ctx.readers.get(d)?.length !== 1) return undefined;
  const [x, c] = scale.inputs;
  if (!x || !c) return undefined;
  if (!(scale.opType === 'Div' && near(scalar(ctx, c), Math.SQRT2)) && !(scale.opType === 'Mul' && near(scalar(ctx, c), Math.SQRT1_2)))
    return undefined;
  // 1 + erf(…)
  const plus = soleReader(ctx, e, 'Add');
  if (!plus || !near(scalar(ctx, plus.other), 1)) return undefined;
  const h = plus.node.outputs[0] as string;
  const times = soleReader(ctx, h, 'Mul');
  if (!times) return undefined;
  const m = times.node.outputs[0] as string;
  let chain: Node[];
  let y: string;
  if (times.other === x) {
    // (x · h) · ½
    const half = soleReader(ctx, m, 'Mul');
    if (!half || !near(scalar(ctx, half.other), 0.5)) return undefined;
    chain = [scale, erf, plus.node, times.node, half.node];
    y = half.node.outputs[0] as string;
  } else {
    // (x · ½) · h
    const q = producerOf(nodes, times.other);
    if (q?.opType !== 'Mul' || q.domain !== '' || ctx.readers.get(times.other)?.length !== 1 || ctx.pinned.has(times.other))
      return undefined;
    const qOther = q.inputs[0] === x ? q.inputs[1] : q.inputs[1] === x ? q.inputs[0] : undefined;
    if (!qOther || !near(scalar(ctx, qOther), 0.5)) return undefined;
    chain = [q, scale, erf, plus.node, times.node];
    y = m;
  }
  const minRank = Math.max(...chain.flatMap((n) => n.inputs.map((i) => ctx.constant(i)?.rank ?? 0)));
  const last = chain.reduce((a, b) => (nodes.indexOf(b) > nodes.indexOf(a) ? b : a));
  return {
    node: { name: `${last.name} (fused GELU)`, opType: 'Gelu', domain: '', inputs: [x], outputs: [y], attributes: {} },
    opset: 20,
    minRank,
    replaces: [...chain].sort((a, b) => nodes.indexOf(a) - nodes.indexOf(b)),
  };
}
