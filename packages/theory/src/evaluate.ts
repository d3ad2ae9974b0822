import { execute, type Graph, Model } from '@normkit/graph';
import { NormkitError, Tensor } from '@normkit/tensor';

/** A float64 row-major array with its shape. */
export interface Array64 {
  data: Float64Array;
  shape: number[];
}

function attrNum(node: Graph['nodes'][number], name: string, fallback: number): number {
  const a = node.attributes[name];
  if (!a) return fallback;
  if (a.type === 'int' || a.type === 'float') return a.value;
  throw new NormkitError('BAD_ATTRIBUTE', `evaluateGraph64: node "${node.name}" attribute "${name}" is ${a.type}, expected a number`);
}

function toArray64(t: Tensor): Array64 {
  const flat = t.toFlatArray();
  return { data: Float64Array.from(flat, Number), shape: [...t.shape] };
}

function broadcastBinary(a: Array64, b: Array64, f: (x: number, y: number) => number, where: string): Array64 {
  // Supports equal shapes, and b broadcast along leading axes (b's shape a suffix of a's, or a scalar).
  const nb = b.data.length;
  if (a.data.length % nb !== 0)
    throw new NormkitError('SHAPE_MISMATCH', `evaluateGraph64: ${where}: cannot broadcast [${b.shape}] to [${a.shape}]`);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]!, b.data[i % nb]!);
  return { data: out, shape: [...a.shape] };
}

/**
 * An independent float64 evaluator for the small op set the theory constructions use (MatMul, Add,
 * Sub, Mul, Relu, Sigmoid, Reshape, LayerNormalization and RMSNormalization over the last axis). It
 * shares no code with `@normkit/graph`'s executor, so running a construction through both is a
 * cross-check of either.
 *
 * @example
 * ```ts
 * const y = evaluateGraph64(model, { x: { data: Float64Array.from([0.5]), shape: [1, 1] } });
 * ```
 */
export function evaluateGraph64(model: Model | Graph, inputs: Record<string, Array64>, outputs?: string[]): Record<string, Array64> {
  const graph = model instanceof Model ? model.graph : model;
  const env = new Map<string, Array64>();
  for (const [k, t] of graph.initializers) env.set(k, toArray64(t));
  for (const [k, v] of Object.entries(inputs)) env.set(k, v);
  const get = (name: string, node: string): Array64 => {
    const v = env.get(name);
    if (!v) throw new NormkitError('UNDEFINED_VALUE', `evaluateGraph64: node "${node}" reads "${name}", which is not defined`);
    return v;
  };
  for (const node of graph.topologicalOrder()) {
    const ins = node.inputs.map((n) => (n ? get(n, node.name) : undefined));
    const a = ins[0] as Array64;
    let out: Array64;
    switch (node.opType) {
      case 'MatMul': {
        const b = ins[1] as Array64;
        const k = a.shape[a.shape.length - 1]!;
        const n = b.shape[1]!;
        if (b.shape.length !== 2 || b.shape[0] !== k)
          throw new NormkitError('SHAPE_MISMATCH', `evaluateGraph64: MatMul "${node.name}" [${a.shape}]×[${b.shape}]`);
        const rows = a.data.length / k;
        const o = new Float64Array(rows * n);
        for (let i = 0; i < rows; i++)
          for (let t = 0; t < k; t++) {
            const av = a.data[i * k + t]!;
            if (av === 0) continue;
            for (let j = 0; j < n; j++) o[i * n + j]! += av * b.data[t * n + j]!;
          }
        out = { data: o, shape: [...a.shape.slice(0, -1), n] };
        break;
      }
      case 'Add':
        out = broadcastBinary(a, ins[1] as Array64, (x, y) => x + y, node.name);
        break;
      case 'Sub':
        out = broadcastBinary(a, ins[1] as Array64, (x, y) => x - y, node.name);
        break;
      case 'Mul':
        out = broadcastBinary(a, ins[1] as Array64, (x, y) => x * y, node.name);
        break;
      case 'Relu':
        out = { data: a.data.map((v) => Math.max(v, 0)), shape: a.shape };
        break;
      case 'Sigmoid':
        out = { data: a.data.map((v) => 1 / (1 + Math.exp(-v))), shape: a.shape };
        break;
      case 'Reshape': {
        const spec = Array.from((ins[1] as Array64).data);
        const known = spec.reduce((p, v, i) => p * (v === -1 ? 1 : v === 0 ? a.shape[i]! : v), 1);
        const shape = spec.map((v, i) => (v === -1 ? a.data.length / known : v === 0 ? a.shape[i]! : v));
        out = { data: a.data, shape };
        break;
      }
      case 'LayerNormalization':
      case 'RMSNormalization': {
        const axis = attrNum(node, 'axis', -1);
        if (axis !== -1 && axis !== a.shape.length - 1)
          throw new NormkitError('UNSUPPORTED_OP', `evaluateGraph64: ${node.opType} "${node.name}" only over the last axis`);
        const eps = attrNum(node, 'epsilon', 1e-5);
        const d = a.shape[a.shape.length - 1]!;
        const scale = ins[1];
        const bias = node.opType === 'LayerNormalization' ? ins[2] : undefined;
        const o = new Float64Array(a.data.length);
        for (let r = 0; r < a.data.length; r += d) {
          let mu = 0;
          if (node.opType === 'LayerNormalization') {
            for (let i = 0; i < d; i++) mu += a.data[r + i]!;
            mu /= d;
          }
          let v = 0;
          for (let i = 0; i < d; i++) v += (a.data[r + i]! - mu) ** 2;
          const inv = 1 / Math.sqrt(v / d + eps);
          for (let i = 0; i < d; i++) o[r + i] = (a.data[r + i]! - mu) * inv * (scale ? scale.data[i]! : 1) + (bias ? bias.data[i]! : 0);
        }
        out = { data: o, shape: a.shape };
        break;
      }
      default:
        throw new NormkitError(
          'UNSUPPORTED_OP',
          `evaluateGraph64: op ${node.opType} (node "${node.name}") is outside the theory evaluator's op set`,
        );
    }
    env.set(node.outputs[0]!, out);
  }
  const names = outputs ?? graph.outputs.map((o) => o.name);
  return Object.fromEntries(names.map((n) => [n, get(n, 'output')]));
}

/**
 * Runs a model with `@normkit/graph`'s executor on float64 tensors and returns float64 arrays.
 *
 * @example
 * ```ts
 * const y = executeGraph64(model, { x: { data: Float64Array.from([0.5]), shape: [1, 1] } });
 * ```
 */
export function executeGraph64(model: Model, inputs: Record<string, Array64>, outputs?: string[]): Record<string, Array64> {
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new Tensor(v.shape, 'float64', v.data)]));
  const res = execute(model, feeds, outputs ? { outputs } : {});
  return Object.fromEntries(Object.entries(res.outputs).map(([k, t]) => [k, toArray64(t)]));
}

/** Largest absolute difference of two equally long arrays. @example maxAbsDiff([1, 2], [1, 2.5]) // 0.5 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
