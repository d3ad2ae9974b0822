// npm run bench (in packages/tensor): float32 matmul, normkit vs onnxruntime-node, in one run.
//
// For each size: the same seeded inputs go to onnxruntime-node (a one-node MatMul model built in
// memory; intraOpNumThreads = interOpNumThreads = 1), to normkit on one thread, and to normkit with
// worker threads. Runs are interleaved (ort, normkit-1, normkit-T, ort, ...) so load from other
// processes hits all three alike; we report medians. Writes bench/results.json and bench/results.md.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { conv, disposeGemmThreads, gemmInfo, gemmThreads, matmul, setGemmThreads, Tensor } from '../src/index.js';
import { convModel, matmulModel } from './ort-model.js';

const here = dirname(fileURLToPath(import.meta.url));
const SIZES: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [128, 768, 3072],
];
const quick = process.argv.includes('--quick');
const threads = Math.max(2, gemmThreads());

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Row {
  m: number;
  k: number;
  n: number;
  runs: number;
  ortMs: number;
  normkitMs: number;
  normkitThreadsMs: number;
  ortGflops: number;
  normkitGflops: number;
  normkitThreadsGflops: number;
  ratio: number;
  ratioThreads: number;
  /** Best (minimum-time) run of each, less sensitive to other processes on a shared machine. */
  best: { ortGflops: number; normkitGflops: number; normkitThreadsGflops: number };
  maxAbsDiff: number;
}

async function benchSize(m: number, k: number, n: number): Promise<Row> {
  const flop = 2 * m * k * n;
  const runs = quick ? 3 : Math.max(5, Math.min(25, Math.round(4e9 / flop)));
  const a = Tensor.randn([m, k], 1);
  const b = Tensor.randn([k, n], 2);
  const session = await ort.InferenceSession.create(matmulModel(m, k, n), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const feeds = {
    A: new ort.Tensor('float32', a.data as Float32Array, [m, k]),
    B: new ort.Tensor('float32', b.data as Float32Array, [k, n]),
  };
  const ortRun = async () => (await session.run(feeds)).Y!.data as Float32Array;
  const nk = (t: number) => {
    setGemmThreads(t);
    return matmul(a, b).data as Float32Array;
  };
  // Warm-up (also starts the helper threads and lets them come up).
  const ref = await ortRun();
  nk(1);
  nk(threads);
  await new Promise((r) => setTimeout(r, 200));
  const mine = nk(threads);
  let maxAbsDiff = 0;
  for (let i = 0; i < ref.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref[i]! - mine[i]!));
  const tOrt: number[] = [];
  const tOne: number[] = [];
  const tThr: number[] = [];
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    await ortRun();
    tOrt.push(performance.now() - t0);
    t0 = performance.now();
    nk(1);
    tOne.push(performance.now() - t0);
    t0 = performance.now();
    nk(threads);
    tThr.push(performance.now() - t0);
  }
  await session.release();
  const [o, one, thr] = [median(tOrt), median(tOne), median(tThr)];
  const g = (ms: number) => flop / ms / 1e6;
  return {
    m,
    k,
    n,
    runs,
    ortMs: o,
    normkitMs: one,
    normkitThreadsMs: thr,
    ortGflops: g(o),
    normkitGflops: g(one),
    normkitThreadsGflops: g(thr),
    ratio: o / one,
    ratioThreads: o / thr,
    best: { ortGflops: g(Math.min(...tOrt)), normkitGflops: g(Math.min(...tOne)), normkitThreadsGflops: g(Math.min(...tThr)) },
    maxAbsDiff,
  };
}

const load0 = os.loadavg()[0]!;
const rows: Row[] = [];
for (const [m, k, n] of SIZES) {
  const r = await benchSize(m, k, n);
  rows.push(r);
  console.log(
    `${m}x${k} · ${k}x${n}: ort ${r.ortGflops.toFixed(1)} GFLOP/s, normkit ${r.normkitGflops.toFixed(1)} (${r.ratio.toFixed(2)}x), ` +
      `normkit ${threads} threads ${r.normkitThreadsGflops.toFixed(1)} (${r.ratioThreads.toFixed(2)}x), max |diff| ${r.maxAbsDiff.toExponential(1)}`,
  );
}
// Convolution (im2col + the same GEMM): a ResNet-style 3×3 layer and a strided 1-D layer.
interface ConvRow {
  name: string;
  x: number[];
  w: number[];
  runs: number;
  ortGflops: number;
  normkitGflops: number;
  normkitThreadsGflops: number;
  ratio: number;
  ratioThreads: number;
  maxAbsDiff: number;
}
const CONVS: { name: string; x: number[]; w: number[]; pads: number[]; strides: number[] }[] = [
  { name: 'conv2d 3×3, 64→64 ch, 56×56, pad 1', x: [1, 64, 56, 56], w: [64, 64, 3, 3], pads: [1, 1, 1, 1], strides: [1, 1] },
  { name: 'conv1d k=5 stride 2, 128→256 ch, L=1024', x: [1, 128, 1024], w: [256, 128, 5], pads: [2, 2], strides: [2] },
];
const convRows: ConvRow[] = [];
for (const c of CONVS) {
  const x = Tensor.randn(c.x, 3);
  const w = Tensor.randn(c.w, 4, { std: 0.05 });
  const session = await ort.InferenceSession.create(convModel(c.x, c.w, c.pads, c.strides), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { X: new ort.Tensor('float32', x.data as Float32Array, c.x), W: new ort.Tensor('float32', w.data as Float32Array, c.w) };
  const ortRun = async () => (await session.run(feeds)).Y!;
  const nk = (t: number) => {
    setGemmThreads(t);
    return conv(x, w, undefined, { pads: c.pads, strides: c.strides });
  };
  const ref = await ortRun();
  nk(1);
  nk(threads);
  await new Promise((r) => setTimeout(r, 200));
  const y = nk(threads);
  // Multiply-adds: every output element sums Cin·prod(kernel) products.
  const flop = 2 * y.size * c.w.slice(1).reduce((a, b) => a * b, 1);
  const refData = ref.data as Float32Array;
  let maxAbsDiff = 0;
  for (let i = 0; i < refData.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(refData[i]! - (y.data as Float32Array)[i]!));
  const runs = quick ? 3 : 9;
  const tO: number[] = [];
  const t1: number[] = [];
  const tT: number[] = [];
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    await ortRun();
    tO.push(performance.now() - t0);
    t0 = performance.now();
    nk(1);
    t1.push(performance.now() - t0);
    t0 = performance.now();
    nk(threads);
    tT.push(performance.now() - t0);
  }
  await session.release();
  const g = (ms: number) => flop / ms / 1e6;
  const [o, one, thr] = [median(tO), median(t1), median(tT)];
  const row = {
    name: c.name,
    x: c.x,
    w: c.w,
    runs,
    ortGflops: g(o),
    normkitGflops: g(one),
    normkitThreadsGflops: g(thr),
    ratio: o / one,
    ratioThreads: o / thr,
    maxAbsDiff,
  };
  convRows.push(row);
  console.log(
    `${c.name}: ort ${row.ortGflops.toFixed(1)} GFLOP/s, normkit ${row.normkitGflops.toFixed(1)} (${row.ratio.toFixed(2)}x), threads ${row.normkitThreadsGflops.toFixed(1)} (${row.ratioThreads.toFixed(2)}x), max |diff| ${maxAbsDiff.toExponential(1)}`,
  );
}

const info = gemmInfo();
disposeGemmThreads();
const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  node: process.version,
  onnxruntime: (ort.env as { versions?: { common?: string } }).versions?.common ?? 'unknown',
  loadAverageAtStart: Number(load0.toFixed(2)),
  loadAverageAtEnd: Number(os.loadavg()[0]!.toFixed(2)),
  date: new Date().toISOString(),
};
writeFileSync(join(here, 'results.json'), `${JSON.stringify({ machine, kernel: { ...info, threads }, rows, conv: convRows }, null, 2)}\n`);
const md = [
  '# @normkit/tensor matmul and conv benchmark',
  '',
  `float32 C = A·B, median of interleaved runs. onnxruntime-node ${machine.onnxruntime} with intraOpNumThreads = interOpNumThreads = 1;`,
  `normkit: WebAssembly SIMD kernel (${info.tile} register tile) on 1 thread, and on ${threads} threads (worker_threads).`,
  `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverageAtStart} → ${machine.loadAverageAtEnd} (shared machine), ${machine.date}.`,
  '',
  '| size (M×K · K×N) | runs | onnxruntime 1 thread GFLOP/s | normkit 1 thread GFLOP/s | ratio normkit/ort | normkit threads GFLOP/s | ratio (threads)/ort | max abs diff |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.m}×${r.k} · ${r.k}×${r.n} | ${r.runs} | ${r.ortGflops.toFixed(1)} | ${r.normkitGflops.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.normkitThreadsGflops.toFixed(1)} | ${r.ratioThreads.toFixed(2)} | ${r.maxAbsDiff.toExponential(1)} |`,
  ),
  '',
  'Best run of each (minimum time; the machine is shared, so medians include interference from other processes):',
  '',
  '| size | onnxruntime 1 thread | normkit 1 thread | ratio | normkit threads | ratio (threads) |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.m}×${r.k} · ${r.k}×${r.n} | ${r.best.ortGflops.toFixed(1)} | ${r.best.normkitGflops.toFixed(1)} | ${(r.best.normkitGflops / r.best.ortGflops).toFixed(2)} | ${r.best.normkitThreadsGflops.toFixed(1)} | ${(r.best.normkitThreadsGflops / r.best.ortGflops).toFixed(2)} |`,
  ),
  '',
  'Convolution (normkit: im2col + the same GEMM; onnxruntime Conv, 1 thread), medians:',
  '',
  '| layer | input | weight | onnxruntime GFLOP/s | normkit 1 thread | ratio | normkit threads | ratio (threads) | max abs diff |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ...convRows.map(
    (r) =>
      `| ${r.name} | ${r.x.join('×')} | ${r.w.join('×')} | ${r.ortGflops.toFixed(1)} | ${r.normkitGflops.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.normkitThreadsGflops.toFixed(1)} | ${r.ratioThreads.toFixed(2)} | ${r.maxAbsDiff.toExponential(1)} |`,
  ),
  '',
  'Reproduce: `cd packages/tensor && npm run bench` (`-- --quick` for 3 runs per size).',
  '',
];
writeFileSync(join(here, 'results.md'), md.join('\n'));
console.log('wrote bench/results.json and bench/results.md');
