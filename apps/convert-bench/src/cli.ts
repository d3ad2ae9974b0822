import { cliIo, main } from './program.js';

// `normkit`: exit 0 ok, 1 a failed check, 2 bad usage or input.
main(process.argv.slice(2), cliIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`normkit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
