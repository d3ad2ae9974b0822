import { format } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import pkg from '../package.json';
import { analyzeCommand } from './commands/analyze.js';
import { benchCommand } from './commands/bench.js';
import { convertCommand } from './commands/convert.js';
import { experimentCommand } from './commands/experiment.js';
import { inspectCommand } from './commands/inspect.js';
import { pipelineCommand } from './commands/pipeline.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { testOnnxCommand } from './commands/test-onnx.js';
import { theoryCommands } from './commands/theory.js';
import { trainCommand } from './commands/train.js';
import { verifyCommand } from './commands/verify.js';
import { webCommand } from './commands/web.js';
import { zooCommand } from './commands/zoo.js';
import { type CommonOptions, Context, type Io, processIo, toJson } from './context.js';
import { CliError, EXIT_BAD_INPUT, errorCodeOf, errorLine, exitCodeOf } from './errors.js';

/** A command's implementation: gets the context, its arguments and options, returns the exit status. */
export type Action = (ctx: Context, ...args: never[]) => Promise<number>;

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Builds the `normkit` commander program writing to `io`. The exit status of the command that ran is
 * left in `state.exitCode`. Use `main` to run it.
 *
 * @example
 * ```ts
 * const state = { exitCode: 0 };
 * await createProgram(processIo(), state).parseAsync(['inspect', 'm.onnx', '--json'], { from: 'user' });
 * ```
 */
export function createProgram(io: Io, state: { exitCode: number }): Command {
  const program = new Command('normkit');
  program
    .description(
      'Fold the LayerNorms of an ONNX model into RMSNorms without changing what it computes, prove it, and measure the speed-up.\nWith no command: the whole pipeline on a built-in GPT-2 (build, analyze, convert, verify, bench).',
    )
    .version(VERSION, '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'normkit: ')),
    })
    .showHelpAfterError('(run with --help for usage)');

  const wrap =
    (fn: Action) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const opts = cmd.opts() as CommonOptions & Record<string, unknown>;
      const ctx = new Context(io, opts);
      state.exitCode = await guard(ctx, () => (fn as (ctx: Context, ...a: unknown[]) => Promise<number>)(ctx, ...args.slice(0, -1)));
    };
  const common = (cmd: Command): Command =>
    cmd
      .option('--json', 'print one JSON document on stdout (progress stays on stderr)')
      .option('-q, --quiet', 'no progress on stderr')
      .option('--verbose', 'stack traces and details on stderr');

  // The default action: the whole pipeline on a zoo model.
  common(program)
    .option('--arch <arch>', 'zoo architecture for the demo', 'gpt2')
    .option('--size <size>', 'tiny | small | base', 'tiny')
    .option('--session <dir>', 'keep the models, JSON and report.html in this directory (default: a new temporary directory)')
    .option('--runs <n>', 'timed rounds per engine and model, or auto (≥ 10 rounds and ≥ 3 s of timed runs)', 'auto')
    .option('--warmup <n>', 'warm-up runs', '3')
    .option('--engine <list>', 'engines to benchmark (comma-separated: normkit-cpu, normkit-gpu, onnxruntime)')
    .option('--seed <n>', 'seed of the weights and inputs', '0')
    .action(async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      if (cmd.args.length > 0) {
        const ctx = new Context(io, cmd.opts());
        state.exitCode = await guard(ctx, async () => {
          throw new CliError(`unknown command "${cmd.args[0]}" (see normkit --help)`, EXIT_BAD_INPUT, 'BAD_USAGE');
        });
        return;
      }
      await wrap(pipelineCommand as Action)(...args);
    });

  common(program.command('inspect').argument('<model>', 'an .onnx file (or zoo:<arch>[:size])'))
    .description('opsets, inputs/outputs, op histogram, parameter count, LayerNorms')
    .action(wrap(inspectCommand as Action));

  common(program.command('analyze').argument('<model>', 'an .onnx file (or zoo:<arch>[:size])'))
    .description('which LayerNorms can be folded into RMSNorms, with the reason and component of each')
    .option('--session <dir>', 'also write the result to <dir>/analyze.json')
    .action(wrap(analyzeCommand as Action));

  common(program.command('convert').argument('<in>', 'the .onnx model to convert'))
    .description('fold every foldable LayerNorm into RMSNorm, verify the outputs are unchanged, write the model')
    .requiredOption('-o, --output <file>', 'where to write the converted model (never the input)')
    .addOption(
      new Option('--rms-format <format>', 'how RMSNorm is written').choices(['onnx23', 'simplified', 'decomposed']).default('simplified'),
    )
    .option('--force', 'write the model even if verification fails')
    .option('--engine <list>', 'engines that verify the result (normkit-cpu, normkit-gpu, onnxruntime)', 'normkit-cpu,onnxruntime')
    .option('--seed <n>', 'seed of the random verification inputs', '0')
    .option('--runs <n>', 'random input sets to verify on', '2')
    .option('--dim <name=value>', 'size of a symbolic input dim (repeatable)', collect, [])
    .option(
      '--tolerance <x>',
      'relative tolerance on max |a-b| / max |a| per output (default 1e-5; 8× the storage rounding for float16 weights)',
    )
    .option('--session <dir>', 'also write the result to <dir>/convert.json (for normkit report)')
    .action(wrap(convertCommand as Action));

  common(program.command('verify').argument('<a>', 'reference model').argument('<b>', 'model to compare'))
    .description('check two models compute the same outputs on seeded random (or given) inputs')
    .option('--inputs <paths...>', 'input tensors: a test_data_set_* directory or input_*.pb files')
    .option('--engine <list>', 'engines to run both models in', 'normkit-cpu,onnxruntime')
    .option('--seed <n>', 'seed of the random inputs', '0')
    .option('--runs <n>', 'random input sets', '2')
    .option('--dim <name=value>', 'size of a symbolic input dim (repeatable)', collect, [])
    .option('--tolerance <x>', 'relative tolerance on max |a-b| / max |a|', '1e-5')
    .action(wrap(verifyCommand as Action));

  common(program.command('bench').argument('<model>', 'the .onnx model to time'))
    .description('time a model (and a baseline) in each engine: alternating runs, median and spread, speed-up, time per op type')
    .option('--against <other>', 'baseline model (e.g. the unconverted one) to compare with')
    .option(
      '--engine <list>',
      'comma-separated: normkit-cpu, normkit-gpu, onnxruntime (default: normkit-cpu, onnxruntime, and normkit-gpu when gpu.js has a graphics device)',
    )
    .option('--runs <n>', 'timed rounds (each runs every engine and model once), or auto: ≥ 10 rounds and ≥ 3 s of timed runs', 'auto')
    .option('--warmup <n>', 'warm-up runs per engine and model', '3')
    .option('--profile-runs <n>', 'profiled runs (per-op-type breakdown) per engine and model, or auto (3 to 50, about 1 s)', 'auto')
    .option('--seed <n>', 'seed of the random inputs', '0')
    .option('--dim <name=value>', 'size of a symbolic input dim (repeatable)', collect, [])
    .option('--session <dir>', 'also write the result to <dir>/bench.json (for normkit report)')
    .action(wrap(benchCommand as Action));

  common(program.command('run').argument('<model>', 'the .onnx model to run'))
    .description('run a model on seeded random or given inputs and summarize its outputs')
    .option('--inputs <paths...>', 'input tensors: a test_data_set_* directory or input_*.pb files')
    .addOption(new Option('--engine <engine>', 'engine').choices(['normkit-cpu', 'normkit-gpu', 'onnxruntime']).default('normkit-cpu'))
    .option('--seed <n>', 'seed of the random inputs', '0')
    .option('--dim <name=value>', 'size of a symbolic input dim (repeatable)', collect, [])
    .option('--save <dir>', 'write the outputs as output_N.pb (TensorProto) into <dir>')
    .option('--values', 'print every output value (JSON: all values)')
    .action(wrap(runCommand as Action));

  common(
    program
      .command('test-onnx')
      .argument('<dirs...>', 'ONNX backend-test directories (model.onnx + test_data_set_*), or directories holding them'),
  )
    .description('run ONNX backend test directories and report pass/fail')
    .addOption(new Option('--engine <engine>', 'engine').choices(['normkit-cpu', 'normkit-gpu']).default('normkit-cpu'))
    .option('--filter <substring>', 'only directories whose path contains this')
    .action(wrap(testOnnxCommand as Action));

  common(program.command('zoo').argument('[arch]', 'architecture (see --list)'))
    .description('export a built-in architecture with seeded weights as an .onnx file')
    .option('--list', 'list the architectures')
    .addOption(
      new Option('--size <size>', 'tiny | small (the published small configuration) | base')
        .choices(['tiny', 'small', 'base'])
        .default('tiny'),
    )
    .addOption(new Option('--opset <n>', 'ONNX opset').choices(['14', '17', '23']).default('17'))
    .option('--seed <n>', 'weight seed', '0')
    .option('-o, --output <file>', 'where to write the model')
    .action(wrap(zooCommand as Action));

  common(program.command('train'))
    .description('train an MLP, CNN or ViT with a chosen normalization on Fashion-MNIST; report test accuracy; export ONNX')
    .addOption(new Option('--arch <arch>', 'network').choices(['mlp', 'cnn', 'vit']).default('mlp'))
    .addOption(
      new Option('--norm <kind>', 'normalization layer (cbwc: centred linear layers feeding RMSNorm)')
        .choices(['ln', 'rms', 'cbwc', 'pln', 'lng', 'bn', 'none'])
        .default('ln'),
    )
    .option('--groups <G>', 'groups of lng (LN-G)')
    .option('--data <dir>', 'fashion-mnist (the Debian package dataset-fashion-mnist) or an MNIST-format directory', 'fashion-mnist')
    .option('--epochs <E>', 'epochs', '1')
    .option('--batch <B>', 'batch size (default 128, ViT 64)')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'sgd', 'lars']).default('adamw'))
    .option('--lr <LR>', 'learning rate (default adamw 1e-3, sgd 0.05, lars 0.1)')
    .option('--weight-decay <wd>', "weight decay (default: the optimizer's: adamw 1e-2, sgd 0, lars 0)")
    .option('--schedule <kind>', 'constant or cosine (warm-up then cosine decay)', 'constant')
    .option('--warmup <steps>', 'linear learning-rate warm-up steps', '0')
    .option('--clip <norm>', 'clip gradients to this global norm')
    .option('--seed <S>', 'seed of weights, shuffling and dropout', '0')
    .option('--threads <T>', 'GEMM threads', '1')
    .option('--limit <N>', 'train on the first N training images only')
    .option('--steps <K>', 'stop after K optimizer steps in all (counting resumed ones)')
    .option('--shuffle <bool>', 'shuffle each epoch (false: file order)', 'true')
    .option('--validation <N>', 'hold out N training images (seeded) and report validation accuracy each epoch', '0')
    .option('--export <file.onnx>', 'write the trained network as ONNX (eval mode): input pixels [N,1,28,28], output logits [N,10]')
    .option('--export-init <file.onnx>', 'write the network before the first step as ONNX')
    .option('--save <ckpt>', 'write a checkpoint (atomically) at the end')
    .option('--resume <ckpt>', 'resume from a checkpoint of the same architecture')
    .action(wrap(trainCommand as Action));

  common(program.command('experiment').argument('<name>', 'cbwc | pln | lng | lnnet | intl'))
    .description("reproduce a paper's experiment with seeds: a table of mean ± std and what reproduced (see also normkit report)")
    .option('--quick', 'a small version that runs in under a minute')
    .option('--seeds <N>', 'seeds per configuration (default 3, quick 2)')
    .option('--threads <T>', 'GEMM threads', '1')
    .option('--data <dir>', 'Fashion-MNIST directory (default: Debian dataset-fashion-mnist)')
    .option('--session <dir>', 'also write the result to <dir>/experiment-<name>.json (for normkit report)')
    .action(wrap(experimentCommand as Action));

  const theory = program.command('theory').description('the calculators of @normkit/theory (approximation bounds, LN-Net constructions)');
  for (const sub of theoryCommands()) {
    const c = common(theory.command(sub.name)).description(sub.description);
    for (const o of sub.options) c.addOption(o);
    c.action(wrap(((ctx: Context, opts: Record<string, unknown>) => sub.run(ctx, opts)) as Action));
  }

  common(program.command('report').argument('<dir>', 'a session directory (written by convert/bench --session)'))
    .description('an HTML report of a convert + bench session, with charts')
    .option('-o, --output <file>', 'where to write the HTML (default <dir>/report.html)')
    .option('--screenshot <png>', 'also render it in headless chromium and save a screenshot')
    .action(wrap(reportCommand as Action));

  common(program.command('web'))
    .description('serve the browser page (open a model, see its foldable LayerNorms, convert, verify, download, benchmark) on 127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '8765')
    .action(wrap(webCommand as Action));

  // `normkit inspect a.onnx b.onnx` is a mistake, not a request to ignore b.onnx.
  const strict = (c: Command): void => {
    c.allowExcessArguments(false);
    for (const sub of c.commands) strict(sub);
  };
  for (const c of program.commands) strict(c);
  return program;
}

/** The package version (package.json is bundled into dist by tsup). */
const VERSION: string = pkg.version;

/**
 * Runs a command in the current context: prints its result, maps errors to one stderr line (stack
 * with --verbose) and an exit status; with --json an error is also a JSON document on stdout.
 */
async function guard(ctx: Context, fn: () => Promise<number>): Promise<number> {
  const restore = ctx.json ? redirectConsole(ctx.io) : () => {};
  try {
    return await fn();
  } catch (e) {
    ctx.closeStep(' failed');
    ctx.io.stderr(`${errorLine(e)}\n`);
    if (ctx.verbose && e instanceof Error && e.stack) {
      ctx.io.stderr(`${e.stack}\n`);
      const cause = (e as { cause?: unknown }).cause;
      if (cause instanceof Error && cause.stack) ctx.io.stderr(`caused by: ${cause.stack}\n`);
    }
    if (ctx.json && !ctx.hasEmitted)
      ctx.io.stdout(
        `${toJson({ error: { code: errorCodeOf(e), message: errorLine(e).replace(/^normkit: /, ''), exitCode: exitCodeOf(e) } })}\n`,
      );
    return exitCodeOf(e);
  } finally {
    restore();
  }
}

/** While a --json command runs, anything a library logs with console.log goes to stderr, keeping stdout one JSON document. */
function redirectConsole(io: Io): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug, dir: console.dir, table: console.table };
  const toErr = (...a: unknown[]) => io.stderr(`${format(...a)}\n`);
  console.log = toErr;
  console.info = toErr;
  console.debug = toErr;
  console.dir = toErr;
  console.table = toErr;
  return () => Object.assign(console, saved);
}

/**
 * Runs `normkit` with `argv` (without `node` and the script) and returns the exit status:
 * 0 ok, 1 a failed check, 2 bad usage or input.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const state = { exitCode: 0 };
  const program = createProgram(io, state);
  // With --json, stdout carries one document: anything else written there by a dependency goes to stderr.
  const json = argv.includes('--json');
  const restoreStdout = json && isProcessIo(io) ? guardProcessStdout() : () => {};
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (json)
        io.stdout(`${toJson({ error: { code: 'BAD_USAGE', message: e.message.replace(/^error: /, ''), exitCode: EXIT_BAD_INPUT } })}\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr(`${errorLine(e)}\n`);
    return exitCodeOf(e);
  } finally {
    restoreStdout();
  }
}

const processIoMarker = new WeakSet<Io>();

/** The process's stdout/stderr, marked so `main` can guard the real stdout in --json mode. */
export function cliIo(): Io {
  const io = processIo();
  processIoMarker.add(io);
  return io;
}

function isProcessIo(io: Io): boolean {
  return processIoMarker.has(io);
}

function guardProcessStdout(): () => void {
  const original = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
  };
}
