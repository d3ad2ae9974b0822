import type { Model } from '@normkit/graph';
import type { Context } from '../context.js';
import { loadGraph, need } from '../deps.js';
import { mark, table } from '../format.js';
import { openModel } from '../models.js';
import { writeSessionFile } from '../session.js';
import type { LayerNormVerdict } from '../types.js';

/** What `normkit analyze` reports. */
export interface AnalyzeResult {
  command: 'analyze';
  model: string;
  layerNorms: (LayerNormVerdict & { blockingNode?: string; sources: string[] })[];
  components: { id: number; layerNorms: number; sources: number; sourceKinds: Record<string, number>; foldable: boolean; reason: string }[];
  /** Weights a source centers that another node also reads; folding unties them (e.g. GPT-2's tied embedding / LM head). */
  sharedWeights: { initializer: string; centeredBy: string[]; otherUses: { node: string; op: string }[] }[];
  /** Decomposed LN/RMSNorm subgraphs recognized before the analysis. */
  recognized: number;
  summary: { total: number; foldable: number; components: number };
}

/**
 * The foldability verdict for every LayerNorm of a model (decomposed ones recognized first), with the
 * reason and the component (LNs that share sources).
 *
 * @example
 * ```ts
 * const a = await analyzeModel(model, 'gpt2.onnx');
 * a.summary; // { total: 25, foldable: 25, components: 1 }
 * ```
 */
export async function analyzeModel(model: Model, label: string): Promise<AnalyzeResult> {
  const graph = await loadGraph();
  const rec = need(graph, '@normkit/graph', 'recognizeLayerNorms')(model);
  const report = need(graph, '@normkit/graph', 'analyzeFoldability')(rec.model);
  const layerNorms = report.layerNorms.map((l) => ({
    name: l.name,
    foldable: l.foldable,
    reason: l.reason,
    component: l.component ?? null,
    ...(l.blockingNode ? { blockingNode: l.blockingNode } : {}),
    sources: l.sources,
  }));
  const components = report.components.map((c) => {
    const kinds: Record<string, number> = {};
    for (const s of c.sources) kinds[s.kind] = (kinds[s.kind] ?? 0) + 1;
    return {
      id: c.id,
      layerNorms: c.layerNorms.length,
      sources: c.sources.length,
      sourceKinds: kinds,
      foldable: c.foldable,
      reason: c.reason,
    };
  });
  return {
    command: 'analyze',
    model: label,
    layerNorms,
    components,
    sharedWeights: report.sharedWeights.map((s) => ({ initializer: s.initializer, centeredBy: s.centeredBy, otherUses: s.otherUses })),
    recognized: rec.fused.length,
    summary: { total: layerNorms.length, foldable: layerNorms.filter((l) => l.foldable).length, components: components.length },
  };
}

/** `normkit analyze <model>` */
export async function analyzeCommand(ctx: Context, file: string, o: { session?: string } = {}): Promise<number> {
  const opened = await openModel(file, { ctx });
  const r = await analyzeModel(opened.model, opened.label);
  if (o.session) await writeSessionFile(o.session, 'analyze', r);
  ctx.emit(r, () => renderAnalyze(r));
  return 0;
}

/** The human-readable form of `analyze`. */
export function renderAnalyze(r: AnalyzeResult): string {
  const lines: string[] = [];
  const s = r.summary;
  if (s.total === 0)
    return `${r.model}: no LayerNorm found (neither LayerNormalization nodes nor decomposed ReduceMean/Sub/Pow/... subgraphs); nothing to fold.`;
  lines.push(
    `${r.model}: ${s.foldable} of ${s.total} LayerNorms foldable, in ${s.components} component${s.components === 1 ? '' : 's'}${r.recognized ? ` (${r.recognized} recognized from decomposed subgraphs)` : ''}`,
  );
  lines.push('');
  lines.push(
    table(
      ['', 'LayerNorm', 'comp', 'reason'],
      r.layerNorms.map((l) => [
        mark(l.foldable),
        l.name,
        l.component === null ? '—' : String(l.component),
        truncate(l.reason.split('; path: ')[0] ?? '', 130),
      ]),
    ),
  );
  if (r.layerNorms.some((l) => l.reason.includes('; path: '))) lines.push('(the path from each blocked LayerNorm to its blocker: --json)');
  lines.push('');
  for (const c of r.components) {
    const kinds = Object.entries(c.sourceKinds)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    lines.push(
      `component ${c.id}: ${c.layerNorms} LN, ${c.sources} sources (${kinds || 'none'}) — ${c.foldable ? 'foldable' : 'not foldable'}: ${c.reason}`,
    );
  }
  for (const w of r.sharedWeights)
    lines.push(
      `shared weight ${w.initializer}: also read by ${w.otherUses.map((u) => `${u.node} (${u.op})`).join(', ')}; folding gives the source a centered copy`,
    );
  return lines.join('\n');
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
