/**
 * Benchmark: end-to-end inference time of GPT-2-small-sized and ViT-B-sized zoo models, original
 * (LayerNormalization) vs folded (RMSNorm + β), in onnxruntime-node (1 thread) and in our executor,
 * as medians of interleaved runs and their ratio. Writes bench/results.json and bench/results.md.
 *
 *   cd packages/zoo && npm run bench            (BENCH_QUICK=1 for a short smoke run)
 *
 * Total time is kept under ~5 minutes on a 2-core machine: our executor runs the same weights on
 * shorter inputs (it is a reference executor, not a tuned runtime), and stops early when one run
 * takes too long.
 */
import { writeFileSync } from 'node:fs';
import * as graph from '@normkit/graph';
import { foldLayerNorms, type Model, type RmsFormat, randomInputs } from '@normkit/graph';
import { encodeModel } from '@normkit/onnx';
import type { Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { buildModel } from '../src/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
ort.env.logLevel = 'error';
type Runner = {
  run(
    inputs: Record<string, Tensor>,
    opts?: { profile?: boolean },
  ): { profile?: { totalMs: number; byOpType: { opType: string; ms: number }[] } };
};
/** The package executor, built once per model (constant folding and planning happen at construction, as in an inference session). */
const Executor = (graph as Record<string, unknown>).Executor as (new (m: Model) => Runner) | undefined;

/** Normalization time from the executor's per-op profile: the part of the run the fold changes. */
interface NormShare {
  model: string;
  runs: number;
  originalNormMs: number;
  convertedNormMs: number;
  originalTotalMs: number;
  /** Normalization ops as a share of the original run. */
  normShare: number;
  /** Speed-up the fold could give at most, if nothing else changed: total / (total − saved). */
  boundSpeedup: number;
}
const shares: NormShare[] = [];
const NORM_OPS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization']);

interface Row {
  model: string;
  runtime: string;
  input: string;
  form: string;
  runs: number;
  originalMs: number;
  convertedMs: number;
  /** original / converted: > 1 means the converted model is faster. */
  speedup: number;
  layerNorms: number;
  folded: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function ortSession(m: Model) {
  return ort.InferenceSession.create(encodeModel(m), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
}

function ortFeed(feed: Record<string, Tensor>): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feed))
    f[k] = new ort.Tensor(t.dtype === 'int64' ? 'int64' : 'float32', t.data as Float32Array, [...t.shape]);
  return f;
}

/** Interleaved timing: each round runs both (alternating which goes first); returns per-model times. */
async function interleave(
  a: () => Promise<unknown> | unknown,
  b: () => Promise<unknown> | unknown,
  runs: number,
  warmup: number,
  budgetMs: number,
) {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ([a, ta, b, tb] as const) : ([b, tb, a, ta] as const);
    for (const [fn, out] of [
      [order[0], order[1]],
      [order[2], order[3]],
    ] as const) {
      const t = performance.now();
      await fn();
      out.push(performance.now() - t);
    }
    if (performance.now() - start > budgetMs && i >= 4) break;
  }
  return { a: ta, b: tb };
}

const rows: Row[] = [];
const t0 = performance.now();

const CASES = [
  { name: 'GPT-2 small (12 × 768, vocab 50257)', arch: 'gpt2', size: 'small' as const, ort: { seqLen: 128 }, ours: { seqLen: 16 } },
  { name: 'ViT-B/16 (12 × 768)', arch: 'vit', size: 'base' as const, ort: { imageSize: 224 }, ours: { imageSize: 64 } },
];

for (const c of CASES) {
  for (const [runtime, shape] of [
    ['onnxruntime-node 1.30 (1 thread, all graph optimizations)', c.ort],
    ['normkit Executor (CPU backend, built once per model)', c.ours],
  ] as const) {
    if (runtime.startsWith('normkit') && !Executor) {
      console.log(`skip ${c.name} in our executor: @normkit/graph does not export Executor yet`);
      continue;
    }
    const model = buildModel(c.arch, { size: c.size, opset: 17, seed: 0, ...shape });
    const feed = randomInputs(model, 0);
    const input = Object.entries(feed)
      .map(([k, t]) => `${k} [${t.shape.join('×')}]`)
      .join(', ');
    // 'A/A' times the original against an identical copy: the noise floor of the ratio on this machine.
    const forms: (RmsFormat | 'A/A')[] = runtime.startsWith('onnx') ? ['A/A', 'simplified', 'onnx23'] : ['A/A', 'simplified'];
    for (const form of forms) {
      const { model: folded, report } =
        form === 'A/A'
          ? { model: model.clone(), report: { analysis: { layerNorms: [] }, folded: [] } }
          : foldLayerNorms(model, { rmsFormat: form, verify: false });
      let times: { a: number[]; b: number[] };
      if (runtime.startsWith('onnx')) {
        const [sa, sb] = [await ortSession(model), await ortSession(folded)];
        const f = ortFeed(feed);
        times = await interleave(
          () => sa.run(f),
          () => sb.run(f),
          QUICK ? 5 : 21,
          QUICK ? 1 : 2,
          QUICK ? 10_000 : 20_000,
        );
        await sa.release();
        await sb.release();
      } else {
        const Ex = Executor as new (m: Model) => Runner;
        const [ea, eb] = [new Ex(model), new Ex(folded)];
        if (form !== 'A/A') {
          const norm = (r: Runner) => {
            const p = r.run(feed, { profile: true }).profile;
            return {
              norm: (p?.byOpType ?? []).filter((o) => NORM_OPS.has(o.opType)).reduce((x, o) => x + o.ms, 0),
              total: p?.totalMs ?? 0,
            };
          };
          const pa: { norm: number; total: number }[] = [];
          const pb: { norm: number; total: number }[] = [];
          for (let i = 0; i < (QUICK ? 2 : 4); i++) {
            pa.push(norm(ea));
            pb.push(norm(eb));
          }
          const [na, nb, ta] = [median(pa.map((x) => x.norm)), median(pb.map((x) => x.norm)), median(pa.map((x) => x.total))];
          const share: NormShare = {
            model: c.name,
            runs: pa.length,
            originalNormMs: +na.toFixed(3),
            convertedNormMs: +nb.toFixed(3),
            originalTotalMs: +ta.toFixed(1),
            normShare: +(na / ta).toFixed(5),
            boundSpeedup: +(ta / (ta - (na - nb))).toFixed(5),
          };
          shares.push(share);
          console.log(JSON.stringify(share));
        }
        times = await interleave(
          () => ea.run(feed),
          () => eb.run(feed),
          QUICK ? 3 : 11,
          1,
          QUICK ? 15_000 : 15_000,
        );
      }
      const [ma, mb] = [median(times.a), median(times.b)];
      const row: Row = {
        model: c.name,
        runtime,
        input,
        form: form === 'A/A' ? 'A/A control (identical copy)' : form,
        runs: times.a.length,
        originalMs: +ma.toFixed(2),
        convertedMs: +mb.toFixed(2),
        speedup: +(ma / mb).toFixed(4),
        layerNorms: report.analysis.layerNorms.length,
        folded: report.folded.length,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
}

const seconds = (performance.now() - t0) / 1000;
const env = {
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  date: new Date().toISOString(),
  quick: QUICK,
  seconds: +seconds.toFixed(1),
};
const url = (f: string) => new URL(f, import.meta.url);
writeFileSync(url('results.json'), `${JSON.stringify({ env, rows, normShares: shares }, null, 2)}\n`);
const md = [
  '# LayerNorm → RMSNorm folding: end-to-end speed',
  '',
  `Generated by \`npm run bench\` in packages/zoo (${env.date}, Node ${env.node}, ${env.platform}, ${env.seconds} s). Medians of interleaved runs; speed-up = original / converted (> 1: converted is faster). The A/A rows time the original against an identical copy: how far from 1.000 a ratio drifts on this machine with no change at all.`,
  '',
  '| model | runtime | input | RMSNorm form | runs | original ms | converted ms | speed-up | LNs folded |',
  '|---|---|---|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.runtime} | ${r.input} | ${r.form} | ${r.runs} | ${r.originalMs} | ${r.convertedMs} | ${r.speedup.toFixed(3)}× | ${r.folded} / ${r.layerNorms} |`,
  ),
  '',
];
writeFileSync(url('results.md'), md.join('\n'));
console.log(`wrote bench/results.json and bench/results.md in ${seconds.toFixed(1)} s`);
