// Gradients in float32, on sizes that take the WebAssembly GEMM: each op's float32 gradient must be
// float32 and agree with its float64 gradient (checked against finite differences in gradients.test.ts)
// to 1e-4 of the gradient's largest element. And the products go to the backend's GEMM with
// transpose flags, not through transposed copies.
import {
  avgPool,
  type Backend,
  CpuBackend,
  cast,
  conv,
  type GemmOptions,
  gather,
  gemm,
  logSoftmax,
  logSumExp,
  matmul,
  max,
  maxPool,
  opDefinition,
  pad,
  prod,
  slice,
  softmax,
  Tensor,
  withBackend,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { distinctT, randT, recordCall } from './grad-check.js';
import { mulberry } from './ref.js';

const rnd = mulberry(11);
const TOL = 1e-4;

/** The gradients of the op `f` records, for `xs` (float64) and for their float32 casts, with the same dy. */
function bothPrecisions(f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[]): [(Tensor | undefined)[], (Tensor | undefined)[]] {
  const xs32 = xs.map((x) => (x.dtype === 'float64' ? cast(x, 'float32') : x));
  const r64 = recordCall(() => f(...xs));
  const r32 = recordCall(() => f(...xs32));
  const dy = randT(r64.ctx.output.shape, rnd);
  const g64 = opDefinition(r64.def.name)!.grad!(dy, r64.ctx);
  const g32 = opDefinition(r32.def.name)!.grad!(cast(dy, 'float32'), r32.ctx);
  return [g64 as (Tensor | undefined)[], g32 as (Tensor | undefined)[]];
}

function expectAgree(label: string, f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[]): void {
  const [g64, g32] = bothPrecisions(f, xs);
  g64.forEach((a, k) => {
    const b = g32[k];
    if (!a) {
      expect(b).toBeUndefined();
      return;
    }
    expect(b!.dtype, `${label}: gradient ${k} dtype`).toBe('float32');
    const ad = a.data as Float64Array;
    const bd = b!.data as Float32Array;
    let scale = 0;
    let err = 0;
    for (let i = 0; i < ad.length; i++) {
      scale = Math.max(scale, Math.abs(ad[i]!));
      err = Math.max(err, Math.abs(ad[i]! - bd[i]!));
    }
    expect(err, `${label}: gradient ${k} max error vs float64 (scale ${scale})`).toBeLessThanOrEqual(TOL * scale);
  });
}

describe('float32 gradients agree with float64', () => {
  it('matmul on the WASM GEMM: 2-D, batched × matrix, matrix × batched, batched × batched', () => {
    expectAgree('matmul 2-D', matmul, [randT([48, 64], rnd), randT([64, 40], rnd)]);
    expectAgree('matmul [B,T,K]·[K,N]', matmul, [randT([4, 24, 64], rnd), randT([64, 40], rnd)]);
    expectAgree('matmul [M,K]·[B,K,N]', matmul, [randT([24, 64], rnd), randT([3, 64, 40], rnd)]);
    expectAgree('matmul batched', matmul, [randT([3, 24, 64], rnd), randT([3, 64, 40], rnd)]);
  });

  for (const transA of [false, true])
    for (const transB of [false, true])
      it(`gemm transA ${transA} transB ${transB} with C [N]`, () => {
        const opts = { transA, transB, alpha: 0.5, beta: 2 };
        const a = randT(transA ? [64, 48] : [48, 64], rnd);
        const b = randT(transB ? [40, 64] : [64, 40], rnd);
        expectAgree('gemm', (x, y, c) => gemm(x, y, c, opts), [a, b, randT([40], rnd)]);
      });

  it('conv 2-D (padded, and grouped) and 1-D strided', () => {
    const x = randT([2, 8, 12, 12], rnd);
    expectAgree('conv 3×3', (a, w, b) => conv(a, w, b, { pads: [1, 1, 1, 1] }), [x, randT([16, 8, 3, 3], rnd), randT([16], rnd)]);
    expectAgree('conv group 2', (a, w) => conv(a, w, undefined, { group: 2, strides: [2, 2] }), [x, randT([8, 4, 3, 3], rnd)]);
    expectAgree('conv 1×1', (a, w) => conv(a, w), [x, randT([16, 8, 1, 1], rnd)]);
    expectAgree('conv 1-D', (a, w) => conv(a, w, undefined, { strides: [2], dilations: [2] }), [
      randT([2, 6, 40], rnd),
      randT([12, 6, 5], rnd),
    ]);
  });

  it('pools, softmax, reductions and movement ops', () => {
    const x = distinctT([2, 3, 8, 8], rnd);
    expectAgree('maxPool', (t) => maxPool(t, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), [x]);
    expectAgree('avgPool', (t) => avgPool(t, { kernelShape: [3, 3], pads: [1, 1, 1, 1], countIncludePad: true }), [x]);
    expectAgree('softmax', (t) => softmax(t, 1), [randT([4, 30, 5], rnd, -3, 3)]);
    expectAgree('logSoftmax', (t) => logSoftmax(t, -1), [randT([4, 30], rnd, -3, 3)]);
    expectAgree('logSumExp', (t) => logSumExp(t, [0, 2], true), [randT([4, 3, 5], rnd)]);
    expectAgree('max', (t) => max(t, -1), [x]);
    expectAgree('prod', (t) => prod(t, -1), [randT([6, 5], rnd, 0.5, 1.5)]);
    expectAgree('gather', (t, i) => gather(t, i), [randT([10, 16], rnd), Tensor.from([3, 3, 9, 0, -1], undefined, 'int64')]);
    expectAgree('slice', (t) => slice(t, [-1, 0], [0, 8], [0, 1], [-2, 3]), [randT([5, 8], rnd)]);
    expectAgree('pad', (t) => pad(t, [1, 2, 2, 1], 'reflect'), [randT([4, 5], rnd)]);
  });
});

describe('matmul and gemm gradients run on the backend GEMM with transpose flags', () => {
  /** A CPU backend that logs its product and transpose calls. */
  function spyBackend(log: string[]): Backend {
    const cpu = new CpuBackend();
    const spy = Object.create(cpu) as Backend & { gemm: Backend['gemm']; matmul: Backend['matmul']; transpose: Backend['transpose'] };
    spy.gemm = (a, b, c, o: Required<GemmOptions>) => {
      log.push(`gemm${o.transA ? ' transA' : ''}${o.transB ? ' transB' : ''}`);
      return cpu.gemm(a, b, c, o);
    };
    spy.matmul = (a, b) => {
      log.push('matmul');
      return cpu.matmul(a, b);
    };
    spy.transpose = (x, perm) => {
      log.push('transpose');
      return cpu.transpose(x, perm);
    };
    return spy;
  }

  const gradCalls = (f: () => Tensor): string[] => {
    const log: string[] = [];
    const spy = spyBackend(log);
    const { def, ctx } = recordCall(f);
    withBackend(spy, () => def.grad!(Tensor.ones(ctx.output.shape), ctx));
    return log;
  };

  it('2-D matmul and [B, T, K] · [K, N] (a shared weight): two GEMMs, no transposed copies', () => {
    expect(gradCalls(() => matmul(Tensor.ones([8, 16]), Tensor.ones([16, 4])))).toEqual(['gemm transB', 'gemm transA']);
    expect(gradCalls(() => matmul(Tensor.ones([2, 8, 16]), Tensor.ones([16, 4])))).toEqual(['gemm transB', 'gemm transA']);
  });

  it('gemm: each transpose combination maps to flags', () => {
    const cases: [boolean, boolean, string[]][] = [
      [false, false, ['gemm transB', 'gemm transA']],
      [true, false, ['gemm transB', 'gemm']],
      [false, true, ['gemm', 'gemm transA']],
      [true, true, ['gemm transA transB', 'gemm transA transB']],
    ];
    for (const [transA, transB, want] of cases) {
      const a = Tensor.ones(transA ? [16, 8] : [8, 16]);
      const b = Tensor.ones(transB ? [4, 16] : [16, 4]);
      expect(gradCalls(() => gemm(a, b, undefined, { transA, transB }))).toEqual(want);
    }
  });
});
