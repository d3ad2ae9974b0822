// Child processes for the release rehearsal: run one (output captured, shown when it fails), a labelled
// step that records its failure instead of throwing, and a small pool for independent commands.
import { spawn } from 'node:child_process';

/** This process's environment without what `npm run` adds (npm_config_*, npm_package_*, ...), so that a
 * child npm reads only the configuration it is given — never the repository's prefix or registry. */
export const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$)/i.test(k)));

/**
 * Runs a command; resolves with its stdout, rejects with an Error carrying stdout and stderr.
 * @example
 * const out = await run('npm', ['--version'], { cwd: '/tmp' });
 */
export function run(cmd, args, { cwd, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...cleanEnv, npm_config_update_notifier: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(Object.assign(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}`), { stdout, stderr }));
    });
  });
}

/**
 * Runs `fn`, prints `ok <label> (seconds)` or `FAIL <label>` with the output, and records a failure.
 * @example
 * await step('build', () => run('npm', ['run', 'build']), failures);
 */
export async function step(label, fn, failures, { quiet = false } = {}) {
  const t0 = performance.now();
  try {
    await fn();
    if (!quiet) console.log(`ok   ${label} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return true;
  } catch (e) {
    failures.push(label);
    console.log(`FAIL ${label}\n${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trimEnd());
    return false;
  }
}

/**
 * Runs independent tasks (`{ label, cmd, args, env }` or `{ label, fn }`), a few at a time.
 * @example
 * await runAll([{ label: 'a', cmd: 'true', args: [] }], failures);
 */
export async function runAll(tasks, failures, concurrency = 3) {
  const queue = [...tasks];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const task = t;
      await step(task.label, task.fn ?? (() => run(task.cmd, task.args, { cwd: task.cwd, env: task.env })), failures, {
        quiet: task.quiet,
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
