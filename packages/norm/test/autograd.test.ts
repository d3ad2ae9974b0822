// Every operator of @normkit/norm is a recorded op of @normkit/tensor's registry. A tiny local recorder
// (the autograd tape lives in @normkit/train, which norm cannot import) captures the GradContext of
// one call; the op's registered `grad` is then checked against central finite differences of the
// scalar <w, f(inputs)> in float64, for x and for every parameter (relative error < 1e-4).
import { cast, type GradContext, listOps, type OpDef, opDefinition, setOpRecorder, sub, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import * as N from '../src/index.js';
import { gradErrors, seededInputs } from './finite-differences.js';

/** Relative error bound of an op's gradient against central differences (float64, step 1e-5). */
const FD_TOL = 1e-4;
/** Relative error bound of float32 / mixed-dtype gradients against the float64 ones of the same values. */
const DTYPE_TOL = 1e-5;

const { rnd, pos } = seededInputs(500);

interface Call {
  def: OpDef;
  ctx: GradContext;
}

/** Runs `f` with a recorder that keeps every op call reported to it. */
function record<T>(f: () => T): { result: T; calls: Call[] } {
  const calls: Call[] = [];
  const prev = setOpRecorder({ record: (def, ctx) => calls.push({ def, ctx }) });
  try {
    return { result: f(), calls };
  } finally {
    setOpRecorder(prev);
  }
}

type Inputs = Record<string, Tensor>;

interface Case {
  name: string;
  /** The registry name the call is recorded under. */
  op: string;
  /** The differentiable tensors, by name. */
  inputs: Inputs;
  /** The recorded output (the op's y). */
  f: (t: Inputs) => Tensor;
  /** The op's inputs as recorded: input names, or '-' for an omitted optional input, or a fixed tensor's name in `fixed`. */
  order: string[];
  /** Tensors the op reads but that are not differentiated here (the key of the momentum loss). */
  fixed?: Inputs;
}

const key = rnd([8, 6]);
const running = { runningMean: rnd([4]), runningWm: rnd([2, 2, 2]) };
const affine = (x: number[], p: number[]) => ({ x: rnd(x), scale: rnd(p), bias: rnd(p) });
const XSB = ['x', 'scale', 'bias'];

const cases: Case[] = [
  {
    name: 'layerNorm (axis -2, scale/bias [2,4])',
    op: 'layerNorm',
    inputs: affine([3, 2, 4], [2, 4]),
    f: ({ x, scale, bias }) => N.layerNorm(x!, { axis: -2, scale, bias }),
    order: XSB,
  },
  {
    name: 'layerNorm (broadcast scale [4], no bias, ε = 0.1)',
    op: 'layerNorm',
    inputs: { x: rnd([3, 2, 4]), scale: rnd([4]) },
    f: ({ x, scale }) => N.layerNorm(x!, { axis: 1, scale, epsilon: 0.1 }),
    order: ['x', 'scale', '-'],
  },
  {
    name: 'layerNormWithStats (recorded on y)',
    op: 'layerNorm',
    inputs: affine([4, 5], [5]),
    f: ({ x, scale, bias }) => N.layerNormWithStats(x!, { scale, bias }).y,
    order: XSB,
  },
  {
    name: 'rmsNorm (scale, bias)',
    op: 'rmsNorm',
    inputs: affine([3, 5], [5]),
    f: ({ x, scale, bias }) => N.rmsNorm(x!, { scale, bias }),
    order: XSB,
  },
  {
    name: 'groupNorm (per channel)',
    op: 'groupNorm',
    inputs: affine([2, 4, 3], [4]),
    f: ({ x, scale, bias }) => N.groupNorm(x!, { numGroups: 2, scale, bias }),
    order: XSB,
  },
  {
    name: 'groupNorm (per group, opset 18)',
    op: 'groupNorm',
    inputs: affine([2, 4, 3], [2]),
    f: ({ x, scale, bias }) => N.groupNorm(x!, { numGroups: 2, scale, bias }),
    order: XSB,
  },
  {
    name: 'instanceNorm',
    op: 'instanceNorm',
    inputs: affine([2, 3, 2, 2], [3]),
    f: ({ x, scale, bias }) => N.instanceNorm(x!, { scale, bias }),
    order: XSB,
  },
  ...[{ groupSize: 4 }, { groupSize: 4, centering: false }, { groupSize: 2, p: 3 }].map(
    (o): Case => ({
      name: `parallelLayerNorm ${JSON.stringify(o)}`,
      op: 'parallelLayerNorm',
      inputs: affine([3, 8], [8]),
      f: ({ x, scale, bias }) => N.parallelLayerNorm(x!, { ...o, scale, bias }),
      order: XSB,
    }),
  ),
  {
    name: 'parallelLayerNorm 4-D (groups along C)',
    op: 'parallelLayerNorm',
    inputs: affine([2, 4, 2, 2], [4]),
    f: ({ x, scale, bias }) => N.parallelLayerNorm(x!, { groupSize: 2, scale, bias }),
    order: XSB,
  },
  {
    name: 'lnG (3 groups, recorded as parallelLayerNorm)',
    op: 'parallelLayerNorm',
    inputs: affine([4, 6], [6]),
    f: ({ x, scale, bias }) => N.lnG(x!, 3, { scale, bias }),
    order: XSB,
  },
  {
    name: 'batchNorm (inference: x, scale, bias, runningMean, runningVar)',
    op: 'batchNorm',
    inputs: { ...affine([2, 3, 2], [3]), runningMean: rnd([3]), runningVar: pos([3]) },
    f: ({ x, scale, bias, runningMean, runningVar }) =>
      N.batchNorm(x!, { scale, bias, runningMean: runningMean!, runningVar: runningVar! }),
    order: [...XSB, 'runningMean', 'runningVar'],
  },
  {
    name: 'batchNormTraining (y)',
    op: 'batchNormTraining',
    inputs: affine([4, 3, 2], [3]),
    f: ({ x, scale, bias }) => N.batchNormTraining(x!, { scale, bias, momentum: 0.2 }).y,
    order: XSB,
  },
  {
    name: 'iterNorm (training y, T = 5, 2 groups)',
    op: 'iterNorm',
    inputs: affine([12, 4], [4]),
    f: ({ x, scale, bias }) => N.iterNorm(x!, { numGroups: 2, scale, bias }).y,
    order: XSB,
  },
  {
    name: 'iterNormInference (x, scale, bias, runningMean, runningWm)',
    op: 'iterNormInference',
    inputs: { ...affine([5, 4], [4]), ...running },
    f: ({ x, scale, bias, runningMean, runningWm }) =>
      N.iterNormInference(x!, { numGroups: 2, scale, bias, runningMean: runningMean!, runningWm: runningWm! }),
    order: [...XSB, 'runningMean', 'runningWm'],
  },
  ...(['zca', 'pca', 'cholesky'] as const).map(
    (method): Case => ({
      name: `whiten ${method}`,
      op: 'whiten',
      inputs: affine([10, 6], [6]),
      f: ({ x, scale, bias }) => N.whiten(x!, { method, scale, bias, numGroups: 2 }),
      order: XSB,
    }),
  ),
  {
    name: 'spectralTransform p = 0.25',
    op: 'spectralTransform',
    inputs: { x: rnd([9, 3]) },
    f: ({ x }) => N.spectralTransform(x!, 0.25),
    order: ['x'],
  },
  {
    name: 'spectralTransform g(λ) = 1/(1+λ)',
    op: 'spectralTransform',
    inputs: { x: rnd([9, 3]) },
    f: ({ x }) => N.spectralTransform(x!, (l) => 1 / (1 + l)),
    order: ['x'],
  },
  ...(['conv', 'embedding', 'matmul'] as const).map(
    (layout): Case => ({
      name: `centerColumns (CBWC, ${layout})`,
      op: 'centerColumns',
      inputs: { V: rnd(layout === 'conv' ? [4, 3, 2, 2] : [5, 4]) },
      f: ({ V }) => N.centerColumns(V!, layout),
      order: ['V'],
    }),
  ),
  {
    name: 'centeredWeightNorm (V, per-neuron scale)',
    op: 'centeredWeightNorm',
    inputs: { V: rnd([3, 2, 3]), scale: rnd([3]) },
    f: ({ V, scale }) => N.centeredWeightNorm(V!, { scale }),
    order: ['V', 'scale'],
  },
  {
    name: 'centeredWeightNorm (V, number scale)',
    op: 'centeredWeightNorm',
    inputs: { V: rnd([3, 4]) },
    f: ({ V }) => N.centeredWeightNorm(V!, { scale: 2, epsilon: 0.01 }),
    order: ['V', '-'],
  },
  ...([0, 1] as const).map(
    (axis): Case => ({
      name: `intlWhiten axis ${axis} (ε = 0.01)`,
      op: 'intlWhiten',
      inputs: { x: rnd([6, 8]) },
      f: ({ x }) => N.intlWhiten(x!, { axis, epsilon: 0.01 }),
      order: ['x'],
    }),
  ),
  {
    name: 'meanVarianceNormalization (axes [0, 2, 3])',
    op: 'meanVarianceNormalization',
    inputs: { x: rnd([2, 3, 2, 2]) },
    f: ({ x }) => N.meanVarianceNormalization(x!),
    order: ['x'],
  },
  ...([0, 1] as const).map(
    (axis): Case => ({
      name: `traceLossTensor axis ${axis}`,
      op: 'traceLossTensor',
      inputs: { t: rnd([6, 5]) },
      f: ({ t }) => N.traceLossTensor(t!, { axis }),
      order: ['t'],
    }),
  ),
  {
    name: 'normMseLossTensor',
    op: 'normMseLossTensor',
    inputs: { a: rnd([4, 5]), b: rnd([4, 5]) },
    f: ({ a, b }) => N.normMseLossTensor(a!, b!),
    order: ['a', 'b'],
  },
  ...([0, 1] as const).map(
    (axis): Case => ({
      name: `intlLossTensor (3 crops) axis ${axis}`,
      op: 'intlLossTensor',
      inputs: { z0: rnd([8, 6]), z1: rnd([8, 6]), z2: rnd([8, 6]) },
      f: ({ z0, z1, z2 }) => N.intlLossTensor([z0!, z1!, z2!], { axis }),
      order: ['z0', 'z1', 'z2'],
    }),
  ),
  ...([0, 1] as const).map(
    (axis): Case => ({
      name: `intlMomentumLossTensor (2 online crops, stop-gradient key) axis ${axis}`,
      op: 'intlMomentumLossTensor',
      inputs: { z1: rnd([8, 6]), z2: rnd([8, 6]) },
      f: ({ z1, z2 }) => N.intlMomentumLossTensor([z1!, z2!], key, { axis }),
      order: ['z1', 'z2', 'key'],
      fixed: { key },
    }),
  ),
];

/** Records `c.f(inputs)` (exactly one call expected) and returns its definition, context and result. */
function recordOne(c: Case, inputs: Inputs): Call & { y: Tensor } {
  const { result, calls } = record(() => c.f(inputs));
  expect(
    calls.map((k) => k.def.name),
    `${c.name}: recorded calls`,
  ).toEqual([c.op]);
  return { ...(calls[0] as Call), y: result };
}

/** The registered gradient of each tensor of `inputs`, in the order of `names`. */
function opGrads(c: Case, inputs: Inputs, w: Tensor): (Tensor | undefined)[] {
  const { def, ctx } = recordOne(c, inputs);
  const g = (opDefinition(c.op) as OpDef).grad?.(w, ctx) ?? [];
  expect(def).toBe(opDefinition(c.op));
  return Object.values(inputs).map((t) => g[ctx.inputs.indexOf(t)]);
}

const castAll = (inputs: Inputs, pick: (name: string, i: number) => boolean): Inputs =>
  Object.fromEntries(Object.entries(inputs).map(([k, t], i) => [k, pick(k, i) ? cast(t, 'float32') : t]));
const asF64 = (inputs: Inputs): Inputs => Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, cast(t, 'float64')]));

function relErr(a: Tensor, b: Tensor): number {
  const x = cast(a, 'float64').data as Float64Array;
  const y = cast(b, 'float64').data as Float64Array;
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += ((x[i] as number) - (y[i] as number)) ** 2;
    den += (y[i] as number) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

describe('every operator is one recorded op', () => {
  for (const c of cases) {
    it(`${c.name}: one entry, inputs in a fixed order, the output returned`, () => {
      const { ctx, y } = recordOne(c, c.inputs);
      const named = { ...c.inputs, ...c.fixed };
      const nameOf = (t: Tensor | undefined) => (t ? (Object.entries(named).find(([, v]) => v === t)?.[0] ?? '?') : '-');
      expect(ctx.inputs.map(nameOf)).toEqual(c.order);
      expect(ctx.output).toBe(y);
      expect(opDefinition(c.op)?.grad).toBeTypeOf('function');
    });
  }

  it('the registry lists every op by its public function name', () => {
    const names = [...new Set(cases.map((c) => c.op))];
    expect(names).toHaveLength(19);
    for (const n of names) expect(listOps()).toContain(n);
  });

  it('recording is paused inside an op: tensor ops it calls are not recorded', () => {
    const W = rnd([4, 3]);
    // Outside an op, sub (and mean) report themselves ...
    expect(record(() => sub(W, W)).calls.map((k) => k.def.name)).toEqual(['sub']);
    // ... inside centerColumns (sub(W, mean(W))), groupNorm (kernel, mul, add) and MVN (transpose,
    // sub, mul) only the operator itself is recorded.
    expect(record(() => N.centerColumns(W)).calls.map((k) => k.def.name)).toEqual(['centerColumns']);
    const x = rnd([2, 4, 3, 3]);
    const gn = record(() => N.groupNorm(x, { numGroups: 2, scale: rnd([4]), bias: rnd([4]) }));
    expect(gn.calls.map((k) => k.def.name)).toEqual(['groupNorm']);
    expect(record(() => N.meanVarianceNormalization(x)).calls.map((k) => k.def.name)).toEqual(['meanVarianceNormalization']);
  });

  it('the stop-gradient key of intlMomentumLossTensor gets no gradient', () => {
    const c = cases.find((k) => k.op === 'intlMomentumLossTensor') as Case;
    const { ctx } = recordOne(c, c.inputs);
    const g = opDefinition(c.op)?.grad?.(Tensor.scalar(1, 'float64'), ctx) ?? [];
    expect(g).toHaveLength(3);
    expect(g[2]).toBeUndefined();
  });

  it('out (in-place) is refused while recording, and works as before without a recorder', () => {
    const x = rnd([2, 4]);
    const out = Tensor.zeros([2, 4], 'float64');
    expect(() => record(() => N.layerNorm(x, { out }))).toThrow(/out option/);
    expect(() => record(() => N.rmsNorm(x, { out }))).toThrow(/out option/);
    expect(N.layerNorm(x, { out })).toBe(out);
  });

  it('the number-returning losses are unchanged and equal their tensor twins', () => {
    const [a, b] = [rnd([6, 5]), rnd([6, 5])];
    expect(N.traceLossTensor(a).toFlatArray()[0]).toBe(N.traceLoss(a));
    expect(N.normMseLossTensor(a, b).toFlatArray()[0]).toBe(N.normMseLoss(a, b));
    expect(N.intlLossTensor([a, b]).toFlatArray()[0]).toBe(N.intlLoss([a, b]));
    expect(N.intlMomentumLossTensor([a], b).toFlatArray()[0]).toBe(N.intlMomentumLoss([a], b));
    expect(N.intlLossTensor([a, b]).shape).toEqual([]);
  });
});

describe('op gradients vs central finite differences (float64)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const names = Object.keys(c.inputs);
      const errs = gradErrors(
        (xs) => c.f(Object.fromEntries(names.map((n, i) => [n, xs[i] as Tensor]))),
        Object.values(c.inputs),
        (w, xs) => opGrads(c, Object.fromEntries(names.map((n, i) => [n, xs[i] as Tensor])), w as Tensor),
      );
      if (process.env.NORM_GRAD_LOG) console.log(`[autograd] ${c.name}: ${errs.map((e) => e.toExponential(2)).join(', ')}`);
      names.forEach((n, i) => {
        expect(errs[i], `${c.name}: d${n} relative error`).toBeLessThan(FD_TOL);
      });
    });
  }
});

describe('gradient dtype = input dtype', () => {
  for (const c of cases) {
    it(`${c.name}: float32 inputs, and a float64 first input with float32 others`, () => {
      for (const pick of [() => true, (_: string, i: number) => i > 0]) {
        const mixed = castAll(c.inputs, pick);
        const y = c.f(mixed);
        const w = cast(Tensor.randn([...y.shape], 3, { dtype: 'float64' }), 'float32');
        const g = opGrads(c, mixed, w);
        const ref = opGrads(c, asF64(mixed), cast(w, 'float64'));
        Object.entries(mixed).forEach(([n, t], i) => {
          const gi = g[i] as Tensor;
          expect(gi.dtype, `${c.name}: d${n} dtype`).toBe(t.dtype);
          expect(relErr(gi, ref[i] as Tensor), `${c.name}: d${n} vs float64`).toBeLessThan(DTYPE_TOL);
        });
      }
    });
  }
});
