#!/usr/bin/env node
// Proves the packages work as users install them: pack every workspace into a temp folder outside
// the repo, install the tarballs into a fresh project, import (ESM) and require (CJS) each entry,
// type-check a TypeScript consumer against the shipped .d.ts, and run publint + attw on each tarball.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, cwd, opts = {}) =>
  execFileSync(cmd, args, {
    cwd,
    stdio: opts.capture ? 'pipe' : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });

const workspaces = ['packages', 'apps'].flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p)));
const pkgs = workspaces.map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }));
const tmp = mkdtempSync(join(tmpdir(), 'normkit-consumer-'));
const failures = [];
try {
  const tarballs = [];
  for (const { dir, json } of pkgs) {
    const out = run('npm', ['pack', '--silent', '--pack-destination', tmp], dir, { capture: true }).trim().split('\n').pop();
    const tarball = join(tmp, out);
    tarballs.push(tarball);
    for (const [tool, args] of [
      ['publint', ['--strict', tarball]],
      ['attw', ['--pack', '--profile', 'node16', '--format', 'ascii', tarball]],
    ]) {
      try {
        run(bin(tool), args, tmp, { capture: true });
        console.log(`ok   ${tool} ${json.name}`);
      } catch (e) {
        failures.push(`${tool} ${json.name}`);
        console.log(`FAIL ${tool} ${json.name}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    }
  }
  const project = join(tmp, 'consumer');
  run('mkdir', ['-p', project], tmp);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(project, '.npmrc'), 'onnxruntime-node-install=skip\nfund=false\naudit=false\n');
  run('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', ...tarballs], project);
  const names = pkgs.map((p) => p.json.name);
  const esm = names
    .map((n, i) => `import * as m${i} from '${n}'; if (Object.keys(m${i}).length === 0) throw new Error('${n}: empty ESM entry');`)
    .join('\n');
  writeFileSync(
    join(project, 'esm.mjs'),
    `${esm}\nconst t = (await import('@normkit/tensor')).Tensor.from([[1, 2], [3, 4]]);\nconsole.log('esm ok', t.shape.join('x'));\n`,
  );
  const cjs = names.map((n) => `if (Object.keys(require('${n}')).length === 0) throw new Error('${n}: empty CJS entry');`).join('\n');
  writeFileSync(
    join(project, 'cjs.cjs'),
    `${cjs}\nconst { Tensor, matmul } = require('@normkit/tensor');\nconsole.log('cjs ok', matmul(Tensor.from([[1, 2]]), Tensor.from([[3], [4]])).toFlatArray()[0]);\n`,
  );
  run('node', ['esm.mjs'], project);
  run('node', ['cjs.cjs'], project);
  writeFileSync(
    join(project, 'consumer.ts'),
    `${names.map((n, i) => `import * as t${i} from '${n}';`).join('\n')}
import { Tensor, matmul, type Backend } from '@normkit/tensor';
import { GraphBuilder, type Model } from '@normkit/graph';
const y: Tensor = matmul(Tensor.from([[1, 2]]), Tensor.from([[3], [4]]));
const b = new GraphBuilder('g');
b.output(b.op('Relu', [b.input('x', 'float32', [2])]));
const m: Model = b.model(17);
export const used = [y, m, ${names.map((_, i) => `t${i}`).join(', ')}] as const;
export type B = Backend;
`,
  );
  for (const moduleResolution of ['NodeNext', 'Bundler']) {
    const module = moduleResolution === 'NodeNext' ? 'NodeNext' : 'ESNext';
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module,
          moduleResolution,
          target: 'ES2022',
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    try {
      run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project, { capture: true });
      console.log(`ok   tsc consumer (${moduleResolution})`);
    } catch (e) {
      failures.push(`tsc consumer (${moduleResolution})`);
      console.log(`FAIL tsc consumer (${moduleResolution})\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(`consumer test failed: ${failures.join(', ')}`);
  process.exit(1);
}
console.log('consumer test passed');
