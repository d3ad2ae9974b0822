/**
 * A plain-text table with aligned columns (numbers right-aligned).
 * @example table(['engine', 'ms'], [['cpu', '1.2']]) // 'engine  ms\n------  ---\ncpu     1.2'
 */
export function table(head: string[], rows: (string | number)[][], opts: { indent?: string } = {}): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = head.map((_, i) => cells.length > 0 && cells.every((r) => /^[-+]?[\d.,]+(e[-+]?\d+)?[×%x]?$|^—$/.test(r[i] ?? '')));
  const fmt = (r: string[]) =>
    (opts.indent ?? '') +
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [fmt(head), (opts.indent ?? '') + widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)].join('\n');
}

/** `3.1e-7`, `0` — differences in scientific notation. */
export function sci(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x === 0 ? '0' : x.toExponential(1);
}

/** Milliseconds with three significant digits: `12.3`, `0.456`, `1234`. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** `0.0712` → `+7.1%`. */
export function signedPct(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
}

/** `1234567` → `1.23M`, `12345` → `12.3k`. */
export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** `[1, 'seq', 768]` → `1×seq×768`. */
export function shapeStr(shape: readonly (number | string | undefined)[] | undefined): string {
  if (!shape) return '?';
  if (shape.length === 0) return 'scalar';
  return shape.map((d) => (d === undefined || d === '' ? '?' : String(d))).join('×');
}

/** `✓`/`✗` marks. */
export function mark(ok: boolean): string {
  return ok ? '✓' : '✗';
}

/** `157_600` → `154 KiB`, `5_000_000` → `4.8 MiB`. */
export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}
