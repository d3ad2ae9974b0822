import type { OutputDiff } from './compare.js';
import type { EngineName, OpTypeTime } from './engines.js';
import type { TimingStats } from './stats.js';

/** The verdict of the foldability analysis for one LayerNorm. */
export interface LayerNormVerdict {
  name: string;
  foldable: boolean;
  /** Why: the sources it was traced to, or the node and path that block it. */
  reason: string;
  /** The component (LNs sharing sources) it belongs to. */
  component: string | number | null;
}

/** Output equivalence as checked by one engine. */
export interface EngineVerification {
  engine: EngineName;
  equivalent: boolean;
  maxAbsDiff: number;
  maxRelDiff: number;
  argmaxAgreement: number;
  outputs: Pick<OutputDiff, 'name' | 'maxAbsDiff' | 'maxRelDiff' | 'argmaxAgreement'>[];
  /** Set when the engine could not run the converted model. */
  error?: string;
}

/** What `normkit convert` reports (and writes to `<session>/convert.json`). */
export interface ConvertResult {
  command: 'convert';
  input: string;
  output: string | null;
  /** Whether the output file was written. */
  written: boolean;
  rmsFormat: string;
  /** LayerNorms found (native and recognized decomposed ones). */
  layerNorms: number;
  foldedLayerNorms: number;
  /** Components (LNs sharing sources) that were folded. */
  components: number;
  maxAbsDiff: number;
  maxRelDiff: number;
  argmaxAgreement: number;
  /** Whether every engine found the outputs equal within tolerance. */
  equivalent: boolean;
  /** Relative tolerance on max |Δ| / max |output| (and every argmax must agree). */
  tolerance: number;
  verification: EngineVerification[];
  /** Engines that could not judge (they refused the input model), with the reason. */
  skippedVerification: { engine: EngineName; reason: string }[];
  analysis: LayerNormVerdict[];
  nodes: { before: number; after: number };
  opHistogram: { before: Record<string, number>; after: Record<string, number> };
  inputs: { name: string; dtype: string; shape: number[] }[];
  seed: number;
  seconds: number;
}

/** One (engine, model) timing of `normkit bench`. */
export interface BenchEntry extends TimingStats {
  engine: EngineName;
  model: string;
  /** `model` is the model under test, `against` the baseline (`--against`). */
  role: 'model' | 'against';
  samplesMs: number[];
  description: string;
}

/** How much faster the model is than the baseline on one engine. */
export interface BenchRatio {
  engine: EngineName;
  model: string;
  against: string;
  /** median(model) / median(against): below 1 is faster. */
  ratio: number;
  /** median(against) / median(model): above 1 is faster. */
  speedup: number;
  /** A rough range of the speed-up from the quartiles: p25(against)/p75(model) .. p75(against)/p25(model). */
  speedupLow: number;
  speedupHigh: number;
}

/** Per-op-type time of one (engine, model), from the executor's profile (median over profiled runs). */
export interface OpBreakdown {
  engine: EngineName;
  model: string;
  role: 'model' | 'against';
  /** Profiled runs the medians are over. */
  profiledRuns: number;
  totalMs: number;
  byOpType: OpTypeTime[];
}

/** What `normkit bench` reports (and writes to `<session>/bench.json`). */
export interface BenchResult {
  command: 'bench';
  model: string;
  against: string | null;
  engines: EngineName[];
  runs: number;
  warmup: number;
  inputs: { name: string; dtype: string; shape: number[] }[];
  results: BenchEntry[];
  ratios: BenchRatio[];
  opTypes: OpBreakdown[];
  skipped: { engine: EngineName; reason: string }[];
  machine: MachineInfo;
}

/** Where a benchmark ran. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  date: string;
}
