import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../src/report/html.js';
import { chromiumPath, screenshotReport } from '../src/report/render.js';
import { bench, convert } from './fixtures.js';
import { cli, json, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('renderReport', () => {
  it('is self-contained HTML with the speed-up, median and per-op-type charts', () => {
    const { html, charts } = renderReport({ convert, bench });
    expect(charts).toEqual(['chart-speedup', 'chart-median', 'chart-optypes-normkit-cpu', 'chart-runs', 'chart-ops-changed']);
    for (const id of charts) expect(html).toContain(`<svg id="${id}"`);
    // No external assets, no scripts.
    expect(html).not.toMatch(/<script|<link|src="http|href="http|@import/);
    // Speed-up bars: green above 1×, red below; labels carry the numbers.
    expect(html).toContain('1.250× (+25.0%)');
    expect(html).toContain('0.960× (-4.0%)');
    // Normalization ops are highlighted in the per-op chart (before: LayerNormalization, after: SimplifiedLayerNormalization).
    expect(html).toMatch(/font-weight="700">LayerNormalization</);
    expect(html).toMatch(/font-weight="700">SimplifiedLayerNormalization</);
  });

  it('escapes names from the model', () => {
    const { html } = renderReport({
      convert: { ...convert, analysis: [{ name: '<img src=x onerror=alert(1)>', foldable: false, reason: 'a & b', component: null }] },
    });
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('normkit report <dir>', () => {
  const session = join(tmp.dir, 'session');
  mkdirSync(session);
  writeFileSync(join(session, 'bench.json'), JSON.stringify(bench));
  writeFileSync(join(session, 'convert.json'), JSON.stringify(convert));

  it('writes report.html and says so in JSON', async () => {
    const r = await cli('report', session, '--json');
    expect(r.code).toBe(0);
    const doc = json<{ report: string; charts: string[]; bytes: number }>(r);
    expect(doc.report).toBe(join(session, 'report.html'));
    expect(doc.charts).toContain('chart-speedup');
    expect(statSync(doc.report).size).toBe(doc.bytes);
  });

  it('an empty or missing session directory is bad input', async () => {
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    const r = await cli('report', empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no convert.json, bench.json or experiment-\*.json in it; run `normkit convert/);
    expect((await cli('report', join(tmp.dir, 'nope'))).stderr).toBe(`normkit: ${join(tmp.dir, 'nope')}: no such directory\n`);
  });

  const chromium = chromiumPath();
  it.skipIf(!chromium)('renders in headless chromium: every chart visible, with its bars, in a screenshot', async () => {
    const html = join(session, 'report.html');
    if (!existsSync(html)) writeFileSync(html, renderReport({ convert, bench }).html);
    const png = join(tmp.dir, 'report.png');
    const check = await screenshotReport(html, png);
    expect(check.title).toContain('normkit report');
    expect(check.charts.map((c) => c.id)).toEqual([
      'chart-speedup',
      'chart-median',
      'chart-optypes-normkit-cpu',
      'chart-runs',
      'chart-ops-changed',
    ]);
    for (const c of check.charts) {
      expect(c.visible, c.id).toBe(true);
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.height, c.id).toBeGreaterThan(60);
      expect(c.bars, c.id).toBeGreaterThan(1);
    }
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(png).size).toBeGreaterThan(20_000);
  });
  if (!chromium)
    it.skip('renders in headless chromium — SKIPPED: no chromium at /usr/bin/chromium (apt-get install chromium, or set NORMKIT_CHROMIUM)', () => {});
});
