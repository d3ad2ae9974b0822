import { cpus } from 'node:os';
import { setGemmThreads } from '@normkit/tensor';
import type { Experiment, ExperimentOptions, ExperimentResult, Stat } from './types.js';

/**
 * Runs an experiment with the GEMM threads set, and stamps the result with the machine and date.
 * @example const r = await runExperiment(cbwcExperiment, { quick: true });
 */
export async function runExperiment(exp: Experiment, opts: ExperimentOptions): Promise<ExperimentResult> {
  const threads = opts.threads ?? 1;
  setGemmThreads(threads);
  const r = await exp.run({ ...opts, threads });
  const cpu = cpus();
  return {
    ...r,
    machine: { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, node: process.version, threads },
    date: new Date().toISOString(),
  };
}

const isStat = (v: unknown): v is Stat =>
  typeof v === 'object' && v !== null && 'mean' in v && 'std' in v && typeof (v as Stat).mean === 'number';

/**
 * A cell of a results table: numbers rounded, `mean ± std` for statistics, nested objects flattened.
 * @example tableCell({ mean: 0.8612, std: 0.0031, values: [] }) // '0.8612 ± 0.0031'
 */
export function tableCell(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (isStat(v)) return `${fmtNumber(v.mean)} ± ${fmtNumber(v.std)}`;
  if (typeof v === 'number') return fmtNumber(v);
  if (Array.isArray(v)) return v.map(tableCell).join(', ');
  if (typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${tableCell(x)}`)
      .join('; ');
  return String(v);
}

function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(a < 1 ? 4 : 2);
}

/**
 * The result as markdown: the command that reproduces it, settings, the rows as a table and the
 * findings (what reproduced and what did not).
 * @example writeFileSync('results/cbwc.md', resultMarkdown(r, 'normkit experiment cbwc --seeds 3'));
 */
export function resultMarkdown(r: ExperimentResult, command: string): string {
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))];
  const lines = [
    `# ${r.title}`,
    '',
    'Reproduce with:',
    '',
    '```sh',
    command,
    '```',
    '',
    `${r.date ?? ''} · ${r.machine ? `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, ${r.machine.threads} GEMM thread(s)` : ''} · seeds ${r.seeds.join(', ')} · ${r.seconds.toFixed(0)} s${r.quick ? ' · quick' : ''}`,
    '',
    `Settings: ${tableCell(r.settings)}`,
    '',
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...r.rows.map((row) => `| ${cols.map((c) => tableCell(row[c]).replaceAll('|', '\\|')).join(' | ')} |`),
    '',
    '## Findings',
    '',
    ...r.findings.map(
      (f) =>
        `- **${f.reproduced === 'yes' ? 'Reproduced' : f.reproduced === 'no' ? 'Not reproduced' : 'Partly reproduced'}** (${f.paper}): ${f.claim} — ${f.evidence}`,
    ),
    '',
  ];
  return lines.join('\n');
}
