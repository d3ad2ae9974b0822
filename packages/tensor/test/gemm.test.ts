import { availableParallelism } from 'node:os';
import {
  conv,
  disposeGemmThreads,
  gemm,
  gemmF32,
  gemmInfo,
  gemmJs,
  gemmThreads,
  matmul,
  setGemmThreads,
  Tensor,
  wasmGemmAvailable,
} from '@normkit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { expectClose, mulberry, randArray, refGemm, refMatmul } from './ref.js';

describe('gemmF32 (WebAssembly SIMD kernel and JS fallback)', () => {
  afterAll(() => {
    setGemmThreads(gemmThreads());
    disposeGemmThreads();
  });

  it('the SIMD kernel loads in Node', () => {
    expect(wasmGemmAvailable()).toBe(true);
    expect(gemmInfo()).toMatchObject({ wasm: true, sharedMemory: true, tile: '4x8' });
  });

  it('matches the triple loop for ragged sizes, every transpose, α and β, with offsets', () => {
    const rnd = mulberry(30);
    const shapes = [
      [1, 4096, 1],
      [3, 500, 7],
      [4, 8, 128],
      [17, 33, 9],
      [61, 300, 45],
      [97, 513, 31],
      [8, 1024, 8],
    ] as const;
    let t = 0;
    for (const [M, K, N] of shapes) {
      for (const [tA, tB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const alpha = t % 3 === 0 ? 1 : 0.75;
        const beta = [0, 1, -0.5][t % 3]!;
        t++;
        const A = randArray(M * K + 5, rnd);
        const B = randArray(K * N + 3, rnd);
        const C0 = randArray(M * N, rnd);
        const C = new Float32Array(M * N + 2);
        C.set(C0, 2);
        gemmF32(A, 5, B, 3, C, 2, M, K, N, tA, tB, alpha, beta);
        const exp = refGemm(A.subarray(5), B.subarray(3), C0, M, K, N, tA, tB, alpha, beta);
        expectClose(C.subarray(2), exp, 1e-4, 1e-4);
        expect(C[0]).toBe(0); // nothing written before cOff
        const J = new Float32Array(M * N);
        J.set(C0);
        gemmJs(A, 5, B, 3, J, 0, M, K, N, tA, tB, alpha, beta);
        expectClose(J, exp, 1e-4, 1e-4);
      }
    }
  });

  it('gives the same result on one thread and with worker threads (rows split across threads)', async () => {
    const rnd = mulberry(31);
    const [M, K, N] = [203, 250, 97];
    const A = randArray(M * K, rnd);
    const B = randArray(K * N, rnd);
    const exp = refMatmul(A, B, M, K, N);
    const prev = setGemmThreads(1);
    const one = new Float32Array(M * N);
    gemmF32(A, 0, B, 0, one, 0, M, K, N, false, false, 1, 0);
    setGemmThreads(2);
    const two = new Float32Array(M * N);
    gemmF32(A, 0, B, 0, two, 0, M, K, N, false, false, 1, 0); // starts the helper (async)
    // Give the helper time to start, then run a product it takes part in.
    for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 20));
    gemmF32(A, 0, B, 0, two, 0, M, K, N, false, false, 1, 0);
    expect(gemmInfo().lastThreads).toBe(Math.min(2, availableParallelism()));
    expectClose(one, exp, 1e-4, 1e-4);
    expect(Array.from(two)).toEqual(Array.from(one));
    // Products that grow the shared memory while the helper is running.
    const [M2, K2, N2] = [300, 400, 350];
    const A2 = randArray(M2 * K2, rnd);
    const B2 = randArray(K2 * N2, rnd);
    const c2 = new Float32Array(M2 * N2);
    gemmF32(A2, 0, B2, 0, c2, 0, M2, K2, N2, false, true, 1, 0);
    expect(gemmInfo().lastThreads).toBe(Math.min(2, availableParallelism()));
    expectClose(c2, refGemm(A2, B2, new Float32Array(M2 * N2), M2, K2, N2, false, true, 1, 0), 1e-4, 1e-4);
    setGemmThreads(prev);
  });

  it('adds a row bias: fused into the kernel (α = 1, β = 0), added after it otherwise, on one thread and with helpers', async () => {
    const rnd = mulberry(33);
    const prev = setGemmThreads(1);
    for (const threads of [1, 2]) {
      setGemmThreads(threads);
      if (threads === 2) {
        gemmF32(
          randArray(300 * 400, rnd),
          0,
          randArray(400 * 300, rnd),
          0,
          new Float32Array(300 * 300),
          0,
          300,
          400,
          300,
          false,
          false,
          1,
          0,
        );
        for (let i = 0; i < 25; i++) await new Promise((r) => setTimeout(r, 20)); // let the helper start
      }
      for (const [M, K, N, tA, tB, alpha, beta] of [
        [203, 64, 97, false, true, 1, 0],
        [130, 250, 64, true, false, 1, 0],
        [260, 300, 200, true, true, 1, 0], // large enough for the helper threads
        [37, 70, 13, false, false, 0.5, 1],
        [3, 5, 7, true, true, 1, 0], // below the kernel's size: the JS path
      ] as const) {
        const A = randArray(M * K, rnd);
        const B = randArray(K * N, rnd);
        const C0 = randArray(M * N, rnd);
        const bias = randArray(N, rnd);
        const C = Float32Array.from(C0);
        gemmF32(A, 0, B, 0, C, 0, M, K, N, tA, tB, alpha, beta, bias);
        const exp = refGemm(A, B, C0, M, K, N, tA, tB, alpha, beta).map((v, i) => v + bias[i % N]!);
        expectClose(C, exp, 1e-4, 1e-4);
        if (M === 260) expect(gemmInfo().lastThreads).toBe(Math.min(threads, availableParallelism()));
      }
    }
    setGemmThreads(prev);
  });

  it('public ops route through it: batched matmul, gemm with trans flags, conv', () => {
    const rnd = mulberry(32);
    const a = randArray(3 * 40 * 64, rnd);
    const b = randArray(64 * 50, rnd);
    const y = matmul(new Tensor([3, 40, 64], 'float32', a), new Tensor([64, 50], 'float32', b));
    for (let i = 0; i < 3; i++)
      expectClose(y.toFlatArray().slice(i * 2000, (i + 1) * 2000), refMatmul(a, b, 40, 64, 50, i * 40 * 64), 1e-4, 1e-4);
    const w = randArray(50 * 64, rnd); // [N, K] for transB
    const x = randArray(40 * 64, rnd);
    const g = gemm(new Tensor([40, 64], 'float32', x), new Tensor([50, 64], 'float32', w), Tensor.ones([50]), { transB: true, alpha: 2 });
    const ref = refGemm(x, w, new Float32Array(40 * 50).fill(1), 40, 64, 50, false, true, 2, 1);
    expectClose(g.toFlatArray(), ref, 1e-4, 1e-4);
    // float64 operands take the JS path.
    const d = matmul(Tensor.randn([20, 30], 1, { dtype: 'float64' }), Tensor.randn([30, 10], 2, { dtype: 'float64' }));
    expect(d.dtype).toBe('float64');
    const y1 = conv(Tensor.ones([1, 16, 20, 20]), Tensor.ones([32, 16, 3, 3]), undefined, { pads: [1, 1, 1, 1] });
    expect(y1.get(0, 5, 10, 10)).toBe(144);
    expect(y1.get(0, 5, 0, 0)).toBe(64);
  });
});

describe('generated kernel file', () => {
  it('matches what scripts/build-wasm.mjs compiles from the WAT generator (rerun the script after editing it)', async () => {
    const gen = await import('../src/cpu/gemm-wasm.generated.js');
    const { compileVariant } = (await import(`${'../scripts/build-wasm.mjs'}`)) as {
      compileVariant(shared: boolean, mr: number, nr: number): Promise<Uint8Array>;
    };
    const plain = await compileVariant(false, gen.GEMM_MR, gen.GEMM_NR);
    const shared = await compileVariant(true, gen.GEMM_MR, gen.GEMM_NR);
    expect(Buffer.from(plain).toString('base64')).toBe(gen.GEMM_WASM_BASE64);
    expect(Buffer.from(shared).toString('base64')).toBe(gen.GEMM_WASM_SHARED_BASE64);
  });
});

describe('the module without shared memory (browsers without cross-origin isolation)', () => {
  it('instantiates over an ordinary memory and computes a product', async () => {
    const gen = await import('../src/cpu/gemm-wasm.generated.js');
    const bytes = Uint8Array.from(atob(gen.GEMM_WASM_BASE64), (c) => c.charCodeAt(0));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as {
      gebp(ap: number, bp: number, cp: number, mp: number, np: number, kc: number, ldc: number, acc: number): void;
    };
    // One 4x8 tile with kc = 2: A panel [k][4 rows], B panel [k][8 cols].
    const f = new Float32Array(memory.buffer);
    f.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    f.set([1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 2, 3, 4, 5, 6, 7], 16);
    ex.gebp(0, 64, 256, 1, 1, 2, 32, 0);
    // C[r][c] = A[r][0]·1 + A[r][1]·c with A[r] = (r+1, r+5).
    const C = Array.from(f.subarray(64, 96));
    expect(C).toEqual(Array.from({ length: 32 }, (_, i) => Math.floor(i / 8) + 1 + (Math.floor(i / 8) + 5) * (i % 8)));
  });
});
