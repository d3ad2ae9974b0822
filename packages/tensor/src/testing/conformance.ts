// The runner of the backend conformance suite: checks one case on a backend (values against the
// reference, and whether the backend ran the op itself), the skip list, and a vitest/jest/mocha
// adapter. Framework-free, so that a browser page can run the same case list without a test runner.
import { type Backend, type Tensor, withBackend } from '@normkit/tensor';
import { type ConformanceCase, conformanceCases, type Expected, type Tolerance } from './cases.js';

/** How a backend runs the suite. */
export interface ConformanceOptions {
  /** A floor on every case's tolerance, for a backend whose float math is coarser (say why where you set it). */
  tolerance?: Partial<Tolerance>;
  /**
   * Case ids the backend does not run itself, each with the reason: an optional `Backend` method it
   * lacks, or an op it hands to another backend. Values are still checked wherever the op layer
   * produces them; a listed case that the backend now runs itself fails, so the list stays exact.
   */
  skip?: Readonly<Record<string, string>>;
  /**
   * Names of the ops the backend handed to another backend (CPU fallbacks) since the previous call;
   * called before and after each case. Absent: the backend is taken to run every op it is given.
   */
  delegated?: () => readonly string[];
}

/** The outcome of one case on one backend. */
export interface CaseReport {
  id: string;
  ok: boolean;
  /** Whether the backend ran the op itself (not lacking the method, nothing delegated). */
  native: boolean;
  /** What went wrong, or what the backend lacks; '' when it passed natively. */
  message: string;
}

/** The first element out of tolerance, as a message, or undefined. */
function mismatch(got: Tensor, values: ArrayLike<number | bigint>, want: Expected, tol: Tolerance): string | undefined {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, want ${want.dtype}`;
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i]))
    return `shape [${got.shape.join(', ')}], want [${want.shape.join(', ')}]`;
  for (let i = 0; i < want.values.length; i++) {
    const g = Number(values[i]);
    const w = want.values[i] as number;
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    const bound = tol.atol + tol.rtol * Math.abs(w);
    if (!(Math.abs(g - w) <= bound))
      return `element ${i} is ${g}, the reference ${w} (|error| ${Math.abs(g - w)} > ${bound} = ${tol.atol} + ${tol.rtol}·|reference|)`;
  }
  return undefined;
}

/** Runs the case and compares every output; returns an error message or undefined. */
async function compare(c: ConformanceCase, backend: Backend, tol: Tolerance): Promise<string | undefined> {
  const got = withBackend(backend, () => c.compute(backend));
  const want = c.expected();
  if (got.length !== want.length) return `${got.length} outputs, want ${want.length}`;
  for (let k = 0; k < got.length; k++) {
    const t = got[k] as Tensor;
    const m = mismatch(t, await t.read(), want[k] as Expected, tol);
    if (m) return want.length > 1 ? `output ${k}: ${m}` : m;
  }
  return undefined;
}

/**
 * Checks one case on `backend`: values within the case's tolerance (floored by `opts.tolerance`) of the
 * reference, and the backend ran the op itself unless the skip list says otherwise.
 * @example const r = await checkCase(conformanceCases()[0]!, new CpuBackend()); r.ok // true
 */
export async function checkCase(c: ConformanceCase, backend: Backend, opts: ConformanceOptions = {}): Promise<CaseReport> {
  const tol = { atol: Math.max(c.tol.atol, opts.tolerance?.atol ?? 0), rtol: Math.max(c.tol.rtol, opts.tolerance?.rtol ?? 0) };
  opts.delegated?.();
  const lacks = c.needs && backend[c.needs] === undefined ? `the backend has no ${c.needs}` : undefined;
  let error: string | undefined;
  try {
    error = await compare(c, backend, tol);
  } catch (e) {
    error = lacks ? undefined : `threw ${(e as Error).message}`;
  }
  const handed = opts.delegated?.() ?? [];
  const why = lacks ?? (handed.length ? `it handed ${handed.join(', ')} to another backend` : undefined);
  const skip = opts.skip?.[c.id];
  const report = (ok: boolean, message: string): CaseReport => ({ id: c.id, ok, native: !why, message });
  if (error) return report(false, `${c.id}: ${error}`);
  if (skip !== undefined && !why)
    return report(false, `${c.id} is on the skip list ("${skip}") but the backend now runs it itself: remove it from the list`);
  if (skip === undefined && why) return report(false, `${c.id}: ${why}; implement it, or add it to the skip list with that reason`);
  return report(true, why ?? '');
}

/**
 * The skip-list keys that name no case (typos, renamed cases), as messages; empty when the list is sound.
 * @example staleSkips({ 'reduce/argmax': 'int64 output' }) // []
 */
export function staleSkips(skip: Readonly<Record<string, string>> = {}): string[] {
  const ids = new Set(conformanceCases().map((c) => c.id));
  return Object.keys(skip)
    .filter((id) => !ids.has(id))
    .map((id) => `skip list entry "${id}" names no conformance case; the ids are conformanceCases().map((c) => c.id)`);
}

/**
 * Runs every case on `backend` without a test runner (a browser page, a script) and returns one report
 * per case plus the stale skip entries.
 * @example const { reports } = await runConformance(new CpuBackend()); reports.every((r) => r.ok) // true
 */
export async function runConformance(backend: Backend, opts: ConformanceOptions = {}): Promise<{ reports: CaseReport[]; stale: string[] }> {
  const reports: CaseReport[] = [];
  for (const c of conformanceCases()) reports.push(await checkCase(c, backend, opts));
  return { reports, stale: staleSkips(opts.skip) };
}

/** The parts of a test runner `backendConformance` registers cases with (vitest, jest and mocha all fit). */
export interface TestApi {
  /** Opens a named group of tests (`describe` of the runner). */
  describe: (name: string, fn: () => void) => void;
  /** Registers one named, possibly async test (`it` of the runner). */
  it: (name: string, fn: () => Promise<void> | void) => void;
  /** Runs `fn` after the group's tests; the suite disposes the backend there. Optional: without it the backend is not disposed. */
  afterAll?: (fn: () => void) => void;
}

/**
 * Registers the conformance suite for one backend: a test per case (`family/name`) plus one for the
 * skip list. `makeBackend` runs once, when the first case runs; the backend is disposed after all.
 * @example
 * ```ts
 * import { describe, it, afterAll } from 'vitest';
 * import { backendConformance } from '@normkit/tensor/testing';
 * backendConformance({ describe, it, afterAll }, 'my backend', () => new MyBackend(), {
 *   skip: { 'reduce/argmax': 'int64 outputs stay on the CPU backend' },
 * });
 * ```
 */
export function backendConformance(
  t: TestApi,
  name: string,
  makeBackend: () => Backend | Promise<Backend>,
  opts: ConformanceOptions = {},
): void {
  t.describe(`backend conformance: ${name}`, () => {
    let backend: Promise<Backend> | undefined;
    const get = () => {
      backend ??= Promise.resolve(makeBackend());
      return backend;
    };
    t.afterAll?.(() => void backend?.then((b) => b.dispose?.()));
    t.it('skip list names only existing cases', () => {
      const stale = staleSkips(opts.skip);
      if (stale.length) throw new Error(stale.join('\n'));
    });
    for (const c of conformanceCases())
      t.it(c.id, async () => {
        const r = await checkCase(c, await get(), opts);
        if (!r.ok) throw new Error(r.message);
      });
  });
}
