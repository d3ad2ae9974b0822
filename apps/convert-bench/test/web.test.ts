// `normkit web`: run as a user runs it (a child process), it prints the URL first, serves the page's
// files from 127.0.0.1 with the right types and nothing outside the page's folder, and exits 0 when
// interrupted. Bad setups (page not built, port taken) give one clear line and exit 2.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { APP, spawnCli, tempDir } from './helpers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts `normkit web …` and resolves with the first stdout line and the process. */
function startWeb(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(APP, 'src/cli.ts'), 'web', ...args], {
    cwd: APP,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, firstLine: out.slice(0, nl) });
    });
    child.stderr?.on('data', (d) => void (err += String(d)));
    child.on('exit', (code) => reject(new Error(`normkit web exited (${code}) before printing a URL: ${err}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.on('exit', (c) => r(c)));
}

/** A raw GET (no URL normalisation by the client, so `..` reaches the server as written). */
function get(url: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => void (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('normkit web', () => {
  it('prints the URL first, serves the page with the right types and nothing outside it, stops on Ctrl+C', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const page = join(dir, 'page');
      mkdirSync(join(page, 'assets'), { recursive: true });
      writeFileSync(join(page, 'index.html'), '<!doctype html><title>normkit</title><p>the page</p>');
      writeFileSync(join(page, 'assets', 'x.wasm'), Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]));
      writeFileSync(join(dir, 'secret.txt'), 'outside the page');
      const { child, firstLine } = await startWeb(['--port', '0'], { NORMKIT_WEB_DIST: page });
      expect(firstLine).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const index = await get(firstLine, '/');
      expect(index.status).toBe(200);
      expect(index.type).toContain('text/html');
      expect(index.body).toContain('the page');
      expect((await get(firstLine, '/assets/x.wasm')).type).toBe('application/wasm');
      expect((await get(firstLine, '/../secret.txt')).status).toBe(404);
      expect((await get(firstLine, '/%2e%2e/secret.txt')).status).toBe(404);
      expect((await get(firstLine, '/nope.js')).status).toBe(404);
      child.kill('SIGINT');
      expect(await exitCode(child)).toBe(0);
    } finally {
      cleanup();
    }
  });

  it('says how to build the page when it is not built, and exits 2', () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = spawnCli(['web', '--port', '0'], { env: { NORMKIT_WEB_DIST: dir } });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('the page is not built');
      expect(r.stderr).toContain('npm run build -w @normkit/web');
    } finally {
      cleanup();
    }
  });

  it('names a port that is taken, and exits 2', async () => {
    const { dir, cleanup } = tempDir();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      writeFileSync(join(dir, 'index.html'), '<!doctype html>');
      const port = String((blocker.address() as { port: number }).port);
      const r = spawnCli(['web', '--port', port], { env: { NORMKIT_WEB_DIST: dir } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(spawnCli(['web', '--port', '70000'], { env: { NORMKIT_WEB_DIST: dir } }).stderr).toContain('--port must be at most 65535');
    } finally {
      blocker.close();
      cleanup();
    }
  });

  const built = fileURLToPath(new URL('../../web/dist/index.html', import.meta.url));
  it.skipIf(!existsSync(built))(
    'serves the built @normkit/web page (found through its package entry) with every asset it names',
    async () => {
      const { child, firstLine } = await startWeb(['--port', '0'], { NORMKIT_WEB_DIST: '' });
      const index = await get(firstLine, '/');
      expect(index.body).toContain('normkit');
      const assets = [...index.body.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1] as string);
      expect(assets.length).toBeGreaterThan(0);
      for (const a of assets) expect((await get(firstLine, `/${a}`)).status, a).toBe(200);
      child.kill('SIGINT');
      expect(await exitCode(child)).toBe(0);
    },
  );
});
