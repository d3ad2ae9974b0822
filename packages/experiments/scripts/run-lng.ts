// Runs the lng experiment in full and writes results/lng.{md,json}.
// Usage (from packages/experiments): npx tsx --conditions source scripts/run-lng.ts
import { writeFileSync } from 'node:fs';
import { lngExperiment } from '../src/lng.js';
import { resultMarkdown, runExperiment } from '../src/run.js';

const t0 = performance.now();
let last = '';
const r = await runExperiment(lngExperiment, {
  quick: false,
  seeds: 3,
  onProgress: (p) => {
    if (p.run !== last) process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(0)} s: ${p.run} (${p.total} steps)\n`);
    last = p.run;
  },
});
writeFileSync(new URL('../results/lng.json', import.meta.url), `${JSON.stringify(r, null, 2)}\n`);
writeFileSync(new URL('../results/lng.md', import.meta.url), resultMarkdown(r, 'normkit experiment lng --seeds 3'));
process.stderr.write(`wrote results/lng.{md,json} in ${r.seconds.toFixed(0)} s\n`);
