// The backend in a real browser: bundles test/browser/entry.ts with esbuild, serves it from
// http://127.0.0.1 (WebGPU needs a secure context), opens it in Debian's headless chromium
// (software WebGL2 and WebGPU through SwiftShader) via playwright-core, runs matmul, LayerNorm and
// RMSNorm kernels in webgl2 mode (also with textures split) and zoo models in WebGL2 and in WebGPU
// (every zoo model, through Executor.runAsync) against the CPU backend, and the backend conformance
// suite (@normkit/tensor/testing, bundled into the page: the same case list as in Node) in both modes. Skipped, saying why, when /usr/bin/chromium is
// absent (CI installs it: `apt-get install -y chromium`).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend, layerNormKernel, matmul, rmsNormKernel, Tensor, withBackend } from '@normkit/tensor';
import { conformanceCases } from '@normkit/tensor/testing';
import { architectures } from '@normkit/zoo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_TOLERANCE } from './conformance.js';
import { expectClose } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[gpu browser test] skipped: ${CHROMIUM} not found; install it with \`apt-get install -y chromium\``);

interface PageCase {
  name: string;
  op: 'matmul' | 'layerNorm' | 'rmsNorm';
  inputs: { shape: number[]; data: number[] }[];
  maxTextureSize?: number;
}
interface PageResult {
  name: string;
  shape: number[];
  data: number[];
  onHostBeforeRead: boolean;
  mode: string;
  renderer?: string;
  fallbacks: Record<string, number>;
  chunks: number;
  liveBefore: number;
  liveAfterDispose: number;
}

// Runs inside the page: window.normkit comes from the bundle.
function runInPage(cases: PageCase[]): PageResult[] {
  const { tensor: T, gpu: G } = (
    globalThis as unknown as { normkit: { tensor: typeof import('@normkit/tensor'); gpu: typeof import('../src/index.js') } }
  ).normkit;
  const out: PageResult[] = [];
  for (const c of cases) {
    const g = G.createGpuBackend({ mode: 'webgl2', strict: true, ...(c.maxTextureSize ? { maxTextureSize: c.maxTextureSize } : {}) });
    const xs = c.inputs.map((i) => new T.Tensor(i.shape, 'float32', Float32Array.from(i.data)));
    const y = T.withBackend(g, () => {
      if (c.op === 'matmul') return T.matmul(xs[0]!, xs[1]!);
      if (c.op === 'layerNorm') return T.layerNormKernel(xs[0]!, xs[1], xs[2], -1, 1e-5).y;
      return T.rmsNormKernel(xs[0]!, xs[1], undefined, -1, 1e-6);
    });
    const onHostBeforeRead = y.onHost;
    const data = Array.from(y.data as Float32Array);
    const d = g.describe();
    const chunks = (y.deviceStorage?.handle as { layout?: { nChunks: number } } | undefined)?.layout?.nChunks ?? 0;
    const liveBefore = d.liveTextures;
    y.dispose();
    const liveAfterDispose = g.describe().liveTextures;
    out.push({
      name: c.name,
      shape: [...y.shape],
      data,
      onHostBeforeRead,
      mode: d.mode,
      ...(d.renderer ? { renderer: d.renderer } : {}),
      fallbacks: d.fallbacks,
      chunks,
      liveBefore,
      liveAfterDispose,
    });
    g.dispose();
  }
  return out;
}

interface ConformanceRun {
  reports: import('@normkit/tensor/testing').CaseReport[];
  stale: string[];
  fallbacks: Record<string, number>;
}

// Runs inside the page: the backend conformance suite (@normkit/tensor/testing, bundled: the same case
// list as in Node) in `mode` (webgl2 or webgpu), with the gpu package's skip list (test/conformance.ts).
async function conformanceInPage([mode, tolerance]: [string, { atol: number; rtol: number } | undefined]): Promise<ConformanceRun> {
  const {
    gpu: G,
    testing,
    gpuConformanceOptions,
  } = (
    globalThis as unknown as {
      normkit: {
        gpu: typeof import('../src/index.js');
        testing: typeof import('@normkit/tensor/testing');
        gpuConformanceOptions: typeof import('./conformance.js').gpuConformanceOptions;
      };
    }
  ).normkit;
  if (mode === 'webgpu') await G.initWebGpu();
  const g = G.createGpuBackend({ mode: mode as 'webgl2' | 'webgpu', strict: true });
  const run = await testing.runConformance(g, gpuConformanceOptions(g, tolerance));
  const fallbacks = g.describe().fallbacks;
  g.dispose();
  return { ...run, fallbacks };
}

interface ZooResult {
  name: string;
  outputs: { name: string; shape: number[]; got: number[]; want: number[] }[];
}

// Runs inside the page: zoo models (tiny), original and converted, through the graph Executor on
// the `mode` backend (WebGPU: Executor.runAsync; WebGL2: Executor.run) and on the CPU backend.
async function zooInPage([names, mode]: [string[], string]): Promise<{ results: ZooResult[]; fallbacks: Record<string, number> }> {
  type Ns = {
    tensor: typeof import('@normkit/tensor');
    gpu: typeof import('../src/index.js');
    graph: typeof import('@normkit/graph');
    zoo: typeof import('@normkit/zoo');
  };
  const { tensor: T, gpu: G, graph: Gr, zoo: Z } = (globalThis as unknown as { normkit: Ns }).normkit;
  if (mode === 'webgpu') await G.initWebGpu();
  const g = G.createGpuBackend({ mode: mode as 'webgl2' | 'webgpu', strict: true });
  const cpu = new T.CpuBackend();
  const results: ZooResult[] = [];
  for (const name of names) {
    const model = Z.buildModel(name, { size: 'tiny', seqLen: 8, seed: 0 });
    const inputs = Gr.randomInputs(model, 1);
    for (const [variant, m] of [
      ['original', model],
      ['converted', Gr.foldLayerNorms(model.clone(), { verify: false }).model],
    ] as const) {
      const want = new Gr.Executor(m, { backend: cpu }).run(inputs).outputs;
      const ex = new Gr.Executor(m, { backend: g });
      const got = mode === 'webgpu' ? (await ex.runAsync(inputs)).outputs : ex.run(inputs).outputs;
      results.push({
        name: `${name} ${variant}`,
        outputs: Object.keys(want).map((k) => ({
          name: k,
          shape: [...(want[k] as import('@normkit/tensor').Tensor).shape],
          got: Array.from((got[k] as import('@normkit/tensor').Tensor).data as Float32Array, Number),
          want: Array.from((want[k] as import('@normkit/tensor').Tensor).data as Float32Array, Number),
        })),
      });
    }
  }
  const fallbacks = g.describe().fallbacks;
  g.dispose();
  return { results, fallbacks };
}

describe.skipIf(!haveChromium)('in headless chromium (WebGL2, SwiftShader)', () => {
  let results: PageResult[] = [];
  const none: ConformanceRun = { reports: [], stale: [], fallbacks: {} };
  let confGl = none;
  let zooRes: { results: ZooResult[]; fallbacks: Record<string, number> } = { results: [], fallbacks: {} };
  let userDir = '';
  let server: Server | undefined;
  let webgpu: { available: boolean; reason: string; adapter?: Record<string, string> } = { available: false, reason: 'not probed' };
  let confGpu = none;
  let zooGpu: { results: ZooResult[]; fallbacks: Record<string, number> } = { results: [], fallbacks: {} };
  const zooNames = architectures.map((a) => a.name);
  const cpu = new CpuBackend();
  const x = Tensor.randn([37, 53], 1);
  const w = Tensor.randn([53, 29], 2);
  const h = Tensor.randn([19, 67], 3, { mean: 2, std: 3 });
  const gamma = Tensor.randn([67], 4);
  const beta = Tensor.randn([67], 5);
  const ser = (t: Tensor) => ({ shape: [...t.shape], data: Array.from(t.data as Float32Array) });
  const cases: PageCase[] = [
    { name: 'matmul', op: 'matmul', inputs: [ser(x), ser(w)] },
    { name: 'layerNorm', op: 'layerNorm', inputs: [ser(h), ser(gamma), ser(beta)] },
    { name: 'rmsNorm', op: 'rmsNorm', inputs: [ser(h), ser(gamma)] },
    { name: 'matmul split', op: 'matmul', inputs: [ser(x), ser(w)], maxTextureSize: 24 },
    { name: 'layerNorm split', op: 'layerNorm', inputs: [ser(h), ser(gamma), ser(beta)], maxTextureSize: 24 },
    { name: 'rmsNorm split', op: 'rmsNorm', inputs: [ser(h), ser(gamma)], maxTextureSize: 24 },
  ];
  const expected: Record<string, Tensor> = {
    matmul: withBackend(cpu, () => matmul(x, w)),
    layerNorm: withBackend(cpu, () => layerNormKernel(h, gamma, beta, -1, 1e-5).y),
    rmsNorm: withBackend(cpu, () => rmsNormKernel(h, gamma, undefined, -1, 1e-6)),
  };

  beforeAll(async () => {
    const { build } = await import('esbuild');
    const { chromium } = await import('playwright-core');
    const entry = fileURLToPath(new URL('./browser/entry.ts', import.meta.url));
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
    userDir = mkdtempSync(join(tmpdir(), 'normkit-gpu-chromium-'));
    // WebGPU needs a secure context: the page comes from http://127.0.0.1 (not about:blank or file:).
    const html = '<!doctype html><html><body>normkit gpu test</body></html>';
    const js = bundle.outputFiles[0]?.text ?? '';
    server = createServer((req, res) => {
      const isJs = req.url === '/bundle.js';
      res.writeHead(200, { 'content-type': isJs ? 'text/javascript' : 'text/html' });
      res.end(isJs ? js : html);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
        // WebGPU on SwiftShader (Vulkan in software)
        '--enable-unsafe-webgpu',
        '--enable-features=Vulkan',
        '--use-vulkan=swiftshader',
        '--use-webgpu-adapter=swiftshader',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await ctx.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.addScriptTag({ url: `http://127.0.0.1:${port}/bundle.js` });
      results = await page.evaluate(runInPage, cases);
      confGl = await page.evaluate(conformanceInPage, ['webgl2', BROWSER_TOLERANCE.webgl2] as [string, typeof BROWSER_TOLERANCE.webgl2]);
      // A transformer (GELU, LayerNorm, attention, gather), a Llama (RMSNorm, SiLU, rotary) and a
      // ConvNeXt (conv, depthwise conv); the Node zoo test covers every architecture.
      zooRes = await page.evaluate(zooInPage, [['gpt2', 'llama', 'convnext'], 'webgl2'] as [string[], string]);
      webgpu = await page.evaluate(async () => {
        const G = (globalThis as unknown as { normkit: { gpu: typeof import('../src/index.js') } }).normkit.gpu;
        return G.initWebGpu();
      });
      if (webgpu.available) {
        confGpu = await page.evaluate(conformanceInPage, ['webgpu', BROWSER_TOLERANCE.webgpu] as [string, typeof BROWSER_TOLERANCE.webgpu]);
        zooGpu = await page.evaluate(zooInPage, [zooNames, 'webgpu'] as [string[], string]);
      } else console.warn(`[gpu browser test] WebGPU in chromium skipped: ${webgpu.reason}`);
    } finally {
      await ctx.close();
    }
  }, 180_000);

  afterAll(() => {
    server?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it('runs in webgl2 mode on the page, with no CPU fallbacks', () => {
    expect(results).toHaveLength(cases.length);
    for (const r of results) {
      expect(r.mode, r.name).toBe('webgl2');
      expect(r.fallbacks, r.name).toEqual({});
    }
    console.info(`[gpu browser test] renderer: ${results[0]?.renderer}`);
  });

  it('matmul, LayerNorm and RMSNorm match the CPU backend within 1e-4, also with textures split', () => {
    for (const r of results) {
      const base = r.name.replace(' split', '');
      const got = new Tensor(r.shape, 'float32', Float32Array.from(r.data));
      expectClose(got, expected[base] as Tensor, r.name);
      if (r.name.endsWith('split')) expect(r.chunks, r.name).toBeGreaterThan(1);
    }
  });

  it('zoo models run end to end through the graph executor in WebGL2 within 1e-4 of the CPU backend', () => {
    expect(zooRes.results.map((r) => r.name)).toEqual([
      'gpt2 original',
      'gpt2 converted',
      'llama original',
      'llama converted',
      'convnext original',
      'convnext converted',
    ]);
    expect(zooRes.fallbacks).toEqual({});
    for (const r of zooRes.results) {
      for (const o of r.outputs) {
        const mk = (v: number[]) => new Tensor(o.shape, 'float32', Float32Array.from(v));
        expectClose(mk(o.got), mk(o.want), `webgl2 ${r.name} ${o.name}`);
      }
    }
  });

  it('WebGPU on SwiftShader is available in chromium', () => {
    expect(webgpu.available, webgpu.reason).toBe(true);
    console.info(`[gpu browser test] WebGPU: ${webgpu.reason}`);
  });

  // The conformance suite, one test per case, in both modes: the page ran the bundled case list.
  const caseIds = conformanceCases().map((c) => c.id);
  for (const [mode, run] of [
    ['webgl2', () => confGl],
    ['webgpu', () => confGpu],
  ] as const) {
    it(`${mode}: the page ran the same conformance case list, with a sound skip list`, () => {
      expect(run().reports.map((r) => r.id)).toEqual(caseIds);
      expect(run().stale).toEqual([]);
    });
    for (const id of caseIds)
      it(`${mode} conformance: ${id}`, () => {
        const r = run().reports.find((x) => x.id === id);
        expect(r?.ok, r?.message ?? 'not run in the page').toBe(true);
      });
  }

  it('WebGPU: every zoo model, original and converted, through Executor.runAsync within 1e-4 of the CPU backend', () => {
    expect(zooGpu.results.map((r) => r.name)).toEqual(zooNames.flatMap((n) => [`${n} original`, `${n} converted`]));
    expect(zooGpu.fallbacks).toEqual({});
    for (const r of zooGpu.results)
      for (const o of r.outputs) {
        const mk = (v: number[]) => new Tensor(o.shape, 'float32', Float32Array.from(v));
        expectClose(mk(o.got), mk(o.want), `webgpu ${r.name} ${o.name}`);
      }
  });

  it('keeps results in textures until read, and frees them on dispose', () => {
    for (const r of results) {
      expect(r.onHostBeforeRead, r.name).toBe(false);
      expect(r.liveAfterDispose, r.name).toBe(r.liveBefore - Math.max(r.chunks, 1));
    }
  });
});
