// The page: wires the controls to the worker (models, analysis, conversion, CPU benchmarks), the
// layout worker (elkjs) and the graphics-device benchmarks on this thread.
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { WorkerClient } from './client.js';
import { dropped, openRequest, type PickedFile, picked } from './files.js';
import { benchEngines, benchOnDevice, prepareWebGpu } from './gpu-engines.js';
import { GraphView } from './graph-view.js';
import type { BenchRow, ConvertInfo, GraphData, Layout, OpenedInfo, RmsFormat } from './protocol.js';
import { benchHtml, componentsHtml, convertHtml, lnHeadline, lnTableHtml, summaryHtml } from './views.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

const client = new WorkerClient(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }));
const layoutWorker = new Worker(new URL('./layout-worker.ts', import.meta.url), { type: 'module' });
const graphView = new GraphView($('graph'));
const actions = ['zoo-open', 'convert', 'bench', 'file-input', 'folder-input'].map((id) => $<HTMLButtonElement>(id));
let downloadUrl: string | undefined;
let converted: ConvertInfo | undefined;
let layoutSeq = 0;

/** Shows a failure in the page (never a blank page): what went wrong, from the error's own message. */
function showError(e: unknown): void {
  const box = $('error');
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
  setStatus(0, 'Failed: see the message below.');
}

function clearError(): void {
  $('error').hidden = true;
  $('error').textContent = '';
}

function setStatus(fraction: number, text: string): void {
  $<HTMLProgressElement>('progress').value = fraction;
  $('status-text').textContent = text;
}

/** Runs one job at a time with the controls disabled, its progress shown and its failure reported. */
async function job(label: string, fn: (progress: (f: number, l: string) => void) => Promise<void>): Promise<void> {
  clearError();
  for (const a of actions) a.disabled = true;
  document.body.dataset.busy = 'true';
  setStatus(0, `${label}…`);
  try {
    await fn((f, l) => setStatus(f, `${label}: ${l}`));
  } catch (e) {
    showError(e);
  } finally {
    for (const a of actions) a.disabled = false;
    delete document.body.dataset.busy;
  }
}

function showModel(info: OpenedInfo): void {
  converted = undefined;
  $('summary').innerHTML = summaryHtml(info.summary);
  $('ln-summary').textContent = lnHeadline(info.analysis);
  $('ln-table').innerHTML = lnTableHtml(info.analysis);
  $('components').innerHTML = componentsHtml(info.analysis);
  $('convert-result').innerHTML = '';
  $('bench-result').innerHTML = '';
  $('download-row').hidden = true;
  for (const id of ['summary-panel', 'ln-panel', 'graph-panel', 'convert-panel']) $(id).hidden = false;
  $('bench-panel').hidden = true;
  $<HTMLButtonElement>('convert').disabled = info.analysis.foldable === 0;
  void drawGraph(info.graph);
}

/** Lays the graph out in the layout worker and draws it; the page stays usable meanwhile. */
async function drawGraph(data: GraphData): Promise<void> {
  const seq = ++layoutSeq;
  const status = $('graph-status');
  document.body.dataset.graph = 'layout';
  status.textContent = `laying out ${data.nodes.length} nodes (${data.hidden} Constant nodes not drawn)…`;
  const t0 = performance.now();
  let layout: Layout;
  try {
    layout = await layoutGraph(data);
  } catch (e) {
    if (seq === layoutSeq) status.textContent = e instanceof Error ? e.message : String(e);
    return;
  }
  if (seq !== layoutSeq) return;
  graphView.show(data, layout);
  status.textContent = `${data.nodes.length} nodes, ${data.edges.length} edges${data.hidden ? ` (${data.hidden} Constant nodes not drawn)` : ''}; laid out by elkjs in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  document.body.dataset.graph = 'ready';
}

const layouts = new Map<number, { resolve: (l: Layout) => void; reject: (e: Error) => void }>();
let nextLayout = 1;
layoutWorker.onmessage = (ev: MessageEvent<{ id: number; layout?: Layout; error?: string }>) => {
  const p = layouts.get(ev.data.id);
  layouts.delete(ev.data.id);
  if (ev.data.layout) p?.resolve(ev.data.layout);
  else p?.reject(new Error(`graph layout failed: ${ev.data.error}`));
};
layoutWorker.onerror = (ev) => {
  for (const p of layouts.values()) p.reject(new Error(`graph layout failed: ${ev.message}`));
  layouts.clear();
};

/** Lays out `data` in the layout worker; each request gets its own answer, however they overlap. */
function layoutGraph(data: GraphData): Promise<Layout> {
  const id = nextLayout++;
  return new Promise((resolve, reject) => {
    layouts.set(id, { resolve, reject });
    layoutWorker.postMessage({ id, graph: data });
  });
}

async function openFiles(files: PickedFile[]): Promise<void> {
  await job('Opening', async (progress) => {
    const { request, transfer, others } = await openRequest(files);
    const info = await client.call<OpenedInfo>(request, progress, transfer);
    showModel(info);
    setStatus(1, `Opened ${request.name}${others.length ? ` (also in the folder, not opened: ${others.join(', ')})` : ''}.`);
  });
}

async function openZoo(): Promise<void> {
  const arch = $<HTMLSelectElement>('zoo-arch').value;
  const size = $<HTMLSelectElement>('zoo-size').value;
  await job(`Building zoo:${arch}:${size}`, async (progress) => {
    showModel(await client.call<OpenedInfo>({ type: 'zoo', arch, size }, progress));
    setStatus(1, `Opened zoo:${arch}:${size}.`);
  });
}

async function convert(): Promise<void> {
  const rmsFormat = $<HTMLSelectElement>('rms-format').value as RmsFormat;
  await job('Converting', async (progress) => {
    $('download-row').hidden = true;
    const info = await client.call<ConvertInfo>({ type: 'convert', rmsFormat }, progress);
    converted = info;
    $('convert-result').innerHTML = convertHtml(info);
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([info.bytes], { type: 'application/octet-stream' }));
    const a = $<HTMLAnchorElement>('download');
    a.href = downloadUrl;
    a.download = info.fileName;
    a.textContent = `Download ${info.fileName}`;
    $('force-row').hidden = info.equivalent;
    $<HTMLInputElement>('force').checked = false;
    a.hidden = !info.equivalent;
    $('download-row').hidden = false;
    $('bench-panel').hidden = false;
    setStatus(1, info.equivalent ? 'Converted and verified.' : 'Converted, but verification failed.');
  });
}

async function bench(): Promise<void> {
  const engines = [...document.querySelectorAll<HTMLInputElement>('#engines input:checked')].map((i) => i.value);
  const rounds = Math.max(3, Math.min(200, Number($<HTMLInputElement>('rounds').value) || 10));
  await job('Benchmarking', async (progress) => {
    if (engines.length === 0) throw new Error('choose at least one engine to benchmark');
    const rows: BenchRow[] = [];
    const choices = benchEngines();
    const inWorker = engines.filter((e) => choices.find((c) => c.name === e)?.where === 'worker');
    const onPage = engines.filter((e) => !inWorker.includes(e));
    if (inWorker.length > 0) rows.push(...(await client.call<BenchRow[]>({ type: 'bench', engines: inWorker, rounds }, progress)));
    if (onPage.length > 0) {
      const m = await client.call<{ original: ArrayBuffer; converted: ArrayBuffer }>({ type: 'original' });
      for (const e of onPage) {
        const mode = e === 'normkit-webgpu' ? 'webgpu' : 'webgl2';
        rows.push(
          await benchOnDevice(mode, m.original, m.converted, rounds, (r) =>
            progress((r + 1) / rounds, `${e}: round ${r + 1} of ${rounds}`),
          ),
        );
      }
    }
    const order = (e: string) => engines.indexOf(e);
    rows.sort((a, b) => order(a.engine) - order(b.engine));
    $('bench-result').innerHTML = benchHtml(rows, rounds);
    setStatus(1, 'Benchmark done.');
  });
}

function renderEngines(): void {
  $('engines').innerHTML = '';
  for (const e of benchEngines()) {
    const label = document.createElement('label');
    label.className = 'engine';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = e.name;
    box.name = 'engine';
    box.checked = e.available;
    box.disabled = !e.available;
    const small = document.createElement('small');
    small.textContent = e.available ? '' : ` — not available here: ${e.reason}`;
    label.append(box, ` ${e.name}: ${e.label}`, small);
    $('engines').append(label);
  }
}

function wire(): void {
  $<HTMLInputElement>('file-input').addEventListener('change', (e) => {
    const files = picked((e.target as HTMLInputElement).files);
    if (files.length) void openFiles(files);
  });
  $<HTMLInputElement>('folder-input').addEventListener('change', (e) => {
    const files = picked((e.target as HTMLInputElement).files);
    if (files.length) void openFiles(files);
  });
  $('zoo-open').addEventListener('click', () => void openZoo());
  $('convert').addEventListener('click', () => void convert());
  $('bench').addEventListener('click', () => void bench());
  $('zoom-in').addEventListener('click', () => graphView.zoomBy(1.4));
  $('zoom-out').addEventListener('click', () => graphView.zoomBy(1 / 1.4));
  $('zoom-fit').addEventListener('click', () => graphView.fit());
  $('force').addEventListener('change', (e) => {
    $('download').hidden = !(converted?.equivalent || (e.target as HTMLInputElement).checked);
  });
  $('ln-table').addEventListener('click', (e) => {
    const name = (e.target as HTMLElement).closest<HTMLElement>('[data-focus]')?.dataset.focus;
    if (!name) return;
    if (graphView.focus(name)) $('graph-panel').scrollIntoView({ behavior: 'smooth', block: 'center' });
    else $('graph-status').textContent = `${name}: the graph is still being laid out`;
  });
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    if (!e.dataTransfer) return;
    void dropped(e.dataTransfer).then(openFiles, showError);
  });
  window.addEventListener('error', (e) => showError(e.error ?? e.message));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason));
}

async function init(): Promise<void> {
  wire();
  await job('Starting', async () => {
    await prepareWebGpu();
    renderEngines();
    const info = await client.call<{ architectures: { name: string; description: string }[]; ortVersion: string }>({
      type: 'init',
      ortWasmUrl: new URL(ortWasmUrl, location.href).href,
    });
    const select = $<HTMLSelectElement>('zoo-arch');
    for (const a of info.architectures) {
      const o = document.createElement('option');
      o.value = a.name;
      o.textContent = a.name;
      o.title = a.description;
      select.append(o);
    }
    await layoutGraph({ nodes: [], edges: [], hidden: 0 });
    setStatus(0, `Ready (onnxruntime-web ${info.ortVersion}). Open a model: nothing you open leaves this machine.`);
  });
  document.documentElement.dataset.ready = $('error').hidden ? 'true' : 'failed';
}

void init();
