// `npm run bench`: fold + verify + benchmark a set of models, write bench/results.json and bench/results.md.
// Timing: medians of alternating runs of the two models, engine by engine (see benchmarkModels); the machine is described in the results.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, saveModel } from '@normkit/onnx';
import { buildModel } from '@normkit/zoo';
import { benchmarkModels, convertModel, machineInfo } from '../src/index.js';

const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));
const GPT2_EXPORT = join(
  TESTDATA,
  'third-party/onnxruntime-history/onnxruntime/python/tools/transformers/test_data/gpt2_pytorch1.4_opset11_no_past/GPT2Model.onnx',
);

interface Case {
  name: string;
  file: () => Promise<string>;
  runs?: number;
}
const tmp = mkdtempSync(join(tmpdir(), 'normkit-bench-'));
const zoo =
  (arch: string, size: 'tiny' | 'small', opset: 14 | 17 = 17) =>
  async () => {
    const f = join(tmp, `${arch}-${size}-${opset}.onnx`);
    await saveModel(buildModel(arch, { size, opset, seed: 0 }), f);
    return f;
  };
const quick = process.argv.includes('--quick');
const cases: Case[] = [
  { name: 'GPT-2 tiny (zoo, opset 17: LayerNormalization nodes)', file: zoo('gpt2', 'tiny') },
  { name: 'GPT-2 tiny (zoo, opset 14: decomposed LayerNorms)', file: zoo('gpt2', 'tiny', 14) },
  { name: 'ViT tiny (zoo)', file: zoo('vit', 'tiny') },
  { name: 'BERT tiny (zoo; post-LN: 1 of 5 foldable)', file: zoo('bert', 'tiny') },
  { name: 'PyTorch 1.4 GPT-2 export (onnxruntime test data, 25 decomposed LNs)', file: async () => GPT2_EXPORT },
  ...(quick ? [] : [{ name: 'GPT-2 small (zoo: 12 layers, d = 768, 124M parameters, 32 tokens)', file: zoo('gpt2', 'small'), runs: 10 }]),
];

const rows: Record<string, unknown>[] = [];
try {
  for (const c of cases) {
    const input = await c.file();
    const model = await loadModel(input);
    process.stderr.write(`${c.name}: convert …\n`);
    const { model: folded, result } = await convertModel(model, input, { path: input });
    const output = join(tmp, `case-${rows.length}.rms.onnx`);
    await saveModel(folded, output);
    process.stderr.write(`${c.name}: bench …\n`);
    const bench = await benchmarkModels(
      { model: folded, label: output, path: output },
      { model, label: input, path: input },
      { runs: c.runs ?? 'auto', engines: ['normkit-cpu', 'onnxruntime'] },
    );
    for (const r of bench.ratios) {
      const before = bench.results.find((e) => e.engine === r.engine && e.role === 'against');
      const after = bench.results.find((e) => e.engine === r.engine && e.role === 'model');
      rows.push({
        model: c.name,
        folded: `${result.foldedLayerNorms}/${result.layerNorms}`,
        equivalent: result.equivalent,
        maxAbsDiff: result.maxAbsDiff,
        engine: r.engine,
        runs: bench.runs,
        beforeMs: before?.medianMs,
        afterMs: after?.medianMs,
        speedup: r.speedup,
        speedupLow: r.speedupLow,
        speedupHigh: r.speedupHigh,
      });
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const machine = machineInfo();
const here = fileURLToPath(new URL('.', import.meta.url));
writeFileSync(join(here, 'results.json'), `${JSON.stringify({ machine, rows }, null, 2)}\n`);
const f = (x: unknown, d = 3) => (typeof x === 'number' ? x.toFixed(d) : String(x));
const md = [
  `Measured ${machine.date.slice(0, 16).replace('T', ' ')} UTC on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}; onnxruntime-node CPU with 1 thread. Medians of alternating runs of the two models, engine by engine; range from the quartiles.`,
  '',
  '| model | LNs folded | engine | runs | original ms | converted ms | speed-up | range |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.folded} | ${r.engine} | ${r.runs} | ${f(r.beforeMs)} | ${f(r.afterMs)} | **${f(r.speedup)}×** | ${f(r.speedupLow, 2)}–${f(r.speedupHigh, 2)}× |`,
  ),
  '',
];
writeFileSync(join(here, 'results.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
