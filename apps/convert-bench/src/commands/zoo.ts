import type { Context } from '../context.js';
import { parseNumber } from '../context.js';
import { loadOnnx, loadZoo, need } from '../deps.js';
import { CliError, EXIT_BAD_INPUT } from '../errors.js';
import { count, table } from '../format.js';
import { asInputError, buildZooModel, listArchitectures } from '../models.js';
import { inspectModel } from './inspect.js';

/** `normkit zoo --list` / `normkit zoo <arch> -o <file>` */
export async function zooCommand(
  ctx: Context,
  arch: string | undefined,
  o: { list?: boolean; size: string; opset: string; seed: string; output?: string },
): Promise<number> {
  const zoo = await loadZoo();
  const archs = listArchitectures(zoo);
  if (o.list || !arch) {
    if (!o.list && !arch)
      throw new CliError('give an architecture (normkit zoo gpt2 -o gpt2.onnx), or --list to see them', EXIT_BAD_INPUT, 'BAD_USAGE');
    const doc = { command: 'zoo', architectures: archs };
    ctx.emit(doc, () =>
      [
        table(
          ['architecture', 'LNs foldable (tiny / small)', 'description'],
          archs.map((a) => [
            a.name,
            `${a.expected.tiny?.foldable}/${a.expected.tiny?.layerNorms} · ${a.expected.small?.foldable}/${a.expected.small?.layerNorms}`,
            a.description,
          ]),
        ),
        '',
        'normkit zoo <architecture> [--size tiny|small|base] [--opset 14|17|23] -o <file.onnx>    (zoo:<architecture>[:size] works wherever a model file does)',
      ].join('\n'),
    );
    return 0;
  }
  if (!o.output) throw new CliError(`give the output file: normkit zoo ${arch} -o ${arch}.onnx`, EXIT_BAD_INPUT, 'BAD_USAGE');
  const opset = Number(o.opset);
  const seed = parseNumber('--seed', o.seed, 0);
  const step = ctx.step(`build ${arch} (${o.size}, opset ${opset})`);
  const model = await buildZooModel({ arch, size: o.size, opset, seed });
  step.end();
  const onnx = await loadOnnx();
  try {
    await need(onnx, '@normkit/onnx', 'saveModel')(model, o.output);
  } catch (e) {
    throw asInputError(e, o.output);
  }
  const info = await inspectModel(model, o.output);
  const doc = {
    command: 'zoo',
    arch,
    size: o.size,
    opset,
    seed,
    output: o.output,
    nodes: info.nodes,
    parameters: info.parameters,
    layerNorms: info.layerNorms.total,
    inputs: info.inputs,
    outputs: info.outputs,
  };
  ctx.emit(
    doc,
    () =>
      `wrote ${o.output}: ${arch} (${o.size}, opset ${opset}, seed ${seed}), ${info.nodes} nodes, ${count(info.parameters)} parameters, ${info.layerNorms.total} LayerNorms`,
  );
  return 0;
}
