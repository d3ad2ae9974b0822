/** Options every experiment takes (the CLI's `--quick`, `--seeds`, `--threads`). */
export interface ExperimentOptions {
  /** A small version that finishes in under a minute (CI runs it): fewer samples, steps and seeds. */
  quick: boolean;
  /** Number of seeds (0, 1, ..., seeds−1); each configuration runs once per seed. Default: 3 (quick: 2). */
  seeds?: number;
  /** GEMM threads. */
  threads?: number;
  /** Progress of each run (the CLI draws a bar per run on stderr). */
  onProgress?: (p: RunProgress) => void;
  /** Stops between steps when aborted. */
  signal?: AbortSignal;
  /** Fashion-MNIST directory (default: Debian's dataset-fashion-mnist location). */
  data?: string;
}

/** Progress of one run: `run` names it (`mlp/ln seed 1`), `done` of `total` units (steps, epochs, points). */
export interface RunProgress {
  run: string;
  done: number;
  total: number;
  /** The current loss, when there is one. */
  loss?: number;
}

/** A mean ± standard deviation over seeds (sample std, n − 1; 0 for one value), with the values. */
export interface Stat {
  mean: number;
  std: number;
  values: number[];
}

/** A claim of a paper and what this run found about it. */
export interface Finding {
  /** The claim, in a sentence. */
  claim: string;
  /** Which paper makes it (e.g. "paper 1: foldable LayerNorm"). */
  paper: string;
  /** Whether it reproduced at this scale: yes, no, or partly. */
  reproduced: 'yes' | 'no' | 'partly';
  /** The numbers behind the verdict, in a sentence. */
  evidence: string;
}

/** A plot for the HTML report: series of (x, y) points. */
export interface Plot {
  id: string;
  title: string;
  kind: 'line' | 'bar';
  x: { label: string; log?: boolean; categories?: string[] };
  y: { label: string; log?: boolean };
  series: { name: string; points: [number, number][]; band?: [number, number][] }[];
}

/** What an experiment returns, what `--json` prints and what `--session DIR` stores. */
export interface ExperimentResult {
  experiment: string;
  title: string;
  quick: boolean;
  seeds: number[];
  /** One object per configuration; the fields are the experiment's (documented in its file). */
  rows: Record<string, unknown>[];
  findings: Finding[];
  plots: Plot[];
  /** Wall-clock seconds of the whole experiment. */
  seconds: number;
  /** Settings a reader needs to reproduce it (epochs, batch, lr, sizes...). */
  settings: Record<string, unknown>;
  /** Machine and date, filled in by `runExperiment`. */
  machine?: { cpu: string; cores: number; node: string; threads: number };
  date?: string;
}

/** One experiment: a name for the CLI and a function that runs it. */
export interface Experiment {
  name: string;
  title: string;
  /** The paper it reproduces. */
  paper: string;
  /** Runs every configuration for every seed and returns rows, findings and plots; `runExperiment` adds machine and date. */
  run(opts: ExperimentOptions): Promise<Omit<ExperimentResult, 'machine' | 'date'>>;
}
