/**
 * WebGPU measurement of this backend's kernels (for machines with a real GPU and a Dawn-capable
 * Node, e.g. glibc ≥ 2.38 with a Vulkan driver). The Backend interface is synchronous and gpu.js
 * webgpu kernels are asynchronous, so the backend cannot run in webgpu mode; instead this script
 * traces the exact kernels the backend launches for each op (run once in webasm mode), replays
 * them on a gpu.js `GPU({ mode: 'webgpu' })` with outputs kept on the device between launches
 * (pipeline mode), reads the final result back, and times that against the CPU backend and the
 * webasm backend on the same machine. It also checks the WebGPU results against the CPU backend.
 *
 * Run: `npx tsx bench/webgpu.ts` (needs the `webgpu` package's Dawn binary to load); prints JSON.
 */
import * as T from '@normkit/tensor';
import { GPU } from 'gpu.js';
import * as G from '../src/index.js';

interface Launch {
  src: string;
  outSize: number;
  args: unknown[];
  out: unknown;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const replayMode = (process.env.REPLAY_MODE ?? 'webgpu') as 'webgpu' | 'cpu' | 'webasm' | 'runasync';
  if (replayMode === 'runasync') return runAsyncEndToEnd();
  if (replayMode !== 'webgpu') return run(replayMode, {});
  const wg = (await import('webgpu' as string)) as { create: (o: string[]) => unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, wg.globals);
  const gpuApi = wg.create([]) as { requestAdapter(o?: unknown): Promise<{ requestDevice(o?: unknown): Promise<object> } | null> };
  // Dawn's Node binding rejects a plain function for device.onuncapturederror (gpu.js assigns one):
  // shadow it with an own accessor that logs instead.
  const requestAdapter = gpuApi.requestAdapter.bind(gpuApi);
  gpuApi.requestAdapter = async (o?: unknown) => {
    const adapter = await requestAdapter(o);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (d?: unknown) => {
      const device = await requestDevice(d);
      Object.defineProperty(device, 'onuncapturederror', { configurable: true, get: () => null, set: () => undefined });
      return device;
    };
    return adapter;
  };
  (globalThis as unknown as { navigator: unknown }).navigator = { gpu: gpuApi };
  const adapter = await (
    navigator as unknown as { gpu: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } }
  ).gpu.requestAdapter();
  return run('webgpu', adapter?.info ?? {});
}

async function run(replayMode: 'webgpu' | 'cpu' | 'webasm', info: Record<string, string>): Promise<void> {
  const gpu = new GPU({ mode: replayMode });
  const reps = Number(process.env.REPS ?? 15);

  // Trace: a webasm backend whose gpu.js createKernel records every launch.
  const tracer = G.createGpuBackend({ mode: 'webasm', strict: true });
  let trace: Launch[] = [];
  const g0 = tracer.device.gpu as unknown as { createKernel: (src: string, s: Record<string, unknown>) => (...a: unknown[]) => unknown };
  const orig = g0.createKernel.bind(g0);
  g0.createKernel = (src, settings) => {
    const k = orig(src, settings);
    return (...args: unknown[]) => {
      const out = k(...args);
      trace.push({ src, outSize: (settings.output as number[])[0] as number, args, out });
      return out;
    };
  };

  const specs: { name: string; shape: string; f: () => T.Tensor }[] = [];
  const mm = (m: number, k: number, n: number) => {
    const x = T.Tensor.randn([m, k], 1);
    const w = T.Tensor.randn([k, n], 2);
    specs.push({ name: 'matmul', shape: `[${m},${k}]·[${k},${n}]`, f: () => T.matmul(x, w) });
  };
  mm(128, 768, 768);
  mm(64, 768, 3072);
  mm(1024, 768, 3072);
  mm(2048, 2048, 2048);
  const x = T.Tensor.randn([512, 768], 4);
  const gam = T.Tensor.randn([768], 5);
  const bet = T.Tensor.randn([768], 6);
  specs.push({ name: 'layerNorm', shape: '[512,768]', f: () => T.layerNormKernel(x, gam, bet, -1, 1e-5).y });
  specs.push({ name: 'rmsNorm', shape: '[512,768]', f: () => T.rmsNormKernel(x, gam, undefined, -1, 1e-5) });
  const big = T.Tensor.randn([8192, 768], 7);
  specs.push({ name: 'layerNorm', shape: '[8192,768]', f: () => T.layerNormKernel(big, gam, bet, -1, 1e-5).y });
  specs.push({ name: 'rmsNorm', shape: '[8192,768]', f: () => T.rmsNormKernel(big, gam, undefined, -1, 1e-5) });
  const s = T.Tensor.randn([12, 128, 128], 3);
  specs.push({ name: 'softmax', shape: '[12,128,128]', f: () => T.softmax(s, -1) });

  const cpu = new T.CpuBackend();
  const rows: Record<string, unknown>[] = [];
  const only = process.env.ONLY;
  for (const spec of only === 'e2e' ? [] : specs) {
    // CPU backend and webasm backend timings (op + read-back).
    const time = (b: T.Backend, n: number) => {
      const ts: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        void T.withBackend(b, spec.f).data;
        ts.push(performance.now() - t0);
      }
      return median(ts);
    };
    const want = T.withBackend(cpu, spec.f);
    const cpuMs = time(cpu, spec.name === 'matmul' && Number(spec.shape.slice(1, 5)) >= 1024 ? 1 : 5);
    trace = [];
    const tw = performance.now();
    void T.withBackend(tracer, spec.f).data;
    const wasmFirstMs = performance.now() - tw;
    const launches = trace;
    trace = [];
    const wasmMs = spec.name === 'matmul' && Number(spec.shape.slice(1, 5)) >= 1024 ? wasmFirstMs : time(tracer, 5);
    // Replay on WebGPU.
    const kernels = launches.map(
      (l) =>
        gpu.createKernel(l.src, {
          output: [l.outSize],
          pipeline: true,
          immutable: true,
          precision: 'single',
          tactic: 'precision',
        } as never) as unknown as (...a: unknown[]) => Promise<unknown>,
    );
    const replay = async (): Promise<Float32Array> => {
      const produced = new Map<unknown, unknown>();
      let last: unknown;
      const temps: { delete?: () => void }[] = [];
      for (let i = 0; i < launches.length; i++) {
        const l = launches[i] as Launch;
        const args = l.args.map((a) => produced.get(a) ?? a);
        last = await (kernels[i] as (...a: unknown[]) => Promise<unknown>)(...args);
        produced.set(l.out, last);
        temps.push(last as { delete?: () => void });
      }
      const lr = last as { toArray?: () => Promise<Float32Array> } | Float32Array;
      const arr = lr instanceof Float32Array ? lr : ((await lr.toArray?.()) as Float32Array);
      for (const t of temps) t.delete?.();
      return arr;
    };
    const t0 = performance.now();
    const got = await replay();
    const firstMs = performance.now() - t0;
    const ts: number[] = [];
    for (let i = 0; i < reps; i++) {
      const a = performance.now();
      await replay();
      ts.push(performance.now() - a);
    }
    const wd = want.data as Float32Array;
    let meanAbs = 0;
    for (const v of wd) meanAbs += Math.abs(v);
    meanAbs /= wd.length;
    let worst = 0;
    for (let i = 0; i < wd.length; i++)
      worst = Math.max(worst, Math.abs((got[i] as number) - (wd[i] as number)) / (Math.abs(wd[i] as number) + meanAbs));
    const webgpuMs = median(ts);
    rows.push({
      op: spec.name,
      shape: spec.shape,
      launches: launches.length,
      cpuBackendMs: cpuMs,
      webasmMs: wasmMs,
      webgpuMs,
      webgpuFirstMs: firstMs,
      speedupWebgpuVsCpu: cpuMs / webgpuMs,
      worstRelErrVsCpu: worst,
    });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  const e2e =
    only === 'kernels'
      ? []
      : await endToEnd(
          gpu,
          tracer,
          () => trace,
          (t) => (trace = t),
          reps,
        );
  console.log(JSON.stringify({ replayMode, adapter: info, node: process.version, reps, rows, e2e }, null, 2));
  tracer.dispose();
  process.exit(0);
}

/**
 * A zoo model end to end (original and LN→RMSNorm converted): the Executor runs once on the webasm
 * tracer (constants folded at construction, not traced), its launches are replayed on WebGPU with
 * every host array (weights, folded constants, inputs) uploaded once and kept resident, and the
 * output is read back; timed against the CPU backend's Executor.run.
 */
async function endToEnd(
  gpu: GPU,
  tracer: G.GpuBackend,
  get: () => Launch[],
  set: (t: Launch[]) => void,
  reps: number,
): Promise<Record<string, unknown>[]> {
  const graph = (await import('@normkit/graph')) as unknown as Record<string, unknown>;
  const zoo = (await import('@normkit/zoo')) as unknown as Record<string, unknown>;
  type Ex = { run(i: unknown): { outputs: Record<string, T.Tensor> } };
  const Executor = graph.Executor as new (m: unknown, o: { backend: T.Backend }) => Ex;
  const size = (process.env.E2E_SIZE ?? 'small') as string;
  const seq = Number(process.env.E2E_SEQ ?? 64);
  const base = (zoo.buildModel as (n: string, o: unknown) => { clone(): unknown })('gpt2', { size, seqLen: seq, seed: 0 });
  const folded = (graph.foldLayerNorms as (m: unknown, o: unknown) => { model: unknown })(base.clone(), { verify: false }).model;
  const inputs = (graph.randomInputs as (m: unknown, s: number) => Record<string, T.Tensor>)(base, 1);
  const cpu = new T.CpuBackend();
  const ident = gpu.createKernel('function(a) { return a[this.thread.x]; }', {
    dynamicOutput: true,
    dynamicArguments: true,
    pipeline: true,
    immutable: true,
    precision: 'single',
    tactic: 'precision',
  } as never) as unknown as {
    setOutput(o: number[]): void;
    (...a: unknown[]): Promise<unknown>;
  };
  const out: Record<string, unknown>[] = [];
  for (const [variant, model] of [
    ['original', base],
    ['converted', folded],
  ] as const) {
    const cpuEx = new Executor(model, { backend: cpu });
    const want = cpuEx.run(inputs).outputs;
    const tc = performance.now();
    cpuEx.run(inputs);
    const cpuMs = performance.now() - tc;
    const wasmEx = new Executor(model, { backend: tracer });
    set([]);
    const tw = performance.now();
    const gotWasm = wasmEx.run(inputs).outputs;
    for (const t of Object.values(gotWasm)) void t.data;
    const wasmMs = performance.now() - tw;
    const launches = get();
    set([]);
    const outName = Object.keys(want)[0] as string;
    const outChunk = (gotWasm[outName]?.deviceStorage?.handle as { chunks: unknown[] } | undefined)?.chunks[0];
    const outIdx = launches.findIndex((l) => l.out === outChunk);
    const kernels = new Map<string, (...a: unknown[]) => Promise<unknown>>();
    const kernelFor = (l: Launch) => {
      const key = `${l.outSize}|${l.args.map((a) => (a as Float32Array).length ?? 0).join(',')}|${l.src}`;
      let k = kernels.get(key);
      if (!k) {
        k = gpu.createKernel(l.src, {
          output: [l.outSize],
          pipeline: true,
          immutable: true,
          precision: 'single',
          tactic: 'precision',
        } as never) as unknown as (...a: unknown[]) => Promise<unknown>;
        kernels.set(key, k);
      }
      return k;
    };
    const produced = new Set(launches.map((l) => l.out));
    const resident = new Map<unknown, unknown>();
    for (const l of launches)
      for (const a of l.args)
        if (!produced.has(a) && !resident.has(a)) {
          ident.setOutput([(a as Float32Array).length]);
          resident.set(a, await ident(a));
        }
    const replay = async () => {
      const map = new Map<unknown, unknown>(resident);
      const temps: { delete?: () => void }[] = [];
      let result: unknown;
      for (let i = 0; i < launches.length; i++) {
        const l = launches[i] as Launch;
        const r = await kernelFor(l)(...l.args.map((a) => map.get(a) ?? a));
        map.set(l.out, r);
        temps.push(r as { delete?: () => void });
        if (i === outIdx) result = r;
      }
      const r = result as { toArray?: () => Promise<Float32Array> } | Float32Array;
      const arr = r instanceof Float32Array ? r : ((await r.toArray?.()) as Float32Array);
      for (const t of temps) t.delete?.();
      return arr;
    };
    const t0 = performance.now();
    const got = await replay();
    const firstMs = performance.now() - t0;
    const ts: number[] = [];
    for (let i = 0; i < Math.min(reps, 7); i++) {
      const a = performance.now();
      await replay();
      ts.push(performance.now() - a);
    }
    const wd = want[outName]?.data as Float32Array;
    let meanAbs = 0;
    for (const v of wd) meanAbs += Math.abs(v);
    meanAbs /= wd.length;
    let worst = 0;
    for (let i = 0; i < wd.length; i++)
      worst = Math.max(worst, Math.abs((got[i] as number) - (wd[i] as number)) / (Math.abs(wd[i] as number) + meanAbs));
    const webgpuMs = median(ts);
    const row = {
      model: `gpt2 ${size} ${variant}`,
      seq,
      output: outName,
      launches: launches.length,
      residentArrays: resident.size,
      cpuBackendMs: cpuMs,
      webasmMs: wasmMs,
      webgpuMs,
      webgpuFirstMs: firstMs,
      speedupWebgpuVsCpu: cpuMs / webgpuMs,
      worstRelErrVsCpu: worst,
    };
    console.error(JSON.stringify(row));
    out.push(row);
  }
  return out;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * `REPLAY_MODE=runasync`: the backend itself in webgpu mode, GPT-2 (E2E_SIZE, default small; E2E_SEQ,
 * default 64) original and LN→RMSNorm converted, end to end through `Executor.runAsync` (weights
 * resident after the first run, outputs read back), against the CPU backend's `Executor.run`; medians
 * of REPS runs and the worst relative error. Needs a WebGPU adapter (`initWebGpu`).
 */
async function runAsyncEndToEnd(): Promise<void> {
  const status = await G.initWebGpu();
  if (!status.available) throw new Error(`no WebGPU here: ${status.reason}`);
  const graph = await import('@normkit/graph');
  const zoo = await import('@normkit/zoo');
  const reps = Number(process.env.REPS ?? 9);
  const size = (process.env.E2E_SIZE ?? 'small') as 'small';
  const seq = Number(process.env.E2E_SEQ ?? 64);
  const base = zoo.buildModel('gpt2', { size, seqLen: seq, seed: 0 });
  const folded = graph.foldLayerNorms(base.clone(), { verify: false }).model;
  const inputs = graph.randomInputs(base, 1);
  const cpu = new T.CpuBackend();
  const webgpu = G.createGpuBackend({ mode: 'webgpu' });
  const rows: Record<string, unknown>[] = [];
  for (const [variant, model] of [
    ['original', base],
    ['converted', folded],
  ] as const) {
    const cpuEx = new graph.Executor(model, { backend: cpu });
    const gpuEx = new graph.Executor(model, { backend: webgpu });
    const want = cpuEx.run(inputs).outputs;
    const cpuTimes: number[] = [];
    for (let i = 0; i < Math.min(reps, 3); i++) {
      const t0 = performance.now();
      cpuEx.run(inputs);
      cpuTimes.push(performance.now() - t0);
    }
    let got = (await gpuEx.runAsync(inputs, { profile: true })) as Awaited<ReturnType<typeof gpuEx.runAsync>>;
    const crossings = got.profile?.crossings;
    const gpuTimes: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      got = await gpuEx.runAsync(inputs);
      gpuTimes.push(performance.now() - t0);
    }
    let worst = 0;
    for (const [k, w] of Object.entries(want)) {
      const wd = w.data as Float32Array;
      const gd = (got.outputs[k] as T.Tensor).data as Float32Array;
      let meanAbs = 0;
      for (const v of wd) meanAbs += Math.abs(v) / wd.length;
      for (let i = 0; i < wd.length; i++)
        worst = Math.max(worst, Math.abs((gd[i] as number) - (wd[i] as number)) / (Math.abs(wd[i] as number) + meanAbs));
    }
    const row = {
      model: `gpt2 ${size} seq ${seq} ${variant}`,
      cpuBackendMs: median(cpuTimes),
      webgpuRunAsyncMs: median(gpuTimes),
      crossings,
      worstRelErrVsCpu: worst,
    };
    rows.push({ ...row, speedup: row.cpuBackendMs / row.webgpuRunAsyncMs });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  console.log(JSON.stringify({ replayMode: 'runasync', adapter: status.adapter, node: process.version, reps, rows }, null, 2));
  webgpu.dispose();
  process.exit(0);
}
