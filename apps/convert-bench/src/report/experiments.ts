import type { ExperimentResult, Plot } from '@normkit/experiments';
import { esc, fmtNum, lineChart } from './svg.js';

/**
 * The HTML sections of `normkit experiment` results in a session: per experiment its settings, the
 * table of rows (mean ± std), what reproduced and what did not, and its plots as inline SVG.
 * `cell` formats a table cell (@normkit/experiments' `tableCell`).
 * @example const { sections, charts } = experimentSections(session.experiments, tableCell);
 */
export function experimentSections(
  results: readonly ExperimentResult[],
  cell: (v: unknown) => string,
): { sections: string[]; charts: string[] } {
  const sections: string[] = [];
  const charts: string[] = [];
  for (const r of results) {
    sections.push(summary(r, cell));
    for (const p of r.plots) {
      const id = `chart-${r.experiment}-${p.id}`.replace(/[^\w-]/g, '-');
      charts.push(id);
      sections.push(
        `<section class="figure" data-chart="${esc(id)}"><h2>${esc(p.title)}</h2><div class="svgwrap">${plotSvg(id, p)}</div></section>`,
      );
    }
  }
  return { sections, charts };
}

function plotSvg(id: string, p: Plot): string {
  return lineChart({
    id,
    title: p.title,
    xLabel: p.x.label,
    yLabel: p.y.label,
    xLog: p.x.log,
    yLog: p.y.log,
    categories: p.x.categories,
    series: p.series,
  });
}

function summary(r: ExperimentResult, cell: (v: unknown) => string): string {
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))];
  const head = cols.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = r.rows.map((row) => `<tr>${cols.map((c) => `<td>${esc(cell(row[c]))}</td>`).join('')}</tr>`).join('');
  const findings = r.findings
    .map(
      (f) =>
        `<li><span class="${f.reproduced === 'yes' ? 'ok' : f.reproduced === 'no' ? 'fail' : ''}">${f.reproduced === 'yes' ? 'Reproduced' : f.reproduced === 'no' ? 'Not reproduced' : 'Partly reproduced'}</span> (${esc(f.paper)}): ${esc(f.claim)} — ${esc(f.evidence)}</li>`,
    )
    .join('');
  const where = r.machine ? ` on ${esc(r.machine.cpu)} (${r.machine.cores} cores, ${r.machine.threads} GEMM thread(s))` : '';
  return `<section><h2>${esc(r.title)}</h2><p class="caption"><code>normkit experiment ${esc(r.experiment)}${r.quick ? ' --quick' : ''} --seeds ${r.seeds.length}</code>: seeds ${esc(r.seeds.join(', '))}, ${fmtNum(r.seconds)} s${where}${r.date ? `, ${esc(r.date.slice(0, 10))}` : ''}. Settings: ${esc(cell(r.settings))}.</p>
<div class="svgwrap"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>
<h2>What reproduced</h2><ul class="findings">${findings}</ul></section>`;
}
