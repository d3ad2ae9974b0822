// Small inline-SVG charts for the HTML report: no external assets, no scripts, readable without CSS.

/** Escapes text for HTML/SVG. @example esc('a<b') // 'a&lt;b' */
export function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Colours used by every chart. */
export const COLORS = {
  before: '#a3acb9',
  after: '#2f6fd0',
  faster: '#2e9e5b',
  slower: '#d9534f',
  norm: '#e08a1e',
  grid: '#e3e7ec',
  axis: '#5b6573',
  text: '#1f2933',
};

/** A round step for axis ticks covering [0, max] in about `n` steps. */
export function niceStep(max: number, n = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/** A tick label with as many decimals as the step needs: step 0.5 → `1.5`, step 2 → `4`. */
export function fmtTick(t: number, step: number): string {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-9) d++;
  return t.toFixed(d);
}

/** `1234.5` → `1,235`, `0.01234` → `0.0123`: short numbers for labels. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(3);
}

export interface BarRow {
  label: string;
  value: number;
  color?: string;
  /** Text after the bar (default: the value and unit). */
  note?: string;
  /** Whisker from lo to hi (e.g. a ratio's interquartile range). */
  lo?: number;
  hi?: number;
}

/**
 * A horizontal bar chart, optionally with a reference line (e.g. speed-up 1×).
 * @example barChart({ id: 'speedup', title: 'Speed-up', rows: [{ label: 'normkit-cpu', value: 1.08 }], unit: '×', reference: 1 })
 */
export function barChart(opts: {
  id: string;
  title: string;
  rows: BarRow[];
  unit?: string;
  reference?: number;
  referenceLabel?: string;
  width?: number;
}): string {
  const width = opts.width ?? 720;
  const labelW = Math.min(260, 20 + 7.2 * Math.max(8, ...opts.rows.map((r) => r.label.length)));
  const noteW = 150;
  const rowH = 30;
  const top = 16;
  const plotW = width - labelW - noteW;
  const height = top + rowH * opts.rows.length + 34;
  const max = Math.max(opts.reference ?? 0, ...opts.rows.map((r) => Math.max(r.value, r.hi ?? 0))) * 1.05 || 1;
  const x = (v: number) => labelW + (Math.max(0, v) / max) * plotW;
  const step = niceStep(max);
  const parts: string[] = [];
  for (let t = 0; t <= max + 1e-12; t += step) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${height - 28}" stroke="${COLORS.grid}"/>`);
    parts.push(
      `<text x="${x(t)}" y="${height - 12}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${esc(fmtTick(t, step))}${esc(opts.unit ?? '')}</text>`,
    );
  }
  opts.rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, x(r.value) - labelW);
    parts.push(`<text x="${labelW - 8}" y="${y + 19}" font-size="13" text-anchor="end" fill="${COLORS.text}">${esc(r.label)}</text>`);
    parts.push(
      `<rect class="bar" x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" rx="3" fill="${r.color ?? COLORS.after}"><title>${esc(r.label)}: ${esc(fmtNum(r.value))}${esc(opts.unit ?? '')}</title></rect>`,
    );
    if (r.lo !== undefined && r.hi !== undefined) {
      const yc = y + rowH / 2;
      parts.push(
        `<path d="M${x(r.lo)},${yc} H${x(r.hi)} M${x(r.lo)},${yc - 5} V${yc + 5} M${x(r.hi)},${yc - 5} V${yc + 5}" stroke="${COLORS.text}" stroke-width="1.2" fill="none"/>`,
      );
    }
    parts.push(
      `<text x="${Math.max(x(r.value), x(r.hi ?? 0)) + 8}" y="${y + 19}" font-size="13" font-weight="600" fill="${COLORS.text}">${esc(r.note ?? `${fmtNum(r.value)}${opts.unit ?? ''}`)}</text>`,
    );
  });
  if (opts.reference !== undefined) {
    const xr = x(opts.reference);
    parts.push(`<line x1="${xr}" x2="${xr}" y1="${top - 8}" y2="${height - 28}" stroke="${COLORS.text}" stroke-dasharray="4 3"/>`);
    if (opts.referenceLabel)
      parts.push(`<text x="${xr + 4}" y="${top - 6}" font-size="11" fill="${COLORS.axis}">${esc(opts.referenceLabel)}</text>`);
  }
  return svg(opts.id, opts.title, width, height, parts);
}

export interface GroupRow {
  label: string;
  values: number[];
  /** Draw the label highlighted (normalization ops). */
  highlight?: boolean;
}

/**
 * Grouped horizontal bars: one group per row (op type), one bar per series (before / after), with a legend.
 * @example groupedBarChart({ id: 'ops', title: 'ms per op type', series: [{ name: 'before', color: '#aaa' }, { name: 'after', color: '#26c' }], rows })
 */
export function groupedBarChart(opts: {
  id: string;
  title: string;
  series: { name: string; color: string }[];
  rows: GroupRow[];
  unit?: string;
  width?: number;
}): string {
  const width = opts.width ?? 720;
  const n = opts.series.length;
  const barH = 12;
  const rowH = n * barH + 12;
  const labelW = Math.min(240, 24 + 7.2 * Math.max(8, ...opts.rows.map((r) => r.label.length)));
  const noteW = 90;
  const top = 30;
  const plotW = width - labelW - noteW;
  const height = top + rowH * opts.rows.length + 32;
  const max = Math.max(...opts.rows.flatMap((r) => r.values.filter(Number.isFinite))) * 1.05 || 1;
  const x = (v: number) => labelW + (Math.max(0, v) / max) * plotW;
  const step = niceStep(max);
  const parts: string[] = [];
  let lx = labelW;
  opts.series.forEach((s) => {
    parts.push(
      `<rect x="${lx}" y="6" width="14" height="14" rx="2" fill="${s.color}"/><text x="${lx + 20}" y="18" font-size="12" fill="${COLORS.text}">${esc(s.name)}</text>`,
    );
    lx += 20 + 7 * s.name.length + 24;
  });
  for (let t = 0; t <= max + 1e-12; t += step) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${height - 26}" stroke="${COLORS.grid}"/>`);
    parts.push(
      `<text x="${x(t)}" y="${height - 10}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${esc(fmtTick(t, step))}${esc(opts.unit ?? '')}</text>`,
    );
  }
  opts.rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(
      `<text x="${labelW - 8}" y="${y + 6 + (n * barH) / 2 + 4}" font-size="12.5" text-anchor="end" fill="${r.highlight ? COLORS.norm : COLORS.text}"${r.highlight ? ' font-weight="700"' : ''}>${esc(r.label)}</text>`,
    );
    r.values.forEach((v, j) => {
      const s = opts.series[j];
      if (!s) return;
      const yy = y + 6 + j * barH;
      if (!Number.isFinite(v) || v <= 0) {
        parts.push(`<text x="${labelW + 4}" y="${yy + barH - 2}" font-size="10" fill="${COLORS.axis}">—</text>`);
        return;
      }
      parts.push(
        `<rect class="bar" x="${labelW}" y="${yy}" width="${Math.max(1, x(v) - labelW).toFixed(1)}" height="${barH - 2}" rx="2" fill="${s.color}"><title>${esc(r.label)} (${esc(s.name)}): ${esc(fmtNum(v))}${esc(opts.unit ?? '')}</title></rect>`,
      );
      parts.push(`<text x="${x(v) + 5}" y="${yy + barH - 3}" font-size="10.5" fill="${COLORS.axis}">${esc(fmtNum(v))}</text>`);
    });
  });
  return svg(opts.id, opts.title, width, height, parts);
}

/**
 * Every run as a dot, with the median marked: shows spread and outliers at a glance.
 * @example dotPlot({ id: 'runs', title: 'runs', groups: [{ label: 'cpu before', values: [10, 11], color: '#aaa' }], unit: ' ms' })
 */
export function dotPlot(opts: {
  id: string;
  title: string;
  groups: { label: string; values: number[]; color: string; median?: number }[];
  unit?: string;
  width?: number;
}): string {
  const width = opts.width ?? 720;
  const labelW = Math.min(300, 20 + 7 * Math.max(8, ...opts.groups.map((g) => g.label.length)));
  const rowH = 26;
  const top = 10;
  const plotW = width - labelW - 30;
  const height = top + rowH * opts.groups.length + 32;
  const all = opts.groups
    .flatMap((g) => g.values)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  // The axis covers 98% of the runs; the rare slow outliers are drawn at its right edge.
  const p98 = all[Math.min(all.length - 1, Math.floor(all.length * 0.98))] ?? 1;
  const max = (Math.max(p98, ...opts.groups.map((g) => g.median ?? 0)) || 1) * 1.1;
  const x = (v: number) => labelW + (Math.min(v, max) / max) * plotW;
  const step = niceStep(max);
  const parts: string[] = [];
  for (let t = 0; t <= max + 1e-12; t += step) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${height - 26}" stroke="${COLORS.grid}"/>`);
    parts.push(
      `<text x="${x(t)}" y="${height - 10}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${esc(fmtTick(t, step))}${esc(opts.unit ?? '')}</text>`,
    );
  }
  opts.groups.forEach((g, i) => {
    const y = top + i * rowH + rowH / 2;
    parts.push(`<text x="${labelW - 8}" y="${y + 4}" font-size="12" text-anchor="end" fill="${COLORS.text}">${esc(g.label)}</text>`);
    g.values.forEach((v, k) => {
      const jitter = ((k * 37) % 9) - 4;
      parts.push(`<circle cx="${x(v).toFixed(1)}" cy="${(y + jitter).toFixed(1)}" r="3" fill="${g.color}" fill-opacity="0.55"/>`);
    });
    if (g.median !== undefined)
      parts.push(
        `<line x1="${x(g.median)}" x2="${x(g.median)}" y1="${y - 9}" y2="${y + 9}" stroke="${COLORS.text}" stroke-width="2.5"><title>median ${esc(fmtNum(g.median))}${esc(opts.unit ?? '')}</title></line>`,
      );
  });
  return svg(opts.id, opts.title, width, height, parts);
}

/** A palette for series that have no colour of their own (line charts). */
export const SERIES_COLORS = ['#2f6fd0', '#e08a1e', '#2e9e5b', '#d9534f', '#7b4fd0', '#1fa3a3', '#a3acb9', '#c2410c', '#4d7c0f', '#be185d'];

/** One axis of a line chart: linear or log10, with its range and tick values. */
function axis(values: number[], log: boolean): { lo: number; hi: number; ticks: number[]; f: (v: number) => number } {
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  const f = log ? Math.log10 : (v: number) => v;
  let lo = vs.length ? Math.min(...vs.map(f)) : 0;
  let hi = vs.length ? Math.max(...vs.map(f)) : 1;
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  if (!log) [lo, hi] = [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)]; // room for the markers
  const ticks: number[] = [];
  if (log) for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) ticks.push(10 ** e);
  else {
    const step = niceStep(hi - lo);
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) ticks.push(t);
  }
  if (log) [lo, hi] = [Math.floor(lo), Math.ceil(hi)];
  return { lo, hi, ticks, f };
}

/**
 * A line chart of (x, y) series with markers, linear or log axes, a legend and optional error bands
 * (`band`: [lo, hi] per point, e.g. mean ± std over seeds).
 * @example lineChart({ id: 'err', title: 'sup error', xLabel: 'neurons', yLabel: 'error', xLog: true, yLog: true, series: [{ name: 'relu', points: [[4, 0.1], [8, 0.05]] }] })
 */
export function lineChart(opts: {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  /** Category names for x = 0, 1, 2, ... (an x axis of labels instead of numbers). */
  categories?: string[];
  series: { name: string; points: [number, number][]; band?: [number, number][]; color?: string }[];
  width?: number;
}): string {
  const width = opts.width ?? 720;
  const legendRows = Math.ceil(opts.series.length / 4);
  const top = 14 + 18 * legendRows;
  const left = 64;
  const right = 16;
  const height = top + 260 + 46;
  const plotH = 260;
  const plotW = width - left - right;
  const all = opts.series.flatMap((s) => s.points);
  const bands = opts.series.flatMap((s) => s.band ?? []).flat();
  const ax = axis(
    all.map((p) => p[0]),
    Boolean(opts.xLog),
  );
  const ay = axis([...all.map((p) => p[1]), ...bands], Boolean(opts.yLog));
  const X = (v: number) => left + ((ax.f(v) - ax.lo) / (ax.hi - ax.lo)) * plotW;
  const Y = (v: number) => top + plotH - ((ay.f(v) - ay.lo) / (ay.hi - ay.lo)) * plotH;
  const ok = (p: [number, number]) =>
    Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!opts.xLog || p[0] > 0) && (!opts.yLog || p[1] > 0);
  const parts: string[] = [];
  for (const t of ay.ticks) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="${COLORS.grid}"/>`);
    parts.push(
      `<text x="${left - 6}" y="${(Y(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${COLORS.axis}">${esc(fmtNum(t))}</text>`,
    );
  }
  const xticks = opts.categories ? opts.categories.map((_, i) => i) : ax.ticks;
  for (const t of xticks) {
    parts.push(`<line x1="${X(t).toFixed(1)}" x2="${X(t).toFixed(1)}" y1="${top}" y2="${top + plotH}" stroke="${COLORS.grid}"/>`);
    parts.push(
      `<text x="${X(t).toFixed(1)}" y="${top + plotH + 16}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${esc(opts.categories?.[t] ?? fmtNum(t))}</text>`,
    );
  }
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 8}" font-size="12" text-anchor="middle" fill="${COLORS.text}">${esc(opts.xLabel)}${opts.xLog ? ' (log)' : ''}</text>`,
  );
  parts.push(
    `<text x="14" y="${top + plotH / 2}" font-size="12" text-anchor="middle" fill="${COLORS.text}" transform="rotate(-90 14 ${top + plotH / 2})">${esc(opts.yLabel)}${opts.yLog ? ' (log)' : ''}</text>`,
  );
  opts.series.forEach((s, i) => {
    const color = s.color ?? SERIES_COLORS[i % SERIES_COLORS.length];
    const pts = s.points.filter(ok);
    if (s.band && s.band.length === s.points.length) {
      const up = s.points.map((p, k) => [p[0], s.band?.[k]?.[1] ?? p[1]] as [number, number]).filter(ok);
      const dn = s.points
        .map((p, k) => [p[0], s.band?.[k]?.[0] ?? p[1]] as [number, number])
        .filter(ok)
        .reverse();
      if (up.length > 1)
        parts.push(
          `<path d="M${[...up, ...dn].map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' L')} Z" fill="${color}" fill-opacity="0.12" stroke="none"/>`,
        );
    }
    if (pts.length > 1)
      parts.push(
        `<path d="M${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' L')}" fill="none" stroke="${color}" stroke-width="2"/>`,
      );
    for (const p of pts)
      parts.push(
        `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${color}"><title>${esc(s.name)}: (${esc(opts.categories?.[p[0]] ?? fmtNum(p[0]))}, ${esc(fmtNum(p[1]))})</title></circle>`,
      );
    const lx = left + (i % 4) * (plotW / 4);
    const ly = 6 + 18 * Math.floor(i / 4);
    parts.push(
      `<rect x="${lx}" y="${ly}" width="14" height="10" rx="2" fill="${color}"/><text x="${lx + 20}" y="${ly + 10}" font-size="12" fill="${COLORS.text}">${esc(s.name)}</text>`,
    );
  });
  return svg(opts.id, opts.title, width, height, parts);
}

function svg(id: string, title: string, width: number, height: number, parts: string[]): string {
  return `<svg id="${esc(id)}" class="chart" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"><title>${esc(title)}</title>${parts.join('')}</svg>`;
}
