import { existsSync } from 'node:fs';
import { FASHION_MNIST_DIR } from '@normkit/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { cbwcExperiment } from '../src/cbwc.js';
import { runExperiment } from '../src/run.js';
import type { ExperimentResult, Stat } from '../src/types.js';

// The --quick run (2 seeds, a few steps): the shape of the result, and what holds at any scale —
// folding a trained LN model is exact, and a CBWC model's RMSNorm equals LN when its sources are
// centred (not when the ViT's class token, positions and patch embedding are plain).

const HAS_DATA = existsSync(FASHION_MNIST_DIR);
const SKIP = HAS_DATA ? '' : ` (skipped: Fashion-MNIST is not installed at ${FASHION_MNIST_DIR}; apt-get install dataset-fashion-mnist)`;

interface Compared {
  maxLogitDiff: number;
  relative: number;
  sameArgmax: string;
}

const isStat = (s: unknown): s is Stat => {
  const v = s as Stat;
  return typeof v?.mean === 'number' && typeof v.std === 'number' && Array.isArray(v.values);
};
/** "k/n" with k = n. */
const allSame = (s: string) => {
  const [k, n] = s.split('/').map(Number);
  return k === n && (n ?? 0) > 0;
};

describe.skipIf(!HAS_DATA)(`cbwc experiment (--quick)${SKIP}`, () => {
  let r: ExperimentResult;
  const row = (arch: string, norm: string) => r.rows.find((x) => x.arch === arch && x.norm === norm) as Record<string, unknown>;

  beforeAll(async () => {
    r = await runExperiment(cbwcExperiment, { quick: true });
  }, 180_000);

  it('has a row per architecture × norm with accuracy and training time over the two seeds, and inference times', () => {
    expect(r.seeds).toEqual([0, 1]);
    for (const arch of ['mlp', 'vit'])
      for (const norm of ['ln', 'rms', 'cbwc', 'none']) {
        const x = row(arch, norm);
        expect(x, `${arch}/${norm}`).toBeDefined();
        for (const k of ['accuracy', 'trainSecondsPer1000Samples']) {
          expect(isStat(x[k]), `${arch}/${norm} ${k}`).toBe(true);
          expect((x[k] as Stat).values).toHaveLength(2);
        }
        const acc = x.accuracy as Stat;
        expect(acc.mean).toBeGreaterThanOrEqual(0);
        expect(acc.mean).toBeLessThanOrEqual(1);
        for (const k of ['inferenceMs', 'fastestMs']) {
          const ms = x[k] as { normkit: number; onnxruntime: number };
          expect(ms.normkit).toBeGreaterThan(0);
          expect(ms.onnxruntime).toBeGreaterThan(0);
        }
      }
    expect(isStat(row('vit', 'cbwc (uncentred sources)').accuracy)).toBe(true);
  });

  it('folds every LN of the trained LN models, and the folded model gives the same argmax on every test image', () => {
    for (const [arch, lns] of [
      ['mlp', 2],
      ['vit', 9],
    ] as const) {
      const x = row(arch, 'ln → folded');
      const f = x.folding as { total: number; foldable: number; equivalent: boolean; models: number } & Compared;
      expect(f.total).toBe(lns);
      expect(f.foldable).toBe(f.total);
      expect(f.equivalent).toBe(true);
      expect(f.models).toBe(2);
      expect(allSame(f.sameArgmax)).toBe(true);
      expect(f.relative).toBeLessThanOrEqual(1e-5);
      expect((x.accuracy as Stat).values).toEqual((row(arch, 'ln').accuracy as Stat).values);
      expect((x.speedVsLn as { normkit: number }).normkit).toBeGreaterThan(0);
    }
  });

  it("CBWC: RMSNorm equals LN (normAs 'ln') within 1e-4 when the sources are centred, and not when they are plain", () => {
    for (const arch of ['mlp', 'vit']) {
      const c = row(arch, 'cbwc').cbwcAsLn as Compared;
      expect(c.maxLogitDiff, arch).toBeLessThanOrEqual(1e-4);
      expect(allSame(c.sameArgmax)).toBe(true);
      // Same initial weights and batches: the first steps' losses match LN's up to rounding.
      expect((row(arch, 'cbwc').lossVsLn as { first10Steps: number }).first10Steps).toBeLessThanOrEqual(1e-4);
    }
    const broken = row('vit', 'cbwc (uncentred sources)').cbwcAsLn as Compared;
    expect(broken.relative).toBeGreaterThan(1e-3);
  });

  it('reports a finding per claim, learning curves per architecture and accuracy bars', () => {
    expect(r.findings).toHaveLength(6);
    for (const f of r.findings) expect(['yes', 'no', 'partly']).toContain(f.reproduced);
    expect(r.plots.map((p) => p.id)).toEqual(['cbwc-mlp-loss', 'cbwc-vit-loss', 'cbwc-accuracy']);
    const vit = r.plots[1]?.series.map((s) => s.name);
    expect(vit).toEqual(['ln', 'rms', 'cbwc', 'none', 'cbwc (uncentred sources)']);
    for (const s of r.plots[0]?.series ?? []) expect(s.points.length).toBeGreaterThan(1);
  });
});
