import { existsSync } from 'node:fs';
import { CliError, EXIT_BAD_INPUT } from '../errors.js';

/** Where Debian/Ubuntu put chromium; override with NORMKIT_CHROMIUM. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.NORMKIT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(
    Boolean,
  ) as string[];
  return candidates.find((p) => existsSync(p));
}

/** What rendering a report in a browser found. */
export interface RenderCheck {
  /** Chart ids with their rendered size (CSS pixels) and whether they are visible. */
  charts: { id: string; width: number; height: number; visible: boolean; bars: number }[];
  title: string;
}

/**
 * Opens an HTML file in headless chromium (playwright-core), saves a full-page screenshot, and
 * measures every chart. Throws a clear error when chromium or playwright-core is not installed.
 *
 * @example
 * ```ts
 * const check = await screenshotReport('session/report.html', 'session/report.png');
 * check.charts.every((c) => c.visible);
 * ```
 */
export async function screenshotReport(htmlPath: string, pngPath: string): Promise<RenderCheck> {
  const exe = chromiumPath();
  if (!exe)
    throw new CliError('no chromium found (looked for /usr/bin/chromium; set NORMKIT_CHROMIUM to its path)', EXIT_BAD_INPUT, 'NO_BROWSER');
  let pw: typeof import('playwright-core');
  try {
    pw = await import('playwright-core');
  } catch {
    throw new CliError('--screenshot needs playwright-core (npm install playwright-core)', EXIT_BAD_INPUT, 'NO_PLAYWRIGHT');
  }
  const browser = await pw.chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    const { pathToFileURL } = await import('node:url');
    const { resolve } = await import('node:path');
    await page.goto(pathToFileURL(resolve(htmlPath)).href);
    await page.screenshot({ path: pngPath, fullPage: true });
    const charts = await page.$$eval('svg.chart', (els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        return {
          id: el.id,
          width: r.width,
          height: r.height,
          visible: r.width > 0 && r.height > 0 && style.visibility !== 'hidden' && style.display !== 'none',
          bars: el.querySelectorAll('rect.bar, circle').length,
        };
      }),
    );
    return { charts, title: await page.title() };
  } finally {
    await browser.close();
  }
}
