import type { Model } from '@normkit/graph';
import type { ModelSummary } from './protocol.js';

/**
 * What `normkit inspect` prints about a model: opsets, node and parameter counts, inputs and outputs,
 * and the op-type histogram (most frequent first).
 *
 * @example
 * ```ts
 * summarize(model, 'gpt2.onnx', 157_600).nodes; // 2848
 * ```
 */
export function summarize(model: Model, label: string, fileBytes: number | null): ModelSummary {
  const g = model.graph;
  const histogram = new Map<string, number>();
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    histogram.set(key, (histogram.get(key) ?? 0) + 1);
  }
  let parameters = 0;
  for (const t of g.initializers.values()) if (t.dtype === 'float32' || t.dtype === 'float64') parameters += t.size;
  const vi = (v: { name: string; dtype?: string; shape?: (number | string | undefined)[] }) => ({
    name: v.name,
    dtype: v.dtype ?? 'unknown',
    shape: v.shape ? v.shape.map((d) => d ?? null) : null,
  });
  return {
    label,
    fileBytes,
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: model.opsetImports.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    inputs: g.runtimeInputs().map(vi),
    outputs: g.outputs.map(vi),
    nodes: g.nodes.length,
    parameters,
    opHistogram: [...histogram.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  };
}
