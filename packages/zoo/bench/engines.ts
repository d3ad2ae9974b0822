// Three engines side by side on every zoo architecture at its small size: normkit's executor (CPU
// backend), onnxruntime-web (WebAssembly, the JavaScript peer) and onnxruntime-node (native, the
// ceiling), one thread each, in one process and one run. Rounds rotate the engines' order; medians and
// quartiles per engine. Outputs are compared across engines so a fast wrong answer cannot pass.
//
//   npm run bench:engines            (in packages/zoo; BENCH_QUICK=1 for a short run)
//
// Writes bench/engines.json and bench/engines.md (the default: relaxed SIMD's fused multiply-add, which
// normkit turns on in Node 20 and engines ≥ Node 22 and Chrome have); with NORMKIT_RELAXED_SIMD=0
// (`npm run bench:engines:no-fma`, as engines without relaxed SIMD run), bench/engines-no-fma.{json,md};
// with BENCH_Q8=1 (`npm run bench:engines:q8`), the models in onnxruntime's dynamic q8 form
// (`quantizeDynamic`, 7-bit weights), bench/engines-q8.{json,md}.
import { writeFileSync } from 'node:fs';
import { Executor, type Model, randomInputs } from '@normkit/graph';
import { encodeModel } from '@normkit/onnx';
import { gemmInfo, relaxedSimd, type Tensor } from '@normkit/tensor';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { architectures, buildModel, quantizeDynamic } from '../src/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const Q8 = process.env.BENCH_Q8 === '1';
const ROUNDS = QUICK ? 3 : 11;
const BUDGET_MS = QUICK ? 10_000 : 60_000; // per model, after the warm-up
if (process.env.NORMKIT_THREADS !== '1')
  throw new Error('run with NORMKIT_THREADS=1 (npm run bench:engines sets it): one thread per engine');
ortWeb.env.wasm.numThreads = 1;
ortNode.env.logLevel = 'error';
ortWeb.env.logLevel = 'error';

type Outputs = Record<string, Float32Array>;
interface Engine {
  name: string;
  run(): Promise<Outputs>;
}

const quartiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => {
    const i = q * (s.length - 1);
    const lo = Math.floor(i);
    return (s[lo] as number) + ((s[Math.ceil(i)] as number) - (s[lo] as number)) * (i - lo);
  };
  return { q1: at(0.25), median: at(0.5), q3: at(0.75) };
};

/**
 * The median over rounds of a's time / b's time in the same round: engines of one round run back to
 * back, so load that comes and goes on a shared machine mostly cancels out of the ratio.
 */
function pairedRatio(times: Record<string, number[]>, a: string, b: string): number {
  const [ta, tb] = [times[a] as number[], times[b] as number[]];
  return quartiles(ta.map((t, i) => t / (tb[i] as number))).median;
}

type OrtLib = typeof ortNode | typeof ortWeb;
function ortFeed(lib: OrtLib, feed: Record<string, Tensor>) {
  const f: Record<string, InstanceType<OrtLib['Tensor']>> = {};
  for (const [k, t] of Object.entries(feed)) f[k] = new lib.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
  return f;
}

async function ortEngine(name: string, lib: OrtLib, bytes: Uint8Array, feed: Record<string, Tensor>): Promise<Engine> {
  const opts =
    lib === ortNode
      ? { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const }
      : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' as const };
  const session = await lib.InferenceSession.create(bytes, opts as never);
  const f = ortFeed(lib, feed);
  return {
    name,
    run: async () => {
      const out = await session.run(f as never);
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float32Array.from(v.data as Float32Array)]));
    },
  };
}

function normkitEngine(m: Model, feed: Record<string, Tensor>): Engine {
  const ex = new Executor(m);
  return {
    name: 'normkit',
    run: async () => {
      const out = ex.run(feed).outputs;
      return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
    },
  };
}

/** Largest |a − b| / (1 + |b|) over every output element. */
function maxRelDiff(a: Outputs, b: Outputs): number {
  let worst = 0;
  for (const [k, x] of Object.entries(b)) {
    const y = a[k];
    if (!y || y.length !== x.length) return Number.POSITIVE_INFINITY;
    for (let i = 0; i < x.length; i++)
      worst = Math.max(worst, Math.abs((y[i] as number) - (x[i] as number)) / (1 + Math.abs(x[i] as number)));
  }
  return worst;
}

interface Row {
  model: string;
  params: number;
  input: string;
  rounds: number;
  ms: Record<string, { q1: number; median: number; q3: number }>;
  /** onnxruntime-web / normkit: > 1 means normkit is faster than the JavaScript peer. */
  vsWeb: number;
  /** normkit / onnxruntime-node: how many times native's time normkit takes (target ≤ 3). */
  vsNative: number;
  /** Largest relative output difference of normkit and of onnxruntime-web against onnxruntime-node. */
  agreement: { normkit: number; web: number; normkitVsWeb: number };
}

async function measure(arch: string): Promise<Row> {
  const float = buildModel(arch, { size: 'small', seed: 0 });
  const m = Q8 ? quantizeDynamic(float, { reduceRange: true }) : float;
  const feed = randomInputs(m, 0);
  const bytes = encodeModel(m);
  const engines = [
    normkitEngine(m, feed),
    await ortEngine('onnxruntime-web', ortWeb, bytes, feed),
    await ortEngine('onnxruntime-node', ortNode, bytes, feed),
  ];
  const first: Record<string, Outputs> = {};
  for (const e of engines) first[e.name] = await e.run(); // warm-up, and the outputs to compare
  const times: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
  const start = performance.now();
  let rounds = 0;
  while (rounds < ROUNDS && (rounds < 3 || performance.now() - start < BUDGET_MS)) {
    for (let j = 0; j < engines.length; j++) {
      const e = engines[(rounds + j) % engines.length] as Engine;
      const t = performance.now();
      await e.run();
      times[e.name]?.push(performance.now() - t);
    }
    rounds++;
  }
  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, quartiles(v)]));
  const params = [...m.graph.initializers.values()].reduce((s, t) => s + t.size, 0);
  const input = Object.entries(feed)
    .map(([k, t]) => `${k} [${t.shape.join('×')}]`)
    .join(', ');
  const native = first['onnxruntime-node'] as Outputs;
  return {
    model: arch,
    params,
    input,
    rounds,
    ms,
    vsWeb: pairedRatio(times, 'onnxruntime-web', 'normkit'),
    vsNative: pairedRatio(times, 'normkit', 'onnxruntime-node'),
    agreement: {
      normkit: maxRelDiff(first.normkit as Outputs, native),
      web: maxRelDiff(first['onnxruntime-web'] as Outputs, native),
      normkitVsWeb: maxRelDiff(first.normkit as Outputs, first['onnxruntime-web'] as Outputs),
    },
  };
}

const t0 = performance.now();
const rows: Row[] = [];
for (const a of architectures) {
  process.stderr.write(`[engines] ${a.name} (small) ...\n`);
  rows.push(await measure(a.name));
}
const env = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  onnxruntime: ortWeb.env.versions,
  seconds: (performance.now() - t0) / 1000,
  quick: QUICK,
  /** normkit's GEMM used relaxed SIMD's fused multiply-add. */
  fma: gemmInfo().fma,
  /** Where relaxed SIMD came from: the engine, or V8's flag turned on by normkit (Node 20). */
  relaxedSimd: relaxedSimd(),
};
const url = (f: string) => new URL(f, import.meta.url);
const base = Q8 ? 'engines-q8' : env.fma ? 'engines' : 'engines-no-fma';
writeFileSync(url(`${base}.json`), `${JSON.stringify({ env, rows }, null, 2)}\n`);
const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const cell = (r: Row, k: string) => `${f(r.ms[k]?.median as number)} (${f(r.ms[k]?.q1 as number)}–${f(r.ms[k]?.q3 as number)})`;
const md = [
  `# Engines side by side${Q8 ? ' on q8 models' : ''}: normkit, onnxruntime-web, onnxruntime-node${env.fma ? '' : ' (without relaxed SIMD)'}`,
  '',
  ...(Q8
    ? [
        "Every MatMul with a weight rewritten in onnxruntime's dynamic-quantization form, as transformers.js ships `model_quantized.onnx` (`quantizeDynamic(model, { reduceRange: true })`: DynamicQuantizeLinear, MatMulInteger, Cast, Mul). Weights in 7 bits, since onnxruntime's AVX2 kernel adds uint8 · int8 product pairs in int16 with saturation and gets full-range int8 weights wrong. The float models: [engines.md](engines.md).",
        '',
      ]
    : env.fma
      ? [
          `normkit's GEMM multiply-adds with relaxed SIMD's \`f32x4.relaxed_madd\` (${env.relaxedSimd === 'flag' ? "Node 20: normkit turned on V8's `--experimental-wasm-relaxed-simd`" : 'the engine has it'}), as in Chrome, Node ≥ 20 and other engines with relaxed SIMD. Without it (\`NORMKIT_RELAXED_SIMD=0\`, as engines without relaxed SIMD run): [engines-no-fma.md](engines-no-fma.md).`,
          '',
        ]
      : [
          "normkit's GEMM with a separate multiply and add (`NORMKIT_RELAXED_SIMD=0`), as engines without relaxed SIMD run it. By default: [engines.md](engines.md).",
          '',
        ]),
  `Generated by \`npm run bench:engines${Q8 ? ':q8' : env.fma ? '' : ':no-fma'}\` in packages/zoo (${env.date}, Node ${env.node}, ${env.platform}, onnxruntime ${env.onnxruntime.web}, ${env.seconds.toFixed(0)} s${QUICK ? ', quick' : ''}). Every zoo architecture at its small size, seeded weights and inputs; one thread per engine (NORMKIT_THREADS=1, onnxruntime-web wasm numThreads = 1, onnxruntime-node intra/inter-op 1 with all graph optimizations); rounds rotate the engines' order; milliseconds as median (quartiles). "vs web" = onnxruntime-web / normkit (> 1: normkit faster) and "vs native" = normkit / onnxruntime-node (the target is ≤ 3), each the median over rounds of the two engines' times in the same round. "agree" = largest |Δ|/(1 + |ref|) of normkit's and onnxruntime-web's outputs against onnxruntime-node's, and of normkit's against onnxruntime-web's.${Q8 ? " On q8 models every engine quantizes activations to 8 bits at run time, so a last-bit difference before a DynamicQuantizeLinear can move a value by a whole quantization step: on GPT-2 and BLOOM (logits up to 60–90) the engines differ by about one step of the logits, each q8 output staying within 2.5% of the largest logit of the float model's (measured on both engines); on the tiny models normkit and onnxruntime-node agree within 1e-5 (packages/zoo/test/quantize.test.ts)." : ''}`,
  '',
  '| model | parameters | input | rounds | normkit ms | onnxruntime-web ms | onnxruntime-node ms | vs web | vs native | agree with native (normkit / web) | normkit vs web |',
  '|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${(r.params / 1e6).toFixed(1)} M | ${r.input} | ${r.rounds} | ${cell(r, 'normkit')} | ${cell(r, 'onnxruntime-web')} | ${cell(r, 'onnxruntime-node')} | **${r.vsWeb.toFixed(2)}×** | ${r.vsNative.toFixed(1)}× | ${r.agreement.normkit.toExponential(0)} / ${r.agreement.web.toExponential(0)} | ${r.agreement.normkitVsWeb.toExponential(0)} |`,
  ),
  '',
];
writeFileSync(url(`${base}.md`), md.join('\n'));
process.stderr.write(`[engines] wrote bench/${base}.md (${env.seconds.toFixed(0)} s)\n`);
