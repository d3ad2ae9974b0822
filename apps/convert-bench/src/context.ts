import { CliError, EXIT_BAD_INPUT } from './errors.js';

/**
 * Where a command writes: stdout for the result (one JSON document with `--json`), stderr for
 * progress, warnings and errors. Tests pass their own to run the program in-process.
 *
 * @example
 * ```ts
 * const out: string[] = [];
 * const io: Io = { stdout: (s) => out.push(s), stderr: () => {}, stderrIsTTY: false };
 * ```
 */
export interface Io {
  /** Writes `text` to standard output as is (callers add the newline): results, tables, `--json` documents. */
  stdout(text: string): void;
  /** Writes `text` to standard error as is: errors, warnings, progress. */
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress bars redraw in place there, and plain lines elsewhere). */
  stderrIsTTY: boolean;
}

/** The process's own stdout/stderr. */
export function processIo(): Io {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  return { stdout: (s) => void out(s), stderr: (s) => void err(s), stderrIsTTY: Boolean(process.stderr.isTTY) };
}

/** Options every command accepts. */
export interface CommonOptions {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

/** A step of work shown on stderr: `label … 1.2s`, with an in-place counter on a terminal. */
export interface Step {
  /** Reports progress within the step (redrawn on a terminal at most every 100 ms). */
  update(done: number, total: number): void;
  /** Ends the step, printing its duration (and a short note). */
  end(note?: string): void;
}

/**
 * What a command runs with: its output channels and the common options. `emit` writes the result:
 * the JSON document with `--json` (exactly one per command), the human text otherwise.
 *
 * @example
 * ```ts
 * const ctx = new Context(processIo(), { json: true });
 * ctx.emit({ ok: true }, () => 'ok\n');
 * ```
 */
export class Context {
  readonly io: Io;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly quiet: boolean;
  private emitted = false;
  private openStep: { label: string; start: number; lastDraw: number } | undefined;

  constructor(io: Io, opts: CommonOptions = {}) {
    this.io = io;
    this.json = Boolean(opts.json);
    this.verbose = Boolean(opts.verbose);
    this.quiet = Boolean(opts.quiet);
  }

  /** Writes the command's result. Throws when called twice: a command prints exactly one document. */
  emit(doc: unknown, human: () => string): void {
    if (this.emitted) throw new Error('Context.emit called twice: a command prints one result');
    this.emitted = true;
    this.closeStep();
    if (this.json) this.io.stdout(`${toJson(doc)}\n`);
    else {
      const text = human();
      this.io.stdout(text.endsWith('\n') || text === '' ? text : `${text}\n`);
    }
  }

  /** Whether `emit` has been called. */
  get hasEmitted(): boolean {
    return this.emitted;
  }

  /** A note on stderr (not with --quiet). */
  info(message: string): void {
    if (this.quiet) return;
    this.closeStep();
    this.io.stderr(`${message}\n`);
  }

  /** A warning on stderr (always). */
  warn(message: string): void {
    this.closeStep();
    this.io.stderr(`normkit: warning: ${message}\n`);
  }

  /** Detail shown with --verbose only. */
  debug(message: string): void {
    if (!this.verbose) return;
    this.closeStep();
    this.io.stderr(`${message}\n`);
  }

  /** Starts a step shown on stderr (not with --quiet). */
  step(label: string): Step {
    this.closeStep();
    const start = performance.now();
    if (this.quiet) return { update: () => {}, end: () => {} };
    const s = { label, start, lastDraw: 0 };
    this.openStep = s;
    this.io.stderr(`${label} …`);
    return {
      update: (done, total) => {
        if (this.openStep !== s || !this.io.stderrIsTTY) return;
        const now = performance.now();
        if (now - s.lastDraw < 100 && done < total) return;
        s.lastDraw = now;
        this.io.stderr(`\r\x1b[2K${label} … ${bar(done, total)} ${done}/${total}`);
      },
      end: (note) => {
        if (this.openStep !== s) return;
        this.openStep = undefined;
        const secs = (performance.now() - start) / 1000;
        const prefix = this.io.stderrIsTTY ? `\r\x1b[2K${label} …` : '';
        this.io.stderr(`${prefix} ${fmtSeconds(secs)}${note ? ` (${note})` : ''}\n`);
      },
    };
  }

  /** Runs `fn` as a step. */
  async task<T>(label: string, fn: (step: Step) => T | Promise<T>, note?: (result: T) => string | undefined): Promise<T> {
    const s = this.step(label);
    try {
      const r = await fn(s);
      s.end(note?.(r));
      return r;
    } catch (e) {
      this.closeStep(' failed');
      throw e;
    }
  }

  /** Ends an open step line (a warning or the result must start on a fresh line). */
  closeStep(note = ''): void {
    if (!this.openStep) return;
    this.openStep = undefined;
    this.io.stderr(`${note}\n`);
  }
}

function bar(done: number, total: number, width = 20): string {
  const f = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

/** `0.0123` → `12 ms`, `1.5` → `1.5 s`. */
export function fmtSeconds(secs: number): string {
  if (secs < 1) return `${Math.round(secs * 1000)} ms`;
  return `${secs.toFixed(1)} s`;
}

/** JSON with non-finite numbers written as strings ("Infinity", "NaN") instead of a silent null, and bigints as numbers. */
export function toJson(doc: unknown): string {
  return JSON.stringify(
    doc,
    (_k, v) => {
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      if (typeof v === 'bigint') return Number(v);
      return v;
    },
    2,
  );
}

/**
 * Parses a positive integer option (`--runs 20`), with a usage error naming the option. `max` bounds
 * it (default 2^31 − 1), and `why` says in the error what the bound protects.
 * @example parsePositiveInt('--runs', '20', 2, { max: 10_000, why: 'each run is a forward pass' }) // 20
 */
export function parsePositiveInt(
  name: string,
  value: string | undefined,
  fallback: number,
  { allowZero = false, max = 2 ** 31 - 1, why = '' }: { allowZero?: boolean; max?: number; why?: string } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1))
    throw new CliError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${value}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  if (n > max) throw new CliError(`${name} must be at most ${max}${why ? ` (${why})` : ''}, got ${value}`, EXIT_BAD_INPUT, 'BAD_USAGE');
  return n;
}

/** The most verification runs `convert` and `verify` accept. */
export const MAX_VERIFY_RUNS = 10_000;
/** The most timed (or warm-up, or profiled) runs `bench` accepts. */
export const MAX_BENCH_RUNS = 100_000;

/** Parses a number option, with a usage error naming the option. */
export function parseNumber(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new CliError(`${name} is required`, EXIT_BAD_INPUT, 'BAD_USAGE');
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n)) throw new CliError(`${name} must be a number, got "${value}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  return n;
}
