import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '@normkit/tensor';
import { type Context, parseNumber } from '../context.js';
import { loadOnnx, need } from '../deps.js';
import { createRunner, type EngineName } from '../engines.js';
import { isNormkitError } from '../errors.js';
import { shapeStr, table } from '../format.js';
import { describeFeeds, type Feeds, parseDims, seededFeeds } from '../inputs.js';
import { asInputError, openModel } from '../models.js';
import { readFeeds } from '../tensors-io.js';

/** One output of `normkit run`. */
export interface RunOutput {
  name: string;
  dtype: string;
  shape: number[];
  min: number;
  max: number;
  mean: number;
  /** The first values (all of them with --values). */
  values: number[];
  /** Index of the largest value of the last row (for logits). */
  argmax: number;
}

/** What `normkit run` reports. */
export interface RunResult {
  command: 'run';
  model: string;
  engine: EngineName;
  engineDescription: string;
  ms: number;
  inputs: { source: string; feeds: { name: string; dtype: string; shape: number[] }[] };
  outputs: RunOutput[];
  saved: string[];
}

/** Summary statistics of a tensor. */
export function summarize(name: string, t: Tensor, all = false): RunOutput {
  const d = t.data as ArrayLike<number | bigint>;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]);
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const last = t.shape[t.shape.length - 1] ?? 1;
  let argmax = 0;
  const start = Math.max(0, d.length - last);
  for (let j = 1; j < last; j++) if (Number(d[start + j]) > Number(d[start + argmax])) argmax = j;
  const n = all ? d.length : Math.min(8, d.length);
  return {
    name,
    dtype: t.dtype,
    shape: [...t.shape],
    min,
    max,
    mean: d.length ? sum / d.length : 0,
    values: Array.from({ length: n }, (_, i) => Number(d[i])),
    argmax,
  };
}

/** `normkit run <model>` */
export async function runCommand(
  ctx: Context,
  file: string,
  o: { inputs?: string[]; engine: EngineName; seed: string; dim: string[]; save?: string; values?: boolean },
): Promise<number> {
  const opened = await openModel(file, { ctx });
  let feeds: Feeds;
  if (o.inputs?.length) feeds = await readFeeds(opened.model, o.inputs);
  else [feeds = {}] = await seededFeeds(opened.model, parseNumber('--seed', o.seed, 0), 1, parseDims(o.dim));
  let runner: Awaited<ReturnType<typeof createRunner>>;
  try {
    runner = await createRunner(o.engine, { model: opened.model, ...(opened.path ? { path: opened.path } : {}) });
  } catch (e) {
    throw isNormkitError(e) ? asInputError(e, opened.label) : e;
  }
  let outputs: Record<string, Tensor>;
  let elapsed: number;
  try {
    const t0 = performance.now();
    try {
      outputs = await runner.run(feeds);
    } catch (e) {
      throw isNormkitError(e) ? asInputError(e, opened.label) : e;
    }
    elapsed = performance.now() - t0;
  } finally {
    await runner.dispose();
  }
  const saved: string[] = [];
  if (o.save) {
    const onnx = await loadOnnx();
    const toProto = need(onnx, '@normkit/onnx', 'tensorToProto');
    await mkdir(o.save, { recursive: true });
    let i = 0;
    for (const [name, t] of Object.entries(outputs)) {
      const p = join(o.save, `output_${i++}.pb`);
      await writeFile(`${p}.tmp`, toProto(t, name));
      await rename(`${p}.tmp`, p);
      saved.push(p);
    }
  }
  const r: RunResult = {
    command: 'run',
    model: opened.label,
    engine: o.engine,
    engineDescription: runner.description,
    ms: elapsed,
    inputs: { source: o.inputs?.length ? o.inputs.join(' ') : `random (seed ${o.seed})`, feeds: describeFeeds(feeds) },
    outputs: Object.entries(outputs).map(([n, t]) => summarize(n, t, o.values)),
    saved,
  };
  ctx.emit(r, () => {
    const lines = [
      `${r.model} in ${r.engine} (${r.engineDescription}): ${r.ms.toFixed(1)} ms on ${r.inputs.source} inputs ${r.inputs.feeds.map((f) => `${f.name} ${f.dtype}[${f.shape.join('×')}]`).join(', ')}`,
    ];
    lines.push(
      table(
        ['output', 'shape', 'min', 'max', 'mean', 'argmax(last row)', 'first values'],
        r.outputs.map((x) => [
          x.name,
          `${x.dtype}[${shapeStr(x.shape)}]`,
          x.min.toPrecision(4),
          x.max.toPrecision(4),
          x.mean.toPrecision(4),
          String(x.argmax),
          x.values
            .slice(0, o.values ? undefined : 4)
            .map((v) => v.toPrecision(4))
            .join(' '),
        ]),
      ),
    );
    if (saved.length) lines.push(`saved ${saved.join(', ')}`);
    return lines.join('\n');
  });
  return 0;
}
