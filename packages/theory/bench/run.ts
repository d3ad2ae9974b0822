/**
 * LN-Net construction study: for m random points in [−1, 1]^dim with random labels, build the
 * 3-neuron LN-Net (`buildLnNet`), run it through both float64 evaluators, and report how often it is
 * built and verified, its depth against m (and against the label runs it must merge), its design
 * margin (net of the rounding-error bound), the largest disagreement between the two evaluators, and
 * the build time. Writes bench/results.json and bench/results.md.
 *
 *   cd packages/theory && npm run bench            (BENCH_QUICK=1 for m ≤ 300 only)
 *
 * About 6 minutes on a 2-core machine.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { buildLnNet, evaluateGraph64, executeGraph64, randomLabelledPoints } from '../src/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SIZES = QUICK ? [10, 30, 100, 300] : [10, 30, 100, 300, 1000, 2000, 3000];
const DIMS = [1, 3, 10];
const SEEDS = [0, 1, 2];

interface Row {
  m: number;
  dim: number;
  seed: number;
  built: boolean;
  /** Both evaluators classify every point correctly. */
  verified: boolean;
  runs: number | null;
  depth: number | null;
  margin: number | null;
  /** Largest |executor − independent evaluator| over the output scores. */
  evaluatorGap: number | null;
  /** Smallest |score| (how far the nearest point is from the decision threshold). */
  minAbsScore: number | null;
  buildMs: number;
  error?: string;
}

const rows: Row[] = [];
for (const m of SIZES) {
  for (const dim of DIMS) {
    for (const seed of SEEDS) {
      const data = randomLabelledPoints(m, dim, seed);
      const t0 = performance.now();
      try {
        const net = buildLnNet(data, { seed });
        const buildMs = performance.now() - t0;
        const input = { data: Float64Array.from(data.points.flat()), shape: [m, dim] };
        const a = executeGraph64(net.model, { [net.input]: input }, [net.output])[net.output]!.data;
        const b = evaluateGraph64(net.model, { [net.input]: input }, [net.output])[net.output]!.data;
        let ok = true;
        let gap = 0;
        let minAbs = Number.POSITIVE_INFINITY;
        for (let i = 0; i < m; i++) {
          const l = data.labels[i]!;
          if ((a[i]! > 0 ? 1 : 0) !== l || (b[i]! > 0 ? 1 : 0) !== l) ok = false;
          gap = Math.max(gap, Math.abs(a[i]! - b[i]!));
          minAbs = Math.min(minAbs, Math.abs(a[i]!));
        }
        rows.push({
          m,
          dim,
          seed,
          built: true,
          verified: ok,
          runs: net.runs,
          depth: net.depth,
          margin: net.margin,
          evaluatorGap: gap,
          minAbsScore: minAbs,
          buildMs,
        });
      } catch (e) {
        rows.push({
          m,
          dim,
          seed,
          built: false,
          verified: false,
          runs: null,
          depth: null,
          margin: null,
          evaluatorGap: null,
          minAbsScore: null,
          buildMs: performance.now() - t0,
          error: String((e as Error).message),
        });
      }
      const r = rows[rows.length - 1]!;
      console.log(
        `m=${m} dim=${dim} seed=${seed}: ${r.verified ? 'verified' : r.built ? 'BUILT, NOT VERIFIED' : `FAILED (${r.error})`}, depth ${r.depth}, ${Math.round(r.buildMs)} ms`,
      );
    }
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number, d = 2) => (Number.isFinite(x) ? (Math.abs(x) < 1e-2 && x !== 0 ? x.toExponential(1) : x.toFixed(d)) : '–');
const md: string[] = [
  '# @normkit/theory: LN-Net construction study',
  '',
  `${new Date().toISOString()} · Node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join('/')})`,
  '',
  `Command: \`cd packages/theory && npm run bench\`. m points uniform in [−1, 1]^dim, labels uniform in {0, 1}, dims ${DIMS.join(', ')}, seeds ${SEEDS.join(', ')} (${DIMS.length * SEEDS.length} datasets per m). "verified": every point classified correctly by both @normkit/graph's executor and the independent evaluator (float64). Depth = LN layers; runs = label runs along the first projection (depth = max(1, runs − 2)). Margin: smallest design margin over all layers, in read-out units (|y| = √3), after subtracting 8× a first-order bound of the float64 rounding error. Evaluator gap: largest |executor − independent| over the output scores.`,
  '',
  '| m | verified | depth (median) | depth / m | runs (median) | min margin | max evaluator gap | min \\|score\\| | build ms (median) |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const m of SIZES) {
  const rs = rows.filter((r) => r.m === m);
  const ok = rs.filter((r) => r.verified);
  md.push(
    `| ${m} | ${ok.length}/${rs.length} | ${fmt(median(ok.map((r) => r.depth!)), 0)} | ${fmt(median(ok.map((r) => r.depth! / m)))} | ${fmt(median(ok.map((r) => r.runs!)), 0)} | ${fmt(Math.min(...ok.map((r) => r.margin!)))} | ${fmt(Math.max(...ok.map((r) => r.evaluatorGap!)))} | ${fmt(Math.min(...ok.map((r) => r.minAbsScore!)))} | ${fmt(median(rs.map((r) => r.buildMs)), 0)} |`,
  );
}
const failures = rows.filter((r) => !r.verified);
md.push('', '## Failures', '');
if (failures.length === 0) md.push('None.');
for (const f of failures)
  md.push(`- m = ${f.m}, dim = ${f.dim}, seed = ${f.seed}: ${f.error ?? 'built but misclassified by an evaluator'}`);
md.push(
  '',
  '## Reading the numbers',
  '',
  '- Depth is runs − 2 ≈ m/2 for random labels (at most m − 2, for alternating labels): linear in m, as the paper states.',
  '- The margin does not shrink with depth the way the earlier fold-the-circle construction did (that one failed beyond m ≈ 25); what limits m is float64 resolution: every point carries a rounding-error bound (fresh rounding each layer, amplified by the zooms) that the design keeps below its margin. The first layer picks, of 16 random directions, the one that keeps differently labelled points farthest apart; in one dimension there is no such choice, and at m = 3000 the closest pairs sit ~2e-7 of the spread apart, which the rest of the network cannot keep resolved over ~1500 layers — the constructor then throws CONSTRUCTION_FAILED instead of returning a wrong network.',
  '',
);

const url = (f: string) => new URL(f, import.meta.url);
for (const [file, text] of [
  [
    'results.json',
    `${JSON.stringify({ env: { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, date: new Date().toISOString() }, rows }, null, 2)}\n`,
  ],
  ['results.md', md.join('\n')],
] as const) {
  writeFileSync(url(`${file}.tmp`), text);
  renameSync(url(`${file}.tmp`), url(file));
}
console.log(md.join('\n'));
