import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { argmaxAgreement, compareOutputs } from '../src/compare.js';
import { parseEngines } from '../src/engines.js';
import { table } from '../src/format.js';
import { parseDims } from '../src/inputs.js';
import { parseZooSpec } from '../src/models.js';
import { median, quantile, timingStats } from '../src/stats.js';

describe('stats (hand values)', () => {
  it('median and quartiles interpolate linearly', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([10, 20], 0.75)).toBe(17.5);
    const s = timingStats([10, 12, 11, 13, 100]);
    expect(s).toMatchObject({ runs: 5, medianMs: 12, minMs: 10, maxMs: 100, p25Ms: 11, p75Ms: 13, iqrMs: 2 });
    expect(s.spread).toBeCloseTo(2 / 12, 12);
  });
});

describe('compareOutputs (hand values)', () => {
  it('max abs diff, diff relative to the output scale, argmax over the last axis', () => {
    const a = Tensor.from([
      [1, 5, 2],
      [0, -1, 4],
    ]);
    const b = Tensor.from([
      [1, 5.5, 2],
      [0, -1, 4],
    ]);
    const [d] = compareOutputs({ y: a }, { y: b }, 1e-5);
    expect(d?.maxAbsDiff).toBeCloseTo(0.5, 6);
    expect(d?.maxRelDiff).toBeCloseTo(0.5 / 5, 6);
    expect(d?.argmaxAgreement).toBe(1);
    expect(d?.withinTolerance).toBe(false);
    const c = Tensor.from([
      [1, 5, 6],
      [0, -1, 4],
    ]);
    expect(compareOutputs({ y: a }, { y: c })[0]?.argmaxAgreement).toBe(0.5);
    expect(argmaxAgreement([1, 2, 3, 4], [1, 2, 3, 4], 2)).toBe(1);
  });

  it('a missing output or another shape is an infinite difference', () => {
    const a = Tensor.from([1, 2]);
    expect(compareOutputs({ y: a }, {})[0]).toMatchObject({ maxAbsDiff: Infinity, withinTolerance: false });
    expect(compareOutputs({ y: a }, { y: Tensor.from([1, 2, 3]) })[0]?.withinTolerance).toBe(false);
  });

  it('NaN on one side only is a difference; identical outputs are equal', () => {
    const n = Tensor.from([1, Number.NaN]);
    expect(compareOutputs({ y: Tensor.from([1, 2]) }, { y: n })[0]?.maxAbsDiff).toBe(Infinity);
    expect(compareOutputs({ y: n }, { y: n })[0]).toMatchObject({ maxAbsDiff: 0, withinTolerance: true });
  });
});

describe('option parsing', () => {
  it('--dim, --engine, zoo:<arch>[:size]', () => {
    expect(parseDims(['seq=16', 'batch=2'])).toEqual({ seq: 16, batch: 2 });
    expect(parseDims(['seq=16,batch=2'])).toEqual({ seq: 16, batch: 2 });
    expect(() => parseDims(['seq'])).toThrow(/--dim expects name=positive-integer/);
    expect(parseEngines('onnxruntime, normkit-cpu', [])).toEqual(['onnxruntime', 'normkit-cpu']);
    expect(() => parseEngines('cuda', [])).toThrow(/unknown engine "cuda"/);
    expect(parseZooSpec('zoo:gpt2')).toEqual({ arch: 'gpt2', size: 'tiny' });
    expect(parseZooSpec('zoo:whisper-encoder:small')).toEqual({ arch: 'whisper-encoder', size: 'small' });
    expect(parseZooSpec('model.onnx')).toBeUndefined();
  });

  it('tables align columns and right-align numbers', () => {
    expect(
      table(
        ['engine', 'ms'],
        [
          ['cpu', '1.5'],
          ['onnxruntime', '12.25'],
        ],
      ),
    ).toBe(['engine          ms', '-----------  -----', 'cpu            1.5', 'onnxruntime  12.25'].join('\n'));
  });
});
