// The tape's storage reuse: gradients consumed during the backward pass are recycled (and a second
// contribution is summed in place), with `recycle` the forward intermediates too; none of it may
// change a gradient. And the tape tells each op which input gradients it needs. References are
// closed-form gradients by plain float64 loops (tolerance 1e-9 of the largest element).
import { add, defineOp, matmul, mul, relu, runOp, sum, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { computeGrads, Parameter, valueAndGrads } from '../src/index.js';

/** L = Σ h² + Σ 2·relu(h) with h = x·w: h's gradient gets two contributions (summed in place). */
const objective = (x: Tensor, w: Tensor, keep?: (h: Tensor) => void) => {
  const h = matmul(x, w);
  keep?.(h);
  return add(sum(mul(h, h)), sum(mul(relu(h), 2)));
};

/** dL/dw = xᵀ·(2h + 2·[h > 0]) by plain loops. */
function expectedGrad(x: Tensor, w: Tensor): Float64Array {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[1] as number;
  const X = x.data as Float64Array;
  const W = w.data as Float64Array;
  const g = new Float64Array(K * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let h = 0;
      for (let k = 0; k < K; k++) h += X[i * K + k]! * W[k * N + j]!;
      const dh = 2 * h + (h > 0 ? 2 : 0);
      for (let k = 0; k < K; k++) g[k * N + j]! += X[i * K + k]! * dh;
    }
  return g;
}

function expectClose(got: Tensor, want: Float64Array): void {
  const g = got.data as Float64Array;
  const scale = Math.max(...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) expect(Math.abs(g[i]! - want[i]!)).toBeLessThanOrEqual(1e-9 * scale);
}

// x [256, 64] and h [256, 128] in float64 are 128 and 256 KiB: large enough to be pooled.
const x = Tensor.randn([256, 64], 1, { dtype: 'float64' });
const w0 = Tensor.randn([64, 128], 2, { dtype: 'float64', std: 0.2 });

describe('autograd storage reuse', () => {
  it('gives the same gradient, step after step, while it recycles consumed gradients', () => {
    const want = expectedGrad(x, w0);
    for (let step = 0; step < 3; step++) {
      const { grads } = valueAndGrads(() => objective(x, w0), [w0]);
      expectClose(grads[0] as Tensor, want);
    }
  });

  it('with recycle, intermediates throw RECYCLED afterwards; the value, the gradients and the inputs stay', () => {
    let h: Tensor | undefined;
    const { value, grads } = valueAndGrads(() => objective(x, w0, (t) => (h = t)), { w: w0 }, { recycle: true });
    expect(() => h!.data).toThrow(/recycled/);
    expect(Number.isFinite(value.data[0] as number)).toBe(true);
    expectClose(grads.w, expectedGrad(x, w0));
    expect(x.data.length).toBe(256 * 64);
    expect(w0.data.length).toBe(64 * 128);
    // The next call reuses the storage and is still right.
    expectClose(valueAndGrads(() => objective(x, w0), { w: w0 }, { recycle: true }).grads.w, expectedGrad(x, w0));
  });

  it('without recycle (valueAndGrads by default) intermediates stay readable', () => {
    let h: Tensor | undefined;
    valueAndGrads(() => objective(x, w0, (t) => (h = t)), [w0]);
    expect(h!.data.length).toBe(256 * 128);
  });

  it('computeGrads recycles unless told not to, and accumulates the same gradient', () => {
    const p = new Parameter(w0.clone());
    let h: Tensor | undefined;
    computeGrads(() => objective(x, p.value, (t) => (h = t)), [p]);
    expect(() => h!.data).toThrow(/recycled/);
    computeGrads(() => objective(x, p.value, (t) => (h = t)), [p], { recycle: false });
    expect(h!.data.length).toBe(256 * 128);
    const want = expectedGrad(x, w0).map((v) => 2 * v);
    expectClose(p.grad as Tensor, want);
  });

  it('tells each op which input gradients are needed (needsGrad)', () => {
    const seen: (readonly boolean[] | undefined)[] = [];
    const PAIR = defineOp({
      name: 'test.autogradRecyclePair',
      grad: (dy, ctx) => {
        seen.push(ctx.needsGrad);
        return [mul(dy, ctx.inputs[1] as Tensor), mul(dy, ctx.inputs[0] as Tensor)];
      },
    });
    const pair = (a: Tensor, b: Tensor) => runOp(PAIR, [a, b], undefined, () => mul(a, b));
    const a = Tensor.from([1, 2], undefined, 'float64');
    const b = Tensor.from([3, 4], undefined, 'float64');
    const { grads } = valueAndGrads(() => sum(pair(a, b)), [b]);
    expect(seen).toEqual([[false, true]]);
    expect(Array.from(grads[0]!.data as Float64Array)).toEqual([1, 2]);
  });
});
