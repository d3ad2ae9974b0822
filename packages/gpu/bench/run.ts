/**
 * Benchmark: the gpu.js backend against the CPU backend, per kernel (matmul, layerNorm, rmsNorm,
 * softmax) and end to end (a GPT-2-small-sized zoo model, original and LN→RMSNorm converted, when
 * @normkit/graph's executor and @normkit/zoo are available), in every mode available here:
 * gpu.js webasm and cpu modes in Node, headless-gl when installed, and WebGL2 in headless chromium
 * when /usr/bin/chromium exists. Medians over repeated runs; each gpu timing includes the read-back
 * of the result (what a caller touching `.data` pays), compilation is reported separately.
 *
 * Run: `npm run bench` in packages/gpu (writes bench/results.json and bench/results.md).
 * Env: BENCH_QUICK=1 for fewer repetitions; BENCH_NO_BROWSER=1 to skip chromium.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '@normkit/tensor';
import { GPU } from 'gpu.js';
import * as G from '../src/index.js';

type TensorNs = typeof T;
type GpuNs = typeof G;

export interface KernelSpec {
  kernel: 'matmul' | 'layerNorm' | 'rmsNorm' | 'softmax';
  shape: string;
  dims: number[];
}

export interface Row {
  kind: 'kernel' | 'e2e';
  name: string;
  shape: string;
  env: string;
  backend: string;
  mode: string;
  medianMs: number;
  firstMs: number;
  reps: number;
  /** CPU-backend median / this median, measured in the same environment (> 1: faster than the CPU backend). */
  speedupVsCpu?: number;
  note?: string;
}

const QUICK = process.env.BENCH_QUICK === '1';

export const KERNELS: KernelSpec[] = [
  { kernel: 'matmul', shape: '[128,768]·[768,768]', dims: [128, 768, 768] },
  { kernel: 'matmul', shape: '[64,768]·[768,3072]', dims: [64, 768, 3072] },
  { kernel: 'layerNorm', shape: '[512,768]', dims: [512, 768] },
  { kernel: 'rmsNorm', shape: '[512,768]', dims: [512, 768] },
  { kernel: 'softmax', shape: '[12,128,128] axis -1', dims: [12, 128, 128] },
];

/**
 * Times every kernel on `backends` (the first must be the CPU backend); runs in Node and, serialized,
 * in the browser page (so it may only use its arguments).
 */
export function timeKernels(ns: { tensor: TensorNs; gpu: GpuNs }, specs: KernelSpec[], modes: string[], reps: number, env: string): Row[] {
  const { tensor: TT, gpu: GG } = ns;
  const rows: Row[] = [];
  const now = () => performance.now();
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] as number;
  };
  const make = (spec: KernelSpec) => {
    const [a, b, c] = spec.dims as [number, number, number];
    if (spec.kernel === 'matmul') {
      const x = TT.Tensor.randn([a, b], 1);
      const w = TT.Tensor.randn([b, c], 2);
      return () => TT.matmul(x, w);
    }
    if (spec.kernel === 'softmax') {
      const x = TT.Tensor.randn([a, b, c], 3);
      return () => TT.softmax(x, -1);
    }
    const x = TT.Tensor.randn([a, b], 4);
    const g = TT.Tensor.randn([b], 5);
    const beta = TT.Tensor.randn([b], 6);
    return spec.kernel === 'layerNorm'
      ? () => TT.layerNormKernel(x, g, beta, -1, 1e-5).y
      : () => TT.rmsNormKernel(x, g, undefined, -1, 1e-5);
  };
  for (const spec of specs) {
    const f = make(spec);
    let cpuMedian = 0;
    for (const mode of ['cpu-backend', ...modes]) {
      const backend = mode === 'cpu-backend' ? new TT.CpuBackend() : GG.createGpuBackend({ mode: mode as G.GpuMode, strict: true });
      const n = mode === 'cpu' ? Math.max(2, Math.floor(reps / 4)) : reps;
      const t0 = now();
      const first = TT.withBackend(backend, f);
      void first.data;
      const firstMs = now() - t0;
      first.dispose();
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const s = now();
        const y = TT.withBackend(backend, f);
        void y.data;
        times.push(now() - s);
        y.dispose();
      }
      const med = median(times);
      if (mode === 'cpu-backend') cpuMedian = med;
      rows.push({
        kind: 'kernel',
        name: spec.kernel,
        shape: spec.shape,
        env,
        backend: mode === 'cpu-backend' ? 'cpu' : 'gpu',
        mode: mode === 'cpu-backend' ? '-' : mode,
        medianMs: med,
        firstMs,
        reps: n,
        ...(mode === 'cpu-backend' ? {} : { speedupVsCpu: cpuMedian / med }),
      });
      (backend as { dispose?: () => void }).dispose?.();
    }
  }
  return rows;
}

async function browserRows(reps: number): Promise<{ rows: Row[]; renderer?: string; skipped?: string }> {
  const chromiumPath = '/usr/bin/chromium';
  if (process.env.BENCH_NO_BROWSER === '1') return { rows: [], skipped: 'BENCH_NO_BROWSER=1' };
  if (!existsSync(chromiumPath)) return { rows: [], skipped: `${chromiumPath} not found (apt-get install -y chromium)` };
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright-core');
  const entry = fileURLToPath(new URL('../test/browser/entry.ts', import.meta.url));
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    conditions: ['source'],
    write: false,
    logLevel: 'error',
    target: 'es2022',
  });
  const userDir = mkdtempSync(join(tmpdir(), 'normkit-gpu-bench-'));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await ctx.newPage();
    await page.setContent('<!doctype html><html><body>normkit gpu bench</body></html>');
    await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? '' });
    await page.addScriptTag({ content: `window.__name = window.__name || ((f) => f); window.__timeKernels = ${timeKernels.toString()};` });
    const res = await page.evaluate(
      ({ specs, reps }) => {
        const w = globalThis as unknown as { normkit: { tensor: TensorNs; gpu: GpuNs }; __timeKernels: typeof timeKernels };
        const g = w.normkit.gpu.createGpuBackend({ mode: 'webgl2' });
        g.describe();
        const rows = w.__timeKernels(w.normkit, specs, ['webgl2'], reps, 'chromium (SwiftShader WebGL2)');
        // the renderer is known once a kernel ran
        const probe = w.normkit.gpu.createGpuBackend({ mode: 'webgl2' });
        void w.normkit.tensor.withBackend(probe, () => w.normkit.tensor.add(w.normkit.tensor.Tensor.from([1]), 1)).data;
        const renderer = probe.describe().renderer;
        probe.dispose();
        g.dispose();
        return { rows, renderer };
      },
      { specs: KERNELS, reps },
    );
    return { rows: res.rows, ...(res.renderer ? { renderer: res.renderer } : {}) };
  } finally {
    await ctx.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

/** End to end on a GPT-2-small-sized zoo model, original and converted, when graph/zoo provide it. */
async function e2eRows(modes: string[]): Promise<{ rows: Row[]; skipped?: string }> {
  const { e2eModels, loadGraphAndZoo } = await import('./e2e.js');
  const loaded = await loadGraphAndZoo();
  if ('skipped' in loaded) return { rows: [], skipped: loaded.skipped };
  const models = await e2eModels(
    loaded.graph,
    loaded.zoo,
    process.env.BENCH_E2E_SIZE ?? 'small',
    ['gpt2'],
    Number(process.env.BENCH_E2E_SEQ ?? 16),
  );
  const rows: Row[] = [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const m of models) {
    let cpuMedian = 0;
    for (const mode of ['cpu-backend', ...modes]) {
      const backend = mode === 'cpu-backend' ? new T.CpuBackend() : G.createGpuBackend({ mode: mode as G.GpuMode });
      const n = 3;
      const t0 = performance.now();
      m.run(backend);
      const firstMs = performance.now() - t0;
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        m.run(backend);
        times.push(performance.now() - s);
      }
      const med = median(times);
      if (mode === 'cpu-backend') cpuMedian = med;
      rows.push({
        kind: 'e2e',
        name: m.name,
        shape: m.shape,
        env: 'node',
        backend: mode === 'cpu-backend' ? 'cpu' : 'gpu',
        mode: mode === 'cpu-backend' ? '-' : mode,
        medianMs: med,
        firstMs,
        reps: n,
        ...(mode === 'cpu-backend' ? {} : { speedupVsCpu: cpuMedian / med }),
      });
      (backend as { dispose?: () => void }).dispose?.();
    }
  }
  return { rows };
}

function ratio(x: number): string {
  return x >= 0.1 ? x.toFixed(2) : x.toPrecision(2);
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

async function main(): Promise<void> {
  const reps = QUICK ? 3 : 9;
  const loadBefore = loadavg()[0] as number;
  const nodeModes = ['webasm', 'cpu', ...(GPU.isHeadlessGLSupported ? ['headlessgl'] : [])];
  console.log(`normkit gpu bench: Node ${process.version}, ${cpus().length} cores, modes ${nodeModes.join(', ')}`);
  const nodeRows = timeKernels({ tensor: T, gpu: G }, KERNELS, nodeModes, reps, 'node');
  const browser = await browserRows(reps);
  const e2e = await e2eRows(['webasm']);
  const rows = [...nodeRows, ...browser.rows, ...e2e.rows];
  const choice = G.chooseBackend();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverage: { before: loadBefore, after: loadavg()[0] as number },
    nodeModes,
    probes: G.probeModes(),
    automaticChoice: { backend: choice.backend.name, reason: choice.reason },
    browser: browser.skipped ? { skipped: browser.skipped } : { renderer: browser.renderer },
    e2e: e2e.skipped ? { skipped: e2e.skipped } : { models: [...new Set(e2e.rows.map((r) => r.name))] },
    method:
      'median wall time of op + read-back of the result over repeated runs with the same inputs (weights uploaded once and cached); firstMs includes kernel compilation',
  };
  const here = fileURLToPath(new URL('.', import.meta.url));
  writeFileSync(join(here, 'results.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  const lines = [
    '# @normkit/gpu benchmark',
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores, load average ${meta.loadAverage.before.toFixed(1)} → ${meta.loadAverage.after.toFixed(1)}: on a shared machine the medians are noisy; compare ratios within an environment) · \`npm run bench\` in packages/gpu`,
    '',
    `Automatic choice here: **${choice.backend.name}** — ${choice.reason}.`,
    '',
    `Each time is the median of op + read-back (what touching \`.data\` costs) over repeated runs with the same inputs; "first" includes compiling the kernels. Speed-up = CPU-backend median / gpu median in the same environment (above 1 means the gpu.js backend is faster). Browser: ${browser.skipped ? `skipped (${browser.skipped})` : `headless chromium, renderer \`${browser.renderer}\` (software WebGL2 on the CPU)`}.`,
    '',
    '| kind | op | shape | environment | backend | mode | median ms | first ms | speed-up vs CPU backend |',
    '|---|---|---|---|---|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.kind} | ${r.name} | ${r.shape} | ${r.env} | ${r.backend} | ${r.mode} | ${fmt(r.medianMs)} | ${fmt(r.firstMs)} | ${r.speedupVsCpu === undefined ? '1 (reference)' : `${ratio(r.speedupVsCpu)}×`} |`,
    ),
    '',
    e2e.skipped ? `End to end: not measured — ${e2e.skipped}.` : '',
    '',
  ];
  writeFileSync(join(here, 'results.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
