// Fuzz campaign over real models (run on demand, not in CI). `npm run fuzz -- --help` (from
// apps/convert-bench) prints the options; the usual runs:
//
//   npm run fuzz -- --budget-s 60                                # a one-minute campaign, results in the temp folder
//   npm run fuzz -- --budget-s 600 --out scripts/fuzz-results    # the recorded campaign (scripts/fuzz-results.{json,md})
//   npm run fuzz -- --replay 3759 --model testdata/…/x.onnx      # rerun one finding in a child, print it as JSON
//
// Every .onnx under the shared test data smaller than 2 MB, and the zoo's tiny models, are mutated
// (fuzz-mutations.ts) and read, analyzed, converted and run (fuzz-worker.ts) in a child process with a
// time limit and a memory limit. Outcomes: ok, typed (a NormkitError), crash (any other throw, or the
// child died), hang (over the time limit), oom (over the memory limit), escape (external data outside
// the model's folder was read).
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutate } from './fuzz-mutations.js';
import type { FuzzAnswer, FuzzProgress, FuzzTask } from './fuzz-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));
const HANG_MS = 20_000;
const RSS_LIMIT = 2 * 1024 ** 3;
const HEAP_MB = 1536;
const DEFAULT_OUT = join(tmpdir(), 'normkit-fuzz', 'fuzz-results');

const HELP = `Usage: npm run fuzz -- [options]          (from apps/convert-bench)

Mutates the real ONNX models of the shared test data (files under 2 MB) and the zoo's tiny models,
and runs each mutant through read → analyze → convert → run in one child process (${HANG_MS / 1000} s and
${RSS_LIMIT / 1024 ** 3} GiB per mutant). A mutant ends ok, typed (a NormkitError) or skipped; anything else is a
finding: crash (another throw, or the child died), hang, oom, escape (external data outside the
model's folder was read).

Options:
  --budget-s <s>      wall-clock budget in seconds (default 600; 60 makes a useful short run)
  --minutes <m>       the same budget in minutes
  --limit <n>         stop after n mutations (with a budget, whichever comes first)
  --from <i>          start at mutation i (continue an earlier campaign of the same seed)
  --seed <n>          campaign seed (default 20261206): mutation i of a seed is always the same mutant
  --match <text>      only corpus models whose path contains <text>
  --model <path>      with --replay: the model to mutate (as the findings table names it, or a path)
  --out <prefix>      write <prefix>.json and <prefix>.md (default: ${DEFAULT_OUT})
  --replay <i,j,...>  rerun mutations i, j, ... (same --seed; --model or the same --match) and print them as JSON
  -h, --help          this text

Exit status: 0 no findings, 1 findings, 2 bad arguments.

Examples:
  npm run fuzz -- --budget-s 60
  npm run fuzz -- --budget-s 600 --out scripts/fuzz-results
  npm run fuzz -- --seed 20261206 --replay 3759 --model testdata/third-party/onnxruntime/onnxruntime/test/testdata/transform/fusion/layer_norm_with_cast_3.onnx
`;

interface Options {
  seconds: number;
  seed: number;
  limit: number;
  from: number;
  out: string;
  match?: string;
  model?: string;
  replay?: number[];
  help?: boolean;
}

/** A bad command line: printed with the usage, exit status 2. */
class UsageError extends Error {}

const numberArg = (v: string | undefined, flag: string, min: number): number => {
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(`${flag} wants a number ≥ ${min}, got ${v ?? 'nothing'}`);
  return n;
};

/** The command line, checked: an unknown flag or a value that is not a number is a UsageError. */
function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 600, seed: 20261206, limit: Number.POSITIVE_INFINITY, from: 0, out: DEFAULT_OUT };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const v = argv[i + 1];
    if (flag === '-h' || flag === '--help') {
      o.help = true;
      continue;
    }
    if (flag === '--budget-s') o.seconds = numberArg(v, flag, 1);
    else if (flag === '--minutes') o.seconds = numberArg(v, flag, 1 / 60) * 60;
    else if (flag === '--seed') o.seed = Math.trunc(numberArg(v, flag, 0));
    else if (flag === '--limit') o.limit = Math.trunc(numberArg(v, flag, 1));
    else if (flag === '--from') o.from = Math.trunc(numberArg(v, flag, 0));
    else if (flag === '--match' || flag === '--model' || flag === '--out') {
      if (!v || v.startsWith('--')) throw new UsageError(`${flag} wants a value`);
      o[flag.slice(2) as 'match' | 'model' | 'out'] = v;
    } else if (flag === '--replay') o.replay = (v ?? '').split(',').map((x) => Math.trunc(numberArg(x, flag, 0)));
    else throw new UsageError(`unknown option ${flag}`);
    i++;
  }
  if (o.model && !o.replay) throw new UsageError('--model goes with --replay');
  return o;
}

/** The corpus: real models under the test data (< 2 MB), then the zoo's tiny models written to `dir`. */
async function corpus(dir: string, match?: string): Promise<string[]> {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (e.endsWith('.onnx') && s.size < 2 * 1024 * 1024) files.push(p);
    }
  };
  walk(TESTDATA);
  const { architectures, buildModel } = await import('@normkit/zoo');
  const { encodeModel } = await import('@normkit/onnx');
  mkdirSync(dir, { recursive: true });
  for (const a of architectures) {
    const p = join(dir, `zoo-${a.name}.onnx`);
    writeFileSync(p, encodeModel(buildModel(a.name, { size: 'tiny', seed: 0 })));
    files.push(p);
  }
  return match === undefined ? files : files.filter((f) => f.includes(match));
}

/** A corpus model as the findings table names it: `testdata/…` for the test data, the file name for the zoo's. */
const rel = (p: string) => (p.startsWith(TESTDATA) ? `testdata/${relative(TESTDATA, p)}` : (p.split('/').pop() as string));

/** The model `--model` names: a corpus entry by its table name, else a path. */
function resolveModel(name: string, models: string[]): string {
  const hit = models.find((m) => rel(m) === name || m === name);
  if (hit) return hit;
  if (!existsSync(name)) throw new UsageError(`--model ${name}: neither a corpus model (as the findings table names it) nor a file`);
  return name;
}

/** The child's resident memory in bytes (Linux), or 0 where it cannot be read. */
function rssOf(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

type Result = Omit<FuzzAnswer, 'outcome'> & { outcome: FuzzAnswer['outcome'] | 'hang' | 'oom' };

/** Runs tasks through one child at a time, restarting it after a hang, an OOM or a crash. */
class Runner {
  private child: ChildProcess | undefined;
  private stderrTail = '';
  constructor(private readonly fixtures: string) {}

  private async start(): Promise<ChildProcess> {
    const c = fork(join(HERE, 'fuzz.ts'), ['--worker', this.fixtures], {
      execArgv: ['--conditions=source', '--import', 'tsx', `--max-old-space-size=${HEAP_MB}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    c.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-600);
    });
    await new Promise<void>((res, rej) => {
      c.once('message', () => res());
      c.once('exit', (code) => rej(new Error(`fuzz worker exited (${code}) before it was ready: ${this.stderrTail}`)));
    });
    return c;
  }

  async run(task: FuzzTask): Promise<Result> {
    this.child ??= await this.start();
    const c = this.child;
    this.stderrTail = '';
    const t0 = performance.now();
    let stage: FuzzAnswer['stage'] = 'mutate';
    const base = () => ({ index: task.index, model: task.model, mutation: { kind: '?', what: '(see replay)' }, stage });
    return new Promise<Result>((resolve) => {
      let done = false;
      const finish = (r: Result, kill: boolean) => {
        if (done) return;
        done = true;
        clearInterval(watch);
        clearTimeout(timer);
        c.removeAllListeners('message');
        c.removeAllListeners('exit');
        if (kill) {
          c.kill('SIGKILL');
          this.child = undefined;
        }
        resolve(r);
      };
      const ms = () => Math.round(performance.now() - t0);
      const timer = setTimeout(
        () => finish({ ...base(), outcome: 'hang', ms: ms(), error: `no answer in ${HANG_MS / 1000} s` }, true),
        HANG_MS,
      );
      const watch = setInterval(() => {
        const rss = rssOf(c.pid);
        if (rss > RSS_LIMIT)
          finish({ ...base(), outcome: 'oom', ms: ms(), error: `resident memory ${(rss / 1024 ** 3).toFixed(1)} GiB` }, true);
      }, 100);
      c.on('message', (a: FuzzAnswer | FuzzProgress) => {
        if ('outcome' in a) finish(a, false);
        else stage = a.stage;
      });
      c.once('exit', (code, signal) => {
        this.child = undefined;
        const oom = /heap out of memory|Invalid array length|Allocation failed/.test(this.stderrTail);
        finish(
          {
            ...base(),
            outcome: oom ? 'oom' : 'crash',
            ms: ms(),
            code: signal ?? `exit ${code}`,
            error: this.stderrTail.trim().split('\n').slice(-3).join(' | '),
          },
          false,
        );
      });
      c.send(task);
    });
  }

  stop(): void {
    this.child?.kill('SIGKILL');
  }
}

/** What mutation `index` does, recomputed here when the child died before saying. */
function describe(model: string, seed: number, index: number): FuzzAnswer['mutation'] {
  try {
    return mutate(new Uint8Array(readFileSync(model)), seed, index).mutation;
  } catch (e) {
    return { kind: '?', what: String(e) };
  }
}

function count<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** Whether a result is a finding: anything but ok, typed or skipped. */
const isFinding = (r: Result) => r.outcome !== 'ok' && r.outcome !== 'typed' && r.outcome !== 'skipped';

function summarize(results: Result[], o: Options, seconds: number, models: string[]) {
  const bad = results.filter(isFinding);
  return {
    command: `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trim(),
    seed: o.seed,
    ...(o.match !== undefined ? { match: o.match } : {}),
    mutations: results.length,
    indices: results.length > 0 ? [results[0]?.index, results[results.length - 1]?.index] : [],
    seconds: Math.round(seconds),
    models: models.length,
    limits: { hangSeconds: HANG_MS / 1000, rssGiB: RSS_LIMIT / 1024 ** 3, heapMiB: HEAP_MB },
    outcomes: count(results, (r) => r.outcome),
    byKind: Object.fromEntries(
      [...new Set(results.map((r) => r.mutation.kind))].map((k) => [
        k,
        count(
          results.filter((r) => r.mutation.kind === k),
          (r) => r.outcome,
        ),
      ]),
    ),
    typedCodes: count(
      results.filter((r) => r.outcome === 'typed'),
      (r) => r.code ?? '?',
    ),
    typedByStage: count(
      results.filter((r) => r.outcome === 'typed'),
      (r) => r.stage,
    ),
    ranMutants: results.filter((r) => r.runnable && !r.runSkipped && (r.outcome === 'ok' || r.stage === 'run')).length,
    runSkipped: results.filter((r) => r.runSkipped).length,
    findings: bad.map((r) => ({
      index: r.index,
      model: rel(r.model),
      outcome: r.outcome,
      stage: r.stage,
      mutation: `${r.mutation.kind}: ${r.mutation.what}`,
      error: `${r.code ? `${r.code}: ` : ''}${r.error ?? ''}`.slice(0, 400),
      ms: r.ms,
    })),
  };
}

function markdown(s: ReturnType<typeof summarize>): string {
  const lines = [
    '# Fuzz campaign (apps/convert-bench/scripts/fuzz.ts)',
    '',
    `${s.mutations} mutations (#${s.indices.join('–#')}) of ${s.models} real models in ${s.seconds} s (seed ${s.seed}; one child process, ${s.limits.hangSeconds} s and ${s.limits.rssGiB} GiB per mutant; no tensor over 2^27 elements, the cap a service would set with setMaxTensorElements).`,
    `Written by \`${s.command}\` (from apps/convert-bench; \`npm run fuzz -- --help\` lists the options, \`--budget-s 60\` is a one-minute run).`,
    `Replay a finding: \`npm run fuzz -- --seed ${s.seed} --replay <#> --model <model>\`.`,
    '',
    '| outcome | count |',
    '| --- | ---: |',
    ...Object.entries(s.outcomes).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| mutation | outcomes |',
    '| --- | --- |',
    ...Object.entries(s.byKind).map(
      ([k, v]) =>
        `| ${k} | ${Object.entries(v)
          .map(([o, n]) => `${o} ${n}`)
          .join(', ')} |`,
    ),
    '',
    `Typed errors by code: ${Object.entries(s.typedCodes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    `Mutants that reached the executor run: ${s.ranMutants}; not run because their declared inputs grew past 16× the original's or 2^22 elements: ${s.runSkipped}.`,
    '',
    `## Findings (${s.findings.length}: crashes, hangs, out-of-memory, escapes)`,
    '',
    ...(s.findings.length === 0
      ? ['None.']
      : [
          '| # | model | outcome | stage | mutation | error |',
          '| ---: | --- | --- | --- | --- | --- |',
          ...s.findings.map(
            (f) =>
              `| ${f.index} | ${f.model} | ${f.outcome} | ${f.stage} | ${f.mutation.replace(/\|/g, '\\|')} | ${f.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`,
          ),
        ]),
    '',
  ];
  return lines.join('\n');
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Reruns mutations `indices` (of `--model`, or of the corpus model each index picks) and prints them; the exit status. */
async function replay(o: Options, models: string[], runner: Runner, indices: number[]): Promise<number> {
  const model = o.model === undefined ? undefined : resolveModel(o.model, models);
  let findings = 0;
  for (const index of indices) {
    const r = await runner.run({ index, seed: o.seed, model: model ?? (models[index % models.length] as string) });
    if (r.mutation.kind === '?') r.mutation = describe(r.model, o.seed, index);
    if (isFinding(r)) findings++;
    console.log(JSON.stringify(r, null, 2));
  }
  return findings > 0 ? 1 : 0;
}

/** Runs mutations from, from + 1, … until the budget or the limit, writes the summary; the exit status. */
async function campaign(o: Options, models: string[], runner: Runner): Promise<number> {
  const runnable = new Map<string, boolean>();
  const results: Result[] = [];
  const t0 = performance.now();
  const deadline = t0 + o.seconds * 1000;
  process.stderr.write(`fuzzing ${models.length} models for ${o.seconds} s on 1 of ${cpus().length} cores …\n`);
  for (let i = o.from; i < o.from + o.limit && performance.now() < deadline; i++) {
    const model = models[i % models.length] as string;
    const r = await runner.run({ index: i, seed: o.seed, model, ...(runnable.has(model) ? { runnable: runnable.get(model) } : {}) });
    if (r.runnable !== undefined) runnable.set(r.model, r.runnable);
    if (r.mutation.kind === '?') r.mutation = describe(r.model, o.seed, i);
    results.push(r);
    if (isFinding(r)) process.stderr.write(`\n#${i} ${r.outcome} (${r.stage}) ${r.mutation.what}: ${r.error?.slice(0, 200)}\n`);
    if (i % 100 === 0) process.stderr.write(`\r${i - o.from} mutations, ${Math.round((performance.now() - t0) / 1000)} s`);
  }
  const s = summarize(results, o, (performance.now() - t0) / 1000, models);
  mkdirSync(dirname(o.out), { recursive: true });
  writeAtomic(`${o.out}.json`, `${JSON.stringify(s, null, 2)}\n`);
  writeAtomic(`${o.out}.md`, markdown(s));
  process.stderr.write(`\n${JSON.stringify(s.outcomes)}; wrote ${o.out}.json and .md\n`);
  return s.findings.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  if (process.argv[2] === '--worker') {
    const { workerMain } = await import('./fuzz-worker.js');
    workerMain(process.argv[3] as string);
    return 0;
  }
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`fuzz: ${e.message}\n\n${HELP}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const work = join(tmpdir(), `normkit-fuzz-${process.pid}`);
  const runner = new Runner(join(work, 'fixtures'));
  try {
    const models = await corpus(join(work, 'corpus'), o.match);
    if (models.length === 0) throw new UsageError(`--match ${o.match}: no corpus model's path contains it`);
    return o.replay ? await replay(o, models, runner, o.replay) : await campaign(o, models, runner);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`fuzz: ${e.message}\n`);
    return 2;
  } finally {
    runner.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const status = await main();
if (process.argv[2] !== '--worker') process.exit(status);
