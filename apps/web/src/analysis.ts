import { analyzeFoldability, type FoldabilityReport, type Model, recognizeLayerNorms } from '@normkit/graph';
import type { AnalysisView, GraphData } from './protocol.js';

/**
 * The foldability analysis as `normkit analyze` reports it (decomposed LNs recognized first), and the
 * recognized model (whose node names the verdicts use).
 *
 * @example
 * ```ts
 * const { view } = analyze(model);
 * `${view.foldable} of ${view.total} LayerNorms foldable`;
 * ```
 */
export function analyze(model: Model): { view: AnalysisView; report: FoldabilityReport; recognized: Model } {
  const rec = recognizeLayerNorms(model);
  const report = analyzeFoldability(rec.model);
  const layerNorms = report.layerNorms.map((l) => ({
    name: l.name,
    foldable: l.foldable,
    component: l.component ?? null,
    reason: l.reason.split('; path: ')[0] ?? l.reason,
    path: l.path ?? [],
    ...(l.blockingNode ? { blockingNode: l.blockingNode } : {}),
    sources: l.sources,
  }));
  const components = report.components.map((c) => {
    const sourceKinds: Record<string, number> = {};
    for (const s of c.sources) sourceKinds[s.kind] = (sourceKinds[s.kind] ?? 0) + 1;
    return { id: c.id, layerNorms: c.layerNorms.length, sources: c.sources.length, sourceKinds, foldable: c.foldable, reason: c.reason };
  });
  const view: AnalysisView = {
    total: layerNorms.length,
    foldable: layerNorms.filter((l) => l.foldable).length,
    recognized: rec.fused.length,
    layerNorms,
    components,
    sharedWeights: report.sharedWeights.map((s) => ({ initializer: s.initializer, otherUses: s.otherUses })),
  };
  return { view, report, recognized: rec.model };
}

/**
 * The recognized model as a graph for the view: every node but Constants, with the LNs, the sources
 * of each component and the blocking nodes marked.
 *
 * @example
 * ```ts
 * const data = graphData(recognized, report);
 * data.nodes.filter((n) => n.role === 'ln').length; // the LayerNorms
 * ```
 */
export function graphData(model: Model, report: FoldabilityReport): GraphData {
  const g = model.graph;
  const lns = new Map(report.layerNorms.map((l) => [l.name, l]));
  const sources = new Map<string, number>();
  for (const c of report.components) for (const s of c.sources) if (s.node) sources.set(s.node, c.id);
  const blockers = new Set(report.layerNorms.flatMap((l) => (l.blockingNode ? [l.blockingNode] : [])));
  const producer = new Map<string, string>();
  const nodes: GraphData['nodes'] = [];
  let hidden = 0;
  for (const v of g.runtimeInputs()) {
    nodes.push({ id: `input:${v.name}`, op: 'input', role: 'io' });
    producer.set(v.name, `input:${v.name}`);
  }
  for (const n of g.nodes) {
    if (n.opType === 'Constant') {
      hidden++;
      continue;
    }
    for (const o of n.outputs) if (o) producer.set(o, n.name);
    const ln = lns.get(n.name);
    if (ln)
      nodes.push({
        id: n.name,
        op: n.opType,
        role: 'ln',
        foldable: ln.foldable,
        ...(ln.component !== undefined ? { component: ln.component } : {}),
      });
    else if (sources.has(n.name)) nodes.push({ id: n.name, op: n.opType, role: 'source', component: sources.get(n.name) as number });
    else nodes.push({ id: n.name, op: n.opType, role: blockers.has(n.name) ? 'blocker' : 'op' });
  }
  const edges: [string, string][] = [];
  const seen = new Set<string>();
  const link = (from: string | undefined, to: string) => {
    const key = `${from}\u0000${to}`;
    if (from && from !== to && !seen.has(key)) {
      seen.add(key);
      edges.push([from, to]);
    }
  };
  for (const n of g.nodes) if (n.opType !== 'Constant') for (const i of n.inputs) if (i) link(producer.get(i), n.name);
  for (const o of g.outputs) {
    nodes.push({ id: `output:${o.name}`, op: 'output', role: 'io' });
    link(producer.get(o.name), `output:${o.name}`);
  }
  return { nodes, edges, hidden };
}
