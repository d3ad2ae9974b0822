import * as graph from '@normkit/graph';
import { describe, expect, it } from 'vitest';
import { statusOf } from '../scripts/conformance.js';
import { abs, type SuiteEntry, suite } from '../scripts/suite.js';
import { type ExecuteFn, runTestDirectory } from '../src/index.js';

/**
 * The conformance suite through @normkit/graph's executor: every directory whose ops the executor
 * registers must pass (an op it lacks may only give a clear UNSUPPORTED_* refusal, never a wrong
 * answer). The light CNNs of models/ take minutes in a JS executor: set NORMKIT_SLOW=1 to include them
 * (`npm run conformance` always runs them).
 */
const g = graph as unknown as { execute?: ExecuteFn; supportedOps?: () => string[] };
const slow = process.env.NORMKIT_SLOW === '1';
const entries = suite().filter((e) => slow || e.group !== 'models');

/** Known clear refusals of ops that are registered (an attribute value the executor does not support). */
const KNOWN_REFUSALS: Record<string, string> = {};

describe.skipIf(typeof g.execute !== 'function')('conformance (executor present)', () => {
  const supported = new Set(g.supportedOps?.() ?? []);
  const opsSupported = (ops: string[]) => ops.every((o) => supported.has(o.includes('::') ? o : `::${o}`));

  const groups = [...new Set(entries.map((e) => e.group))];
  for (const group of groups) {
    it(`${group}: every directory whose ops are supported passes`, { timeout: 600_000 }, async () => {
      const failures: string[] = [];
      let passed = 0;
      let skipped = 0;
      for (const e of entries.filter((x: SuiteEntry) => x.group === group)) {
        const r = await runTestDirectory(abs(e.dir), e.options);
        const s = statusOf(r);
        if (s === 'pass') {
          passed++;
          continue;
        }
        const name = e.dir.split('/').pop() as string;
        if (!opsSupported(r.ops) && s === 'unsupported') {
          skipped++;
          continue;
        }
        if (s === 'unsupported' && KNOWN_REFUSALS[name]) {
          skipped++;
          continue;
        }
        const why = r.error
          ? `${r.error.code}: ${r.error.message.slice(0, 300)}`
          : r.outputs
              .filter((o) => !o.ok)
              .map((o) => `${o.name}: ${o.problem ?? `${o.mismatches} off, max abs ${o.maxAbsDiff}, max rel ${o.maxRelDiff}`}`)
              .join('; ');
        failures.push(`${name} [${s}] ${why}`);
      }
      console.log(`${group}: ${passed} pass, ${skipped} refused with unsupported ops, ${failures.length} failing`);
      expect(failures).toEqual([]);
    });
  }
});
