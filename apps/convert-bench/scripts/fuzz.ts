// Fuzz campaign over real models (run on demand, not in CI):
//
//   npm run fuzz -- --minutes 10            # from apps/convert-bench; writes scripts/fuzz-results.{json,md}
//   npm run fuzz -- --replay 1234           # rerun mutation 1234 of the campaign in this process
//
// Every .onnx under the shared test data smaller than 2 MB, and the zoo's tiny models, are mutated
// (fuzz-mutations.ts) and read, analyzed, converted and run (fuzz-worker.ts) in a child process with a
// time limit and a memory limit. Outcomes: ok, typed (a NormkitError), crash (any other throw, or the
// child died), hang (over the time limit), oom (over the memory limit), escape (external data outside
// the model's folder was read).
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutate } from './fuzz-mutations.js';
import type { FuzzAnswer, FuzzTask } from './fuzz-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));
const HANG_MS = 20_000;
const RSS_LIMIT = 2 * 1024 ** 3;
const HEAP_MB = 1536;

interface Options {
  minutes: number;
  seed: number;
  limit: number;
  out: string;
  replay?: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { minutes: 10, seed: 20261206, limit: Number.POSITIVE_INFINITY, out: join(HERE, 'fuzz-results') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--minutes') o.minutes = Number(v);
    else if (argv[i] === '--seed') o.seed = Number(v);
    else if (argv[i] === '--limit') o.limit = Number(v);
    else if (argv[i] === '--out') o.out = v as string;
    else if (argv[i] === '--replay') o.replay = Number(v);
    else continue;
    i++;
  }
  return o;
}

/** The corpus: real models under the test data (< 2 MB), then the zoo's tiny models written to `dir`. */
async function corpus(dir: string): Promise<string[]> {
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
  return files;
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
    const base = { index: task.index, model: task.model, mutation: { kind: '?', what: '(see replay)' }, stage: 'done' as const };
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
        () => finish({ ...base, outcome: 'hang', ms: ms(), error: `no answer in ${HANG_MS / 1000} s` }, true),
        HANG_MS,
      );
      const watch = setInterval(() => {
        const rss = rssOf(c.pid);
        if (rss > RSS_LIMIT)
          finish({ ...base, outcome: 'oom', ms: ms(), error: `resident memory ${(rss / 1024 ** 3).toFixed(1)} GiB` }, true);
      }, 100);
      c.on('message', (a: FuzzAnswer) => finish(a, false));
      c.once('exit', (code, signal) => {
        this.child = undefined;
        const oom = /heap out of memory|Invalid array length|Allocation failed/.test(this.stderrTail);
        finish(
          {
            ...base,
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

function summarize(results: Result[], o: Options, seconds: number, models: string[]) {
  const bad = results.filter((r) => r.outcome !== 'ok' && r.outcome !== 'typed' && r.outcome !== 'skipped');
  const rel = (p: string) => (p.startsWith(TESTDATA) ? `testdata/${relative(TESTDATA, p)}` : (p.split('/').pop() as string));
  return {
    seed: o.seed,
    mutations: results.length,
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
    `${s.mutations} mutations of ${s.models} real models in ${s.seconds} s (seed ${s.seed}; one child process, ${s.limits.hangSeconds} s and ${s.limits.rssGiB} GiB per mutant).`,
    `Replay one: \`npm run fuzz -- --seed ${s.seed} --replay <index>\`.`,
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

async function main(): Promise<void> {
  if (process.argv[2] === '--worker') {
    const { workerMain } = await import('./fuzz-worker.js');
    workerMain(process.argv[3] as string);
    return;
  }
  const o = parseArgs(process.argv.slice(2));
  const work = join(tmpdir(), `normkit-fuzz-${process.pid}`);
  const models = await corpus(join(work, 'corpus'));
  const runner = new Runner(join(work, 'fixtures'));
  const runnable = new Map<string, boolean>();
  const task = (index: number): FuzzTask => {
    const model = models[index % models.length] as string;
    return { index, seed: o.seed, model, ...(runnable.has(model) ? { runnable: runnable.get(model) } : {}) };
  };
  if (o.replay !== undefined) {
    const r = await runner.run(task(o.replay));
    if (r.mutation.kind === '?') r.mutation = describe(r.model, o.seed, o.replay);
    console.log(JSON.stringify(r, null, 2));
    runner.stop();
    return;
  }
  const results: Result[] = [];
  const t0 = performance.now();
  const deadline = t0 + o.minutes * 60_000;
  process.stderr.write(`fuzzing ${models.length} models for ${o.minutes} min on 1 of ${cpus().length} cores …\n`);
  for (let i = 0; i < o.limit && performance.now() < deadline; i++) {
    const r = await runner.run(task(i));
    if (r.runnable !== undefined) runnable.set(r.model, r.runnable);
    if (r.mutation.kind === '?') r.mutation = describe(r.model, o.seed, i);
    results.push(r);
    if (r.outcome !== 'ok' && r.outcome !== 'typed' && r.outcome !== 'skipped')
      process.stderr.write(`\n#${i} ${r.outcome} (${r.stage}) ${r.mutation.what}: ${r.error?.slice(0, 200)}\n`);
    if (i % 100 === 0) process.stderr.write(`\r${i} mutations, ${Math.round((performance.now() - t0) / 1000)} s`);
  }
  runner.stop();
  const s = summarize(results, o, (performance.now() - t0) / 1000, models);
  mkdirSync(dirname(o.out), { recursive: true });
  writeAtomic(`${o.out}.json`, `${JSON.stringify(s, null, 2)}\n`);
  writeAtomic(`${o.out}.md`, markdown(s));
  process.stderr.write(`\n${JSON.stringify(s.outcomes)}; wrote ${o.out}.json and .md\n`);
}

await main();
