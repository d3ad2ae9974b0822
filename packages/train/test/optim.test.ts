import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Parameter } from '../src/nn/module.js';
import { AdamW, LARS, type Optimizer, SGD } from '../src/optim/index.js';

// Each optimizer is checked against its update rule written out again here, independently, in float64
// over plain number arrays, for 3 steps with fixed gradients.

const W0 = [0.5, -1.25, 2, 0.75, -0.3, 1.1];
const gradAt = (t: number, i: number) => Math.sin(1.7 * i + t) * (t + 1) * 0.3 + 0.05 * i;
const steps = 3;

/** Runs `opt` for 3 steps with the fixed gradients; returns each parameter's values after each step. */
function run(opt: Optimizer, params: Parameter[]): number[][][] {
  const out: number[][][] = [];
  for (let t = 0; t < steps; t++) {
    for (const [k, p] of params.entries())
      p.grad = new Tensor(
        p.value.shape,
        p.value.dtype,
        p.value.dtype === 'float64'
          ? Float64Array.from(p.value.data as Float64Array, (_, i) => gradAt(t, i + k))
          : Float32Array.from(p.value.data as Float32Array, (_, i) => gradAt(t, i + k)),
      );
    opt.step();
    opt.zeroGrad();
    out.push(params.map((p) => Array.from(p.value.data as Float64Array)));
  }
  return out;
}

const param64 = (vals = W0, noDecay = false) => new Parameter(Tensor.from(Float64Array.from(vals), [2, vals.length / 2]), noDecay);

function expectClose(actual: number[], expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    expect(Math.abs(a - e), `element ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  });
}

/** PyTorch SGD, written out: d = g + λw; b = d (first) | μb + (1 − τ)d; step = d + μb (Nesterov) | b. */
function sgdReference(w0: number[], k: number, o: { lr: number; mu: number; tau: number; wd: number; nesterov: boolean }) {
  const w = [...w0];
  const b: number[] = [];
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < w.length; i++) {
      const d = gradAt(t, i + k) + o.wd * (w[i] as number);
      let s = d;
      if (o.mu !== 0) {
        b[i] = t === 0 ? d : o.mu * (b[i] as number) + (1 - o.tau) * d;
        s = o.nesterov ? d + o.mu * (b[i] as number) : (b[i] as number);
      }
      w[i] = (w[i] as number) - o.lr * s;
    }
    out.push([...w]);
  }
  return out;
}

describe('SGD', () => {
  const cases = [
    { name: 'plain with weight decay', opts: { lr: 0.1, weightDecay: 0.01 }, ref: { lr: 0.1, mu: 0, tau: 0, wd: 0.01, nesterov: false } },
    {
      name: 'momentum, dampening, weight decay',
      opts: { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3 },
      ref: { lr: 0.05, mu: 0.9, tau: 0.1, wd: 1e-3, nesterov: false },
    },
    {
      name: 'Nesterov',
      opts: { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.02 },
      ref: { lr: 0.05, mu: 0.8, tau: 0, wd: 0.02, nesterov: true },
    },
  ];
  for (const c of cases)
    it(`${c.name}: 3 steps match the written-out rule (float64, tol 1e-14)`, () => {
      const p = param64();
      const got = run(new SGD([p], c.opts), [p]);
      const ref = sgdReference(W0, 0, c.ref);
      for (let t = 0; t < steps; t++) expectClose(got[t]?.[0] as number[], ref[t] as number[], 1e-14);
    });

  it('gives noDecay parameters no weight decay', () => {
    const p = param64(W0, true);
    const got = run(new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 }), [p]);
    const ref = sgdReference(W0, 0, { lr: 0.1, mu: 0.9, tau: 0, wd: 0, nesterov: false });
    expectClose(got[2]?.[0] as number[], ref[2] as number[], 1e-14);
  });

  it('float32 parameters follow the float64 rule within float32 rounding (tol 1e-6)', () => {
    const p = new Parameter(Tensor.from(W0, [2, 3]));
    const got = run(new SGD([p], { lr: 0.05, momentum: 0.9, nesterov: true }), [p]);
    const ref = sgdReference(W0, 0, { lr: 0.05, mu: 0.9, tau: 0, wd: 0, nesterov: true });
    expectClose(got[2]?.[0] as number[], ref[2] as number[], 1e-6);
    expect(p.value.dtype).toBe('float32');
  });

  it('refuses Nesterov without momentum, and a negative learning rate', () => {
    expect(() => new SGD([param64()], { nesterov: true })).toThrow(/nesterov must be false unless momentum > 0/);
    expect(() => new SGD([param64()], { lr: -1 })).toThrow(/lr must be a finite number ≥ 0, got -1/);
  });
});

/** PyTorch AdamW, written out with bias correction and decoupled decay. */
function adamwReference(w0: number[], k: number, o: { lr: number; b1: number; b2: number; eps: number; wd: number }) {
  const w = [...w0];
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    for (let i = 0; i < w.length; i++) {
      const g = gradAt(t - 1, i + k);
      w[i] = (w[i] as number) * (1 - o.lr * o.wd);
      m[i] = o.b1 * (m[i] as number) + (1 - o.b1) * g;
      v[i] = o.b2 * (v[i] as number) + (1 - o.b2) * g * g;
      const mHat = (m[i] as number) / (1 - o.b1 ** t);
      const vHat = (v[i] as number) / (1 - o.b2 ** t);
      // PyTorch divides by √v/√(1−β2ᵗ) + ε, i.e. √v̂ + ε
      w[i] = (w[i] as number) - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
    out.push([...w]);
  }
  return out;
}

describe('AdamW', () => {
  it('uses PyTorch defaults (β 0.9/0.999, ε 1e-8, weight decay 1e-2): 3 steps match (float64, tol 1e-13)', () => {
    const p = param64();
    const got = run(new AdamW([p]), [p]);
    const ref = adamwReference(W0, 0, { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 1e-2 });
    for (let t = 0; t < steps; t++) expectClose(got[t]?.[0] as number[], ref[t] as number[], 1e-13);
  });

  it('bias correction and decay with other settings; noDecay parameters skip the decay', () => {
    const a = param64();
    const b = param64([0.2, -0.4, 0.9, 1.5], true);
    const opts = { lr: 0.1, beta1: 0.8, beta2: 0.9, eps: 1e-6, weightDecay: 0.3 };
    const got = run(new AdamW([a, b], opts), [a, b]);
    const refA = adamwReference(W0, 0, { lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-6, wd: 0.3 });
    const refB = adamwReference([0.2, -0.4, 0.9, 1.5], 1, { lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-6, wd: 0 });
    for (let t = 0; t < steps; t++) {
      expectClose(got[t]?.[0] as number[], refA[t] as number[], 1e-13);
      expectClose(got[t]?.[1] as number[], refB[t] as number[], 1e-13);
    }
  });

  it('float32 parameters follow the float64 rule within float32 rounding (tol 1e-6)', () => {
    const p = new Parameter(Tensor.from(W0, [6]));
    const got = run(new AdamW([p], { lr: 0.01 }), [p]);
    expectClose(got[2]?.[0] as number[], adamwReference(W0, 0, { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 1e-2 })[2] as number[], 1e-6);
  });
});

/** LARS (SimCLR/INTL), written out: trust ratio η‖w‖/(‖g‖ + λ‖w‖) on g + λw, then SGD momentum. */
function larsReference(w0: number[], k: number, o: { lr: number; mu: number; wd: number; eta: number; exclude: boolean }) {
  const w = [...w0];
  const b = w.map(() => 0);
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const g = w.map((_, i) => gradAt(t, i + k));
    const wn = Math.hypot(...w);
    const gn = Math.hypot(...g);
    const wd = o.exclude ? 0 : o.wd;
    const q = o.exclude || wn === 0 || gn === 0 ? 1 : (o.eta * wn) / (gn + o.wd * wn);
    for (let i = 0; i < w.length; i++) {
      const d = q * ((g[i] as number) + wd * (w[i] as number));
      b[i] = t === 0 ? d : o.mu * (b[i] as number) + d;
      w[i] = (w[i] as number) - o.lr * (b[i] as number);
    }
    out.push([...w]);
  }
  return out;
}

describe('LARS', () => {
  it('scales each layer by its trust ratio and excludes noDecay parameters from decay and adaptation (float64, tol 1e-13)', () => {
    const a = param64();
    const bias = param64([0.1, -0.2], true);
    const zero = param64([0, 0, 0, 0]);
    const opts = { lr: 0.5, momentum: 0.9, weightDecay: 1e-2, eta: 0.02 };
    const got = run(new LARS([a, bias, zero], opts), [a, bias, zero]);
    const o = { lr: 0.5, mu: 0.9, wd: 1e-2, eta: 0.02 };
    const refs = [
      larsReference(W0, 0, { ...o, exclude: false }),
      larsReference([0.1, -0.2], 1, { ...o, exclude: true }),
      larsReference([0, 0, 0, 0], 2, { ...o, exclude: false }),
    ];
    for (let t = 0; t < steps; t++) for (const [j, r] of refs.entries()) expectClose(got[t]?.[j] as number[], r[t] as number[], 1e-13);
    // the ratio really acted: the adapted layer moved far less than plain SGD at lr 0.5 would move it
    const plain = sgdReference(W0, 0, { lr: 0.5, mu: 0.9, tau: 0, wd: 1e-2, nesterov: false })[0] as number[];
    expect(Math.abs((got[0]?.[0]?.[0] as number) - (W0[0] as number))).toBeLessThan(
      Math.abs((plain[0] as number) - (W0[0] as number)) / 10,
    );
  });
});

describe('Optimizer', () => {
  it('takes parameter groups with their own lr and weight decay; setting lr keeps the groups’ ratio', () => {
    const a = param64();
    const b = param64();
    const opt = new SGD(
      [
        { params: [a], lr: 0.2 },
        { params: [b], weightDecay: 0.1 },
      ],
      { lr: 0.1 },
    );
    expect(opt.groups.map((g) => [g.lr, g.weightDecay])).toEqual([
      [0.2, 0],
      [0.1, 0.1],
    ]);
    opt.lr = 0.01;
    expect(opt.groups.map((g) => g.lr)).toEqual([0.02, 0.01]);
    const got = run(opt, [a, b]);
    expectClose(got[0]?.[0] as number[], sgdReference(W0, 0, { lr: 0.02, mu: 0, tau: 0, wd: 0, nesterov: false })[0] as number[], 1e-14);
    expectClose(got[0]?.[1] as number[], sgdReference(W0, 1, { lr: 0.01, mu: 0, tau: 0, wd: 0.1, nesterov: false })[0] as number[], 1e-14);
  });

  it('skips parameters without a gradient (no step counted for them)', () => {
    const a = param64();
    const b = param64();
    const opt = new AdamW([a, b], { lr: 0.1 });
    a.grad = Tensor.ones(a.value.shape, 'float64');
    opt.step();
    expect(Array.from(b.value.data as Float64Array)).toEqual(W0);
    expect(opt.state().paramSteps).toEqual([1, 0]);
    expect(Object.keys(opt.state().tensors).sort()).toEqual(['expAvg.0', 'expAvgSq.0']);
  });

  it('never changes a value tensor it does not own (shared with another model or the caller)', () => {
    const shared = Tensor.from(Float64Array.from(W0), [6]);
    const p = new Parameter(shared);
    const opt = new SGD([p], { lr: 0.1 });
    p.grad = Tensor.ones([6], 'float64');
    opt.step();
    expect(Array.from(shared.data as Float64Array)).toEqual(W0);
    expect(p.value).not.toBe(shared);
    const owned = p.value;
    p.grad = Tensor.ones([6], 'float64');
    opt.step();
    expect(p.value).toBe(owned); // later steps work in place
  });

  for (const make of [
    (ps: Parameter[]) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
    (ps: Parameter[]) => new AdamW(ps, { lr: 0.01 }),
    (ps: Parameter[]) => new LARS(ps, { lr: 0.3, weightDecay: 1e-4 }),
  ])
    it(`${make([param64()]).kind}: state()/loadState() resumes bit-exactly`, () => {
      const fresh = () => [new Parameter(Tensor.from(W0, [2, 3])), new Parameter(Tensor.from([0.3, -0.7]), true)];
      const straight = fresh();
      const optA = make(straight);
      const all = run(optA, straight); // 3 steps
      const half = fresh();
      const optB = make(half);
      for (let t = 0; t < 2; t++) {
        half.forEach((p, k) => {
          p.grad = new Tensor(
            p.value.shape,
            'float32',
            Float32Array.from(p.value.data as Float32Array, (_, i) => gradAt(t, i + k)),
          );
        });
        optB.step();
        optB.zeroGrad();
      }
      const saved = optB.state();
      const resumed = half.map((p) => new Parameter(p.value.clone(), p.noDecay));
      const optC = make(resumed);
      optC.loadState(saved);
      resumed.forEach((p, k) => {
        p.grad = new Tensor(
          p.value.shape,
          'float32',
          Float32Array.from(p.value.data as Float32Array, (_, i) => gradAt(2, i + k)),
        );
      });
      optC.step();
      expect(optC.stepCount).toBe(3);
      for (const [k, p] of resumed.entries()) expect(Array.from(p.value.data as Float32Array)).toEqual(all[2]?.[k]);
    });

  it('loadState refuses a state from another optimizer kind or another parameter count', () => {
    const a = param64();
    const sgd = new SGD([a]);
    expect(() => new AdamW([param64()]).loadState(sgd.state())).toThrow(/saved by SGD, not AdamW/);
    expect(() => new SGD([param64(), param64()]).loadState(sgd.state())).toThrow(/1 parameters in 1 groups, this optimizer 2 in 1/);
  });

  it('refuses a gradient whose shape differs from its parameter', () => {
    const a = param64();
    a.grad = Tensor.ones([3], 'float64');
    expect(() => new SGD([a]).step()).toThrow(/parameter 0 is float64 \[2, 3\] but its gradient is float64 \[3\]/);
  });
});
