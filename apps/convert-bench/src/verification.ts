import type { Tensor } from '@normkit/tensor';
import { compareOutputs, DEFAULT_TOLERANCE, type OutputDiff, worst } from './compare.js';
import type { Context } from './context.js';
import { createRunner, type EngineName, type ModelSource } from './engines.js';
import { CliError } from './errors.js';
import { mark, sci, table } from './format.js';
import type { Feeds } from './inputs.js';
import type { EngineVerification } from './types.js';

/** An engine's verdict, or why it could not give one. */
export type EngineCheck = EngineVerification | { engine: EngineName; skipped: string };

/**
 * Runs both models in `engine` on every feed and compares their outputs (max abs/rel difference,
 * argmax agreement, worst over the feeds). When the engine refuses the *reference* model it cannot
 * judge, and the check is `skipped` with the reason; when it refuses only the other model, that is a
 * failed check.
 *
 * @example
 * ```ts
 * const v = await verifyInEngine('onnxruntime', { model: a, path: 'a.onnx' }, { model: b }, feeds);
 * ```
 */
export async function verifyInEngine(
  engine: EngineName,
  a: ModelSource,
  b: ModelSource,
  feeds: Feeds[],
  tolerance = DEFAULT_TOLERANCE,
): Promise<EngineCheck> {
  let ra: Awaited<ReturnType<typeof createRunner>>;
  try {
    ra = await createRunner(engine, a);
  } catch (e) {
    if (e instanceof CliError) return { engine, skipped: e.message };
    throw e;
  }
  let released = false;
  const release = async () => {
    if (!released) await ra.dispose();
    released = true;
  };
  try {
    const refs: Record<string, Tensor>[] = [];
    try {
      for (const f of feeds) refs.push(await ra.run(f));
    } catch (e) {
      if (e instanceof CliError) return { engine, skipped: e.message };
      throw e;
    }
    // One model in the engine at a time (onnxruntime holds every weight).
    await release();
    let rb: Awaited<ReturnType<typeof createRunner>> | undefined;
    const perOutput = new Map<string, OutputDiff[]>();
    try {
      rb = await createRunner(engine, b);
      for (let i = 0; i < feeds.length; i++) {
        const got = await rb.run(feeds[i] as Feeds);
        for (const d of compareOutputs(refs[i] as Record<string, Tensor>, got, tolerance))
          perOutput.set(d.name, [...(perOutput.get(d.name) ?? []), d]);
      }
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      return {
        engine,
        equivalent: false,
        maxAbsDiff: Infinity,
        maxRelDiff: Infinity,
        argmaxAgreement: 0,
        outputs: [],
        error: e.message,
      } as EngineVerification;
    } finally {
      await rb?.dispose();
    }
    const outputs = [...perOutput.entries()].map(([name, ds]) => ({ name, ...worst(ds) }));
    const equivalent = [...perOutput.values()].every((ds) => ds.every((d) => d.withinTolerance));
    return { engine, equivalent, ...worst(outputs), outputs };
  } finally {
    await release();
  }
}

/**
 * Verification with @normkit/graph's `verifyEquivalence` (our executor on the CPU backend), as an engine check.
 * @example const v = await verifyWithExecutor(a, b, { seed: 0, runs: 2 });
 */
export function executorCheck(v: {
  outputs: { name: string; maxAbsDiff: number; maxRelDiff: number; argmaxAgreement: number }[];
  equivalent: boolean;
}): EngineVerification {
  const outputs = v.outputs.map((o) => ({
    name: o.name,
    maxAbsDiff: o.maxAbsDiff,
    maxRelDiff: o.maxRelDiff,
    argmaxAgreement: o.argmaxAgreement,
  }));
  return { engine: 'normkit-cpu', equivalent: v.equivalent, ...worst(outputs), outputs };
}

/** Splits engine checks into verdicts and skipped ones, warning about the skipped. */
export function settle(
  ctx: Context | undefined,
  checks: EngineCheck[],
): { verification: EngineVerification[]; skipped: { engine: EngineName; reason: string }[] } {
  const verification: EngineVerification[] = [];
  const skipped: { engine: EngineName; reason: string }[] = [];
  for (const c of checks) {
    if ('skipped' in c) skipped.push({ engine: c.engine, reason: c.skipped });
    else verification.push(c);
  }
  // When no engine could check, the command's error says why; otherwise a warning names the ones that could not.
  if (verification.length > 0)
    for (const s of skipped) ctx?.warn(`${s.engine} could not run the reference model, so it did not verify: ${s.reason}`);
  return { verification, skipped };
}

/**
 * The per-engine, per-output difference table that `convert` and `verify` print.
 * @example console.log(verificationTable(report.engines))
 */
export function verificationTable(engines: readonly EngineVerification[]): string {
  return table(
    ['engine', 'output', 'max abs diff', 'max rel diff', 'argmax', ''],
    engines.flatMap((v) =>
      v.outputs.length > 0
        ? v.outputs.map((o) => [
            v.engine,
            o.name,
            sci(o.maxAbsDiff),
            sci(o.maxRelDiff),
            `${(o.argmaxAgreement * 100).toFixed(1)}%`,
            mark(v.equivalent),
          ])
        : [[v.engine, '—', '—', '—', '—', `${mark(false)} ${v.error ?? ''}`]],
    ),
  );
}
