import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gemmInfo, matmul, relaxedSimd, Tensor } from '../src/index.js';

// Engines with relaxed SIMD (browsers, Node ≥ 22, and Node 20 once normkit turns on V8's flag) run
// the GEMM micro-kernel with fused multiply-adds. Child processes check the FMA variant with the flag
// given on the command line, and the opt-out.

describe('the relaxed-SIMD (FMA) GEMM kernel', () => {
  it('is chosen where the engine has relaxed SIMD and matches the float64 reference within 1e-5 relative', () => {
    const script = fileURLToPath(new URL('./fixtures/fma-gemm.mts', import.meta.url));
    const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--conditions=source', '--import', 'tsx', script], {
      encoding: 'utf8',
      env: { ...process.env, NORMKIT_THREADS: '1' },
    });
    const report = JSON.parse(out.trim().split('\n').pop() as string) as { fma: boolean; worst: number };
    expect(report.fma).toBe(true);
    expect(report.worst).toBeLessThan(1e-5);
  });

  it("is chosen by default in every Node this project supports: Node 20 gets V8's flag turned on, unless NORMKIT_RELAXED_SIMD=0", () => {
    matmul(Tensor.ones([8, 64]), Tensor.ones([64, 64]));
    const major = Number(process.versions.node.split('.')[0]);
    expect(gemmInfo().fma).toBe(true);
    expect(relaxedSimd()).toBe(major === 20 ? 'flag' : 'engine');
    // The opt-out, in a fresh process: the separate multiply and add, still matching float64.
    const script = fileURLToPath(new URL('./fixtures/fma-gemm.mts', import.meta.url));
    const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
      encoding: 'utf8',
      env: { ...process.env, NORMKIT_THREADS: '1', NORMKIT_RELAXED_SIMD: '0' },
    });
    const report = JSON.parse(out.trim().split('\n').pop() as string) as { fma: boolean; worst: number };
    expect(report.fma).toBe(major >= 22);
    expect(report.worst).toBeLessThan(1e-5);
  });
});
