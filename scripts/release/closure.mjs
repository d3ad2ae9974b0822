// The third-party packages a release needs at install time, read from the root package-lock.json:
// every non-optional runtime dependency (and required peer) of the published workspaces, transitively,
// at the exact version and location (`node_modules/...`) the lockfile gives it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where Node's resolution finds `name` from the lockfile location `from` (nearest node_modules up). */
function locate(lock, from, name) {
  for (let base = from; ; ) {
    const key = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock[key]) return key;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

/**
 * Runtime dependencies of a manifest: `required` ones an install must fetch, and its optional peers,
 * which npm still resolves when another package in the tree pulls in a version outside the peer range
 * (gpu.js depends on webgpu 0.2, @normkit/gpu's optional peer wants 0.6).
 */
function runtimeDeps(json) {
  const optionalPeers = new Set(
    Object.entries(json.peerDependenciesMeta ?? {})
      .filter(([, m]) => m.optional)
      .map(([n]) => n),
  );
  const peers = Object.keys(json.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n));
  return { required: [...Object.keys(json.dependencies ?? {}), ...peers], optional: [...optionalPeers] };
}

/**
 * `[{ name, version, path }]` of every third-party package the given workspaces pull in.
 * @example
 * thirdPartyClosure(ROOT, [{ dir: 'apps/convert-bench', json }]); // [{ name: 'commander', version: '10.0.1', path: 'node_modules/commander' }, …]
 */
export function thirdPartyClosure(root, pkgs) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;
  const seen = new Map();
  const missing = [];
  const visit = (from, json) => {
    const { required, optional } = runtimeDeps(json);
    for (const name of [...required, ...optional]) {
      if (name.startsWith('@normkit/')) continue;
      const key = locate(lock, from, name);
      if (!key) {
        if (required.includes(name)) missing.push(`${name} (needed by ${json.name ?? from})`);
        continue;
      }
      if (seen.has(key)) continue;
      const entry = lock[key];
      seen.set(key, { name, version: entry.version, path: key });
      visit(key, { name, ...entry });
    }
  };
  for (const p of pkgs) visit(p.dir, p.json);
  if (missing.length > 0) throw new Error(`not in package-lock.json (run npm install): ${missing.join(', ')}`);
  return [...seen.values()];
}
