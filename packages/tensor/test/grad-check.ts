// Finite-difference checks of the ops' gradients (VJPs), with a tiny local recorder: @normkit/train's
// tape cannot be imported here (it depends on this package), and the checks need only the recorded call.
import { add, type GradContext, type OpDef, setOpRecorder, Tensor } from '@normkit/tensor';
import { expect } from 'vitest';

/** Central-difference step (float64). */
export const H = 1e-5;
/**
 * Default tolerance: |analytic − numeric| ≤ TOL·(1 + |numeric|). With h = 1e-5 in float64 the
 * truncation error is ~h²·f‴/6 ≈ 1e-11 and the rounding error ~1e-16·|⟨dy, y⟩|/h ≈ 1e-10 for our sizes.
 */
export const TOL = 1e-6;

/** A float64 (or float32) tensor of uniform values in [lo, hi). */
export function randT(shape: readonly number[], rnd: () => number, lo = -1, hi = 1, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  const t = Tensor.zeros(shape, dtype);
  const d = t.data as Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rnd();
  return t;
}

/** Values that are a shuffled ladder with `spacing` between neighbours (no ties, so max/argmax are stable under ±h). */
export function distinctT(shape: readonly number[], rnd: () => number, spacing = 0.01): Tensor {
  const t = Tensor.zeros(shape, 'float64');
  const d = t.data as Float64Array;
  const order = Array.from(d, (_, i) => i).sort(() => rnd() - 0.5);
  order.forEach((v, i) => {
    d[i] = (v - d.length / 2) * spacing;
  });
  return t;
}

/** Moves every value of `x` at least `margin` away from each of `points` (kinks of the op under test). */
export function awayFrom(x: Tensor, points: readonly number[], margin = 0.02): Tensor {
  const d = x.data as Float64Array;
  for (let i = 0; i < d.length; i++) for (const p of points) if (Math.abs(d[i]! - p) < margin) d[i] = p + (d[i]! >= p ? margin : -margin);
  return x;
}

type Call = { def: OpDef; ctx: GradContext };

/** Runs `f` with a recorder that keeps every op call. */
function recordAll(f: () => Tensor): { y: Tensor; calls: Call[] } {
  const calls: Call[] = [];
  const prev = setOpRecorder({ record: (def, ctx) => calls.push({ def, ctx }) });
  try {
    return { y: f(), calls };
  } finally {
    setOpRecorder(prev);
  }
}

/** Runs `f` while recording, and returns the op call that produced `f`'s result. */
export function recordCall(f: () => Tensor): Call {
  const { y, calls } = recordAll(f);
  const call = calls.find((c) => c.ctx.output === y);
  if (!call) throw new Error(`no recorded op produced the result (recorded: ${calls.map((c) => c.def.name).join(', ') || 'none'})`);
  return call;
}

/**
 * Reverse-mode gradients of a composite `f` with a minimal tape (as @normkit/train's, without its
 * liveness pruning): every recorded call's `grad`, walked backward from f's result seeded with `dy`.
 */
export function tapeGrads(f: () => Tensor, wrt: readonly Tensor[], dy: (y: Tensor) => Tensor): (Tensor | undefined)[] {
  const { y, calls } = recordAll(f);
  const grads = new Map<Tensor, Tensor>([[y, dy(y)]]);
  for (let i = calls.length - 1; i >= 0; i--) {
    const { def, ctx } = calls[i]!;
    const g = grads.get(ctx.output);
    if (!g || ctx.inputs.includes(ctx.output)) continue;
    if (!def.grad) throw new Error(`op ${def.name} has no gradient`);
    const dxs = def.grad(g, ctx);
    ctx.inputs.forEach((x, k) => {
      const d = dxs[k];
      if (!x || !d) return;
      expect(d.shape, `${def.name}: gradient ${k} shape`).toEqual(x.shape);
      const p = grads.get(x);
      grads.set(x, p ? add(p, d) : d);
    });
  }
  return wrt.map((t) => grads.get(t));
}

/** ⟨a, b⟩ accumulated in float64. */
export function dot(a: Tensor, b: Tensor): number {
  const x = a.data as Float64Array;
  const y = b.data as Float64Array;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** `xs` with element `i` of input `k` moved by `delta` (a copy: tensors are immutable). */
function shifted(xs: readonly Tensor[], k: number, i: number, delta: number): Tensor[] {
  return xs.map((x, j) => {
    if (j !== k) return x;
    const c = x.clone();
    (c.data as Float64Array)[i]! += delta;
    return c;
  });
}

/** Indices to probe: all of them, or `max` distinct ones picked at random. */
function probe(size: number, max: number, rnd: () => number): number[] {
  const all = Array.from({ length: size }, (_, i) => i);
  if (size <= max) return all;
  return all.sort(() => rnd() - 0.5).slice(0, max);
}

export interface CheckOptions {
  /** Inputs (indices into xs) to check; default: every float one. */
  wrt?: number[];
  tol?: number;
  h?: number;
  /** Elements probed per input (random subset above this). */
  maxProbes?: number;
  /** The gradient expected for non-differentiable inputs (indices into xs): undefined. */
  none?: number[];
}

/** Names of the ops `checkGrad` has checked in this test file. */
export const checked = new Set<string>();

/**
 * Checks the recorded op's `grad` against central differences: for a random dy and each probed
 * element i of each input, ⟨dy, (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h⟩ must equal the gradient's element i.
 */
export function checkGrad(
  name: string,
  f: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  rnd: () => number,
  o: CheckOptions = {},
): void {
  const h = o.h ?? H;
  const tol = o.tol ?? TOL;
  const { def, ctx } = recordCall(() => f(...xs));
  expect(def.name).toBe(name);
  expect(def.grad, `${name} has a grad`).toBeDefined();
  checked.add(name);
  const dy = randT(ctx.output.shape, rnd, -1, 1, ctx.output.dtype as 'float64');
  const grads = def.grad!(dy, ctx);
  for (const k of o.none ?? []) expect(grads[ctx.inputs.indexOf(xs[k])], `${name}: input ${k} has no gradient`).toBeUndefined();
  const wrt = o.wrt ?? xs.flatMap((x, k) => (x.dtype === 'float64' && !(o.none ?? []).includes(k) ? [k] : []));
  for (const k of wrt) {
    const j = ctx.inputs.indexOf(xs[k]);
    expect(j, `${name}: input ${k} is recorded`).toBeGreaterThanOrEqual(0);
    const g = grads[j];
    expect(g, `${name}: gradient of input ${k}`).toBeDefined();
    expect(g!.shape, `${name}: gradient ${k} shape`).toEqual(xs[k]!.shape);
    expect(g!.dtype).toBe(xs[k]!.dtype);
    const gd = g!.data as Float64Array;
    for (const i of probe(xs[k]!.size, o.maxProbes ?? 64, rnd)) {
      const fd = (dot(dy, f(...shifted(xs, k, i, h))) - dot(dy, f(...shifted(xs, k, i, -h)))) / (2 * h);
      const err = Math.abs(gd[i]! - fd);
      if (err > tol * (1 + Math.abs(fd)))
        expect.fail(`${name}: d/dx${k}[${i}] = ${gd[i]} but central differences give ${fd} (error ${err.toExponential(2)}, tol ${tol})`);
    }
  }
}

/** Checks the gradients a tape gives a composite function against central differences, as `checkGrad`. */
export function checkTape(label: string, f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[], rnd: () => number, tol = TOL): void {
  let dy: Tensor | undefined;
  const grads = tapeGrads(
    () => f(...xs),
    xs,
    (y) => (dy = randT(y.shape, rnd)),
  );
  xs.forEach((x, k) => {
    const gd = grads[k]?.data as Float64Array | undefined;
    expect(gd, `${label}: gradient of input ${k}`).toBeDefined();
    for (const i of probe(x.size, 64, rnd)) {
      const fd = (dot(dy!, f(...shifted(xs, k, i, H))) - dot(dy!, f(...shifted(xs, k, i, -H)))) / (2 * H);
      const err = Math.abs(gd![i]! - fd);
      if (err > tol * (1 + Math.abs(fd))) expect.fail(`${label}: d/dx${k}[${i}] = ${gd![i]} but central differences give ${fd}`);
    }
  });
}
