// One com.microsoft MatMulNBits node (N = K = 4096, 4-bit, block 32, packed zero points: a 7B-class
// projection) at M = 1 (decoding one token) and M = 32 rows of A, on one thread and on T threads
// (T = min(4, the machine's parallelism)):
//   normkit fused       the fused 4-bit kernel (W kept packed; what a weight beyond the budget gets)
//   normkit dequantize  W dequantized to float32 on every call, then the float GEMM (what a weight
//                       beyond the budget got before the fused kernel)
//   normkit cached      W dequantized once and kept (what a weight within the 512 MiB budget gets)
//   onnxruntime-node    1.30, intraOpNumThreads 1 or T, accuracy_level 0 (float32 compute)
// Rounds rotate the engines' order; medians of the rounds after a warm-up. Every engine's output is
// compared with onnxruntime's, so a fast wrong answer cannot pass.
//
//   npm run bench:nbits            (in packages/onnx; BENCH_QUICK=1 for 3 rounds)
//
// Writes bench/nbits.json and bench/nbits.md.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Executor, setNBitsDequantizeBudget } from '@normkit/graph';
import { Rng, setGemmThreads, setWasmNBits, Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../src/index.js';
import { model, node, vi } from '../test/proto.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 3 : 15;
const [N, K, BLOCK] = [4096, 4096, 32];
/** The threaded rows' thread count. */
const T = Math.min(4, availableParallelism());

/** The MatMulNBits model: A [M, K] fed; B, scales and packed zero points as seeded initializers. */
function nbitsModel(): Uint8Array {
  const r = new Rng(7);
  const blocks = K / BLOCK;
  const bytes = Uint8Array.from({ length: N * blocks * (BLOCK / 2) }, () => r.int(256));
  const scales = Float32Array.from({ length: N * blocks }, () => r.uniform(0.005, 0.02));
  const zp = Uint8Array.from({ length: N * Math.ceil(blocks / 2) }, () => r.int(256));
  const init = (name: string, dataType: number, dims: number[], raw: Uint8Array) => ({ name, dataType, dims, rawData: raw });
  return model(
    {
      node: [
        node('MatMulNBits', ['a', 'b', 's', 'z'], ['y'], {
          name: 'mnb',
          domain: 'com.microsoft',
          attribute: [
            { name: 'K', type: 2, i: K },
            { name: 'N', type: 2, i: N },
            { name: 'bits', type: 2, i: 4 },
            { name: 'block_size', type: 2, i: BLOCK },
          ] as never,
        }),
      ],
      initializer: [
        init('b', 2, [N, blocks, BLOCK / 2], bytes),
        init('s', 1, [N * blocks], new Uint8Array(scales.buffer)),
        init('z', 2, [zp.length], zp),
      ],
      input: [vi('a', 1, ['M', K])],
      output: [vi('y', 1, ['M', N])],
    },
    {
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
    },
  );
}

interface Engine {
  name: string;
  threads: number;
  run(a: Float32Array, M: number): Promise<Float32Array>;
}

/** A normkit executor on the model, run with the fused kernel switched on or off, the given dequantize budget and threads. */
function normkit(name: string, bytes: Uint8Array, fused: boolean, budget: number, threads: number): Engine {
  const ex = new Executor(decodeModel(bytes, { fileName: 'nbits.onnx' }));
  return {
    name,
    threads,
    run: async (a, M) => {
      const prevBudget = setNBitsDequantizeBudget(budget);
      const prevFused = setWasmNBits(fused);
      const prevThreads = setGemmThreads(threads);
      try {
        return ex.run({ a: new Tensor([M, K], 'float32', a) }).outputs.y?.data as Float32Array;
      } finally {
        setGemmThreads(prevThreads);
        setWasmNBits(prevFused);
        setNBitsDequantizeBudget(prevBudget);
      }
    },
  };
}

async function onnxruntime(bytes: Uint8Array, threads: number): Promise<Engine> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 4 });
  return {
    name: 'onnxruntime-node 1.30',
    threads,
    run: async (a, M) => (await s.run({ a: new ort.Tensor('float32', a, [M, K]) })).y?.data as Float32Array,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? (s[h] as number) : ((s[h - 1] as number) + (s[h] as number)) / 2;
};

/** Worst |x − y| / max(1, |y|). */
function worstDiff(x: Float32Array, y: Float32Array): number {
  let w = 0;
  for (let i = 0; i < y.length; i++) w = Math.max(w, Math.abs((x[i] as number) - (y[i] as number)) / Math.max(1, Math.abs(y[i] as number)));
  return w;
}

interface Row {
  M: number;
  engine: string;
  threads: number;
  medianMs: number;
  minMs: number;
  rounds: number;
  vsOnnxruntime: number;
  worstDiff: number;
}

async function main(): Promise<void> {
  const bytes = nbitsModel();
  const engines = [
    normkit('normkit fused', bytes, true, 0, 1),
    normkit('normkit dequantize every call', bytes, false, 0, 1),
    normkit('normkit cached float32 W', bytes, true, 512 * 2 ** 20, 1),
    await onnxruntime(bytes, 1),
    ...(T > 1
      ? [
          normkit('normkit fused', bytes, true, 0, T),
          normkit('normkit cached float32 W', bytes, true, 512 * 2 ** 20, T),
          await onnxruntime(bytes, T),
        ]
      : []),
  ];
  const key = (e: Engine) => `${e.name}/${e.threads}`;
  const rows: Row[] = [];
  for (const M of [1, 32]) {
    const a = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37) * 0.5);
    const ref = await (engines[3] as Engine).run(a, M);
    const times = new Map<string, number[]>();
    const diffs = new Map<string, number>();
    for (const e of engines) diffs.set(key(e), worstDiff(await e.run(a, M), ref)); // warm-up, and the check
    await new Promise((r) => setTimeout(r, 300)); // the GEMM's helper threads come up
    for (let r = 0; r < ROUNDS; r++)
      for (let i = 0; i < engines.length; i++) {
        const e = engines[(i + r) % engines.length] as Engine;
        const t0 = performance.now();
        await e.run(a, M);
        times.set(key(e), [...(times.get(key(e)) ?? []), performance.now() - t0]);
      }
    for (const e of engines) {
      const t = times.get(key(e)) as number[];
      const ortMs = median(times.get(`onnxruntime-node 1.30/${e.threads}`) as number[]);
      rows.push({
        M,
        engine: e.name,
        threads: e.threads,
        medianMs: median(t),
        minMs: Math.min(...t),
        rounds: t.length,
        vsOnnxruntime: median(t) / ortMs,
        worstDiff: diffs.get(key(e)) as number,
      });
    }
  }
  write(rows);
}

function write(rows: Row[]): void {
  const here = dirname(fileURLToPath(import.meta.url));
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)} at the end), Node ${process.version}`;
  writeFileSync(join(here, 'nbits.json'), `${JSON.stringify({ machine, N, K, block: BLOCK, rows }, null, 2)}\n`);
  const lines = [
    '# MatMulNBits: fused 4-bit kernel vs dequantizing vs onnxruntime-node',
    '',
    `One MatMulNBits node, N = K = ${N}, 4-bit, block ${BLOCK}, packed zero points; ${machine}; medians of ${rows[0]?.rounds} rounds`,
    '(engines rotated each round). "× ort": median time over onnxruntime-node\'s on as many threads. "worst diff": max |y − y_ort| / max(1, |y_ort|).',
    "On a loaded machine the medians carry other jobs' noise; the minimum is the steadier figure.",
    'Regenerate: `npm run bench:nbits` in packages/onnx.',
    '',
    '| M | engine | threads | median ms | min ms | × ort | worst diff |',
    '| -: | :- | -: | -: | -: | -: | -: |',
    ...rows.map(
      (r) =>
        `| ${r.M} | ${r.engine} | ${r.threads} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)} | ${r.vsOnnxruntime.toFixed(2)} | ${r.worstDiff.toExponential(1)} |`,
    ),
    '',
  ];
  writeFileSync(join(here, 'nbits.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

await main();
