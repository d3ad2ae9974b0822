import * as graph from '@normkit/graph';
import { describe, expect, it } from 'vitest';
import { statusOf } from '../scripts/conformance.js';
import { abs, labelOf, type SuiteEntry, suite } from '../scripts/suite.js';
import { type DirectoryResult, type ExecuteFn, runTestDirectory } from '../src/index.js';

/**
 * The conformance suite through @normkit/graph's executor: every directory whose ops the executor
 * supports must pass; an op it lacks may only give a clear UNSUPPORTED_* refusal, never a wrong answer.
 * The big CNNs of models/ (DenseNet-121, VGG-19, ...) take 3–15 s each in the JS executor: they run
 * with NORMKIT_SLOW=1 (and always in `npm run conformance`).
 */
const g = graph as unknown as { execute?: ExecuteFn; supportedOps?: () => string[] };
const slow = process.env.NORMKIT_SLOW === '1';
const FAST_MODELS = new Set(['light_squeezenet', 'light_shufflenet']);

/** Registered ops refused for one setting, by directory (a clear UNSUPPORTED_OP naming the setting). */
const KNOWN_REFUSALS: Record<string, string> = {};

const nameOf = (e: SuiteEntry) => labelOf(e);

function verdict(e: SuiteEntry, r: DirectoryResult, supported: Set<string>): string | undefined {
  const s = statusOf(r);
  if (s === 'pass') return undefined;
  const opsSupported = r.ops.every((o) => supported.has(o.includes('::') ? o : `::${o}`));
  if (s === 'unsupported' && (!opsSupported || KNOWN_REFUSALS[nameOf(e)])) return undefined;
  const why = r.error
    ? `${r.error.code}: ${r.error.message.slice(0, 300)}`
    : r.outputs
        .filter((o) => !o.ok)
        .map((o) => `${o.name}: ${o.problem ?? `${o.mismatches} off, max abs ${o.maxAbsDiff}, max rel ${o.maxRelDiff}`}`)
        .join('; ');
  return `${nameOf(e)} [${s}] ${why}`;
}

describe.skipIf(typeof g.execute !== 'function')('conformance through @normkit/graph execute', () => {
  const supported = new Set(g.supportedOps?.() ?? []);
  const all = suite();

  for (const group of ['onnx-ops', 'onnx-node'] as const) {
    it(`${group}: every directory whose ops are supported passes (rtol 1e-3, atol 1e-7)`, { timeout: 300_000 }, async () => {
      const failures: string[] = [];
      let passed = 0;
      const entries = all.filter((e) => e.group === group);
      for (const e of entries) {
        const r = await runTestDirectory(abs(e.dir), e.options);
        const v = verdict(e, r, supported);
        if (v) failures.push(v);
        else if (r.ok) passed++;
      }
      expect(failures).toEqual([]);
      expect(passed).toBeGreaterThanOrEqual(entries.length - Object.keys(KNOWN_REFUSALS).length - 0);
    });
  }

  for (const e of all.filter((x) => x.group === 'models' || x.group === 'transformers')) {
    const heavy = e.group === 'models' && !FAST_MODELS.has(nameOf(e));
    it.skipIf(heavy && !slow)(`${e.group}/${nameOf(e)} matches its reference within 1e-4`, { timeout: 300_000 }, async () => {
      const r = await runTestDirectory(abs(e.dir), e.options);
      expect(r.error).toBeUndefined();
      expect(verdict(e, r, supported)).toBeUndefined();
      expect(r.ok).toBe(true);
    });
  }
});
