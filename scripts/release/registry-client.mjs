// Starts and stops the rehearsal's registry (scripts/release/registry.mjs) and gives the npm settings
// that point at it: a user made for this run, its token, and an npm cache of its own.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv } from './run.mjs';

/** Waits for the child's `listening <port>` line. */
function listening(child, timeoutMs) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the registry did not start in ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the registry exited (${code}) before listening:\n${out}`));
    });
  });
}

/**
 * Starts Verdaccio with `config` (copied into `dir`, where its storage and users live) and adds a user.
 * Returns `{ url, env, stop }`: `env` makes npm use only this registry.
 * @example
 * const registry = await startRegistry('scripts/release/verdaccio.yaml', '/tmp/x/registry');
 * await registry.stop();
 */
export async function startRegistry(config, dir) {
  mkdirSync(dir, { recursive: true });
  copyFileSync(config, join(dir, 'config.yaml'));
  const child = spawn(process.execPath, [join(import.meta.dirname, 'registry.mjs'), join(dir, 'config.yaml')], {
    cwd: dir,
    env: cleanEnv,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end(); // the registry exits when its stdin closes
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const port = await listening(child, 60_000);
    const url = `http://127.0.0.1:${port}/`;
    const user = { name: 'rehearsal', password: `rehearsal-${process.pid}-${Date.now()}` };
    const res = await fetch(`${url}-/user/org.couchdb.user:${user.name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(user),
    });
    const { token } = await res.json();
    if (!res.ok || !token) throw new Error(`the registry refused a user (${res.status})`);
    const npmrc = join(dir, 'npmrc');
    writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
    const env = { npm_config_registry: url, npm_config_userconfig: npmrc, npm_config_cache: join(dir, 'npm-cache') };
    return { url, env, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
