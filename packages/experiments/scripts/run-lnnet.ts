// Runs the full lnnet experiment and writes results/lnnet.md and results/lnnet.json:
//   cd packages/experiments && npx tsx --conditions source scripts/run-lnnet.ts
import { writeFileSync } from 'node:fs';
import { lnnetExperiment } from '../src/lnnet.js';
import { resultMarkdown, runExperiment } from '../src/run.js';

const r = await runExperiment(lnnetExperiment, {
  quick: false,
  seeds: 3,
  onProgress: (p) => {
    if (p.done === p.total) process.stderr.write(`${p.run}: loss ${p.loss?.toFixed(4)}\n`);
  },
});
const dir = new URL('../results/', import.meta.url);
writeFileSync(new URL('lnnet.json', dir), `${JSON.stringify(r, null, 2)}\n`);
writeFileSync(new URL('lnnet.md', dir), resultMarkdown(r, 'normkit experiment lnnet --seeds 3'));
process.stderr.write(`lnnet: ${r.seconds.toFixed(0)} s\n`);
