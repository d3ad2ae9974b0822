import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ScaleSpec, scaleSizes, writeScaleModel } from '../bench/scale-model.js';
import { ortWontFit } from '../src/commands/convert.js';
import { APP, tempDir } from './helpers.js';

// A model of ~185 MB in external data whose largest tensor is 8 MiB: converting it must not hold the
// model. Two checks, both on the growth of peak RSS (VmHWM) over the same command on a tiny model
// (node, tsx and the CLI's modules alone take ~100 MB):
// - the growth is under 64 MiB + 12 × the largest tensor: slack for V8, which frees released arrays
//   only once its external-memory counter has grown enough, plus the fold reading a weight, centring
//   and writing it and verification running both models, a weight or two at a time;
// - it does not follow the model's size: the same model with half its layers (96 MiB) grows as much,
//   within 40% of the 80 MiB of weights it lacks (holding the weights would differ by all of them).
// Measured: 105 MiB growth for both (13 × the largest tensor), within ±5 MiB run to run.
const BIG: ScaleSpec = { layers: 40, hidden: 1024, vocab: 2048 };
const HALF: ScaleSpec = { layers: 20, hidden: 1024, vocab: 2048 };
const TINY: ScaleSpec = { layers: 2, hidden: 64, vocab: 128 };
const LARGEST = 2048 * 1024 * 4;
const MODEL_BYTES = scaleSizes(BIG).total;
const HALF_BYTES = scaleSizes(HALF).total;

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Runs the CLI as a process with the peak-RSS hook; returns its exit code and peak RSS in bytes. */
function peak(args: string[]): { code: number; rss: number; stderr: string } {
  const file = join(dir, `rss-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--import', join(APP, 'bench/peak-rss.mjs'), join(APP, 'src/cli.ts'), ...args],
    { cwd: APP, encoding: 'utf8', env: { ...process.env, NORMKIT_PEAK_RSS_FILE: file }, timeout: 300_000 },
  );
  const m = JSON.parse(readFileSync(file, 'utf8')) as { maxRssBytes: number; vmHwmBytes: number | null };
  return { code: r.status ?? -1, rss: m.vmHwmBytes ?? m.maxRssBytes, stderr: r.stderr };
}

describe('a model in external data streams through analyze and convert', () => {
  it('convert --engine normkit-cpu grows peak RSS by < 64 MiB + 12 × the largest tensor, not with the model; analyze by < 4 ×', {
    timeout: 600_000,
  }, async () => {
    const big = join(dir, 'big.onnx');
    const tiny = join(dir, 'tiny.onnx');
    const half = join(dir, 'half.onnx');
    expect((await writeScaleModel(big, BIG)).largest).toBe(LARGEST);
    expect((await writeScaleModel(half, HALF)).total).toBe(HALF_BYTES);
    await writeScaleModel(tiny, TINY);
    expect(statSync(`${big}.data`).size).toBeGreaterThanOrEqual(MODEL_BYTES);

    const base = peak(['convert', tiny, '-o', join(dir, 'tiny-out.onnx'), '--engine', 'normkit-cpu']);
    const conv = peak(['convert', big, '-o', join(dir, 'big-out.onnx'), '--engine', 'normkit-cpu']);
    const convHalf = peak(['convert', half, '-o', join(dir, 'half-out.onnx'), '--engine', 'normkit-cpu']);
    expect(convHalf.code, convHalf.stderr).toBe(0);
    expect(base.code, base.stderr).toBe(0);
    expect(conv.code, conv.stderr).toBe(0);
    expect(existsSync(join(dir, 'big-out.onnx.data'))).toBe(true);
    expect(statSync(join(dir, 'big-out.onnx.data')).size).toBeGreaterThan(MODEL_BYTES * 0.99);
    const growth = conv.rss - base.rss;
    const MiB = (n: number) => (n / 2 ** 20).toFixed(0);
    console.log(
      `convert: peak ${MiB(conv.rss)} MiB (tiny model ${MiB(base.rss)} MiB, half model ${MiB(convHalf.rss)} MiB), growth ${MiB(growth)} MiB = ${(growth / LARGEST).toFixed(1)} × the largest tensor; model ${MiB(MODEL_BYTES)} MiB`,
    );
    expect(growth).toBeLessThan(64 * 2 ** 20 + 12 * LARGEST);
    expect(Math.abs(conv.rss - convHalf.rss)).toBeLessThan(0.4 * (MODEL_BYTES - HALF_BYTES));

    const aBase = peak(['analyze', tiny]);
    const a = peak(['analyze', big]);
    expect(a.code, a.stderr).toBe(0);
    console.log(`analyze: peak ${(a.rss / 2 ** 20).toFixed(0)} MiB (tiny ${(aBase.rss / 2 ** 20).toFixed(0)} MiB)`);
    expect(a.rss - aBase.rss).toBeLessThan(4 * LARGEST);
    // The input files are untouched and no temporary folder is left.
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('onnxruntime (which holds every weight) verifies only a model whose weights fit in half the memory, and says why not', () => {
    expect(ortWontFit(10 * 2 ** 30, 24 * 2 ** 30)).toBeUndefined();
    const why = ortWontFit(28e9, 24 * 2 ** 30);
    expect(why).toContain('28.0 GB');
    expect(why).toContain('normkit-cpu verified it');
  });
});
