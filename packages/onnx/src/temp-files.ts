// Temporary files beside an output: how they are named, removed when the write fails or the process
// is interrupted, and swept on the next write when a killed process (SIGKILL, a crash) left them.

type Fs = typeof import('node:fs');

/** `.<name>.tmp-<pid>-<time>-<random>`: hidden, beside the target, and naming the process that writes it. */
export function tempName(name: string): string {
  return `.${name}.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes the temporary files (and folders) of `names` in `dir` whose writing process is gone (a `convert` that was
 * killed); a live process's files are left alone. Returns the files removed.
 *
 * @example
 * ```ts
 * removeStaleTemps(await import('node:fs'), '/models', ['out.onnx', 'out.onnx.data']); // ['/models/.out.onnx.tmp-4242-…']
 * ```
 */
export function removeStaleTemps(fs: Fs, dir: string, names: readonly string[]): string[] {
  const pattern = new RegExp(`^\\.(?:${names.map(escapeRegExp).join('|')})\\.tmp-(\\d+)-[0-9a-z]+-[0-9a-z]+$`);
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    const m = pattern.exec(e);
    if (!m || alive(Number(m[1]))) continue;
    const p = `${dir}/${e}`;
    try {
      const st = fs.lstatSync(p);
      // A file, or the folder saveModel writes a model and its data into (links inside are not followed).
      if (st.isFile() || st.isDirectory()) {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      }
    } catch {
      // Another process removed it first: nothing to do.
    }
  }
  return removed;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `write` with `paths` (files or folders) removed if it fails or the process receives SIGINT, SIGTERM or SIGHUP
 * meanwhile; after the cleanup a signal takes its default course (the process ends) unless the program
 * has its own handler for it.
 *
 * @example
 * ```ts
 * await withTempCleanup(fs, [tmpModel], () => writeAll(tmpModel, chunks).then(() => rename(tmpModel, out)));
 * ```
 */
export async function withTempCleanup<T>(fs: Fs, paths: readonly string[], write: () => Promise<T>): Promise<T> {
  const removeAll = () => {
    for (const p of paths) fs.rmSync(p, { force: true, recursive: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    removeAll();
    detach();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const detach = () => {
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    return await write();
  } catch (e) {
    removeAll();
    throw e;
  } finally {
    detach();
  }
}
