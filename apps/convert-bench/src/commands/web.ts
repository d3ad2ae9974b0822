import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { type Context, parsePositiveInt } from '../context.js';
import { CliError, EXIT_BAD_INPUT } from '../errors.js';

/** The port `normkit web` listens on unless `--port` says otherwise. */
export const DEFAULT_WEB_PORT = 8765;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

/**
 * The folder of the built page: `$NORMKIT_WEB_DIST` when set, else `webDist()` of the installed
 * `@normkit/web` (its package entry). Throws a `CliError` saying how to build or install it when it is
 * missing.
 *
 * @example await webRoot() // '/…/node_modules/@normkit/web/dist'
 */
export async function webRoot(): Promise<string> {
  let root = process.env.NORMKIT_WEB_DIST;
  if (!root) {
    try {
      root = (await import('@normkit/web')).webDist();
    } catch (e) {
      throw new CliError(
        `the page is not installed: @normkit/web could not be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); install it with \`npm install @normkit/web\``,
        EXIT_BAD_INPUT,
        'WEB_NOT_INSTALLED',
      );
    }
  }
  if (!existsSync(join(root, 'index.html')))
    throw new CliError(
      `the page is not built: ${join(root, 'index.html')} is missing; build it with \`npm run build -w @normkit/web\` (or \`npm run build\` at the repository root)`,
      EXIT_BAD_INPUT,
      'WEB_NOT_BUILT',
    );
  return root;
}

/**
 * A static server for the built page on 127.0.0.1: GET/HEAD of files under `root` only (no listing,
 * nothing outside it), with the content types browsers need (`application/wasm` for WebAssembly).
 *
 * @example
 * ```ts
 * const { server, url } = await serveStatic(webRoot(), 0);
 * ```
 */
export async function serveStatic(root: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => void respond(root, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new CliError(`port ${port} on 127.0.0.1 is in use; choose another with --port <n>`, EXIT_BAD_INPUT, 'PORT_IN_USE')
          : new CliError(`cannot listen on 127.0.0.1:${port}: ${e.message}`, EXIT_BAD_INPUT, 'LISTEN_FAILED'),
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${actual}/` };
}

async function respond(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
  } catch {
    res.writeHead(400).end('bad request');
    return;
  }
  const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
  if (!file.startsWith(normalize(root) + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    return;
  }
  const body = await readFile(file);
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * `normkit web [--port N]`: serves the browser page on 127.0.0.1, prints its URL as the first line on
 * stdout, and runs until interrupted (Ctrl+C). `signal` stops it too (for embedding).
 */
export async function webCommand(ctx: Context, o: { port?: string; signal?: AbortSignal } = {}): Promise<number> {
  const port = parsePositiveInt('--port', o.port, DEFAULT_WEB_PORT, { allowZero: true });
  if (port > 65535) throw new CliError(`--port must be at most 65535, got ${o.port}`, EXIT_BAD_INPUT, 'BAD_USAGE');
  const root = await webRoot();
  const { server, url } = await serveStatic(root, port);
  ctx.io.stdout(`${url}\n`);
  if (!ctx.quiet) ctx.io.stderr(`normkit web: serving ${root} on ${url} (only this machine can reach it); press Ctrl+C to stop\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    o.signal?.addEventListener('abort', stop, { once: true });
  });
  return 0;
}
