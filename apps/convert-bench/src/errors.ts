import { NormkitError } from '@normkit/tensor';

/** Exit status of the `normkit` command: success. */
export const EXIT_OK = 0;
/** Exit status: a check failed (outputs differ, a conformance test failed). */
export const EXIT_CHECK_FAILED = 1;
/** Exit status: bad usage or bad input (missing file, not ONNX, unsupported op, nothing to fold). */
export const EXIT_BAD_INPUT = 2;

/**
 * An error the CLI reports as one line on stderr, with the exit status it maps to.
 *
 * @example
 * ```ts
 * throw new CliError('model.onnx: no such file', EXIT_BAD_INPUT, 'FILE_NOT_FOUND');
 * ```
 */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string;
  constructor(message: string, exitCode: number = EXIT_BAD_INPUT, code = 'BAD_INPUT', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** The exit status an error maps to: its own for `CliError`, 2 for a `NormkitError` (bad input), 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (isNormkitError(err)) return EXIT_BAD_INPUT;
  return EXIT_CHECK_FAILED;
}

/** Whether `err` is a NormkitError (by class, or by shape when two copies of the package are loaded). */
export function isNormkitError(err: unknown): err is NormkitError {
  return (
    err instanceof NormkitError ||
    (err instanceof Error && err.name === 'NormkitError' && typeof (err as { code?: unknown }).code === 'string')
  );
}

/** The error's code (`FILE_NOT_FOUND`, `UNSUPPORTED_OP`, ...), or `INTERNAL` for an unexpected error. */
export function errorCodeOf(err: unknown): string {
  if (err instanceof CliError || isNormkitError(err)) return err.code;
  return 'INTERNAL';
}

/**
 * The one line the CLI prints for an error: `normkit: <message>`, prefixed with `file: ` when the
 * message does not already name the file. Unexpected errors (a bug, not bad input) say so.
 *
 * @example errorLine(new CliError('x.onnx: not an ONNX model')) // 'normkit: x.onnx: not an ONNX model'
 */
export function errorLine(err: unknown, file?: string): string {
  let message: string;
  if (err instanceof CliError || isNormkitError(err)) message = oneLine(err.message);
  else if (err instanceof Error)
    message = `internal error: ${oneLine(err.message)} (run with --verbose for the stack trace, and report it)`;
  else message = `internal error: ${String(err)}`;
  if (file && !message.includes(file)) message = `${file}: ${message}`;
  return `normkit: ${message}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
