import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** The app's root directory. */
export const APP = fileURLToPath(new URL('..', import.meta.url));

/** Shared test data beside the repo (see docs/CONTRIBUTING.md). */
export const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));
const HISTORY = join(TESTDATA, 'third-party/onnxruntime-history/onnxruntime/python/tools/transformers/test_data');
/** The PyTorch 1.4 GPT-2 export: 25 decomposed LayerNorms, all foldable. */
export const GPT2 = join(HISTORY, 'gpt2_pytorch1.4_opset11_no_past/GPT2Model.onnx');
/** The PyTorch 1.4 BERT-QA export: 25 decomposed LayerNorms, only the embedding LN foldable (post-LN). */
export const BERT = join(HISTORY, 'bert_squad_pytorch1.4_opset11/BertForQuestionAnswering_0.onnx');

/** Debian's chromium (CI installs it with `apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

/** Where screenshots are kept (ignored by git; CI uploads them as artifacts). */
export const ARTIFACTS = join(APP, 'test-results');

/**
 * Builds the page with Vite from the packages' sources (NORMKIT_WEB_SOURCE=1) into a temporary
 * directory; the returned cleanup removes it.
 */
export async function buildPage(): Promise<{ dir: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'normkit-web-test-'));
  const { build } = await import('vite');
  process.env.NORMKIT_WEB_SOURCE = '1';
  process.env.NORMKIT_WEB_OUT_DIR = dir;
  try {
    await build({ root: APP, configFile: join(APP, 'vite.config.ts'), logLevel: 'warn' });
  } finally {
    delete process.env.NORMKIT_WEB_SOURCE;
    delete process.env.NORMKIT_WEB_OUT_DIR;
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Serves `dir` on 127.0.0.1 (a free port): the test's own minimal static host. */
export async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

/** Headless chromium with software WebGL2 (SwiftShader), and WebGPU on SwiftShader where it works. */
export async function launch(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-vulkan=swiftshader',
      '--use-webgpu-adapter=swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
