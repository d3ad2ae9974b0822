import { basename } from 'node:path';
import { runsText } from '../commands/bench.js';
import type { Session } from '../session.js';
import type { BenchResult, ConvertResult, OpBreakdown } from '../types.js';
import { experimentSections } from './experiments.js';
import { barChart, COLORS, dotPlot, esc, fmtNum, type GroupRow, groupedBarChart } from './svg.js';

const NORM_OPS = /LayerNorm|RMSNorm|SimplifiedLayerNorm|Normalization/i;

/** A rendered report: the HTML and the ids of the charts in it (for checks). */
export interface RenderedReport {
  html: string;
  charts: string[];
}

/**
 * Renders a self-contained HTML report (inline SVG charts, inline CSS, no scripts, no external
 * assets) of a convert + bench session: what was folded, the proof of equivalence, the speed-up per
 * engine, time per op type before/after, and every timed run.
 *
 * @example
 * ```ts
 * const { html } = renderReport(await readSession('session')); // experiments: pass tableCell from @normkit/experiments
 * await writeFile('session/report.html', html);
 * ```
 */
export function renderReport(
  session: Pick<Session, 'convert' | 'bench' | 'experiments'> & { dir?: string },
  tableCell: (v: unknown) => string = String,
): RenderedReport {
  const c = session.convert;
  const b = session.bench;
  const charts: string[] = [];
  const sections: string[] = [];
  const onlyExperiments = !c && !b;
  const title = onlyExperiments
    ? `normkit experiments — ${esc((session.experiments ?? []).map((r) => r.experiment).join(', '))}`
    : `normkit report — ${esc(basename(c?.input ?? b?.against ?? b?.model ?? 'session'))}`;

  if (!onlyExperiments) sections.push(kpis(c, b));

  if (b) {
    const ratios = b.ratios.filter((r) => Number.isFinite(r.speedup));
    if (ratios.length > 0) {
      const id = 'chart-speedup';
      charts.push(id);
      sections.push(
        figure(
          id,
          'Speed-up per engine',
          `median time of <code>${esc(basename(b.against ?? ''))}</code> ÷ median time of <code>${esc(basename(b.model))}</code>; above the dashed 1× line the converted model is faster. Whiskers: range from the quartiles of both.`,
          barChart({
            id,
            title: 'Speed-up per engine',
            unit: '×',
            reference: 1,
            referenceLabel: '1× (no change)',
            rows: ratios.map((r) => ({
              label: r.engine,
              value: r.speedup,
              lo: r.speedupLow,
              hi: r.speedupHigh,
              color: r.speedup >= 1 ? COLORS.faster : COLORS.slower,
              note: `${r.speedup.toFixed(3)}× (${pct(r.speedup - 1)})`,
            })),
          }),
        ),
      );
    }
    const engines = [...new Set(b.results.map((r) => r.engine))];
    if (engines.length > 0) {
      const id = 'chart-median';
      charts.push(id);
      const series = b.against
        ? [
            { name: `before: ${basename(b.against)}`, color: COLORS.before },
            { name: `after: ${basename(b.model)}`, color: COLORS.after },
          ]
        : [{ name: basename(b.model), color: COLORS.after }];
      const rows: GroupRow[] = engines.map((e) => ({
        label: e,
        values: b.against
          ? [
              b.results.find((r) => r.engine === e && r.role === 'against')?.medianMs ?? Number.NaN,
              b.results.find((r) => r.engine === e && r.role === 'model')?.medianMs ?? Number.NaN,
            ]
          : [b.results.find((r) => r.engine === e && r.role === 'model')?.medianMs ?? Number.NaN],
      }));
      sections.push(
        figure(
          id,
          'Median time per inference',
          `${runsText(b)} per model, the two models alternating, after ${b.warmup} warm-up runs.`,
          groupedBarChart({ id, title: 'Median ms per inference', series, rows, unit: ' ms' }),
        ),
      );
    }
    for (const engine of engines) {
      const after = b.opTypes.find((o) => o.engine === engine && o.role === 'model');
      const before = b.opTypes.find((o) => o.engine === engine && o.role === 'against');
      if (!after && !before) continue;
      const id = `chart-optypes-${engine}`;
      charts.push(id);
      sections.push(
        figure(
          id,
          `Time per op type — ${engine}`,
          'From the executor’s per-node profile (median of profiled runs, summed per op type). Normalization ops are highlighted: the conversion turns LayerNormalization (or its decomposed subgraph) into RMSNormalization.',
          opTypeChart(id, engine, before, after, b),
        ),
      );
    }
    const groups = b.results.map((r) => ({
      label: `${r.engine} · ${r.role === 'against' ? 'before' : b.against ? 'after' : basename(r.model)}`,
      values: thin(r.samplesMs, 300),
      color: r.role === 'against' ? COLORS.before : COLORS.after,
      median: r.medianMs,
    }));
    if (groups.length > 0) {
      const id = 'chart-runs';
      charts.push(id);
      sections.push(
        figure(
          id,
          'Every timed run',
          `One dot per run${b.results.some((r) => r.samplesMs.length > 300) ? ' (300 evenly spaced of each)' : ''}, the bar marks the median: the spread of the measurement.`,
          dotPlot({ id, title: 'Every timed run (ms)', groups, unit: ' ms' }),
        ),
      );
    }
    if (b.skipped.length > 0)
      sections.push(
        `<p class="note">Engines skipped: ${b.skipped.map((s) => `<b>${esc(s.engine)}</b> (${esc(s.reason)})`).join('; ')}</p>`,
      );
  }

  if (c) {
    // What the conversion changed in the graph: node counts of the op types whose count changed.
    const types = [...new Set([...Object.keys(c.opHistogram.before), ...Object.keys(c.opHistogram.after)])];
    const changed = types
      .map((t) => ({ t, before: c.opHistogram.before[t] ?? 0, after: c.opHistogram.after[t] ?? 0 }))
      .filter((x) => x.before !== x.after)
      .sort((x, y) => Math.max(y.before, y.after) - Math.max(x.before, x.after))
      .slice(0, 14);
    if (changed.length > 0) {
      const id = 'chart-ops-changed';
      charts.push(id);
      sections.push(
        figure(
          id,
          'What changed in the graph',
          `Nodes per op type, for the op types whose count changed (${c.nodes.before} → ${c.nodes.after} nodes in all).`,
          groupedBarChart({
            id,
            title: 'nodes per op type, before and after',
            series: [
              { name: `before: ${basename(c.input)}`, color: COLORS.before },
              { name: `after: ${basename(c.output ?? 'converted')}`, color: COLORS.after },
            ],
            rows: changed.map((x) => ({ label: x.t, values: [x.before, x.after], highlight: NORM_OPS.test(x.t) })),
          }),
        ),
      );
    }
    sections.push(verificationTable(c), verdictTable(c));
  }
  if (b) sections.push(benchTable(b));
  if (session.experiments?.length) {
    const e = experimentSections(session.experiments, tableCell);
    sections.push(...e.sections);
    charts.push(...e.charts);
  }

  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${CSS}</style></head>
<body><main>
<header><h1>${title}</h1><p class="sub">${onlyExperiments ? "The papers' experiments at small scale: each table is mean ± std over seeds, with what reproduced and what did not." : 'LayerNorm → RMSNorm folding: what changed, the proof it computes the same, and what it bought.'}${b ? ` Measured ${esc(b.machine.date.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC'))} on ${esc(b.machine.cpu)} (${b.machine.cores} cores), Node ${esc(b.machine.node)}.` : ''}</p></header>
${sections.join('\n')}
<footer>Generated by <code>normkit report</code>.${onlyExperiments ? ' Each experiment section names the command that reproduces it.' : ` Reproduce: <code>normkit convert ${esc(c?.input ?? '<in.onnx>')} -o ${esc(c?.output ?? '<out.onnx>')} --session DIR</code>, <code>normkit bench ${esc(b?.model ?? '<out.onnx>')} --against ${esc(b?.against ?? c?.input ?? '<in.onnx>')} --session DIR</code>, <code>normkit report DIR</code>.`}</footer>
</main></body></html>
`;
  return { html, charts };
}

function opTypeChart(id: string, engine: string, before: OpBreakdown | undefined, after: OpBreakdown | undefined, b: BenchResult): string {
  const types = new Map<string, [number, number]>();
  for (const o of before?.byOpType ?? []) types.set(o.opType, [o.ms, types.get(o.opType)?.[1] ?? 0]);
  for (const o of after?.byOpType ?? []) types.set(o.opType, [types.get(o.opType)?.[0] ?? 0, o.ms]);
  let rows = [...types.entries()].sort((x, y) => Math.max(...y[1]) - Math.max(...x[1]));
  const top = 12;
  if (rows.length > top) {
    const keep = rows.slice(0, top);
    // Always show the normalization ops, which are what the conversion changes.
    for (const r of rows.slice(top)) if (NORM_OPS.test(r[0])) keep.push(r);
    const rest = rows.filter((r) => !keep.includes(r));
    if (rest.length > 0)
      keep.push([`other (${rest.length} types)`, [rest.reduce((a, r) => a + r[1][0], 0), rest.reduce((a, r) => a + r[1][1], 0)]]);
    rows = keep;
  }
  const series = [];
  if (before) series.push({ name: `before (${fmtNum(before.totalMs)} ms total)`, color: COLORS.before });
  if (after) series.push({ name: `${b.against ? 'after' : basename(b.model)} (${fmtNum(after.totalMs)} ms total)`, color: COLORS.after });
  return groupedBarChart({
    id,
    title: `ms per op type, ${engine}`,
    series,
    unit: ' ms',
    rows: rows.map(([label, [x, y]]) => ({
      label,
      values: before && after ? [x, y] : before ? [x] : [y],
      highlight: NORM_OPS.test(label),
    })),
  });
}

function kpis(c: ConvertResult | undefined, b: BenchResult | undefined): string {
  const cards: string[] = [];
  if (c) {
    cards.push(
      card(
        'LayerNorms folded',
        `${c.foldedLayerNorms} / ${c.layerNorms}`,
        `${c.components} component${c.components === 1 ? '' : 's'}, exported as ${esc(c.rmsFormat)}`,
        c.foldedLayerNorms > 0 ? 'good' : 'bad',
      ),
    );
    cards.push(
      card(
        'Same outputs',
        c.equivalent ? 'yes' : 'NO',
        `max |Δ| ${sci(c.maxAbsDiff)}, rel ${sci(c.maxRelDiff)}, argmax ${(c.argmaxAgreement * 100).toFixed(1)}% — checked in ${c.verification.map((v) => esc(v.engine)).join(' and ')}`,
        c.equivalent ? 'good' : 'bad',
      ),
    );
  }
  for (const r of b?.ratios ?? [])
    cards.push(
      card(
        `Speed-up, ${esc(r.engine)}`,
        `${r.speedup.toFixed(3)}×`,
        `${pct(r.speedup - 1)} (median ${fmtNum(b?.results.find((x) => x.engine === r.engine && x.role === 'against')?.medianMs ?? Number.NaN)} → ${fmtNum(b?.results.find((x) => x.engine === r.engine && x.role === 'model')?.medianMs ?? Number.NaN)} ms)`,
        r.speedup >= 1 ? 'good' : 'bad',
      ),
    );
  return `<section class="kpis">${cards.join('')}</section>`;
}

function card(label: string, value: string, detail: string, tone: 'good' | 'bad'): string {
  return `<div class="card ${tone}"><div class="label">${label}</div><div class="value">${value}</div><div class="detail">${detail}</div></div>`;
}

function figure(id: string, title: string, caption: string, svg: string): string {
  return `<section class="figure" data-chart="${esc(id)}"><h2>${esc(title)}</h2><p class="caption">${caption}</p><div class="svgwrap">${svg}</div></section>`;
}

function verificationTable(c: ConvertResult): string {
  const rows = c.verification.flatMap((v) =>
    v.outputs.map(
      (o) =>
        `<tr><td>${esc(v.engine)}</td><td><code>${esc(o.name)}</code></td><td>${sci(o.maxAbsDiff)}</td><td>${sci(o.maxRelDiff)}</td><td>${(o.argmaxAgreement * 100).toFixed(1)}%</td><td class="${v.equivalent ? 'ok' : 'fail'}">${v.equivalent ? 'equal' : 'DIFFERENT'}</td></tr>`,
    ),
  );
  return `<section><h2>Proof of equivalence</h2><p class="caption">Original vs converted model on the same seeded inputs (${c.inputs.map((i) => `<code>${esc(i.name)}</code> ${esc(i.dtype)}[${i.shape.join('×')}]`).join(', ')}).</p>
<table><thead><tr><th>engine</th><th>output</th><th>max abs diff</th><th>max rel diff</th><th>argmax agreement</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function verdictTable(c: ConvertResult): string {
  if (c.analysis.length === 0) return '';
  const rows = c.analysis.map(
    (l) =>
      `<tr><td><code>${esc(l.name)}</code></td><td class="${l.foldable ? 'ok' : 'fail'}">${l.foldable ? 'folded' : 'kept'}</td><td>${esc(l.component ?? '—')}</td><td>${esc(l.reason)}</td></tr>`,
  );
  return `<section><details${c.analysis.length <= 12 ? ' open' : ''}><summary><h2 style="display:inline">LayerNorms (${c.foldedLayerNorms} of ${c.layerNorms} folded)</h2></summary>
<table><thead><tr><th>LayerNorm</th><th>verdict</th><th>component</th><th>reason</th></tr></thead><tbody>${rows.join('')}</tbody></table></details></section>`;
}

function benchTable(b: BenchResult): string {
  const rows = b.results.map(
    (r) =>
      `<tr><td>${esc(r.engine)}</td><td><code>${esc(basename(r.model))}</code>${r.role === 'against' ? ' (before)' : b.against ? ' (after)' : ''}</td><td>${fmtNum(r.medianMs)}</td><td>${fmtNum(r.p25Ms)} – ${fmtNum(r.p75Ms)}</td><td>±${(r.spread * 50).toFixed(1)}%</td><td>${fmtNum(r.minMs)} / ${fmtNum(r.maxMs)}</td><td>${esc(r.description)}</td></tr>`,
  );
  return `<section><h2>Timings</h2><table><thead><tr><th>engine</th><th>model</th><th>median ms</th><th>p25 – p75</th><th>spread</th><th>min / max</th><th>runs on</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

/** At most `n` values, evenly spaced through the list (a dot plot of 1000 runs stays light). */
function thin(xs: readonly number[], n: number): number[] {
  if (xs.length <= n) return [...xs];
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)] as number);
}

function pct(x: number): string {
  const s = (x * 100).toFixed(1);
  return `${x >= 0 ? '+' : ''}${s}%`;
}

function sci(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x === 0 ? '0' : x.toExponential(2);
}

const CSS = `
:root{color-scheme:light}
body{margin:0;background:#f5f7fa;color:#1f2933;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:820px;margin:0 auto;padding:28px 20px 60px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 4px}
.sub,.caption,.note,footer{color:#52606d;font-size:13.5px;margin:0 0 10px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:10px;padding:16px 18px;margin:16px 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;background:none;border:0;padding:0}
.card{background:#fff;border:1px solid #e4e7eb;border-left:5px solid #2e9e5b;border-radius:10px;padding:12px 14px}
.card.bad{border-left-color:#d9534f}.card .label{font-size:12.5px;color:#52606d;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:28px;font-weight:700}.card .detail{font-size:12.5px;color:#52606d}
.svgwrap{overflow-x:auto}svg.chart{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
td.ok,span.ok{color:#2e9e5b;font-weight:600}td.fail,span.fail{color:#d9534f;font-weight:600}.findings li{margin:4px 0}code{font-size:12.5px}
footer{margin-top:24px}
`;
