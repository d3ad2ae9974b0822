import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentResult } from '@normkit/experiments';
import { tableCell } from '@normkit/experiments';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../src/report/html.js';
import { chromiumPath } from '../src/report/render.js';
import { cli, json, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);

const result: ExperimentResult = {
  experiment: 'lng',
  title: 'LN-G <nonlinearity>',
  quick: true,
  seeds: [0, 1],
  rows: [
    { groups: 1, accuracy: { mean: 0.81, std: 0.01, values: [0.8, 0.82] } },
    { groups: 8, accuracy: { mean: 0.84, std: 0.005, values: [0.835, 0.845] } },
  ],
  findings: [
    { claim: 'accuracy grows with groups', paper: 'paper 3', reproduced: 'yes', evidence: '0.81 → 0.84' },
    { claim: 'LSSR falls', paper: 'paper 3', reproduced: 'no', evidence: 'flat' },
  ],
  plots: [
    {
      id: 'acc',
      title: 'accuracy vs groups',
      kind: 'line',
      x: { label: 'groups', log: true },
      y: { label: 'accuracy' },
      series: [
        {
          name: 'lng',
          points: [
            [1, 0.81],
            [8, 0.84],
          ],
          band: [
            [0.8, 0.82],
            [0.835, 0.845],
          ],
        },
      ],
    },
  ],
  seconds: 12.5,
  settings: { epochs: 1 },
};

describe('experiment report', () => {
  it('renders the table with mean ± std, the findings and one SVG chart per plot, escaped', () => {
    const { html, charts } = renderReport({ experiments: [result] }, tableCell);
    expect(charts).toEqual(['chart-lng-acc']);
    expect(html).toContain('<svg id="chart-lng-acc"');
    expect(html).toContain('0.8100 ± 0.0100');
    expect(html).toMatch(/class="ok">Reproduced<\/span>/);
    expect(html).toMatch(/class="fail">Not reproduced<\/span>/);
    expect(html).toContain('LN-G &lt;nonlinearity&gt;');
    expect(html).not.toMatch(/<script|src="http|href="http/);
    // Two points, a line and an error band.
    expect(html.match(/<circle /g)?.length).toBe(2);
    expect(html).toContain('fill-opacity="0.12"');
  });

  it('`normkit report` reads experiment-*.json from a session directory', async () => {
    const dir = join(tmp.dir, 'session');
    mkdirSync(dir);
    writeFileSync(join(dir, 'experiment-lng.json'), JSON.stringify(result));
    const shot = join(dir, 'report.png');
    const r = await cli('report', dir, '--json', ...(chromiumPath() ? ['--screenshot', shot] : []));
    expect(r.code, r.stderr).toBe(0);
    const doc = json<{ charts: string[]; rendered: { charts: { visible: boolean; bars: number }[] } | null }>(r);
    expect(doc.charts).toEqual(['chart-lng-acc']);
    if (chromiumPath()) {
      expect(doc.rendered?.charts.every((c) => c.visible && c.bars === 2)).toBe(true);
      expect(existsSync(shot)).toBe(true);
    }
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('What reproduced');
  });
});

describe('normkit experiment', () => {
  it('runs lnnet --quick, prints one JSON document with rows and findings, and stores it for report', async () => {
    const dir = join(tmp.dir, 'run');
    const r = await cli('experiment', 'lnnet', '--quick', '--session', dir, '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<ExperimentResult>(r);
    expect(doc).toMatchObject({ experiment: 'lnnet', quick: true });
    expect(doc.seeds.length).toBeGreaterThan(1);
    expect(doc.rows.length).toBeGreaterThan(0);
    expect(doc.findings.length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/\[[#.]{20}\] \d+\/\d+/); // a progress bar per run
    expect(existsSync(join(dir, 'experiment-lnnet.json'))).toBe(true);
    expect((await cli('report', dir)).code).toBe(0);
  });

  it('refuses an unknown experiment, naming the known ones', async () => {
    const r = await cli('experiment', 'resnet');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cbwc, pln, lng, lnnet, intl/);
  });
});
