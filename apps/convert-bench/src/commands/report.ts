import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { loadExperiments } from '../deps.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED } from '../errors.js';
import { renderReport } from '../report/html.js';
import { type RenderCheck, screenshotReport } from '../report/render.js';
import { readSession } from '../session.js';

/** What `normkit report` reports. */
export interface ReportResult {
  command: 'report';
  session: string;
  report: string;
  bytes: number;
  charts: string[];
  screenshot: string | null;
  rendered: RenderCheck | null;
}

/**
 * Writes `<dir>/report.html` (or `output`) for a session directory; optionally screenshots it in chromium.
 * @example const r = await writeReport('session'); r.report // 'session/report.html'
 */
export async function writeReport(dir: string, output?: string, screenshot?: string): Promise<ReportResult> {
  const session = await readSession(dir);
  const cell = session.experiments ? (await loadExperiments()).tableCell : undefined;
  const { html, charts } = renderReport(session, cell);
  const out = output ?? join(dir, 'report.html');
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, html);
    await rename(tmp, out);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new CliError(
      `${out}: cannot write the report (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      EXIT_BAD_INPUT,
      'REPORT_WRITE',
    );
  }
  const rendered = screenshot ? await screenshotReport(out, screenshot) : null;
  return { command: 'report', session: dir, report: out, bytes: Buffer.byteLength(html), charts, screenshot: screenshot ?? null, rendered };
}

/** `normkit report <dir>` */
export async function reportCommand(ctx: Context, dir: string, o: { output?: string; screenshot?: string }): Promise<number> {
  const r = await writeReport(dir, o.output, o.screenshot);
  ctx.emit(r, () => {
    const lines = [`wrote ${r.report} (${(r.bytes / 1024).toFixed(0)} KiB, ${r.charts.length} charts: ${r.charts.join(', ')})`];
    if (r.rendered)
      lines.push(
        `rendered in chromium: ${r.rendered.charts.filter((c) => c.visible).length}/${r.rendered.charts.length} charts visible; screenshot ${r.screenshot}`,
      );
    return lines.join('\n');
  });
  if (r.rendered?.charts.some((c) => !c.visible)) return EXIT_CHECK_FAILED;
  return 0;
}
