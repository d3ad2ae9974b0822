#!/usr/bin/env node
// The release rehearsal (`npm run release:rehearse`, part of `npm test`): makes the next release in a
// copy of the workspaces, publishes it to a real npm registry on 127.0.0.1 (Verdaccio, no uplinks) and
// installs every package by name and version in a fresh folder of its own, from that registry alone.
// The working tree is never modified; the registry is stopped however this ends.
//
//  1. build (turbo, cached), copy the workspaces to a temp folder, `changeset version` there
//  2. check the manifests (real versions, internal ranges that the new versions satisfy), `npm pack`
//     each, publint + arethetypeswrong on each tarball
//  3. start Verdaccio, publish the third-party packages they depend on (from this machine's npm cache
//     or node_modules: the registry never reaches the internet), then ours with `changeset publish`
//  4. per package: a fresh folder, `npm install <name>@<version>`, import it (ESM) and require it
//     (CJS), run its README's first example both ways (a shell example through npx, and `--help` of
//     every bin), and type-check a TypeScript consumer of all of them against the shipped .d.ts
//
// Options: --keep (keep the temp folder and print its path), --skip-build.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { placeFiles, ROOT, readmeExample, shellCommands, toModule } from '../readme-example.mjs';
import { thirdPartyClosure } from './closure.mjs';
import { startRegistry } from './registry-client.mjs';
import { run, runAll, step } from './run.mjs';

const args = new Set(process.argv.slice(2));
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const failures = [];

/** The non-private workspaces, in the root manifest's order. */
function workspaces(root) {
  const dirs = readJson(join(root, 'package.json')).workspaces.flatMap((pattern) => {
    const base = pattern.replace(/\/\*$/, '');
    return readdirSync(join(root, base)).map((d) => join(base, d));
  });
  return dirs
    .filter((d) => existsSync(join(root, d, 'package.json')))
    .map((dir) => ({ dir, json: readJson(join(root, dir, 'package.json')) }))
    .filter((p) => !p.json.private);
}

/** Copies what `changeset version` and `npm pack` read (not node_modules) into `stage`. */
function stageCopy(stage) {
  for (const f of ['package.json', '.npmrc', '.changeset'])
    if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(stage, f), { recursive: true });
  for (const { dir } of workspaces(ROOT)) {
    cpSync(join(ROOT, dir), join(stage, dir), {
      recursive: true,
      filter: (src) => !['node_modules', '.turbo'].includes(basename(src)),
    });
  }
}

/** Internal ranges must be real (no `workspace:`, no 0.0.0) and satisfied by the version being released. */
function checkManifests(pkgs, semver) {
  const versions = new Map(pkgs.map((p) => [p.json.name, p.json.version]));
  for (const { json } of pkgs) {
    if (json.version === '0.0.0') failures.push(`${json.name}: version is still 0.0.0 (no changeset releases it)`);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [name, range] of Object.entries(json[field] ?? {})) {
        if (!name.startsWith('@normkit/')) continue;
        const v = versions.get(name);
        const bad = range.startsWith('workspace:') || range === '0.0.0' || !v || !semver.satisfies(v, range);
        if (bad)
          failures.push(`${json.name}: ${field}.${name} is "${range}", which the release (${name}@${v ?? 'unpublished'}) does not satisfy`);
      }
    }
  }
}

/** `npm pack`s each workspace and runs publint and arethetypeswrong on the tarball. */
async function packAndLint(stage, pkgs, out) {
  for (const p of pkgs) {
    const name = (await run('npm', ['pack', '--silent', '--pack-destination', out], { cwd: join(stage, p.dir) })).trim().split('\n').pop();
    p.tarball = join(out, name);
  }
  await runAll(
    pkgs.flatMap((p) => [
      { label: `publint ${p.json.name}`, cmd: bin('publint'), args: ['--strict', p.tarball] },
      { label: `attw ${p.json.name}`, cmd: bin('attw'), args: ['--pack', '--profile', 'node16', '--format', 'ascii', p.tarball] },
    ]),
    failures,
  );
}

/** Tarballs of the third-party packages, from the npm cache when it has them, else packed from node_modules. */
async function thirdPartyTarballs(closure, out) {
  mkdirSync(out, { recursive: true });
  const tarball = async (dep) => {
    for (const source of [
      [`${dep.name}@${dep.version}`, '--offline'],
      [join(ROOT, dep.path), '--ignore-scripts'],
    ]) {
      try {
        const file = (await run('npm', ['pack', ...source, '--silent', '--pack-destination', out], { cwd: out })).trim().split('\n').pop();
        return { ...dep, file: join(out, file) };
      } catch {}
    }
    throw new Error(`no tarball for ${dep.name}@${dep.version} in the npm cache or in ${dep.path}`);
  };
  const found = [];
  await runAll(
    closure.map((dep) => ({ label: `tarball ${dep.name}@${dep.version}`, quiet: true, fn: async () => found.push(await tarball(dep)) })),
    failures,
  );
  return found;
}

/** Publishes the third-party tarballs; the versions of one name one after another, lowest first. */
async function publishThirdParty(tarballs, registry, semver) {
  const byName = new Map();
  for (const t of tarballs) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  await runAll(
    [...byName.values()].map((versions) => ({
      label: `publish ${versions[0].name}`,
      quiet: true,
      fn: async () => {
        for (const t of versions.sort((a, b) => semver.compare(a.version, b.version))) {
          await run('npm', ['publish', t.file, '--ignore-scripts', '--tag', 'latest'], { cwd: registry.dir, env: registry.env });
        }
      },
    })),
    failures,
  );
}

/** Publishes the release with the normal tool, as a maintainer would (`changeset publish`). */
async function publishOurs(stage, registry) {
  // changeset publish tags the release in git; the stage is a throwaway repository for that.
  await run('git', ['init', '-q'], { cwd: stage });
  await run(process.execPath, [join(ROOT, 'node_modules/@changesets/cli/bin.js'), 'publish'], { cwd: stage, env: registry.env });
}

/** One consumer per package: install by name@version, import, require, README example, bins. */
async function consume(p, all, registry, base) {
  const { name, version } = p.json;
  const dir = join(base, name.replace('@normkit/', ''));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${basename(dir)}`, private: true, type: 'module' }));
  writeFileSync(join(dir, '.npmrc'), 'onnxruntime-node-install=skip\nfund=false\naudit=false\nupdate-notifier=false\n');
  const example = readmeExample(join(ROOT, p.dir));
  // The README may import sibling packages; a user installs those too (by the same version).
  const imported = example ? [...example.code.matchAll(/from '(@normkit\/[^']+)'/g)].map((m) => m[1]) : [];
  const specs = [...new Set([name, ...imported])].map((n) => `${n}@${all.get(n) ?? version}`);
  await step(
    `install ${specs.join(' ')}`,
    () => run('npm', ['install', '--omit=optional', ...specs], { cwd: dir, env: registry.env }),
    failures,
  );
  const entry = p.json.exports || p.json.main;
  if (entry) {
    writeFileSync(
      join(dir, 'entry.mjs'),
      `const m = await import('${name}');\nif (Object.keys(m).length === 0) throw new Error('${name}: empty ESM entry');\n`,
    );
    writeFileSync(
      join(dir, 'entry.cjs'),
      `if (Object.keys(require('${name}')).length === 0) throw new Error('${name}: empty CJS entry');\n`,
    );
    await step(`${name} ESM import`, () => run('node', ['entry.mjs'], { cwd: dir }), failures);
    await step(`${name} CJS require`, () => run('node', ['entry.cjs'], { cwd: dir }), failures);
  }
  for (const b of Object.keys(p.json.bin ?? {}))
    await step(`npx ${b} --help`, () => run('npx', [b, '--help'], { cwd: dir, env: registry.env }), failures);
  await runExample(p, example, dir, registry);
  return { dir, example, entry };
}

/** Runs the README's first example in the consumer folder (ESM and CJS, or its shell commands). */
async function runExample(p, example, dir, registry) {
  const { name } = p.json;
  if (!example) return void failures.push(`${name}: README.md has no example`);
  if (example.missing.length > 0) return void console.log(`skip ${name} README example: needs ${example.missing.join(', ')}`);
  placeFiles(example, dir);
  if (example.lang === 'sh') {
    for (const c of shellCommands(example.code))
      await step(`${name} README: ${c}`, () => run('sh', ['-c', c], { cwd: dir, env: registry.env }), failures);
    return;
  }
  writeFileSync(join(dir, 'example.mjs'), toModule(example.code, 'esm'));
  writeFileSync(join(dir, 'example.cjs'), toModule(example.code, 'cjs'));
  writeFileSync(join(dir, 'example.ts'), example.code);
  await step(`${name} README example (ESM)`, () => run('node', ['example.mjs'], { cwd: dir }), failures);
  await step(`${name} README example (CJS)`, () => run('node', ['example.cjs'], { cwd: dir }), failures);
}

/** Type-checks each package's entry and README example against the installed .d.ts (NodeNext and Bundler). */
async function typecheck(consumers, base) {
  const files = [];
  for (const c of consumers) {
    if (!c.entry) continue;
    const f = join(c.dir, 'consumer.ts');
    writeFileSync(f, `import * as m from '${c.name}';\nexport const used = m;\n`);
    files.push(f);
    if (c.example?.lang === 'ts' && existsSync(join(c.dir, 'example.ts'))) files.push(join(c.dir, 'example.ts'));
  }
  for (const moduleResolution of ['NodeNext', 'Bundler']) {
    const compilerOptions = {
      strict: true,
      noEmit: true,
      module: moduleResolution === 'NodeNext' ? 'NodeNext' : 'ESNext',
      moduleResolution,
      target: 'ES2022',
      moduleDetection: 'force',
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
    };
    writeFileSync(join(base, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
    await step(
      `tsc consumers (${moduleResolution})`,
      () => run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: base }),
      failures,
    );
  }
}

const t0 = performance.now();
const phase = (what) => console.log(`\n== ${what} (at ${((performance.now() - t0) / 1000).toFixed(0)} s)`);

async function main() {
  if (!args.has('--skip-build'))
    await step('build', () => run(bin('turbo'), ['run', 'build', '--output-logs=errors-only'], { cwd: ROOT }), failures);
  if (failures.length > 0) return;
  const tmp = mkdtempSync(join(tmpdir(), 'normkit-release-'));
  let registry;
  const stop = async () => {
    await registry?.stop();
    if (args.has('--keep')) console.log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => stop().finally(() => process.exit(130)));
  try {
    const stage = join(tmp, 'stage');
    const tarballs = join(tmp, 'tarballs');
    mkdirSync(tarballs, { recursive: true });
    phase('version in a copy of the workspaces');
    stageCopy(stage);
    await step(
      'changeset version (in the copy)',
      () => run(process.execPath, [join(ROOT, 'node_modules/@changesets/cli/bin.js'), 'version'], { cwd: stage }),
      failures,
    );
    const pkgs = workspaces(stage);
    const semver = (await import(join(ROOT, 'node_modules/semver/index.js'))).default;
    checkManifests(pkgs, semver);
    console.log(`release: ${pkgs.map((p) => `${p.json.name}@${p.json.version}`).join(', ')}`);
    phase('pack, publint, attw');
    await packAndLint(stage, pkgs, tarballs);
    phase('third-party tarballs');
    const closure = thirdPartyClosure(ROOT, pkgs);
    const external = await thirdPartyTarballs(closure, join(tmp, 'third-party'));
    phase('registry, publish');
    registry = await startRegistry(join(ROOT, 'scripts/release/verdaccio.yaml'), join(tmp, 'registry'));
    console.log(`registry ${registry.url} (Verdaccio, no uplinks)`);
    await publishThirdParty(external, registry, semver);
    console.log(`published ${external.length} third-party packages`);
    await step('changeset publish', () => publishOurs(stage, registry), failures);
    phase('install each package by name and version, run its README example');
    const versions = new Map(pkgs.map((p) => [p.json.name, p.json.version]));
    const consumers = [];
    for (const p of pkgs) consumers.push({ name: p.json.name, ...(await consume(p, versions, registry, join(tmp, 'consumers'))) });
    phase('type-check the consumers');
    await typecheck(consumers, join(tmp, 'consumers'));
  } finally {
    await stop();
  }
  console.log(`rehearsal took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await main().catch((e) => failures.push(`rehearsal: ${e.stack ?? e}`));
if (failures.length > 0) {
  console.error(`release rehearsal FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('release rehearsal passed');
