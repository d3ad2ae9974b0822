/** `3.1e-7`, `0`: differences in scientific notation. @example sci(3.14e-7) // '3.1e-7' */
export function sci(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x === 0 ? '0' : x.toExponential(1);
}

/** Milliseconds with about three significant digits. @example ms(12.345) // '12.3' */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** `1234567` → `1.23M`, `12345` → `12.3k`. @example count(12345) // '12.3k' */
export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** `157_600` → `154 KiB`. @example bytes(157600) // '154 KiB' */
export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}

/** `[1, 'seq', 768]` → `1×seq×768`. @example shapeStr([1, 'seq']) // '1×seq' */
export function shapeStr(shape: readonly (number | string | null)[] | null): string {
  if (!shape) return '?';
  if (shape.length === 0) return 'scalar';
  return shape.map((d) => (d === null || d === '' ? '?' : String(d))).join('×');
}

/** `✓` / `✗`. @example mark(true) // '✓' */
export function mark(ok: boolean): string {
  return ok ? '✓' : '✗';
}

/** Escapes text for HTML and SVG markup. @example esc('<a>') // '&lt;a&gt;' */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
