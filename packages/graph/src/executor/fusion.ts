import type { Tensor } from '@normkit/tensor';
import * as T from '@normkit/tensor';
import { attr, type Node } from '../ir.js';
import { integerMatmulRows } from './ops-quant.js';
import { kernelFor, need, type OpKernel, opt } from './registry.js';

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
 *
 * A linear layer, y = Add(MatMul(x, W), b) with W a constant matrix and b a constant vector of its
 * columns, becomes one GEMM with the bias added inside the kernel (`MatMulAdd` in a profile).
 *
 * Dynamic quantization's product, y = Mul(Cast(MatMulInteger(xq, W, xz, wz), float), s) with W and wz
 * constants (and a following Add of a constant bias of its columns, if any), becomes one step that
 * scales the integer sums as it writes them (`MatMulIntegerToFloat`, onnxruntime's name for it), when s
 * is a scalar at run time.
 */
export interface FusedNode {
  /** The node that replaces the chain (not part of the model; its opType names it in a profile). */
  node: Node;
  /** Computes the chain's output from the replacement node's inputs. */
  kernel: OpKernel;
  /** Opset the kernel is called with. */
  opset: number;
  /** The chain's nodes, in plan order; the replacement runs where the last of them ran. */
  replaces: Node[];
}

interface Context {
  constant(name: string): Tensor | undefined;
  /** Readers of each value among the planned nodes. */
  readers: Map<string, Node[]>;
  /** Values that must stay visible (graph outputs). */
  pinned: Set<string>;
}

/**
 * The fusable chains among `nodes` (the plan's nodes in order): GELU and linear layers with a bias.
 * @example findFusions(steps.map((s) => s.node), { constant: (n) => constants.get(n), outputs: ['y'] })
 */
export function findFusions(
  nodes: readonly Node[],
  opts: { constant: (name: string) => Tensor | undefined; outputs: readonly string[] },
): FusedNode[] {
  const readers = new Map<string, Node[]>();
  for (const n of nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const ctx: Context = { constant: opts.constant, readers, pinned: new Set(opts.outputs) };
  const found: FusedNode[] = [];
  for (const n of nodes) {
    if (n.domain !== '') continue;
    const chain =
      n.opType === 'Erf'
        ? geluChain(n, nodes, ctx)
        : n.opType === 'MatMul'
          ? linearChain(n, ctx)
          : n.opType === 'MatMulInteger'
            ? integerLinearChain(n, ctx)
            : undefined;
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
  const gelu = kernelFor('', 'Gelu') as OpKernel;
  return {
    node: { name: `${last.name} (fused GELU)`, opType: 'Gelu', domain: '', inputs: [x], outputs: [y], attributes: {} },
    // Gelu of a scalar x keeps rank 0, where the chain broadcast it with its rank-1 constants.
    kernel: (c) => gelu(c).map((t) => (t && t.rank < minRank ? t.reshape([...new Array(minRank - t.rank).fill(1), ...t.shape]) : t)),
    opset: 20,
    replaces: [...chain].sort((a, b) => nodes.indexOf(a) - nodes.indexOf(b)),
  };
}

/** MatMul(x, W) read only by Add(·, b), W a constant [K, N] and b a constant [N]: one GEMM with the bias. */
function linearChain(mm: Node, ctx: Context): FusedNode | undefined {
  const [x, w] = mm.inputs;
  const m = mm.outputs[0];
  const W = w ? ctx.constant(w) : undefined;
  if (!x || !m || !W || W.rank !== 2 || W.dtype !== 'float32') return undefined;
  const add = soleReader(ctx, m, 'Add');
  const b = add && ctx.constant(add.other);
  if (!add || !b || b.rank !== 1 || b.size !== W.shape[1] || b.dtype !== 'float32') return undefined;
  const y = add.node.outputs[0] as string;
  return {
    node: {
      name: `${add.node.name} (fused MatMul + bias)`,
      opType: 'MatMulAdd',
      domain: '',
      inputs: [x, w as string, add.other],
      outputs: [y],
      attributes: {},
    },
    kernel: (c) => {
      const xt = need(c, 0);
      if (xt.rank < 2 || xt.dtype !== 'float32') return [T.add(T.matmul(xt, W), b)];
      const K = xt.shape[xt.rank - 1] as number;
      const rows = xt.size / K;
      return [T.gemm(xt.reshape([rows, K]), W, b).reshape([...xt.shape.slice(0, -1), W.shape[1] as number])];
    },
    opset: 13,
    replaces: [mm, add.node],
  };
}

/** MatMulInteger(xq, W, xz, wz) read only by Cast(to float), read only by Mul(·, s); W and wz constants. */
function integerLinearChain(mm: Node, ctx: Context): FusedNode | undefined {
  const [xq, w, xz, wz] = mm.inputs;
  const m = mm.outputs[0];
  if (!xq || !w || !m || !ctx.constant(w) || (wz && !ctx.constant(wz))) return undefined;
  const readers = ctx.readers.get(m);
  const cast = readers?.length === 1 && !ctx.pinned.has(m) ? readers[0] : undefined;
  const yf = cast?.outputs[0];
  if (!cast || !yf || cast.opType !== 'Cast' || cast.domain !== '' || attr(cast, 'to', 'int', 0) !== 1) return undefined;
  const mul = soleReader(ctx, yf, 'Mul');
  if (!mul) return undefined;
  const N = ctx.constant(w)?.shape[1];
  const add = soleReader(ctx, mul.node.outputs[0] as string, 'Add');
  const bias = add && ctx.constant(add.other);
  const withBias = bias && bias.rank === 1 && bias.size === N && bias.dtype === 'float32' && add ? add : undefined;
  const last = withBias?.node ?? mul.node;
  const [mmK, castK, mulK, addK] = (['MatMulInteger', 'Cast', 'Mul', 'Add'] as const).map((op) => kernelFor('', op) as OpKernel) as [
    OpKernel,
    OpKernel,
    OpKernel,
    OpKernel,
  ];
  return {
    node: {
      name: `${last.name} (fused MatMulInteger + Cast + Mul${withBias ? ' + bias' : ''})`,
      opType: 'MatMulIntegerToFloat',
      domain: '',
      inputs: [xq, w, xz ?? '', wz ?? '', mul.other, ...(withBias ? [withBias.other] : [])],
      outputs: [last.outputs[0] as string],
      attributes: {},
    },
    kernel: (c) => {
      const s = need(c, 4);
      const b = withBias ? (need(c, 5).data as Float32Array) : undefined;
      const inner = { ...c, node: mm };
      const fused =
        s.size === 1 && s.dtype === 'float32' && s.onHost
          ? integerMatmulRows(inner, need(c, 0), opt(c, 2), need(c, 1), opt(c, 3), s.data[0] as number, b)
          : undefined;
      if (fused) return [fused];
      const f = castK({ ...c, node: cast, inputs: mmK({ ...inner, inputs: c.inputs.slice(0, 4) }) })[0];
      const y = mulK({ ...c, node: mul.node, inputs: mul.node.inputs[0] === yf ? [f, s] : [s, f] })[0];
      if (!withBias) return [y];
      return addK({ ...c, node: withBias.node, inputs: withBias.node.inputs[0] === withBias.other ? [need(c, 5), y] : [y, need(c, 5)] });
    },
    opset: 13,
    replaces: [mm, cast, mul.node, ...(withBias ? [withBias.node] : [])],
  };
}
