import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ScaleSpec, writeScaleModel } from '../bench/scale-model.js';
import { ortWontFit } from '../src/commands/convert.js';
import { APP, tempDir } from './helpers.js';

// A model of ~185 MB in external data whose largest tensor is 8 MiB: converting it must not hold the
// model. The bound is on the growth over the same command on a tiny model (node, tsx and the CLI's
// modules alone take ~100 MB): 64 MiB of slack for V8, which frees released arrays only when its
// external-memory counter has grown by about that much, plus 8 × the largest tensor (the fold reads a
// weight, centres it and writes it; verification runs both models, a weight or two at a time).
// Measured: growth 97 MiB (~12 × the largest tensor) for this 176 MiB model, 121 MiB for one of 337 MiB.
const BIG: ScaleSpec = { layers: 40, hidden: 1024, vocab: 2048 };
const TINY: ScaleSpec = { layers: 2, hidden: 64, vocab: 128 };
const LARGEST = 2048 * 1024 * 4;
const MODEL_BYTES = 40 * (1024 * 1024 + 3 * 1024) * 4 + 2 * LARGEST;

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
  it('convert --engine normkit-cpu peaks within 64 MiB + 8 × the largest tensor over a tiny model; analyze within 4 ×', {
    timeout: 600_000,
  }, async () => {
    const big = join(dir, 'big.onnx');
    const tiny = join(dir, 'tiny.onnx');
    expect((await writeScaleModel(big, BIG)).largest).toBe(LARGEST);
    await writeScaleModel(tiny, TINY);
    expect(statSync(`${big}.data`).size).toBeGreaterThanOrEqual(MODEL_BYTES);

    const base = peak(['convert', tiny, '-o', join(dir, 'tiny-out.onnx'), '--engine', 'normkit-cpu']);
    const conv = peak(['convert', big, '-o', join(dir, 'big-out.onnx'), '--engine', 'normkit-cpu']);
    expect(base.code, base.stderr).toBe(0);
    expect(conv.code, conv.stderr).toBe(0);
    expect(existsSync(join(dir, 'big-out.onnx.data'))).toBe(true);
    expect(statSync(join(dir, 'big-out.onnx.data')).size).toBeGreaterThan(MODEL_BYTES * 0.99);
    const growth = conv.rss - base.rss;
    console.log(
      `convert: peak ${(conv.rss / 2 ** 20).toFixed(0)} MiB (tiny model ${(base.rss / 2 ** 20).toFixed(0)} MiB), growth ${(growth / 2 ** 20).toFixed(0)} MiB = ${(growth / LARGEST).toFixed(1)} × the largest tensor; model ${(MODEL_BYTES / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(growth).toBeLessThan(64 * 2 ** 20 + 8 * LARGEST);
    expect(growth).toBeLessThan(MODEL_BYTES * 0.75);

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
