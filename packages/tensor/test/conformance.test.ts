// The backend conformance suite (src/testing, exported as @normkit/tensor/testing) on the CPU backend:
// every op family against the naive float64 references, at each case's stated tolerance. The CPU
// backend is the one every other backend falls back to, so it lacks nothing: its skip list is empty.
// The gpu package runs the same cases on its gpu.js modes and in chromium (WebGL2, WebGPU).
import { CpuBackend, Tensor } from '@normkit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { backendConformance, checkCase, conformanceCases, runConformance, staleSkips } from '../src/testing/index.js';

backendConformance({ describe, it, afterAll }, 'cpu', () => new CpuBackend(), { skip: {} });

describe('the conformance runner', () => {
  const cases = conformanceCases();

  it('covers every op family with unique ids', () => {
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    expect(new Set(cases.map((c) => c.family))).toEqual(
      new Set(['elementwise', 'gelu', 'reduce', 'movement', 'linear', 'norm', 'attention', 'norm-backward', 'grads']),
    );
  });

  it('fails a backend whose kernel is off by more than the tolerance, naming the element', async () => {
    const cpu = new CpuBackend();
    // A backend whose exp is off by one part in 10⁵ (over TRANSCENDENTAL's 1e-6).
    const sloppy = Object.assign(Object.create(cpu) as CpuBackend, {
      unary: (o: Parameters<CpuBackend['unary']>[0], x: Tensor) => {
        const y = cpu.unary(o, x);
        return o === 'exp'
          ? new Tensor(
              y.shape,
              'float32',
              (y.data as Float32Array).map((v) => v * (1 + 1e-5)),
            )
          : y;
      },
    });
    const c = cases.find((k) => k.id === 'elementwise/exp')!;
    const r = await checkCase(c, sloppy);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/elementwise\/exp: element \d+ is .* the reference/);
    expect((await checkCase(c, sloppy, { tolerance: { rtol: 2e-5 } })).ok).toBe(true);
  });

  it('asserts the skip list both ways: a lacking op must be listed, a listed op must be lacking', async () => {
    const cpu = new CpuBackend();
    const noAttention = Object.assign(Object.create(cpu) as CpuBackend, { selfAttention: undefined });
    const c = cases.find((k) => k.id === 'attention/selfAttention 3 heads')!;
    const unlisted = await checkCase(c, noAttention);
    expect(unlisted.ok).toBe(false);
    expect(unlisted.message).toMatch(/has no selfAttention; implement it, or add it to the skip list/);
    const listed = await checkCase(c, noAttention, { skip: { [c.id]: 'no fused attention' } });
    expect(listed).toMatchObject({ ok: true, native: false });
    const stale = await checkCase(c, cpu, { skip: { [c.id]: 'no fused attention' } });
    expect(stale.message).toMatch(/on the skip list .* now runs it itself: remove it/);
    expect(staleSkips({ 'reduce/no such op': 'x' })[0]).toMatch(/names no conformance case/);
  });

  it('counts delegated ops as not run by the backend', async () => {
    let handed: string[] = [];
    const cpu = new CpuBackend();
    const r = await checkCase(cases[0]!, cpu, {
      delegated: () => {
        const h = handed;
        handed = ['unary neg'];
        return h;
      },
    });
    expect(r.message).toMatch(/handed unary neg to another backend/);
  });

  it('runs without a test runner, with the same case list', async () => {
    const { reports, stale } = await runConformance(new CpuBackend());
    expect(reports.map((r) => r.id)).toEqual(cases.map((c) => c.id));
    expect(reports.filter((r) => !r.ok)).toEqual([]);
    expect(stale).toEqual([]);
  });
});
