// Runs the cbwc experiment (paper 1: LN vs RMSNorm vs CBWC + RMSNorm) and writes results/cbwc.{md,json}.
// Usage: npx tsx --conditions source scripts/run-cbwc.ts [--quick] [--seeds N] [--threads T]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cbwcExperiment } from '../src/cbwc.js';
import { resultMarkdown, runExperiment } from '../src/run.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, seeds: { type: 'string' }, threads: { type: 'string' } } });
const quick = values.quick ?? false;
const seeds = values.seeds === undefined ? undefined : Number(values.seeds);
const threads = values.threads === undefined ? undefined : Number(values.threads);
let last = '';
const r = await runExperiment(cbwcExperiment, {
  quick,
  seeds,
  threads,
  onProgress: (p) => {
    if (p.run !== last) process.stderr.write(`${p.run} (${p.total} steps)\n`);
    last = p.run;
  },
});
const command = ['normkit experiment cbwc', quick && '--quick', `--seeds ${r.seeds.length}`, threads && `--threads ${threads}`]
  .filter(Boolean)
  .join(' ');
const dir = join(import.meta.dirname, '..', 'results');
mkdirSync(dir, { recursive: true });
const name = quick ? 'cbwc-quick' : 'cbwc';
writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
writeFileSync(join(dir, `${name}.md`), resultMarkdown(r, command));
process.stderr.write(`wrote results/${name}.{md,json} in ${r.seconds.toFixed(0)} s\n`);
