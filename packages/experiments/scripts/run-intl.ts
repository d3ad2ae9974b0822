// Runs the full intl experiment and writes results/intl.md and results/intl.json:
//   cd packages/experiments && npx tsx --conditions source scripts/run-intl.ts
import { writeFileSync } from 'node:fs';
import { intlExperiment } from '../src/intl.js';
import { resultMarkdown, runExperiment } from '../src/run.js';

const r = await runExperiment(intlExperiment, {
  quick: false,
  seeds: 3,
  onProgress: (p) => {
    if (p.done === p.total) process.stderr.write(`${p.run}: loss ${p.loss?.toFixed(4)}\n`);
  },
});
const dir = new URL('../results/', import.meta.url);
writeFileSync(new URL('intl.json', dir), `${JSON.stringify(r, null, 2)}\n`);
writeFileSync(new URL('intl.md', dir), resultMarkdown(r, 'normkit experiment intl --seeds 3'));
process.stderr.write(`intl: ${r.seconds.toFixed(0)} s\n`);
