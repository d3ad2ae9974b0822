// LayerNorm vs RMSNorm forward on [tokens × d]: normkit (fused CPU kernels) against a Float32Array
// copy (the memory-bound limit) and onnxruntime-node (LayerNormalization opset 17, RMSNormalization
// opset 23, one thread). Each normkit op is timed twice: allocating its output (`layerNorm(x, opts)`)
// and writing into a preallocated one (`layerNorm(x, { ...opts, out })`). Then the float32 backward
// passes (layerNormBackward, rmsNormBackward, parallelLayerNormBackward) on the backend's fused
// kernels against the float64 host path they replace, timed in interleaved samples. Medians of timed
// samples; writes bench/results.json and bench/results.md.
//   taskset -c 1 npm run bench            (in packages/norm; pinned to one core)
//   npm run bench -- --quick              (fewer samples)
//   npm run bench -- --backward           (only the backward rows; results go to the console)
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { type Backend, CpuBackend, Tensor, withBackend } from '@normkit/tensor';
import onnx from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { layerNorm, layerNormBackward, parallelLayerNorm, parallelLayerNormBackward, rmsNorm, rmsNormBackward } from '../src/index.js';

const QUICK = process.argv.includes('--quick');
/** Results go next to this file, or to $BENCH_OUT (used when the bench runs bundled on another machine). */
const outPath = (f: string) => (process.env.BENCH_OUT ? `${process.env.BENCH_OUT}/${f}` : new URL(`./${f}`, import.meta.url));
const SAMPLES = QUICK ? 7 : 21;
const SAMPLE_MS = QUICK ? 2 : 5;
const DS = [768, 1024, 4096];
const TOKENS = [1, 128, 2048];
const BACKWARD_ONLY = process.argv.includes('--backward');
const BWD_DS = [256, 768];
const BWD_ROWS = [128, 3200];

ort.env.logLevel = 'error';
const P = onnx.onnx;

function model(op: 'LayerNormalization' | 'RMSNormalization', tokens: number, d: number): Uint8Array {
  const F = P.TensorProto.DataType.FLOAT;
  const vi = (name: string, dims: number[]) =>
    P.ValueInfoProto.create({
      name,
      type: P.TypeProto.create({
        tensorType: P.TypeProto.Tensor.create({
          elemType: F,
          shape: P.TensorShapeProto.create({ dim: dims.map((v) => P.TensorShapeProto.Dimension.create({ dimValue: v })) }),
        }),
      }),
    });
  const withBias = op === 'LayerNormalization';
  const inputs = withBias ? ['x', 'g', 'b'] : ['x', 'g'];
  const graph = P.GraphProto.create({
    name: op,
    node: [
      P.NodeProto.create({
        opType: op,
        name: 'n',
        input: inputs,
        output: ['y'],
        attribute: [
          P.AttributeProto.create({ name: 'axis', type: P.AttributeProto.AttributeType.INT, i: -1 }),
          P.AttributeProto.create({ name: 'epsilon', type: P.AttributeProto.AttributeType.FLOAT, f: 1e-5 }),
        ],
      }),
    ],
    input: [vi('x', [tokens, d]), vi('g', [d]), ...(withBias ? [vi('b', [d])] : [])],
    output: [vi('y', [tokens, d])],
  });
  const m = P.ModelProto.create({
    irVersion: 10,
    producerName: 'normkit-bench',
    opsetImport: [P.OperatorSetIdProto.create({ domain: '', version: op === 'LayerNormalization' ? 17 : 23 })],
    graph,
  });
  return P.ModelProto.encode(m).finish();
}

/** Median seconds per call of a synchronous function, calls batched so a sample lasts ≥ SAMPLE_MS. */
function timeSync(fn: () => unknown): number {
  for (let i = 0; i < 3; i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= SAMPLE_MS || reps >= 1 << 20) break;
    reps *= 2;
  }
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    samples.push((performance.now() - t0) / 1000 / reps);
  }
  return median(samples);
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    const dt = performance.now() - t0;
    if (dt >= SAMPLE_MS || reps >= 1 << 16) break;
    reps *= 2;
  }
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    samples.push((performance.now() - t0) / 1000 / reps);
  }
  return median(samples);
}

/** The CPUs this process may run on (Linux: from /proc/self/status), to show whether the run was pinned. */
function cpusAllowed(): string {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Row {
  tokens: number;
  d: number;
  bytes: number;
  copySetUs: number;
  copyLoopUs: number;
  copySliceUs: number;
  lnOverSlice: number;
  lnUs: number;
  rmsUs: number;
  lnOutUs: number;
  rmsOutUs: number;
  lnOutOverCopy: number;
  lnOutOverRmsOut: number;
  ortLnUs: number;
  ortRmsUs: number;
  lnGBs: number;
  rmsGBs: number;
  copyGBs: number;
  lnOverRms: number;
  lnOverCopy: number;
  ortLnOverRms: number;
}

/**
 * Median seconds per call of each function, from interleaved samples: every sample times each
 * function in turn (calls batched so a sample lasts ≥ SAMPLE_MS), so drifting machine load hits all
 * alike.
 */
function timeInterleaved(fns: (() => unknown)[]): number[] {
  const reps = fns.map((fn) => {
    for (let i = 0; i < 2; i++) fn();
    let r = 1;
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < r; i++) fn();
      if (performance.now() - t0 >= SAMPLE_MS || r >= 1 << 20) return r;
      r *= 2;
    }
  });
  const samples: number[][] = fns.map(() => []);
  for (let s = 0; s < SAMPLES; s++) {
    fns.forEach((fn, k) => {
      const t0 = performance.now();
      for (let i = 0; i < (reps[k] as number); i++) fn();
      (samples[k] as number[]).push((performance.now() - t0) / 1000 / (reps[k] as number));
    });
  }
  return samples.map(median);
}

interface BackwardRow {
  op: string;
  rows: number;
  d: number;
  /** The float64 host path (a backend without fused backward kernels), µs per call. */
  hostUs: number;
  /** The CPU backend's fused float32 kernels (WebAssembly SIMD), µs per call, interleaved with the host path. */
  kernelUs: number;
  speedup: number;
  /** The kernels timed on their own, after the interleaved samples (no host-path garbage around them). */
  kernelAloneUs: number;
  /** The forward op on the same input, allocating, timed on its own: for scale. */
  forwardUs: number;
}

/** The CPU backend without its fused backward kernels: the norm package then runs its float64 host path. */
function hostOnlyBackend(): Backend {
  const backend = Object.create(new CpuBackend()) as Backend;
  Object.defineProperty(backend, 'name', { value: 'cpu-host-backward' });
  backend.layerNormBackward = undefined;
  backend.rmsNormBackward = undefined;
  return backend;
}

/** Backward rows: LN (γ, β), RMSNorm (γ) and PLN-8 (γ, β) on float32 [rows × d], host path vs kernels. */
function backwardRows(): BackwardRow[] {
  const host = hostOnlyBackend();
  const cpu = new CpuBackend();
  const out: BackwardRow[] = [];
  for (const d of BWD_DS) {
    for (const rows of BWD_ROWS) {
      const x = Tensor.randn([rows, d], 11);
      const dy = Tensor.randn([rows, d], 12);
      const scale = Tensor.randn([d], 13, { mean: 1, std: 0.1 });
      const bias = Tensor.randn([d], 14, { std: 0.1 });
      const ops: [string, () => unknown, () => unknown][] = [
        ['LN', () => layerNormBackward(dy, x, { scale, bias }), () => layerNorm(x, { scale, bias })],
        ['RMS', () => rmsNormBackward(dy, x, { scale }), () => rmsNorm(x, { scale })],
        [
          'PLN-8',
          () => parallelLayerNormBackward(dy, x, { groupSize: 8, scale, bias }),
          () => parallelLayerNorm(x, { groupSize: 8, scale, bias }),
        ],
      ];
      for (const [op, backward, forward] of ops) {
        const [hostS, kernelS] = timeInterleaved([() => withBackend(host, backward), () => withBackend(cpu, backward)]) as [number, number];
        const kernelAlone = withBackend(cpu, () => timeSync(backward));
        const forwardS = withBackend(cpu, () => timeSync(forward));
        const us = (v: number) => v * 1e6;
        const row = {
          op,
          rows,
          d,
          hostUs: us(hostS),
          kernelUs: us(kernelS),
          speedup: hostS / kernelS,
          kernelAloneUs: us(kernelAlone),
          forwardUs: us(forwardS),
        };
        out.push(row);
        console.log(
          `backward ${op} d=${d} rows=${rows}: host ${row.hostUs.toFixed(0)}µs  kernel ${row.kernelUs.toFixed(1)}µs  ${row.speedup.toFixed(1)}×  (alone ${row.kernelAloneUs.toFixed(1)}µs, forward ${row.forwardUs.toFixed(1)}µs)`,
        );
      }
    }
  }
  return out;
}

/** The markdown section of the backward rows. */
function backwardMarkdown(rows: BackwardRow[]): string[] {
  const f = (v: number, p = 1) => v.toFixed(p);
  return [
    '## Backward (float32): float64 host path vs fused kernels',
    '',
    '`layerNormBackward` (γ, β), `rmsNormBackward` (γ), `parallelLayerNormBackward` (groups of 8, γ, β) on float32 [rows × d], with dγ, dβ: the CPU backend without its fused backward kernels (the float64 host path every backend without them runs) against the CPU backend (`Backend.layerNormBackward` / `rmsNormBackward`, WebAssembly SIMD), timed in interleaved samples; then the kernels on their own and the forward op (allocating) on the same input, for scale.',
    '',
    '| op | d | rows | host µs | kernel µs | **speed-up** | kernel alone µs | forward µs | alone/forward |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.op} | ${r.d} | ${r.rows} | ${f(r.hostUs, 0)} | ${f(r.kernelUs)} | **${f(r.speedup)}×** | ${f(r.kernelAloneUs)} | ${f(r.forwardUs)} | ${f(r.kernelAloneUs / r.forwardUs, 2)} |`,
    ),
    '',
  ];
}

async function main() {
  if (BACKWARD_ONLY) {
    backwardRows();
    return;
  }
  const rows: Row[] = [];
  for (const d of DS) {
    for (const tokens of TOKENS) {
      const n = tokens * d;
      const x = Tensor.randn([tokens, d], 1);
      const g = Tensor.randn([d], 2, { mean: 1, std: 0.1 });
      const b = Tensor.randn([d], 3, { std: 0.1 });
      const src = x.data as Float32Array;
      const dst = new Float32Array(n);
      const copySet = timeSync(() => dst.set(src));
      const copyLoop = timeSync(() => {
        for (let i = 0; i < n; i++) dst[i] = src[i] as number;
      });
      // An out-of-place op must also allocate its output: src.slice() is that limit.
      const copySlice = timeSync(() => src.slice());
      const ln = timeSync(() => layerNorm(x, { scale: g, bias: b }));
      const rms = timeSync(() => rmsNorm(x, { scale: g, bias: b }));
      const out = Tensor.zeros([tokens, d]);
      const lnOut = timeSync(() => layerNorm(x, { scale: g, bias: b, out }));
      const rmsOut = timeSync(() => rmsNorm(x, { scale: g, bias: b, out }));
      const opt = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const };
      const sLn = await ort.InferenceSession.create(model('LayerNormalization', tokens, d), opt);
      const sRms = await ort.InferenceSession.create(model('RMSNormalization', tokens, d), opt);
      const tx = new ort.Tensor('float32', src, [tokens, d]);
      const tg = new ort.Tensor('float32', g.data as Float32Array, [d]);
      const tb = new ort.Tensor('float32', b.data as Float32Array, [d]);
      const ortLn = await timeAsync(() => sLn.run({ x: tx, g: tg, b: tb }));
      const ortRms = await timeAsync(() => sRms.run({ x: tx, g: tg }));
      await sLn.release();
      await sRms.release();
      const bytes = 2 * n * 4; // read x, write y (parameters are d-sized and stay in cache)
      const row: Row = {
        tokens,
        d,
        bytes,
        copySetUs: copySet * 1e6,
        copyLoopUs: copyLoop * 1e6,
        copySliceUs: copySlice * 1e6,
        lnOverSlice: ln / copySlice,
        lnUs: ln * 1e6,
        rmsUs: rms * 1e6,
        lnOutUs: lnOut * 1e6,
        rmsOutUs: rmsOut * 1e6,
        lnOutOverCopy: lnOut / copySet,
        lnOutOverRmsOut: lnOut / rmsOut,
        ortLnUs: ortLn * 1e6,
        ortRmsUs: ortRms * 1e6,
        lnGBs: bytes / ln / 1e9,
        rmsGBs: bytes / rms / 1e9,
        copyGBs: bytes / copySet / 1e9,
        lnOverRms: ln / rms,
        lnOverCopy: ln / copySet,
        ortLnOverRms: ortLn / ortRms,
      };
      rows.push(row);
      console.log(
        `d=${d} tokens=${tokens}: LN ${row.lnUs.toFixed(1)}µs (${row.lnGBs.toFixed(2)} GB/s)  RMS ${row.rmsUs.toFixed(1)}µs  LN/RMS ${row.lnOverRms.toFixed(2)}  copy ${row.copySetUs.toFixed(1)}µs  LN/copy ${row.lnOverCopy.toFixed(2)}  LN-out ${row.lnOutUs.toFixed(1)}µs RMS-out ${row.rmsOutUs.toFixed(1)}µs LN-out/copy ${row.lnOutOverCopy.toFixed(2)} LN-out/RMS-out ${row.lnOutOverRmsOut.toFixed(2)}  ORT LN ${row.ortLnUs.toFixed(1)}µs RMS ${row.ortRmsUs.toFixed(1)}µs`,
      );
    }
  }
  const backward = backwardRows();
  const target = rows.find((r) => r.d === 768 && r.tokens === 128) as Row;
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    cpusAllowed: cpusAllowed(),
    loadavg: os.loadavg(),
    samples: SAMPLES,
    sampleMs: SAMPLE_MS,
    ortVersion: (ort.env as { versions?: { common?: string } }).versions?.common ?? 'unknown',
    note: 'normkit: @normkit/norm layerNorm / rmsNorm (scale + bias, float32, CPU backend: WebAssembly SIMD kernels), allocating (LN, RMS) and into a preallocated `out` (LN-out, RMS-out). ORT: onnxruntime-node, 1 intra-op thread, LayerNormalization opset 17 (scale + bias), RMSNormalization opset 23 (scale). GB/s counts bytes read + written of x and y. Copy = Float32Array.prototype.set (memcpy).',
  };
  const within = (r: Row) => r.lnOutOverCopy <= 2;
  const targets = {
    rmsSpeedupAt768x128: target.lnOutOverRmsOut,
    rmsSpeedupMet: target.lnOutOverRmsOut >= 1.3,
    rmsSpeedupAllocatingAt768x128: target.lnOverRms,
    lnOutOverCopyAt768x128: target.lnOutOverCopy,
    lnOutWithin2xOfCopyAt768x128: within(target),
    lnOutWithin2xOfCopyEverywhere: rows.every(within),
    lnOutWithin2xOfCopyCount: `${rows.filter(within).length}/${rows.length}`,
    lnOutWithin2xOfCopyShapes: rows.filter(within).map((r) => `${r.d}x${r.tokens}`),
    lnWithin2xOfAllocatingCopyCount: `${rows.filter((r) => r.lnOverSlice <= 2).length}/${rows.length}`,
  };
  writeFileSync(outPath('results.json'), `${JSON.stringify({ meta, targets, rows, backward }, null, 2)}\n`);
  const f = (v: number, p = 1) => v.toFixed(p);
  const md = [
    '# @normkit/norm benchmark: LayerNorm vs RMSNorm forward, and the float32 backward kernels',
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores, this process on CPUs ${meta.cpusAllowed}, load ${meta.loadavg.map((v) => v.toFixed(1)).join('/')}) · onnxruntime-node ${meta.ortVersion} · median of ${SAMPLES} samples`,
    '',
    `Command: \`cd packages/norm && taskset -c 1 npm run bench\`. ${meta.note}`,
    '',
    '| d | tokens | copy µs | copy GB/s | LN µs | LN GB/s | RMS µs | RMS GB/s | **LN/RMS** | LN/copy | LN-out µs | RMS-out µs | **LN-out/copy** | **LN-out/RMS-out** | ORT LN µs | ORT RMS µs | ORT LN/RMS | JS-loop copy µs | slice() µs | LN/slice |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.d} | ${r.tokens} | ${f(r.copySetUs, 2)} | ${f(r.copyGBs)} | ${f(r.lnUs, 2)} | ${f(r.lnGBs)} | ${f(r.rmsUs, 2)} | ${f(r.rmsGBs)} | **${f(r.lnOverRms, 2)}** | ${f(r.lnOverCopy, 2)} | ${f(r.lnOutUs, 2)} | ${f(r.rmsOutUs, 2)} | **${f(r.lnOutOverCopy, 2)}** | **${f(r.lnOutOverRmsOut, 2)}** | ${f(r.ortLnUs, 2)} | ${f(r.ortRmsUs, 2)} | ${f(r.ortLnOverRms, 2)} | ${f(r.copyLoopUs, 2)} | ${f(r.copySliceUs, 2)} | ${f(r.lnOverSlice, 2)} |`,
    ),
    '',
    '## Targets (measured on the `out` variants)',
    '',
    `- RMSNorm ≥ 1.3× faster than LayerNorm at d = 768, tokens = 128 (LN-out/RMS-out): **${f(target.lnOutOverRmsOut, 2)}×** → ${targets.rmsSpeedupMet ? 'met' : 'NOT met'} (allocating LN/RMS: ${f(target.lnOverRms, 2)}×)`,
    `- LayerNorm into a preallocated output within 2× of a Float32Array copy into a preallocated buffer (\`set\`), LN-out/copy ≤ 2: at d = 768, tokens = 128: **${f(target.lnOutOverCopy, 2)}×** → ${targets.lnOutWithin2xOfCopyAt768x128 ? 'met' : 'NOT met'}; ${targets.lnOutWithin2xOfCopyCount} shapes (${targets.lnOutWithin2xOfCopyShapes.join(', ') || 'none'})`,
    `- Allocating LayerNorm within 2× of an allocating copy (\`slice\`): ${targets.lnWithin2xOfAllocatingCopyCount} shapes (at d = 768, tokens = 128: ${f(target.lnOverSlice, 2)}×)`,
    '',
    ...backwardMarkdown(backward),
  ].join('\n');
  // The hand-written reading of the numbers (from "## Reading the numbers" on) is kept across runs.
  let notes = '';
  try {
    const prev = readFileSync(outPath('results.md'), 'utf8');
    const at = prev.indexOf('## Reading the numbers');
    if (at >= 0) notes = `\n${prev.slice(at)}`;
  } catch {
    // first run
  }
  writeFileSync(outPath('results.md'), md + notes);
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
