import { Executor, type Model } from '@normkit/graph';
import type { Backend, Tensor } from '@normkit/tensor';
import type { BenchRow } from './protocol.js';
import { timeAlternating } from './timing.js';

/** A model loaded into an engine, ready to run repeatedly. */
export interface ModelRunner {
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

/**
 * The normkit executor on a backend (the CPU backend, WebAssembly GEMM, when none is given). Outputs
 * left on a device are read back, so a timed run includes getting the result. A backend whose kernels
 * are asynchronous (WebGPU) runs through `Executor.runAsync` where the executor has it.
 *
 * @example
 * ```ts
 * const r = executorRunner(model);
 * const outputs = await r.run(feeds);
 * ```
 */
export function executorRunner(model: Model, backend?: Backend, opts: { async?: boolean } = {}): ModelRunner {
  const executor = new Executor(model, backend ? { backend } : {});
  const runAsync = (executor as unknown as { runAsync?: (f: Record<string, Tensor>) => Promise<{ outputs: Record<string, Tensor> }> })
    .runAsync;
  return {
    async run(feeds) {
      // runAsync hands back outputs already read to the host.
      if (opts.async && runAsync) return (await runAsync.call(executor, feeds)).outputs;
      const { outputs } = executor.run(feeds);
      const out: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(outputs)) out[k] = backend?.read && !t.onHost ? backend.read(t) : t;
      return out;
    },
    async dispose() {},
  };
}

/**
 * Benchmarks one engine: loads both models, checks each runs once, then times them in alternating
 * runs. An engine that cannot load or run a model gives a row saying why instead of failing the page.
 *
 * @example
 * ```ts
 * const row = await benchEngine('normkit-cpu', 'CPU backend', (m) => executorRunner(m === 'original' ? a : b), feeds, 10);
 * ```
 */
export async function benchEngine(
  engine: string,
  description: string,
  load: (which: 'original' | 'converted') => Promise<ModelRunner>,
  feeds: Record<string, Tensor>,
  rounds: number,
  between?: (round: number) => Promise<void>,
): Promise<BenchRow> {
  const runners: ModelRunner[] = [];
  try {
    const a = await load('original');
    runners.push(a);
    const b = await load('converted');
    runners.push(b);
    const t = await timeAlternating(
      () => a.run(feeds),
      () => b.run(feeds),
      { rounds, warmup: 1, ...(between ? { between } : {}) },
    );
    return { engine, description, ...t, speedup: t.original.medianMs / t.converted.medianMs };
  } catch (e) {
    return { engine, description, skipped: e instanceof Error ? e.message : String(e) };
  } finally {
    for (const r of runners) await r.dispose();
  }
}
