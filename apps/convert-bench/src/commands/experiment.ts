import type { ExperimentResult, RunProgress } from '@normkit/experiments';
import { type Context, fmtSeconds, parsePositiveInt } from '../context.js';
import { loadExperiments } from '../deps.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED } from '../errors.js';
import { table } from '../format.js';
import { writeSessionFile } from '../session.js';

/** Progress on stderr, a bar per run: redrawn in place on a terminal, a line per quarter elsewhere. */
function progressBars(ctx: Context): (p: RunProgress) => void {
  let current = '';
  let lastDraw = 0;
  let lastQuarter = -1;
  return (p) => {
    if (ctx.quiet) return;
    const f = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const n = Math.round(f * 20);
    const line = `${p.run} [${'#'.repeat(n)}${'.'.repeat(20 - n)}] ${p.done}/${p.total}${p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : ''}`;
    if (p.run !== current) {
      if (current && ctx.io.stderrIsTTY) ctx.io.stderr('\n');
      current = p.run;
      lastQuarter = -1;
    }
    if (ctx.io.stderrIsTTY) {
      const now = performance.now();
      if (now - lastDraw < 100 && p.done < p.total) return;
      lastDraw = now;
      ctx.io.stderr(`\r\x1b[2K${line}${p.done >= p.total ? '\n' : ''}`);
      if (p.done >= p.total) current = '';
    } else if (Math.floor(4 * f) !== lastQuarter) {
      lastQuarter = Math.floor(4 * f);
      ctx.io.stderr(`${line}\n`);
    }
  };
}

/** The human form of a result: the rows as a table, then what reproduced. */
function render(r: ExperimentResult, cell: (v: unknown) => string): string {
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))];
  return [
    `${r.title} — seeds ${r.seeds.join(', ')}${r.quick ? ' (quick)' : ''}, ${fmtSeconds(r.seconds)}`,
    '',
    table(
      cols,
      r.rows.map((row) => cols.map((c) => cell(row[c]))),
    ),
    '',
    ...r.findings.map(
      (f) =>
        `${f.reproduced === 'yes' ? 'reproduced' : f.reproduced === 'no' ? 'NOT reproduced' : 'partly reproduced'}: ${f.claim} — ${f.evidence}`,
    ),
  ].join('\n');
}

/**
 * `normkit experiment <name>`: runs one of the papers' experiments (cbwc, pln, lng, lnnet, intl) with
 * seeds, prints its table and what reproduced, and with --session stores it for `normkit report`.
 */
export async function experimentCommand(
  ctx: Context,
  name: string,
  o: { quick?: boolean; seeds?: string; threads: string; session?: string; data?: string },
): Promise<number> {
  const ex = await loadExperiments();
  const exp = ex.experiments[name as keyof typeof ex.experiments];
  if (!exp)
    throw new CliError(
      `unknown experiment "${name}"; choose one of ${Object.keys(ex.experiments).join(', ')}`,
      EXIT_BAD_INPUT,
      'BAD_USAGE',
    );
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  let r: ExperimentResult;
  try {
    r = await ex.runExperiment(exp, {
      quick: Boolean(o.quick),
      ...(o.seeds !== undefined ? { seeds: parsePositiveInt('--seeds', o.seeds, 1) } : {}),
      threads: parsePositiveInt('--threads', o.threads, 1),
      ...(o.data ? { data: o.data } : {}),
      onProgress: progressBars(ctx),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', stop);
  }
  if (o.session) {
    const path = await writeSessionFile(o.session, `experiment-${name}`, r);
    ctx.info(`wrote ${path}; render it with: normkit report ${o.session}`);
  }
  ctx.emit(r, () => render(r, ex.tableCell));
  return controller.signal.aborted ? EXIT_CHECK_FAILED : 0;
}
