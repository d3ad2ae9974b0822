/**
 * The one error type of normkit. Every package throws `NormkitError` (or a subclass) with a stable
 * `code`, a message that says what was wrong, where (op, node, file, shape) and what to do.
 *
 * @example
 * ```ts
 * try { add(a, b) } catch (e) { if (e instanceof NormkitError && e.code === 'SHAPE_MISMATCH') ... }
 * ```
 */
export class NormkitError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'NormkitError';
    this.code = code;
    this.details = details;
  }
}

/** Throws a `NormkitError` with code `INVALID_ARGUMENT` unless `cond` holds. @example check(x.rank === 2, 'SHAPE_MISMATCH', () => `op: expected 2-D, got ${fmtShape(x.shape)}`) */
export function check(cond: unknown, code: string, message: () => string, details?: Record<string, unknown>): asserts cond {
  if (!cond) throw new NormkitError(code, message(), details);
}

/** `[2,3]` → `"[2, 3]"`, for error messages. @example fmtShape([2, 3]) // '[2, 3]' */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
