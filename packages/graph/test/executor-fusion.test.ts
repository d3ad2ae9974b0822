// The executor's plan-time GELU fusion: which chains fuse (both exporter forms, Div by √2 or Mul by
// 1/√2, operands in either order), which must not (a shared intermediate, a graph output in the middle,
// a wrong constant), and the values against x·Φ(x) in float64 (Φ from the erf Maclaurin series, below)
// within 1e-6 absolute + 1e-5 relative, and against the same graph run unfused.
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Executor, GraphBuilder, type Model } from '../src/index.js';

function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-30; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const geluRef = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

type Form = {
  scale: 'div' | 'mul';
  halfFirst: boolean;
  swap: boolean;
  sqrt2?: number;
  extraOutput?: boolean;
  shared?: boolean;
  scalarShape?: number[];
};

/** y = GELU(x) written the way an exporter does, in the given form. */
function geluGraph(f: Form): Model {
  const b = new GraphBuilder('gelu');
  const x = b.input('x', 'float32', [2, 3, 5]);
  const c = (name: string, v: number) => b.constant(name, new Tensor(f.scalarShape ?? [], 'float32', Float32Array.of(v)));
  const s = f.scale === 'div' ? b.op('Div', [x, c('sqrt2', f.sqrt2 ?? Math.SQRT2)]) : b.op('Mul', [x, c('isqrt2', Math.SQRT1_2)]);
  const e = b.op('Erf', [s]);
  const h = f.swap ? b.op('Add', [c('one', 1), e]) : b.op('Add', [e, c('one', 1)]);
  let y: string;
  if (f.halfFirst) y = b.op('Mul', [b.op('Mul', [x, c('half', 0.5)]), h]);
  else {
    const m = f.swap ? b.op('Mul', [h, x]) : b.op('Mul', [x, h]);
    y = b.op('Mul', [m, c('half', 0.5)]);
  }
  b.output(y);
  if (f.extraOutput) b.output(e);
  if (f.shared) b.output(b.op('Neg', [h]));
  return b.model(17);
}

const X = Tensor.from(
  Array.from({ length: 30 }, (_, i) => -6 + (12 * i) / 29),
  [2, 3, 5],
);

function run(m: Model, fuse: boolean) {
  const r = new Executor(m, { fuse }).run({ x: X }, { profile: true });
  return { y: r.outputs[m.graph.outputs[0]!.name]!, ops: r.profile!.nodes.map((n) => n.opType) };
}

function expectGelu(y: Tensor): void {
  const got = y.data as Float32Array;
  for (let i = 0; i < got.length; i++) {
    const want = geluRef(X.data[i] as number);
    expect(Math.abs(got[i]! - want), `GELU(${X.data[i]})`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(want));
  }
}

describe('executor GELU fusion', () => {
  const fusing: [string, Form][] = [
    ['PyTorch: (x·(erf(x/√2)+1))·½', { scale: 'div', halfFirst: false, swap: false }],
    ['operands swapped: (1+erf)·x', { scale: 'div', halfFirst: false, swap: true }],
    ['Hugging Face: (x·½)·(1+erf(x/√2))', { scale: 'div', halfFirst: true, swap: false }],
    ['x·(1/√2) instead of x/√2', { scale: 'mul', halfFirst: false, swap: false }],
    ['constants of shape [1]', { scale: 'div', halfFirst: false, swap: false, scalarShape: [1] }],
  ];
  for (const [name, form] of fusing)
    it(`fuses ${name} into one Gelu step with the same values`, () => {
      const fused = run(geluGraph(form), true);
      expect(fused.ops).toEqual(['Gelu']);
      expectGelu(fused.y);
      const plain = run(geluGraph(form), false);
      expect(plain.ops).toContain('Erf');
      expect(fused.y.shape).toEqual(plain.y.shape);
      expectGelu(plain.y);
    });

  const kept: [string, Form][] = [
    ['an intermediate is a graph output', { scale: 'div', halfFirst: false, swap: false, extraOutput: true }],
    ['an intermediate has another reader', { scale: 'div', halfFirst: false, swap: false, shared: true }],
    ['the divisor is not √2', { scale: 'div', halfFirst: false, swap: false, sqrt2: 1.5 }],
  ];
  for (const [name, form] of kept)
    it(`leaves the chain alone when ${name}`, () => {
      const { ops } = run(geluGraph(form), true);
      expect(ops).toContain('Erf');
      expect(ops).not.toContain('Gelu');
    });

  it('keeps the broadcast rank of the constants for a scalar input', () => {
    const b = new GraphBuilder('g0');
    const x = b.input('x', 'float32', []);
    const c = (v: number) => b.constant(`c${v}`, new Tensor([1], 'float32', Float32Array.of(v)));
    b.output(b.op('Mul', [b.op('Mul', [x, b.op('Add', [b.op('Erf', [b.op('Div', [x, c(Math.SQRT2)])]), c(1)])]), c(0.5)]));
    const m = b.model(17);
    const fused = new Executor(m).run({ x: Tensor.scalar(1) }, { profile: true });
    const y = Object.values(fused.outputs)[0]!;
    expect(fused.profile!.nodes.map((n) => n.opType)).toEqual(['Gelu']);
    expect(y.shape).toEqual([1]);
    expect(Math.abs((y.data[0] as number) - geluRef(1))).toBeLessThan(1e-6);
  });
});

describe('executor MatMul + bias fusion', () => {
  const K = 6;
  const N = 5;
  const w = Tensor.from(
    Array.from({ length: K * N }, (_, i) => Math.sin(i + 1)),
    [K, N],
  );
  const bias = Tensor.from(
    Array.from({ length: N }, (_, i) => i - 2),
    [N],
  );
  const x = Tensor.from(
    Array.from({ length: 2 * 3 * K }, (_, i) => Math.cos(i)),
    [2, 3, K],
  );

  /** y = x·W + b in float64, written here. */
  function reference(): number[] {
    const out: number[] = [];
    for (let r = 0; r < 6; r++)
      for (let j = 0; j < N; j++) {
        let s = bias.data[j] as number;
        for (let k = 0; k < K; k++) s += (x.data[r * K + k] as number) * (w.data[k * N + j] as number);
        out.push(s);
      }
    return out;
  }

  function linear(opts: { biasFirst?: boolean; weightInput?: boolean; mmOutput?: boolean; biasShape?: readonly number[] }): Model {
    const b = new GraphBuilder('linear');
    const xi = b.input('x', 'float32', [2, 3, K]);
    const wi = opts.weightInput ? b.input('w', 'float32', [K, N]) : b.constant('w', w);
    const bi = b.constant('b', opts.biasShape ? bias.reshape([...opts.biasShape]) : bias);
    const mm = b.op('MatMul', [xi, wi]);
    b.output(opts.biasFirst ? b.op('Add', [bi, mm]) : b.op('Add', [mm, bi]));
    if (opts.mmOutput) b.output(mm);
    return b.model(17);
  }

  for (const biasFirst of [false, true])
    it(`runs x·W + b as one GEMM (bias ${biasFirst ? 'first' : 'second'}), equal to the float64 reference within 1e-5`, () => {
      const r = new Executor(linear({ biasFirst })).run({ x }, { profile: true });
      expect(r.profile!.nodes.map((n) => n.opType)).toEqual(['MatMulAdd']);
      const y = Object.values(r.outputs)[0]!;
      expect(y.shape).toEqual([2, 3, N]);
      const want = reference();
      const worst = Math.max(...Array.from(y.data as Float32Array, (v, i) => Math.abs(v - want[i]!) / (1 + Math.abs(want[i]!))));
      expect(worst).toBeLessThan(1e-5);
    });

  for (const [name, opts] of [
    ['the weight is an input', { weightInput: true }],
    ['the product is also a graph output', { mmOutput: true }],
    ['the bias is not a vector', { biasShape: [1, N] }],
  ] as const)
    it(`leaves MatMul and Add apart when ${name}`, () => {
      const feeds: Record<string, Tensor> = 'weightInput' in opts ? { x, w } : { x };
      const ops = new Executor(linear(opts)).run(feeds, { profile: true }).profile!.nodes.map((n) => n.opType);
      expect(ops).toEqual(['MatMul', 'Add']);
    });
});
