/// <reference lib="webworker" />
// The page's worker: it holds the models and does everything that takes time (decode, analyze, fold,
// verify, benchmark on the CPU and in onnxruntime-web), so the page never freezes. Messages: protocol.ts.
import { GraphBuilder, type Model, randomInputs } from '@normkit/graph';
import { encodeModel } from '@normkit/onnx';
import { NormkitError } from '@normkit/tensor';
import { architectures, buildModel, type ZooSize } from '@normkit/zoo';
import { analyze, graphData } from './analysis.js';
import { convertAndVerify } from './convert.js';
import { benchEngine, executorRunner } from './engines.js';
import { openModelBytes } from './open.js';
import { configureOrt, createOrtRunner, ortVersion } from './ort.js';
import type { OpenedInfo, Reply, Request } from './protocol.js';
import { summarize } from './summary.js';

interface Loaded {
  label: string;
  model: Model;
  /** What onnxruntime-web loads: the file as opened, or the model encoded with its external data inline. */
  bytes: Uint8Array;
  converted?: { model: Model; bytes: Uint8Array };
}

let current: Loaded | undefined;

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = async (ev: MessageEvent<{ id: number; request: Request }>) => {
  const { id, request } = ev.data;
  const post = (r: Reply, transfer: Transferable[] = []) => scope.postMessage(r, transfer);
  const progress = (fraction: number, label: string) => post({ id, type: 'progress', fraction, label });
  try {
    const { value, transfer } = await handle(request, progress);
    post({ id, type: 'done', value }, transfer);
  } catch (e) {
    const code = e instanceof NormkitError ? e.code : 'INTERNAL';
    post({ id, type: 'error', code, message: e instanceof Error ? e.message : String(e) });
  }
};

async function handle(req: Request, progress: (f: number, l: string) => void): Promise<{ value: unknown; transfer?: Transferable[] }> {
  switch (req.type) {
    case 'init':
      configureOrt(req.ortWasmUrl);
      await warmUpOrt();
      return {
        value: { architectures: architectures.map((a) => ({ name: a.name, description: a.description })), ortVersion: ortVersion() },
      };
    case 'open': {
      progress(0.1, `reading ${req.name}`);
      const external = Object.fromEntries(Object.entries(req.external).map(([k, v]) => [k, new Uint8Array(v)]));
      const bytes = new Uint8Array(req.bytes);
      const model = openModelBytes(req.name, bytes, external);
      const inline = Object.keys(external).length > 0 ? encodeModel(model) : bytes;
      return { value: load(req.name, model, inline, bytes.length, progress) };
    }
    case 'zoo': {
      progress(0.1, `building zoo:${req.arch}:${req.size}`);
      const model = buildModel(req.arch, { size: req.size as ZooSize, seed: 0 });
      return { value: load(`zoo:${req.arch}:${req.size}`, model, encodeModel(model), null, progress) };
    }
    case 'convert': {
      const m = need();
      const { info, converted } = await convertAndVerify(m.model, m.bytes, m.label, req.rmsFormat, progress);
      m.converted = { model: converted, bytes: new Uint8Array(info.bytes.slice(0)) };
      return { value: info, transfer: [info.bytes] };
    }
    case 'original': {
      const m = need();
      return { value: { original: m.bytes.slice().buffer, converted: m.converted?.bytes.slice().buffer ?? null } };
    }
    case 'bench':
      return { value: await bench(req.engines, req.rounds, progress) };
  }
}

function load(
  label: string,
  model: Model,
  bytes: Uint8Array,
  fileBytes: number | null,
  progress: (f: number, l: string) => void,
): OpenedInfo {
  progress(0.4, 'analyzing the LayerNorms');
  const summary = summarize(model, label, fileBytes);
  const { view, report, recognized } = analyze(model);
  current = { label, model, bytes };
  progress(0.9, 'preparing the graph');
  return { summary, analysis: view, graph: graphData(recognized, report) };
}

function need(): Loaded {
  if (!current) throw new NormkitError('NO_MODEL', 'open a model first');
  return current;
}

async function bench(engines: string[], rounds: number, progress: (f: number, l: string) => void) {
  const m = need();
  const c = m.converted;
  if (!c) throw new NormkitError('NOT_CONVERTED', 'convert the model first: the benchmark compares the original with the converted model');
  const feeds = randomInputs(m.model, 0);
  const rows = [];
  for (const [i, engine] of engines.entries()) {
    const step = (r: number) => {
      progress((i + (r + 1) / rounds) / engines.length, `${engine}: round ${r + 1} of ${rounds}`);
      return new Promise<void>((res) => setTimeout(res, 0));
    };
    progress(i / engines.length, `${engine}: loading`);
    if (engine === 'normkit-cpu')
      rows.push(
        await benchEngine(
          engine,
          'normkit executor, CPU backend (WebAssembly GEMM)',
          async (w) => executorRunner(w === 'original' ? m.model : c.model),
          feeds,
          rounds,
          step,
        ),
      );
    else if (engine === 'onnxruntime-web') {
      const load = async (w: 'original' | 'converted') => {
        const r = await createOrtRunner(w === 'original' ? m.bytes : c.bytes);
        return { run: r.run, dispose: r.release };
      };
      rows.push(await benchEngine(engine, `onnxruntime-web ${ortVersion()} (wasm, 1 thread)`, load, feeds, rounds, step));
    } else throw new NormkitError('UNKNOWN_ENGINE', `unknown engine "${engine}" for the worker`);
  }
  return rows;
}

/** Loads onnxruntime-web's WebAssembly now (a one-node model), so nothing is fetched once the page is ready. */
async function warmUpOrt(): Promise<void> {
  const b = new GraphBuilder('warmup');
  b.output(b.op('Relu', [b.input('x', 'float32', [1])]));
  const r = await createOrtRunner(encodeModel(b.model(17)));
  await r.release();
}
