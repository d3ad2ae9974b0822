import type { Model } from '@normkit/graph';
import { bytesPerElement } from '@normkit/tensor';
import type { Context } from '../context.js';
import { loadGraph, need } from '../deps.js';
import { bytes, count, shapeStr, table } from '../format.js';
import { openModel } from '../models.js';

/** What `normkit inspect` reports. */
export interface InspectResult {
  command: 'inspect';
  model: string;
  fileBytes: number | null;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: string; shape: (number | string | null)[] | null }[];
  outputs: { name: string; dtype: string; shape: (number | string | null)[] | null }[];
  nodes: number;
  opHistogram: Record<string, number>;
  initializers: number;
  parameters: number;
  parameterBytes: number;
  layerNorms: {
    /** LayerNormalization nodes in the file. */
    native: number;
    /** Decomposed LN subgraphs (ReduceMean/Sub/Pow/...) that recognizeLayerNorms finds. */
    decomposed: number;
    total: number;
    /** RMSNorm nodes already in the model (native or recognized). */
    rmsNorms: number;
    /** Subgraphs that looked like a norm but are not one exactly, with the reason. */
    nearMisses: { nodes: string[]; reason: string }[];
  };
}

const RMS_OPS = new Set(['RMSNormalization', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/**
 * Describes a model: opsets, inputs/outputs, op histogram, parameter count, and its LayerNorms
 * (native nodes and decomposed subgraphs).
 *
 * @example
 * ```ts
 * const info = await inspectModel(model, 'gpt2.onnx');
 * info.layerNorms.total; // 25
 * ```
 */
export async function inspectModel(model: Model, label: string, fileBytes?: number): Promise<InspectResult> {
  const graph = await loadGraph();
  const g = model.graph;
  const histogram: Record<string, number> = {};
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    histogram[key] = (histogram[key] ?? 0) + 1;
  }
  const sorted = Object.fromEntries(Object.entries(histogram).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  let parameters = 0;
  let parameterBytes = 0;
  for (const t of g.initializers.values()) {
    if (t.dtype === 'float32' || t.dtype === 'float64') parameters += t.size;
    try {
      parameterBytes += t.size * bytesPerElement(t.dtype);
    } catch {
      // opaque (e.g. float16) tensors: counted by size only
    }
  }
  const rec = need(graph, '@normkit/graph', 'recognizeLayerNorms')(model);
  const native = g.nodes.filter((n) => n.opType === 'LayerNormalization').length;
  const decomposed = rec.fused.filter((f) => f.kind === 'LayerNormalization').length;
  const rmsNorms = g.nodes.filter((n) => RMS_OPS.has(n.opType)).length + rec.fused.filter((f) => f.kind === 'RMSNormalization').length;
  const vi = (v: { name: string; dtype?: string; elemType?: string; shape?: (number | string | undefined)[] }) => ({
    name: v.name,
    dtype: v.dtype ?? v.elemType ?? 'unknown',
    shape: v.shape ? v.shape.map((d) => d ?? null) : null,
  });
  return {
    command: 'inspect',
    model: label,
    fileBytes: fileBytes ?? null,
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: model.opsetImports.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    inputs: g.runtimeInputs().map(vi),
    outputs: g.outputs.map(vi),
    nodes: g.nodes.length,
    opHistogram: sorted,
    initializers: g.initializers.size,
    parameters,
    parameterBytes,
    layerNorms: {
      native,
      decomposed,
      total: native + decomposed,
      rmsNorms,
      nearMisses: rec.nearMisses.map((m) => ({ nodes: m.nodes, reason: m.reason })),
    },
  };
}

/** `normkit inspect <model>` */
export async function inspectCommand(ctx: Context, file: string): Promise<number> {
  const opened = await openModel(file, { ctx });
  const r = await inspectModel(opened.model, opened.label, opened.bytes);
  ctx.emit(r, () => renderInspect(r));
  return 0;
}

/** The human-readable form of `inspect`. */
export function renderInspect(r: InspectResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.model}${r.fileBytes !== null ? ` (${bytes(r.fileBytes)})` : ''}: ${r.nodes} nodes, ${count(r.parameters)} parameters, IR v${r.irVersion}${r.producer ? `, from ${r.producer}` : ''}`,
  );
  lines.push(`opsets:  ${r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}`);
  lines.push(
    `inputs:  ${r.inputs.map((v) => `${v.name} ${v.dtype}[${shapeStr(v.shape?.map((d) => d ?? undefined))}]`).join(', ') || '(none)'}`,
  );
  lines.push(`outputs: ${r.outputs.map((v) => `${v.name} ${v.dtype}[${shapeStr(v.shape?.map((d) => d ?? undefined))}]`).join(', ')}`);
  const ln = r.layerNorms;
  lines.push(
    `LayerNorms: ${ln.total} (${ln.native} LayerNormalization nodes, ${ln.decomposed} decomposed subgraphs)${ln.rmsNorms ? `; RMSNorms: ${ln.rmsNorms}` : ''}${ln.nearMisses.length ? `; ${ln.nearMisses.length} near misses (see --json)` : ''}`,
  );
  lines.push('');
  const ops = Object.entries(r.opHistogram);
  const shown = ops.slice(0, 16);
  lines.push(
    table(
      ['op', 'count'],
      shown.map(([op, n]) => [op, n]),
    ),
  );
  if (ops.length > shown.length)
    lines.push(`… and ${ops.length - shown.length} more op types (${ops.slice(16).reduce((a, [, n]) => a + n, 0)} nodes)`);
  return lines.join('\n');
}
