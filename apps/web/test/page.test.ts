// The page in a real browser: built by Vite (from the packages' sources), served from 127.0.0.1,
// driven in Debian's headless chromium through playwright-core. Converted models are downloaded and
// checked against the originals in onnxruntime-node (an independent runtime). Screenshots of the main
// states are kept in test-results/ and looked at: key elements visible, the picture not blank.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, randomInputs } from '@normkit/graph';
import { encodeModel, saveModel, tensorFromProto } from '@normkit/onnx';
import { Tensor } from '@normkit/tensor';
import { architectures, buildModel } from '@normkit/zoo';
import * as ort from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, BERT, buildPage, GPT2, haveChromium, launch, serve } from './helpers.js';
import { pngStats } from './png.js';

if (!haveChromium) console.warn('[web test] skipped: /usr/bin/chromium not found; install it with `apt-get install -y chromium`');

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;
let built: Awaited<ReturnType<typeof buildPage>>;
let tmp: string;

/** A fresh page, ready; every request it makes is recorded (with whether the app was ready then). */
async function openPage(): Promise<{ page: Page; requests: { url: string; afterReady: boolean }[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const requests: { url: string; afterReady: boolean }[] = [];
  const errors: string[] = [];
  let ready = false;
  page.on('request', (r) => requests.push({ url: r.url(), afterReady: ready }));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url);
  await page.waitForSelector('html[data-ready]', { timeout: 60_000 });
  expect(await page.getAttribute('html', 'data-ready')).toBe('true');
  ready = true;
  return { page, requests, errors };
}

async function idle(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(() => !document.body.dataset.busy, null, { timeout });
}

async function errorText(page: Page): Promise<string> {
  return (await page.isVisible('#error')) ? ((await page.textContent('#error')) ?? '') : '';
}

/** Saves a screenshot as an artifact and checks it is a picture, not a blank page, and that `selectors` are visible with a size. */
async function shot(page: Page, name: string, selectors: string[]): Promise<void> {
  for (const s of selectors) {
    const box = await page.locator(s).first().boundingBox();
    expect(box, `${name}: ${s} is visible`).not.toBeNull();
    expect((box?.width ?? 0) * (box?.height ?? 0), `${name}: ${s} has a size`).toBeGreaterThan(100);
    expect(
      ((await page.locator(s).first().textContent()) ?? '').trim().length + (await page.locator(`${s} svg, ${s} rect`).count()),
      `${name}: ${s} is not empty`,
    ).toBeGreaterThan(0);
  }
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(join(ARTIFACTS, `${name}.png`), png);
  const s = pngStats(png);
  expect(s.width).toBeGreaterThan(600);
  expect(s.distinctColors, `${name}: more than a handful of colours`).toBeGreaterThan(20);
  expect(s.dominantShare, `${name}: not one colour all over`).toBeLessThan(0.9);
}

/** Runs a model file in onnxruntime-node (one thread) on `feeds`. */
async function runOrt(file: string | Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(file as string, { intraOpNumThreads: 1 });
  const inputs: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
  const res = await s.run(inputs);
  await s.release();
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.data as Float32Array]));
}

/** max |a − b| / max |a| over every output. */
function maxRelDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let worst = 0;
  for (const [k, x] of Object.entries(a)) {
    const y = b[k];
    if (!y || y.length !== x.length) return Infinity;
    let d = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs((x[i] as number) - (y[i] as number)));
      scale = Math.max(scale, Math.abs(x[i] as number));
    }
    worst = Math.max(worst, d / (scale || 1));
  }
  return worst;
}

async function download(page: Page, name: string): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const file = join(tmp, name);
  await dl.saveAs(file);
  return file;
}

describe.skipIf(!haveChromium)('the page in chromium', () => {
  beforeAll(async () => {
    built = await buildPage();
    tmp = built.dir;
    server = await serve(built.dir);
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    built?.cleanup();
  });

  it('zoo GPT-2: analysis, graph, convert (onnx23), download checked in onnxruntime-node, benchmark; no request after load', async () => {
    const { page, requests, errors } = await openPage();
    await page.selectOption('#zoo-arch', 'gpt2');
    await page.selectOption('#zoo-size', 'tiny');
    await page.click('#zoo-open');
    await idle(page);
    expect(await errorText(page)).toBe('');
    const want = architectures.find((a) => a.name === 'gpt2')?.expected('tiny');
    expect(await page.textContent('#ln-summary')).toContain(`${want?.foldable} of ${want?.layerNorms} LayerNorms foldable`);
    expect(await page.textContent('#summary-opsets')).toContain('ai.onnx 17');
    expect(await page.isVisible('#download'), 'nothing to download before converting').toBe(false);
    await page.waitForSelector('body[data-graph=ready]');
    // Clicking a LayerNorm in the table shows it in the graph: marked, and inside the visible area.
    const first = (await page.getAttribute('#ln-rows button[data-focus]', 'data-focus')) as string;
    await page.click(`#ln-rows button[data-focus="${first}"]`);
    const node = page.locator(`#graph .node.selected[data-id="${first}"]`);
    await expect.poll(() => node.count()).toBe(1);
    // Both boxes in one frame: the page scrolls smoothly to the graph, so two separate reads can straddle a scroll step.
    const inside = await node.evaluate((n) => {
      const [nb, gb] = [n.getBoundingClientRect(), (document.getElementById('graph') as HTMLElement).getBoundingClientRect()];
      return nb.left >= gb.left && nb.right <= gb.right && nb.top >= gb.top && nb.bottom <= gb.bottom;
    });
    expect(inside, 'the selected LayerNorm lies inside the graph view').toBe(true);
    await shot(page, 'zoo-gpt2-analysis', ['#summary', '#ln-table', '#graph .node.ln']);

    await page.selectOption('#rms-format', 'onnx23');
    await page.click('#convert');
    await idle(page);
    expect(await errorText(page)).toBe('');
    expect(await page.textContent('#equivalent')).toContain('equivalent: yes');
    const engines = await page.$$eval('#verify-table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
    expect(new Set(engines)).toEqual(new Set(['normkit-cpu', 'onnxruntime-web']));
    const file = await download(page, 'gpt2-tiny.rms.onnx');
    const original = buildModel('gpt2', { size: 'tiny', seed: 0 });
    const feeds = randomInputs(original, 7);
    const [a, b] = [await runOrt(encodeModel(original), feeds), await runOrt(file, feeds)];
    expect(maxRelDiff(a, b)).toBeLessThan(1e-5);
    expect(readFileSync(file).includes(Buffer.from('RMSNormalization'))).toBe(true);

    await page.fill('#rounds', '3');
    const names = await page.$$eval('#engines input:checked', (els) => els.map((e) => (e as HTMLInputElement).value));
    expect(names).toEqual(expect.arrayContaining(['normkit-cpu', 'normkit-webgl2', 'onnxruntime-web']));
    await page.click('#bench');
    await idle(page, 180_000);
    expect(await errorText(page)).toBe('');
    const speedups = await page.$$eval('#bench-table td.speedup', (tds) => tds.map((t) => Number.parseFloat(t.textContent ?? '')));
    expect(speedups.length).toBe(names.length);
    for (const s of speedups) expect(s).toBeGreaterThan(0);
    const bars = await page.$$eval('svg.chart rect.bar', (rs) => rs.map((r) => Number(r.getAttribute('width'))));
    expect(bars.length).toBe(2 * names.length);
    for (const w of bars) expect(w).toBeGreaterThan(0);
    await shot(page, 'zoo-gpt2-converted-bench', ['#convert-result', '#verify-table', '#bench-table', 'svg.chart']);

    // Every control (shown or not) has a label a screen reader can read.
    const labelled = await page.$$eval('input, select, button, a[href]', (els) =>
      els.map((e) => {
        const h = e as HTMLInputElement;
        const name =
          h.getAttribute('aria-label') || (h.labels && h.labels.length > 0 ? h.labels[0]?.textContent : '') || (e.textContent ?? '').trim();
        return { id: e.id || e.outerHTML.slice(0, 60), name: name?.trim() ?? '' };
      }),
    );
    expect(labelled.length).toBeGreaterThan(12);
    for (const c of labelled) expect(c.name, `control ${c.id} has a label`).not.toBe('');

    // Everything came from this server, and nothing at all was requested once the page was ready.
    const origin = new URL(server.url).origin;
    for (const r of requests) expect(r.url.startsWith(origin) || r.url.startsWith('blob:') || r.url.startsWith('data:'), r.url).toBe(true);
    expect(requests.filter((r) => r.afterReady && /^https?:|^wss?:/.test(r.url)).map((r) => r.url)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the PyTorch GPT-2 export: 25 of 25 foldable, converted file matches the original in onnxruntime-node', async () => {
    const { page } = await openPage();
    await page.setInputFiles('#file-input', GPT2);
    await idle(page);
    expect(await errorText(page)).toBe('');
    expect(await page.textContent('#ln-summary')).toContain('25 of 25 LayerNorms foldable');
    expect(await page.locator('#ln-rows tbody tr.foldable').count()).toBe(25);
    await page.click('#convert');
    await idle(page);
    expect(await page.textContent('#equivalent')).toContain('equivalent: yes');
    expect(await page.textContent('#convert-summary')).toContain('Folded 25 of 25 LayerNorms');
    const file = await download(page, 'GPT2Model.rms.onnx');
    // The stored input of the export, and the original run in onnxruntime-node as the reference.
    const dir = join(GPT2, '..', 'test_data_set_0');
    const input = tensorFromProto(new Uint8Array(readFileSync(join(dir, 'input_0.pb'))));
    const feeds = { input_ids: input };
    expect(maxRelDiff(await runOrt(GPT2, feeds), await runOrt(file, feeds))).toBeLessThan(1e-5);
    await page.waitForSelector('body[data-graph=ready]', { timeout: 60_000 });
    expect(await page.locator('#graph .node').count()).toBeGreaterThan(400);
    await page.click('#ln-rows button[data-focus]');
    await shot(page, 'gpt2-export-converted', ['#ln-table', '#graph .node.ln', '#verify-table']);
    await page.close();
  });

  it('a BERT export: its single foldable LayerNorm, and the reason and blocking path of each other one', async () => {
    const { page } = await openPage();
    await page.setInputFiles('#file-input', BERT);
    await idle(page);
    expect(await errorText(page)).toBe('');
    expect(await page.textContent('#ln-summary')).toContain('1 of 25 LayerNorms foldable');
    expect(await page.locator('#ln-rows tbody tr.foldable').count()).toBe(1);
    const blocked = await page.$$eval('#ln-rows tbody tr.blocked', (rows) =>
      rows.map((r) => ({ reason: r.querySelector('.reason')?.textContent ?? '', path: r.querySelector('.path')?.textContent ?? '' })),
    );
    expect(blocked.length).toBe(24);
    for (const b of blocked) {
      expect(b.reason).toMatch(/^blocked by "/);
      expect(b.path).toContain('←');
    }
    await page.waitForSelector('body[data-graph=ready]', { timeout: 60_000 });
    await page.click('#ln-rows tr.blocked button[data-focus]');
    await shot(page, 'bert-export-analysis', ['#ln-summary', '#ln-table', '#graph .node.ln.blocked']);
    await page.close();
  });

  it('bad files give a message in the page: truncated, text, missing external data, an op no engine has; the page stays usable', async () => {
    const { page, errors } = await openPage();
    const whole = readFileSync(GPT2);
    await page.setInputFiles('#file-input', {
      name: 'truncated.onnx',
      mimeType: 'application/octet-stream',
      buffer: whole.subarray(0, 50_000),
    });
    await idle(page);
    expect(await errorText(page)).toMatch(/truncated\.onnx: .*truncated or not an ONNX model/);
    await shot(page, 'error-truncated', ['#error']);
    await page.setInputFiles('#file-input', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('these are notes, not a model\n'),
    });
    await idle(page);
    expect(await errorText(page)).toMatch(/notes\.txt: .*not an ONNX model/);

    // A model whose weights live in an external file: alone it is refused with what to add; with the file it opens.
    const model = buildModel('gpt2', { size: 'tiny', seed: 0 });
    const onnx = join(tmp, 'ext', 'model.onnx');
    (await import('node:fs')).mkdirSync(join(tmp, 'ext'), { recursive: true });
    await saveModel(model, onnx, { externalDataThreshold: 1024 });
    await page.setInputFiles('#file-input', onnx);
    await idle(page);
    expect(await errorText(page)).toMatch(/external file "model\.onnx\.data", which was not opened with it/);
    await page.setInputFiles('#file-input', [onnx, `${onnx}.data`]);
    await idle(page);
    expect(await errorText(page)).toBe('');
    expect(await page.textContent('#ln-summary')).toContain('5 of 5 LayerNorms foldable');

    // A folder (the directory input): the model's external data is found beside it, and a second
    // model in the folder is named as not opened.
    const folder = join(tmp, 'folder');
    (await import('node:fs')).mkdirSync(folder, { recursive: true });
    await saveModel(buildModel('vit', { size: 'tiny', seed: 0 }), join(folder, 'model.onnx'), { externalDataThreshold: 1024 });
    writeFileSync(join(folder, 'other.onnx'), encodeModel(buildModel('bert', { size: 'tiny', seed: 0 })));
    await page.setInputFiles('#folder-input', folder);
    await idle(page);
    expect(await errorText(page)).toBe('');
    expect(await page.textContent('#ln-summary')).toContain('5 of 5 LayerNorms foldable');
    expect(await page.textContent('#status-text')).toMatch(/Opened model\.onnx .*not opened: folder\/other\.onnx/);

    // An op neither engine has: the LayerNorm folds, but nothing can verify it, and the page says why;
    // the file is offered only when asked for explicitly.
    const b = new GraphBuilder('custom');
    const x = b.input('x', 'float32', [2, 8]);
    const w = b.constant(
      'w',
      Tensor.from(
        Array.from({ length: 32 }, (_, i) => Math.sin(i)),
        [8, 4],
      ),
    );
    const bias = b.constant('b', Tensor.from([0.1, -0.2, 0.3, 0.4], [4]));
    const g = b.constant('g', Tensor.from([1, 2, 3, 4], [4]));
    const beta = b.constant('beta', Tensor.from([0, 1, 0, 1], [4]));
    const ln = b.op('LayerNormalization', [b.op('Add', [b.op('MatMul', [x, w]), bias]), g, beta], { axis: -1 });
    b.output(b.op('Frobnicate', [ln], {}, { domain: 'com.example' }), 'float32', [2, 4]);
    const custom = encodeModel(b.model(17, [{ domain: 'com.example', version: 1 }]));
    await page.setInputFiles('#file-input', { name: 'custom-op.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(custom) });
    await idle(page);
    expect(await page.textContent('#ln-summary')).toContain('1 of 1 LayerNorms foldable');
    await page.waitForSelector('body[data-graph=ready]');
    // input, MatMul, Add, LayerNorm, Frobnicate, output: the graph of this model, not of an earlier one.
    expect(await page.locator('#graph .node').count()).toBe(6);
    await page.click('#convert');
    await idle(page);
    const result = (await page.textContent('#convert-result')) ?? '';
    expect(result).toMatch(/normkit-cpu: not verified \(.*Frobnicate.*not supported by the normkit executor/);
    expect(result).toContain('onnxruntime-web: not verified');
    expect(await page.textContent('#equivalent')).toContain('equivalent: NO');
    expect(await page.isVisible('#download')).toBe(false);
    await page.check('#force');
    expect(await page.isVisible('#download')).toBe(true);
    await shot(page, 'error-unsupported-op', ['#convert-result', '#force-row']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keyboard only: open a file, convert, download; focus is visible', async () => {
    const { page } = await openPage();
    const file = join(tmp, 'gpt2-keyboard.onnx');
    writeFileSync(file, encodeModel(buildModel('gpt2', { size: 'tiny', seed: 1 })));
    const tabTo = async (id: string) => {
      for (let i = 0; i < 60; i++) {
        if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
        await page.keyboard.press('Tab');
      }
      throw new Error(`Tab never reached #${id}`);
    };
    // Listening turns on chromium's file-chooser interception; it must be on before Space is pressed,
    // or a slow machine opens the (headless, invisible) native dialog instead and no event comes.
    const chooserEvent = page.waitForEvent('filechooser', { timeout: 60_000 });
    await tabTo('file-input');
    await page.keyboard.press('Space');
    const chooser = await chooserEvent;
    await chooser.setFiles(file);
    await idle(page);
    expect(await page.textContent('#ln-summary')).toContain('5 of 5 LayerNorms foldable');
    await tabTo('convert');
    await page.keyboard.press('Enter');
    await idle(page);
    expect(await page.textContent('#equivalent')).toContain('equivalent: yes');
    await tabTo('download');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    expect(dl.suggestedFilename()).toBe('gpt2-keyboard.rms.onnx');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(outline).not.toBe('none');
    await page.close();
  });
});
