// HTML for the page's panels, from the worker's plain data. Text from the model is always escaped.
import { benchChart } from './chart.js';
import { bytes, count, esc, mark, ms, sci, shapeStr } from './format.js';
import type { AnalysisView, BenchRow, ConvertInfo, ModelSummary } from './protocol.js';

/**
 * The model summary: what `normkit inspect` prints (opsets, nodes, parameters, inputs/outputs, op histogram).
 * @example el.innerHTML = summaryHtml(info.summary);
 */
export function summaryHtml(s: ModelSummary): string {
  const io = (vs: ModelSummary['inputs']) =>
    vs.map((v) => `${esc(v.name)} <code>${esc(v.dtype)}[${esc(shapeStr(v.shape))}]</code>`).join(', ') || '(none)';
  return `<dl class="kv" id="summary-list">
<dt>model</dt><dd id="summary-model">${esc(s.label)}${s.fileBytes !== null ? ` (${bytes(s.fileBytes)})` : ''}${s.producer ? `, from ${esc(s.producer)}` : ''}, IR v${s.irVersion}</dd>
<dt>opsets</dt><dd id="summary-opsets">${s.opsets.map((o) => `${esc(o.domain)} ${o.version}`).join(', ')}</dd>
<dt>nodes</dt><dd id="summary-nodes">${s.nodes}</dd>
<dt>parameters</dt><dd id="summary-parameters">${count(s.parameters)} (${s.parameters})</dd>
<dt>inputs</dt><dd>${io(s.inputs)}</dd>
<dt>outputs</dt><dd>${io(s.outputs)}</dd>
</dl>
<h3>Op types</h3>
<div class="hist" id="op-histogram">${s.opHistogram.map(([op, n]) => `<span>${esc(op)} <b>${n}</b></span>`).join('')}</div>`;
}

/**
 * The summary line "F of T LayerNorms foldable", as the CLI's `analyze` prints it.
 * @example lnHeadline(view) // '25 of 25 LayerNorms foldable, in 1 component (25 recognized from decomposed subgraphs)'
 */
export function lnHeadline(a: AnalysisView): string {
  if (a.total === 0)
    return 'No LayerNorm found (neither LayerNormalization nodes nor decomposed ReduceMean/Sub/Pow/… subgraphs): nothing to fold.';
  const c = a.components.length;
  return `${a.foldable} of ${a.total} LayerNorms foldable, in ${c} component${c === 1 ? '' : 's'}${a.recognized ? ` (${a.recognized} recognized from decomposed subgraphs)` : ''}`;
}

/**
 * The table of LayerNorms: verdict, name (a button that finds it in the graph), component, reason and
 * the path to the blocker.
 * @example el.innerHTML = lnTableHtml(view);
 */
export function lnTableHtml(a: AnalysisView): string {
  if (a.total === 0) return '';
  const rows = a.layerNorms.map(
    (l) => `<tr class="${l.foldable ? 'foldable' : 'blocked'}" data-ln="${esc(l.name)}">
<td class="${l.foldable ? 'ok' : 'bad'}" aria-label="${l.foldable ? 'foldable' : 'not foldable'}">${mark(l.foldable)}</td>
<td><button type="button" class="ln-link" data-focus="${esc(l.name)}" aria-label="Show ${esc(l.name)} in the graph">${esc(l.name)}</button></td>
<td class="num">${l.component === null ? '—' : l.component}</td>
<td class="reason">${esc(l.reason)}</td>
<td class="path">${esc(l.path.join(' ← '))}</td></tr>`,
  );
  return `<table id="ln-rows"><thead><tr><th scope="col"><span class="visually-hidden">verdict</span></th><th scope="col">LayerNorm</th><th scope="col">comp</th><th scope="col">reason</th><th scope="col">blocking path</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** One line per component and per shared weight, as the CLI prints them. @example componentsHtml(view) */
export function componentsHtml(a: AnalysisView): string {
  const lines = a.components.map((c) => {
    const kinds = Object.entries(c.sourceKinds)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    return `component ${c.id}: ${c.layerNorms} LN, ${c.sources} sources (${kinds || 'none'}) — ${c.foldable ? 'foldable' : 'not foldable'}: ${c.reason}`;
  });
  for (const w of a.sharedWeights)
    lines.push(
      `shared weight ${w.initializer}: also read by ${w.otherUses.map((u) => `${u.node} (${u.op})`).join(', ')}; folding gives the source a centered copy`,
    );
  if (lines.length > 12) lines.splice(12, lines.length - 12, `… and ${lines.length - 12} more`);
  return lines.map((l) => `<div>${esc(l)}</div>`).join('');
}

/**
 * The conversion result: the CLI's first line, its table of differences per engine and output, the
 * kept LayerNorms, and the verdict.
 * @example el.innerHTML = convertHtml(info);
 */
export function convertHtml(r: ConvertInfo): string {
  const head = `<p class="headline" id="convert-summary">Folded ${r.folded} of ${r.layerNorms} LayerNorms into RMSNorm (${esc(r.rmsFormat)}), ${r.components} component${r.components === 1 ? '' : 's'}; ${r.nodes.before} → ${r.nodes.after} nodes</p>`;
  const rows = r.verification.flatMap((v) =>
    v.outputs.length > 0
      ? v.outputs.map(
          (o) =>
            `<tr><td>${esc(v.engine)}</td><td>${esc(o.name)}</td><td class="num">${sci(o.maxAbsDiff)}</td><td class="num">${sci(o.maxRelDiff)}</td><td class="num">${(o.argmaxAgreement * 100).toFixed(1)}%</td><td class="${v.equivalent ? 'ok' : 'bad'}">${mark(v.equivalent)}</td></tr>`,
        )
      : [
          `<tr><td>${esc(v.engine)}</td><td>—</td><td>—</td><td>—</td><td>—</td><td class="bad">${mark(false)} ${esc(v.error ?? '')}</td></tr>`,
        ],
  );
  const table = `<table id="verify-table"><caption>Original vs converted on ${esc(r.inputs)} (2 seeded random input sets); tolerance ${sci(r.tolerance)} relative</caption><thead><tr><th scope="col">engine</th><th scope="col">output</th><th scope="col">max abs diff</th><th scope="col">max rel diff</th><th scope="col">argmax</th><th scope="col">ok</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const skipped = r.skipped.map((s) => `<p class="bad">${esc(s.engine)}: not verified (${esc(s.reason)})</p>`).join('');
  const kept =
    r.kept.length > 0
      ? `<p>kept ${r.kept.length} LayerNorm${r.kept.length === 1 ? '' : 's'}: ${r.kept
          .slice(0, 3)
          .map((l) => `${esc(l.name)} (${esc(l.reason)})`)
          .join('; ')}${r.kept.length > 3 ? '; …' : ''}</p>`
      : '';
  const verdict = `<p id="equivalent" class="headline ${r.equivalent ? 'ok' : 'bad'}">equivalent: ${r.equivalent ? 'yes' : 'NO — the converted model is not offered for download unless you ask for it'}</p>`;
  return head + (rows.length > 0 ? table : '') + skipped + kept + verdict;
}

/**
 * The benchmark: a table (median and interquartile range per model, speed-up) and the bar chart.
 * @example el.innerHTML = benchHtml(rows, 10);
 */
export function benchHtml(rows: readonly BenchRow[], rounds: number): string {
  const body = rows.map((r) =>
    'skipped' in r
      ? `<tr><td>${esc(r.engine)}</td><td colspan="4" class="bad">skipped: ${esc(r.skipped)}</td></tr>`
      : `<tr><td title="${esc(r.description)}">${esc(r.engine)}</td><td class="num">${ms(r.original.medianMs)} (${ms(r.original.p25Ms)}–${ms(r.original.p75Ms)})</td><td class="num">${ms(r.converted.medianMs)} (${ms(r.converted.p25Ms)}–${ms(r.converted.p75Ms)})</td><td class="num speedup">${r.speedup.toFixed(2)}×</td><td>${esc(r.description)}</td></tr>`,
  );
  return `<table id="bench-table"><caption>Median ms (quartiles) over ${rounds} alternating rounds after a warm-up run; speed-up = original / converted</caption><thead><tr><th scope="col">engine</th><th scope="col">original ms</th><th scope="col">converted ms</th><th scope="col">speed-up</th><th scope="col">runs on</th></tr></thead><tbody>${body.join('')}</tbody></table>${benchChart(rows)}`;
}
