import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gemmInfo, matmul, Tensor } from '../src/index.js';

// Engines with relaxed SIMD (browsers, Node ≥ 22) run the GEMM micro-kernel with fused multiply-adds.
// Node 20 needs a flag for it, so the FMA variant is checked in a child process started with it.

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

  it('is chosen by default exactly where the Node version has relaxed SIMD (not in Node 20 without the flag)', () => {
    matmul(Tensor.ones([8, 64]), Tensor.ones([64, 64]));
    // V8 ships relaxed SIMD from Node 22 on; before, only behind the flag.
    expect(gemmInfo().fma).toBe(Number(process.versions.node.split('.')[0]) >= 22);
  });
});
