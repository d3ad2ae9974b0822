// Tile-size sweep for the WebAssembly GEMM micro-kernel (a development aid, not part of `npm run bench`):
//   npx tsx bench/sweep-tiles.ts          (TILES=4x8,2x16 ROUNDS=5 to choose)
// Builds each MR×NR variant in memory with the generator of scripts/build-wasm.mjs, then times the
// bench sizes on one thread, interleaving variants and keeping the best time of every round.
import { gemmF32 } from '../src/cpu/gemm.js';
import { setGemmThreads, useGemmKernel } from '../src/cpu/gemm-wasm.js';

const { compileVariant } = (await import(`${'../scripts/build-wasm.mjs'}`)) as {
  compileVariant(shared: boolean, mr: number, nr: number, ku?: number): Promise<Uint8Array<ArrayBuffer>>;
};
setGemmThreads(1);
const tiles = (process.env.TILES ?? '4x8,6x8,4x12,4x16,8x8,2x16')
  .split(',')
  .map((t) => t.split(/[xu]/).map(Number) as [number, number, number?]);
const kernels = await Promise.all(
  tiles.map(async ([MR, NR, KU = 1]) => ({
    MR,
    NR,
    KU,
    plain: await compileVariant(false, MR, NR, KU),
    shared: await compileVariant(true, MR, NR, KU),
  })),
);
const rnd = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
const sizes: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [128, 768, 3072],
];
const best = new Map<string, number>();
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  for (const k of kernels) {
    useGemmKernel(k);
    for (const [M, K, N] of sizes) {
      const A = rnd(M * K);
      const B = rnd(K * N);
      const C = new Float32Array(M * N);
      gemmF32(A, 0, B, 0, C, 0, M, K, N, false, false, 1, 0);
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        gemmF32(A, 0, B, 0, C, 0, M, K, N, false, false, 1, 0);
        const key = `${k.MR}x${k.NR}u${k.KU} ${M}x${K}x${N}`;
        best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, performance.now() - t0));
      }
    }
  }
}
useGemmKernel(undefined);
console.log(`tile   ${sizes.map((s) => s.join('x')).join('  ')}  (GFLOP/s, best of runs)`);
for (const k of kernels) {
  console.log(
    `${k.MR}x${k.NR}u${k.KU}`,
    sizes.map(([M, K, N]) => ((2 * M * K * N) / best.get(`${k.MR}x${k.NR}u${k.KU} ${M}x${K}x${N}`)! / 1e6).toFixed(1)).join('  '),
  );
}
