import { esc, ms } from './format.js';
import type { BenchRow } from './protocol.js';

const ORIGINAL = '#9aa5b1';
const CONVERTED = '#2e7d32';

/**
 * A horizontal bar chart of the benchmark, as in the CLI's HTML report: per engine, the median time of
 * the original (grey) and of the converted model (green), with the speed-up beside them.
 *
 * @example
 * ```ts
 * host.innerHTML = benchChart(rows);
 * ```
 */
export function benchChart(rows: readonly BenchRow[]): string {
  const timed = rows.filter((r): r is Extract<BenchRow, { speedup: number }> => 'speedup' in r);
  const labelW = 150;
  const barMax = 360;
  const rowH = 46;
  const width = labelW + barMax + 150;
  const height = 40 + timed.length * rowH;
  const top = Math.max(1e-9, ...timed.flatMap((r) => [r.original.medianMs, r.converted.medianMs]));
  const parts: string[] = [
    `<text x="${labelW}" y="16" font-size="12"><tspan fill="${ORIGINAL}">■</tspan> original  <tspan fill="${CONVERTED}">■</tspan> converted (median ms, lower is faster)</text>`,
  ];
  timed.forEach((r, i) => {
    const y = 28 + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y + 20}" font-size="13" text-anchor="end">${esc(r.engine)}</text>`);
    for (const [j, [t, color, what]] of (
      [
        [r.original.medianMs, ORIGINAL, 'original'],
        [r.converted.medianMs, CONVERTED, 'converted'],
      ] as const
    ).entries()) {
      const w = Math.max(1, (t / top) * barMax);
      const yy = y + 4 + j * 17;
      parts.push(
        `<rect class="bar" x="${labelW}" y="${yy}" width="${w.toFixed(1)}" height="14" rx="2" fill="${color}"><title>${esc(r.engine)} ${what}: ${ms(t)} ms</title></rect>`,
        `<text x="${labelW + w + 5}" y="${yy + 11}" font-size="11">${ms(t)} ms</text>`,
      );
    }
    parts.push(`<text x="${width - 8}" y="${y + 20}" font-size="13" text-anchor="end" font-weight="700">${r.speedup.toFixed(2)}×</text>`);
  });
  return `<svg class="chart" role="img" aria-label="Median run time per engine, original and converted" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${parts.join('')}</svg>`;
}
