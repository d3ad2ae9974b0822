// A package README's first example, exactly as the README shows it, made runnable: the one mechanism
// behind every package's `test/readme.test.ts` (which runs it against the sources) and the release
// rehearsal (`scripts/release/rehearse.mjs`, which runs it as ESM and as CJS against the packages
// installed from a registry). The README is the source of truth: nothing here edits its code.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The shared test data beside the repository (`../shared/testdata`). */
export const TESTDATA = resolve(ROOT, '../shared/testdata');

// Files a README example names, as the user would have them in the folder they run it in
// (destination relative to that folder → source under TESTDATA), and things it needs from the system.
const FIXTURES = {
  '@normkit/onnx': {
    files: {
      'bert.onnx': 'third-party/optimum/tests/assets/onnx/model.onnx',
      'onnx/backend/test/data/node/test_softmax_axis_1': 'third-party/onnx-node/test_softmax_axis_1',
    },
  },
  '@normkit/train': { needs: ['/usr/share/datasets/fashion-mnist'] },
};

const INSTALL_LINE = /^(npm (install|i|ci)|apt(-get)? install|pnpm add|yarn add)\b/;
const CODE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);
const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);

/**
 * The first example of a README: the first fenced block in TypeScript/JavaScript, or in shell unless it
 * only installs things (`npm install`, `apt-get install`). Blocks without a language (output) are skipped.
 * @example
 * firstExample('```sh\nnpm install x\n```\n```ts\nconsole.log(1);\n```'); // { lang: 'ts', code: 'console.log(1);\n' }
 */
export function firstExample(readme) {
  for (const m of readme.matchAll(/^```([A-Za-z]*)[^\n]*\n([\s\S]*?)^```/gm)) {
    const lang = m[1].toLowerCase();
    const code = m[2];
    if (CODE_LANGS.has(lang)) return { lang: 'ts', code };
    if (SHELL_LANGS.has(lang) && shellCommands(code).some((c) => !INSTALL_LINE.test(c))) return { lang: 'sh', code };
  }
  return undefined;
}

/**
 * The commands of a shell block, one per line, comments and prompts (`$ `) removed.
 * @example
 * shellCommands('npx normkit   # the pipeline\n'); // ['npx normkit']
 */
export function shellCommands(code) {
  return code
    .split('\n')
    .map((l) =>
      l
        .replace(/^\$\s+/, '')
        .replace(/\s+#.*$/, '')
        .trim(),
    )
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * A workspace's README example with what it needs to run: `undefined` when the package has no README or
 * its README no example; `missing` lists system paths the example needs that this machine lacks.
 * @example
 * const ex = readmeExample('packages/norm'); // { name: '@normkit/norm', lang: 'ts', code, files, missing: [] }
 */
export function readmeExample(pkgDir) {
  const dir = resolve(ROOT, pkgDir);
  const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const readme = join(dir, 'README.md');
  const ex = existsSync(readme) ? firstExample(readFileSync(readme, 'utf8')) : undefined;
  if (!ex) return undefined;
  const fx = FIXTURES[name] ?? {};
  const files = Object.entries(fx.files ?? {}).map(([to, from]) => ({ to, from: join(TESTDATA, from) }));
  const missing = [...(fx.needs ?? []), ...files.map((f) => f.from)].filter((p) => !existsSync(p));
  return { name, ...ex, files, missing };
}

/** Copies the files an example names into the folder it runs in. */
export function placeFiles(example, cwd) {
  for (const { to, from } of example.files) {
    mkdirSync(dirname(join(cwd, to)), { recursive: true });
    cpSync(from, join(cwd, to), { recursive: true });
  }
}

/**
 * A TypeScript example as a runnable module: types stripped; for `cjs` the imports become `require`
 * calls and the rest runs in an async function (top-level `await` does not exist in CommonJS).
 * @example
 * toModule("import { a } from 'x';\nawait a();", 'cjs'); // const x_1 = require("x"); (async () => { await (0, x_1.a)(); })() …
 */
export function toModule(code, format) {
  const ts = createRequire(join(ROOT, 'package.json'))('typescript');
  let source = code;
  if (format === 'cjs') {
    const file = ts.createSourceFile('example.ts', code, ts.ScriptTarget.ES2022, true);
    const imports = file.statements.filter((s) => ts.isImportDeclaration(s));
    const body = file.statements.filter((s) => !ts.isImportDeclaration(s));
    const text = (nodes) => nodes.map((s) => s.getFullText(file)).join('');
    source = `${text(imports)}\n(async () => {${text(body)}\n})().catch((e) => {\n  console.error(e);\n  process.exitCode = 1;\n});\n`;
  }
  const module = format === 'cjs' ? ts.ModuleKind.CommonJS : ts.ModuleKind.ESNext;
  return ts.transpileModule(source, { compilerOptions: { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
}

/**
 * Runs a workspace's README example against its sources (the `source` export condition, through tsx),
 * in a fresh temporary folder holding the files it names. Returns the process result.
 * @example
 * const r = runExampleFromSource('packages/norm'); // { status: 0, stdout: 'true\n…', stderr: '' }
 */
export function runExampleFromSource(pkgDir) {
  const ex = readmeExample(pkgDir);
  if (!ex || ex.lang !== 'ts') throw new Error(`${pkgDir}: README.md has no TypeScript example`);
  // The module sits inside the repository so that `@normkit/*` resolves to the workspaces; it runs in a
  // temp folder so that what it reads and writes stays out of the tree.
  mkdirSync(join(ROOT, '.scratch'), { recursive: true });
  const modDir = mkdtempSync(join(ROOT, '.scratch', 'readme-'));
  const cwd = mkdtempSync(join(tmpdir(), 'normkit-readme-'));
  try {
    writeFileSync(join(modDir, 'example.mts'), ex.code);
    placeFiles(ex, cwd);
    const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
    return spawnSync(process.execPath, [tsx, '--conditions=source', join(modDir, 'example.mts')], {
      cwd,
      encoding: 'utf8',
      timeout: 120_000,
    });
  } finally {
    rmSync(modDir, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
}
