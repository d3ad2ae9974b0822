/// <reference lib="webworker" />
// Lays out the model graph with elkjs (layered, top to bottom) off the page's thread: a 2,000-node
// export takes seconds, during which the page stays usable.

import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { GraphData, Layout } from './protocol.js';

const elk = new ELK();
const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = async (ev: MessageEvent<{ id: number; graph: GraphData }>) => {
  const { id, graph } = ev.data;
  try {
    scope.postMessage({ id, layout: await layoutGraph(graph) });
  } catch (e) {
    scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
};

/** Node width for its op-type label. */
function nodeWidth(op: string): number {
  return 7 * op.length + 18;
}

async function layoutGraph(g: GraphData): Promise<Layout> {
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.thoroughness': '1',
      'elk.spacing.nodeNode': '12',
      'elk.layered.spacing.nodeNodeBetweenLayers': '18',
    },
    children: g.nodes.map((n) => ({ id: n.id, width: nodeWidth(n.op), height: 22 })),
    edges: g.edges.map(([a, b], i) => ({ id: `e${i}`, sources: [a], targets: [b] })),
  };
  const res = await elk.layout(graph);
  const nodes = (res.children ?? []).map((c) => ({ id: c.id, x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 }));
  const edges = ((res.edges ?? []) as ElkExtendedEdge[]).map((e) => {
    const s = e.sections?.[0];
    const points: [number, number][] = s
      ? [[s.startPoint.x, s.startPoint.y], ...(s.bendPoints ?? []).map((p) => [p.x, p.y] as [number, number]), [s.endPoint.x, s.endPoint.y]]
      : [];
    return { from: e.sources[0] as string, to: e.targets[0] as string, points };
  });
  return { width: res.width ?? 0, height: res.height ?? 0, nodes, edges };
}
