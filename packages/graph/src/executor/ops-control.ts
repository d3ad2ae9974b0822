import * as T from '@normkit/tensor';
import { fmtShape, Tensor } from '@normkit/tensor';
import { attr, type Dim, type Graph, Model } from '../ir.js';
import { type InferredValue, normAxis, symOf } from './dims.js';
import { Executor } from './executor.js';
import { defineOnnxOp, invalid, type OpContext, type ShapeContext, unsupported } from './registry.js';

// Loop and Scan: a body subgraph run once per iteration, reading the enclosing graph's values through
// the scope (as If does in executor.ts). The kernels only touch Executor at run time, so importing it
// here (executor.ts → ops.ts → this file → executor.ts) is a harmless cycle.

/** Iterations past which a Loop or Scan is refused: a trip count read from a mutated file must not spin for hours. */
export const MAX_ITERATIONS = 1 << 20;

/** Executors for bodies, built once per body graph. */
const bodies = new WeakMap<Graph, Executor>();

/** The node's graph attribute `name`, or INVALID_NODE. */
function graphAttr(ctx: OpContext, name: string): Graph {
  const a = ctx.node.attributes[name];
  if (a?.type !== 'graph') throw invalid(ctx, `attribute ${name} (a graph) is missing`);
  return a.value;
}

/** A function running `body` on its inputs (in order), with the outer values it reads from the scope; returns its outputs in order. */
function bodyRunner(ctx: OpContext, body: Graph): (inputs: Tensor[]) => Tensor[] {
  let ex = bodies.get(body);
  const free = [...body.freeVariables()];
  if (!ex) {
    ex = new Executor(new Model(body, ctx.opsets ?? [{ domain: '', version: ctx.opset }]), { outerScope: free, backend: ctx.backend });
    bodies.set(body, ex);
  }
  const outer: Record<string, Tensor> = {};
  for (const name of free) {
    const t = ctx.scope?.(name);
    if (!t) throw invalid(ctx, `the body reads "${name}", which has no value in the enclosing graph`);
    outer[name] = t;
  }
  const run = ex;
  return (inputs) => {
    const feeds = { ...outer };
    body.inputs.forEach((v, i) => {
      feeds[v.name] = inputs[i] as Tensor;
    });
    const r = run.run(feeds).outputs;
    return body.outputs.map((o) => r[o.name] as Tensor);
  };
}

/** Stacks per-iteration values along a new axis `axis` (an empty list gives shape [0]). */
function stack(ctx: OpContext, values: Tensor[], axis: number, what: string): Tensor {
  if (values.length === 0) return new Tensor([0], 'float32');
  const first = values[0] as Tensor;
  for (const v of values)
    if (v.shape.length !== first.shape.length || v.shape.some((d, i) => d !== first.shape[i]))
      throw invalid(ctx, `${what} changes shape between iterations (${fmtShape(first.shape)} then ${fmtShape(v.shape)})`);
  return T.concat(
    values.map((v) => T.unsqueeze(v, [axis])),
    axis,
  );
}

/** A scalar's truth value. */
const truth = (t: Tensor | undefined) => t !== undefined && t.size > 0 && Number(t.data[0]) !== 0;

/**
 * Loop (opset 1–23): `for (i = 0; i < M && cond; i++) { cond, v = body(i, cond, v) }`, where M or cond
 * may be omitted; the body's extra outputs are stacked into scan outputs along a new first axis.
 */
function loop(ctx: OpContext): (Tensor | undefined)[] {
  const body = graphAttr(ctx, 'body');
  const mIn = ctx.inputs[0] && ctx.inputs[0].size > 0 ? ctx.inputs[0] : undefined;
  const condIn = ctx.inputs[1] && ctx.inputs[1].size > 0 ? ctx.inputs[1] : undefined;
  if (!mIn && !condIn) throw invalid(ctx, 'it has neither a trip count (M) nor a condition, so it would never end');
  const carried = ctx.inputs.slice(2).map((t, i) => {
    if (!t) throw invalid(ctx, `loop-carried input ${i + 2} is missing`);
    return t;
  });
  const n = carried.length;
  if (body.inputs.length !== n + 2)
    throw invalid(ctx, `the body takes ${body.inputs.length} inputs; it must take 2 + ${n} (iteration, condition, the carried values)`);
  const k = body.outputs.length - 1 - n;
  if (k < 0)
    throw invalid(ctx, `the body gives ${body.outputs.length} outputs; it must give at least 1 + ${n} (condition, the carried values)`);
  const trips = mIn ? Number(mIn.data[0]) : Number.POSITIVE_INFINITY;
  const run = bodyRunner(ctx, body);
  let state = carried;
  let cond = condIn ? truth(condIn) : true;
  const scans: Tensor[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < trips && cond; i++) {
    if (i >= MAX_ITERATIONS) throw unsupported(ctx, `a loop of more than ${MAX_ITERATIONS} iterations`);
    const outs = run([Tensor.from([i], [], 'int64'), Tensor.from([cond ? 1 : 0], [], 'bool'), ...state]);
    // The body's condition ends the loop even without a condition input (onnxruntime does the same,
    // although the spec's pseudo-code calls it ignored there).
    cond = truth(outs[0]);
    state = outs.slice(1, 1 + n);
    for (let j = 0; j < k; j++) (scans[j] as Tensor[]).push(outs[1 + n + j] as Tensor);
  }
  return [...state, ...scans.map((s, j) => stack(ctx, s, 0, `scan output ${j}`))];
}

/** Axes normalized against `rank`, default 0 each. */
function axesOf(ctx: OpContext, name: string, count: number, ranks: number[]): number[] {
  const raw = attr(ctx.node, name, 'ints', new Array(count).fill(0));
  if (raw.length !== count) throw invalid(ctx, `${name} has ${raw.length} values; it needs ${count}`);
  return raw.map((a, i) => {
    const r = ranks[i] as number;
    if (a < -r || a >= r) throw invalid(ctx, `${name}[${i}] = ${a} is out of range for rank ${r}`);
    return a < 0 ? a + r : a;
  });
}

/**
 * Scan (opset 9–23): runs the body once per slice of the scan inputs (along their scan axes, forwards
 * or backwards), threading the state values through, and stacks the body's scan outputs.
 */
function scan(ctx: OpContext): (Tensor | undefined)[] {
  if (ctx.opset < 9) throw unsupported(ctx, 'Scan before opset 9 (batched, with sequence_lens)');
  const body = graphAttr(ctx, 'body');
  const m = attr(ctx.node, 'num_scan_inputs', 'int');
  if (m === undefined || m < 1 || m > ctx.inputs.length)
    throw invalid(ctx, `num_scan_inputs (${m}) must be between 1 and the number of inputs (${ctx.inputs.length})`);
  const inputs = ctx.inputs.map((t, i) => {
    if (!t) throw invalid(ctx, `input ${i} is missing`);
    return t;
  });
  const n = inputs.length - m;
  const state0 = inputs.slice(0, n);
  const xs = inputs.slice(n);
  const k = body.outputs.length - n;
  if (body.inputs.length !== n + m || k < 0)
    throw invalid(
      ctx,
      `the body takes ${body.inputs.length} inputs and gives ${body.outputs.length} outputs; it must take ${n + m} and give at least ${n}`,
    );
  const inAxes = axesOf(
    ctx,
    'scan_input_axes',
    m,
    xs.map((x) => x.rank),
  );
  const inDirs = attr(ctx.node, 'scan_input_directions', 'ints', new Array(m).fill(0));
  const outDirs = attr(ctx.node, 'scan_output_directions', 'ints', new Array(k).fill(0));
  const steps = xs[0]?.shape[inAxes[0] as number] as number;
  xs.forEach((x, j) => {
    if (x.shape[inAxes[j] as number] !== steps)
      throw invalid(
        ctx,
        `scan input ${j} ${fmtShape(x.shape)} has ${x.shape[inAxes[j] as number]} steps on axis ${inAxes[j]}, scan input 0 has ${steps}`,
      );
  });
  if (steps > MAX_ITERATIONS) throw unsupported(ctx, `a scan of more than ${MAX_ITERATIONS} steps`);
  const run = bodyRunner(ctx, body);
  let state = state0;
  const outs: Tensor[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < steps; t++) {
    const slices = xs.map((x, j) => T.gather(x, Tensor.from([inDirs[j] ? steps - 1 - t : t], [], 'int64'), inAxes[j]));
    const r = run([...state, ...slices]);
    state = r.slice(0, n);
    for (let j = 0; j < k; j++) (outs[j] as Tensor[]).push(r[n + j] as Tensor);
  }
  const outAxes = axesOf(
    ctx,
    'scan_output_axes',
    k,
    outs.map((o) => (o[0]?.rank ?? 0) + 1),
  );
  return [...state, ...outs.map((o, j) => stack(ctx, outDirs[j] ? [...o].reverse() : o, outAxes[j] as number, `scan output ${j}`))];
}

defineOnnxOp('', 'Loop', { kernel: loop, shape: loopShape, hostInputs: [0, 1], constantFoldable: false });
defineOnnxOp('', 'Scan', { kernel: scan, shape: scanShape, constantFoldable: false });

/** Dims of `a` kept where `b` agrees, unknown where they differ (a value whose shape may change per iteration). */
function agree(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  return a.map((d, i) => (d === b[i] ? d : undefined));
}

/** Shape rule of Loop: carried values as the body keeps them; scan outputs gain a leading axis of M (when known). */
function loopShape({ node, inputs, subgraph }: ShapeContext): InferredValue[] {
  const body = node.attributes.body;
  if (body?.type !== 'graph') return [];
  const g = body.value;
  const carried = inputs.slice(2);
  const sub = subgraph(g, [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }, ...carried]);
  const outs = g.outputs.map((o) => ({ dtype: o.dtype ?? sub.get(o.name)?.dtype, shape: o.shape ?? sub.get(o.name)?.shape }));
  const n = carried.length;
  const trips = symOf(inputs[0])?.[0];
  return [
    ...carried.map((c, i) => ({ dtype: c?.dtype ?? outs[1 + i]?.dtype, shape: agree(c?.shape, outs[1 + i]?.shape) })),
    ...outs.slice(1 + n).map((o) => ({ dtype: o.dtype, shape: o.shape ? [node.inputs[1] ? undefined : trips, ...o.shape] : undefined })),
  ];
}

/** Shape rule of Scan: final states like the initial ones; scan outputs stack the body's along their scan axes. */
function scanShape({ node, inputs, subgraph }: ShapeContext): InferredValue[] {
  const body = node.attributes.body;
  const m = attr(node, 'num_scan_inputs', 'int', 0);
  if (body?.type !== 'graph' || m < 1 || m > inputs.length) return [];
  const n = inputs.length - m;
  const xs = inputs.slice(n);
  const inAxes = attr(node, 'scan_input_axes', 'ints', new Array(m).fill(0));
  const slices = xs.map((x, j) => {
    const r = x?.shape?.length;
    return { dtype: x?.dtype, shape: r === undefined ? undefined : x?.shape?.filter((_, d) => d !== normAxis(inAxes[j] ?? 0, r)) };
  });
  const x0 = xs[0]?.shape;
  const steps = x0 ? x0[normAxis(inAxes[0] ?? 0, x0.length)] : undefined;
  const sub = subgraph(body.value, [...inputs.slice(0, n), ...slices]);
  const outs = body.value.outputs.map((o) => ({ dtype: o.dtype ?? sub.get(o.name)?.dtype, shape: o.shape ?? sub.get(o.name)?.shape }));
  const outAxes = attr(node, 'scan_output_axes', 'ints', new Array(outs.length - n).fill(0));
  return [
    ...inputs.slice(0, n).map((s, i) => ({ dtype: s?.dtype, shape: agree(s?.shape, outs[i]?.shape) })),
    ...outs.slice(n).map((o, j) => {
      if (!o.shape) return { dtype: o.dtype };
      const shape = [...o.shape];
      shape.splice(normAxis(outAxes[j] ?? 0, shape.length + 1), 0, steps);
      return { dtype: o.dtype, shape };
    }),
  ];
}

/**
 * If: runs `then_branch` or `else_branch` by the condition, reading outer values through the scope.
 */
defineOnnxOp('', 'If', {
  kernel: (ctx) => {
    const cond = ctx.inputs[0];
    if (cond?.size !== 1) throw invalid(ctx, 'the condition must have one element');
    const which = Number(cond.data[0]) ? 'then_branch' : 'else_branch';
    const branch = graphAttr(ctx, which);
    return bodyRunner(ctx, branch)([]);
  },
  shape: ifShape,
  hostInputs: [0],
  constantFoldable: false,
});

/** Shape rule of If: the then-branch's outputs (ONNX requires both branches to agree). */
function ifShape(ctx: ShapeContext): InferredValue[] {
  const { node, subgraph } = ctx;
  const t = node.attributes.then_branch;
  if (t?.type !== 'graph') return [];
  const sub = subgraph(t.value);
  return t.value.outputs.map((o) => {
    const i = sub.get(o.name);
    return { dtype: o.dtype ?? i?.dtype, shape: o.shape ?? i?.shape };
  });
}

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const CONTROL_OPS = 'control';
