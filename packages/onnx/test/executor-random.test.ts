// Random generators: seeded determinism, fresh draws without a seed, moments within statistical
// bounds (5 standard errors), and output dtype/shape as onnxruntime-node 1.30 gives them. Values
// cannot match onnxruntime's (different generators), so its draws are checked with the same bounds.
import { execute, inferShapes } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { type AttrValue, bothEngines, float, normkitErrorOf, opModel } from './op-vs-ort.js';

const N = 20_000;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: number[]) => {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
};

/** Mean within 5σ/√n of `mu`, and variance within 5 standard errors of σ² (normal: σ²·√(2/n)). */
function expectMoments(t: Tensor, mu: number, sigma: number, varSe: number): void {
  const v = t.toFlatArray();
  expect(Math.abs(mean(v) - mu)).toBeLessThan((5 * sigma) / Math.sqrt(v.length));
  expect(Math.abs(variance(v) - sigma ** 2)).toBeLessThan(5 * varSe);
}

/** Runs a node through both engines: shapes and dtypes equal, both sets of draws checked by `check`. */
async function bothDraw(
  op: string,
  inputs: (Tensor | undefined)[],
  attrs: Record<string, AttrValue>,
  outType: Tensor['dtype'],
  check: (t: Tensor) => void,
  opset = 15,
): Promise<Tensor> {
  const { ours, theirs } = await bothEngines(op, inputs, attrs, { opset, outTypes: [outType] });
  expect([...ours[0]!.shape]).toEqual([...theirs[0]!.shape]);
  expect(ours[0]!.dtype).toBe(theirs[0]!.dtype);
  check(ours[0]!);
  check(theirs[0]!);
  return ours[0]!;
}

const runTwice = (op: string, inputs: Tensor[], attrs: Record<string, AttrValue>) => {
  const { model, feeds, outs } = opModel(op, inputs, attrs, { opset: 15 });
  const run = () => (execute(model, feeds).outputs[outs[0]!] as Tensor).toFlatArray();
  return [run(), run()];
};

describe('RandomNormal / RandomUniform (and the Like forms)', () => {
  it('RandomNormal: mean 2, scale 3, float64 — moments within 5 standard errors, same dtype/shape as onnxruntime', async () => {
    const sigma = 3;
    await bothDraw(
      'RandomNormal',
      [],
      { shape: [100, N / 100], mean: float(2), scale: float(sigma), seed: float(7), dtype: 11 },
      'float64',
      (t) => expectMoments(t, 2, sigma, sigma ** 2 * Math.sqrt(2 / N)),
    );
  });
  it('RandomUniform in [-1, 3): every draw in range, mean and variance within 5 standard errors', async () => {
    const w = 4;
    await bothDraw('RandomUniform', [], { shape: [N], low: float(-1), high: float(3), seed: float(3) }, 'float32', (t) => {
      expect(Math.min(...t.toFlatArray())).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...t.toFlatArray())).toBeLessThan(3);
      // Uniform: variance w²/12; the sample variance's standard error is w²·√(1/180n).
      expectMoments(t, 1, w / Math.sqrt(12), w ** 2 * Math.sqrt(1 / (180 * N)));
    });
  });
  it('RandomNormalLike / RandomUniformLike take the input shape, and dtype from the attribute or the input', async () => {
    const like = Tensor.zeros([40, 500], 'float32');
    await bothDraw('RandomNormalLike', [like], { seed: float(1) }, 'float32', (t) => expectMoments(t, 0, 1, Math.sqrt(2 / N)));
    const y = await bothDraw('RandomUniformLike', [like], { seed: float(1), dtype: 11 }, 'float64', (t) =>
      expectMoments(t, 0.5, Math.sqrt(1 / 12), Math.sqrt(1 / (180 * N))),
    );
    expect(y.shape).toEqual([40, 500]);
  });
  it('a seed gives the same values on every run; different seeds and no seed differ', () => {
    const [a, b] = runTwice('RandomNormal', [], { shape: [64], seed: float(5) });
    expect(a).toEqual(b);
    const [c] = runTwice('RandomNormal', [], { shape: [64], seed: float(6) });
    expect(c).not.toEqual(a);
    const [d, e] = runTwice('RandomUniform', [], { shape: [64] });
    expect(d).not.toEqual(e);
  });
  it('shape inference gives the shape but never folds the draw into a constant', () => {
    const { model, outs } = opModel('RandomNormal', [], { shape: [2, 3], seed: float(1) }, { opset: 15 });
    const vi = inferShapes(model).get(outs[0]!);
    expect(vi?.shape).toEqual([2, 3]);
    expect(model.graph.nodes).toHaveLength(1);
  });
  it('a missing shape and an integer output dtype are typed errors naming the node', () => {
    expect(normkitErrorOf('RandomNormal', [], { seed: float(1) }, { opset: 15 }).message).toMatch(
      /RandomNormal_node.*shape attribute is required/,
    );
    const e = normkitErrorOf('RandomUniform', [], { shape: [2], dtype: 7 }, { opset: 15 });
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/dtype int64/);
  });
});

describe('Bernoulli and Multinomial', () => {
  it('Bernoulli: frequency of ones per probability within 5 standard errors, output dtype from the attribute', async () => {
    const ps = [0, 0.1, 0.5, 0.9, 1];
    const reps = 4000;
    const p = Tensor.from(
      Array.from({ length: ps.length * reps }, (_, i) => ps[i % ps.length]!),
      [reps, ps.length],
      'float32',
    );
    /** Ones at rate q (or 1 − q when `flipped`) in each column. */
    const rates = (t: Tensor, flipped: boolean) => {
      const v = t.toFlatArray();
      expect(v.every((x) => x === 0 || x === 1)).toBe(true);
      ps.forEach((q, k) => {
        const col = v.filter((_, i) => i % ps.length === k);
        const want = flipped ? 1 - q : q;
        expect(Math.abs(mean(col) - want)).toBeLessThanOrEqual(5 * Math.sqrt((q * (1 - q)) / reps));
      });
    };
    for (const dtype of [undefined, 7]) {
      const attrs: Record<string, AttrValue> = dtype === undefined ? { seed: float(2) } : { seed: float(2), dtype };
      const { ours, theirs } = await bothEngines('Bernoulli', [p], attrs, { opset: 15, outTypes: [dtype ? 'int64' : 'float32'] });
      expect([...ours[0]!.shape]).toEqual([...theirs[0]!.shape]);
      expect(ours[0]!.dtype).toBe(theirs[0]!.dtype);
      rates(ours[0]!, false);
      // onnxruntime-node 1.30 returns 1 with probability 1 − p (p = 0 gives all ones): it runs the ONNX
      // function body, Cast(Greater(RandomUniformLike(p), p)), which contradicts the operator's text
      // ("an output of 1 is produced with probability p"). normkit follows the text.
      rates(theirs[0]!, true);
    }
  });
  it('Multinomial: class frequencies match softmax(logits) within 5 standard errors; int32 default and int64', async () => {
    const logits = [Math.log(0.2), Math.log(0.5), Math.log(0.3), 0, 0, 1];
    const x = Tensor.from(logits, [2, 3], 'float32');
    const probs = [
      [0.2, 0.5, 0.3],
      [1 / (2 + Math.E), 1 / (2 + Math.E), Math.E / (2 + Math.E)],
    ];
    const n = 10_000;
    const check = (t: Tensor) => {
      expect(t.shape).toEqual([2, n]);
      const v = t.toFlatArray();
      probs.forEach((row, b) => {
        const draws = v.slice(b * n, (b + 1) * n);
        row.forEach((q, c) => {
          const f = draws.filter((d) => d === c).length / n;
          expect(Math.abs(f - q)).toBeLessThanOrEqual(5 * Math.sqrt((q * (1 - q)) / n));
        });
      });
    };
    await bothDraw('Multinomial', [x], { sample_size: n, seed: float(4) }, 'int32', check);
    await bothDraw('Multinomial', [x], { sample_size: n, seed: float(4), dtype: 7 }, 'int64', check);
  });
  it('a probability outside [0, 1] is INVALID_NODE naming the element', () => {
    const e = normkitErrorOf('Bernoulli', [Tensor.from([0.5, 1.5], [2], 'float32')], { seed: float(1) }, { opset: 15 });
    expect(e.message).toMatch(/Bernoulli_node.*probability 1.5 at element 1/);
  });
});
