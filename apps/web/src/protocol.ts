// The messages between the page and its worker (worker.ts). The worker holds the models; the page
// gets plain data (summaries, the graph for the view, tables, the converted file's bytes).

/** What the page shows about a model: opsets, counts, inputs/outputs, op histogram (as `normkit inspect`). */
export interface ModelSummary {
  label: string;
  fileBytes: number | null;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: string; shape: (number | string | null)[] | null }[];
  outputs: { name: string; dtype: string; shape: (number | string | null)[] | null }[];
  nodes: number;
  parameters: number;
  opHistogram: [string, number][];
}

/** One LayerNorm's verdict, as `normkit analyze` reports it. */
export interface LayerNormRow {
  name: string;
  foldable: boolean;
  component: number | null;
  /** The reason without the path. */
  reason: string;
  /** Node path from the LN to its blocker, when blocked. */
  path: string[];
  blockingNode?: string;
  sources: string[];
}

/** The foldability analysis, as `normkit analyze` reports it. */
export interface AnalysisView {
  total: number;
  foldable: number;
  recognized: number;
  layerNorms: LayerNormRow[];
  components: { id: number; layerNorms: number; sources: number; sourceKinds: Record<string, number>; foldable: boolean; reason: string }[];
  sharedWeights: { initializer: string; otherUses: { node: string; op: string }[] }[];
}

/** The model as a graph for the view: Constant nodes are left out (counted in `hidden`). */
export interface GraphData {
  nodes: { id: string; op: string; role: 'ln' | 'source' | 'blocker' | 'io' | 'op'; foldable?: boolean; component?: number }[];
  edges: [string, string][];
  hidden: number;
}

/** A laid-out graph (layout-worker.ts): node boxes and edge polylines, in the layout's coordinates. */
export interface Layout {
  width: number;
  height: number;
  nodes: { id: string; x: number; y: number; width: number; height: number }[];
  edges: { from: string; to: string; points: [number, number][] }[];
}

export interface OpenedInfo {
  summary: ModelSummary;
  analysis: AnalysisView;
  graph: GraphData;
}

/** How one output of the two models differs (max over the inputs tried). */
export interface OutputDiffRow {
  name: string;
  maxAbsDiff: number;
  maxRelDiff: number;
  argmaxAgreement: number;
}

/** One engine's verdict on original vs converted, or why it could not give one. */
export interface EngineVerification {
  engine: string;
  equivalent: boolean;
  outputs: OutputDiffRow[];
  error?: string;
}

export interface ConvertInfo {
  rmsFormat: RmsFormat;
  layerNorms: number;
  folded: number;
  components: number;
  nodes: { before: number; after: number };
  verification: EngineVerification[];
  skipped: { engine: string; reason: string }[];
  equivalent: boolean;
  tolerance: number;
  inputs: string;
  kept: { name: string; reason: string }[];
  fileName: string;
  bytes: ArrayBuffer;
}

export type RmsFormat = 'onnx23' | 'simplified' | 'decomposed';

/** Median and quartiles of one (engine, model)'s timed runs, in milliseconds. */
export interface Timing {
  runs: number;
  medianMs: number;
  p25Ms: number;
  p75Ms: number;
}

/** One engine's benchmark: both models timed in alternating runs. */
export type BenchRow =
  | { engine: string; description: string; original: Timing; converted: Timing; speedup: number }
  | { engine: string; description: string; skipped: string };

export type Request =
  | { type: 'init'; ortWasmUrl: string }
  | { type: 'open'; name: string; bytes: ArrayBuffer; external: Record<string, ArrayBuffer> }
  | { type: 'zoo'; arch: string; size: string }
  | { type: 'convert'; rmsFormat: RmsFormat }
  | { type: 'bench'; engines: string[]; rounds: number }
  | { type: 'original' };

export type Reply =
  | { id: number; type: 'progress'; fraction: number; label: string }
  | { id: number; type: 'done'; value: unknown }
  | { id: number; type: 'error'; code: string; message: string };
