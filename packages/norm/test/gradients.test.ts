// Backward of every operator against central finite differences in float64 (relative error < 1e-4).
import type { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import * as N from '../src/index.js';
import { gradError, seededInputs } from './finite-differences.js';

const TOL = 1e-4;
const { rnd, pos } = seededInputs(100);

const T = (w: Tensor | number) => w as Tensor;
const cases: [string, () => number][] = [
  [
    'layerNorm (axis -2, scale/bias [2,4])',
    () =>
      gradError(
        ([x, g, b]) => N.layerNorm(x!, { axis: -2, scale: g, bias: b }),
        [rnd([3, 2, 4]), rnd([2, 4]), rnd([2, 4])],
        (w, [x, g, b]) => {
          const r = N.layerNormBackward(T(w), x!, { axis: -2, scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'layerNorm (broadcast scale [4] over [2,4], ε = 0.1)',
    () =>
      gradError(
        ([x, g]) => N.layerNorm(x!, { axis: 1, scale: g, epsilon: 0.1 }),
        [rnd([3, 2, 4]), rnd([4])],
        (w, [x, g]) => {
          const r = N.layerNormBackward(T(w), x!, { axis: 1, scale: g, epsilon: 0.1 });
          return [r.dx, r.dScale];
        },
      ),
  ],
  [
    'rmsNorm (scale, bias)',
    () =>
      gradError(
        ([x, g, b]) => N.rmsNorm(x!, { scale: g, bias: b }),
        [rnd([3, 5]), rnd([5]), rnd([5])],
        (w, [x, g, b]) => {
          const r = N.rmsNormBackward(T(w), x!, { scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'groupNorm (per channel, opset 21)',
    () =>
      gradError(
        ([x, g, b]) => N.groupNorm(x!, { numGroups: 2, scale: g, bias: b }),
        [rnd([2, 4, 3]), rnd([4]), rnd([4])],
        (w, [x, g, b]) => {
          const r = N.groupNormBackward(T(w), x!, { numGroups: 2, scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'groupNorm (per group, opset 18)',
    () =>
      gradError(
        ([x, g, b]) => N.groupNorm(x!, { numGroups: 2, scale: g, bias: b }),
        [rnd([2, 4, 3]), rnd([2]), rnd([2])],
        (w, [x, g, b]) => {
          const r = N.groupNormBackward(T(w), x!, { numGroups: 2, scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'instanceNorm',
    () =>
      gradError(
        ([x, g, b]) => N.instanceNorm(x!, { scale: g, bias: b }),
        [rnd([2, 3, 2, 2]), rnd([3]), rnd([3])],
        (w, [x, g, b]) => {
          const r = N.instanceNormBackward(T(w), x!, { scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  ...[{ groupSize: 4 }, { groupSize: 4, centering: false }, { groupSize: 2, p: 3 }, { groupSize: 4, p: 1.5, centering: false }].map(
    (o) =>
      [
        `parallelLayerNorm ${JSON.stringify(o)}`,
        () =>
          gradError(
            ([x, g, b]) => N.parallelLayerNorm(x!, { ...o, scale: g, bias: b }),
            [rnd([3, 8]), rnd([8]), rnd([8])],
            (w, [x, g, b]) => {
              const r = N.parallelLayerNormBackward(T(w), x!, { ...o, scale: g, bias: b });
              return [r.dx, r.dScale, r.dBias];
            },
          ),
      ] as [string, () => number],
  ),
  [
    'parallelLayerNorm 4-D (groups along C)',
    () =>
      gradError(
        ([x, g, b]) => N.parallelLayerNorm(x!, { groupSize: 2, scale: g, bias: b }),
        [rnd([2, 4, 2, 2]), rnd([4]), rnd([4])],
        (w, [x, g, b]) => {
          const r = N.parallelLayerNormBackward(T(w), x!, { groupSize: 2, scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'batchNorm (inference: x, scale, bias, mean, var)',
    () =>
      gradError(
        ([x, g, b, m, v]) => N.batchNorm(x!, { scale: g, bias: b, runningMean: m!, runningVar: v! }),
        [rnd([2, 3, 2]), rnd([3]), rnd([3]), rnd([3]), pos([3])],
        (w, [x, g, b, m, v]) => {
          const r = N.batchNormBackward(T(w), x!, { scale: g, bias: b, runningMean: m!, runningVar: v! });
          return [r.dx, r.dScale, r.dBias, r.dMean, r.dVar];
        },
      ),
  ],
  [
    'batchNormTraining',
    () =>
      gradError(
        ([x, g, b]) => N.batchNormTraining(x!, { scale: g, bias: b }).y,
        [rnd([4, 3, 2]), rnd([3]), rnd([3])],
        (w, [x, g, b]) => {
          const r = N.batchNormTrainingBackward(T(w), x!, { scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'meanVarianceNormalization (axes [0, 2, 3])',
    () =>
      gradError(
        ([x]) => N.meanVarianceNormalization(x!),
        [rnd([2, 3, 2, 2])],
        (w, [x]) => [N.meanVarianceNormalizationBackward(T(w), x!).dx],
      ),
  ],
  [
    'iterNorm (training, T = 5, 2 groups)',
    () =>
      gradError(
        ([x, g, b]) => N.iterNorm(x!, { numGroups: 2, scale: g, bias: b }).y,
        [rnd([12, 4]), rnd([4]), rnd([4])],
        (w, [x, g, b]) => {
          const r = N.iterNormBackward(T(w), x!, { numGroups: 2, scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      ),
  ],
  [
    'iterNorm (training, 4-D, T = 3, ε = 0.1)',
    () =>
      gradError(
        ([x]) => N.iterNorm(x!, { T: 3, epsilon: 0.1 }).y,
        [rnd([3, 3, 2, 2])],
        (w, [x]) => [N.iterNormBackward(T(w), x!, { T: 3, epsilon: 0.1 }).dx],
      ),
  ],
  [
    'iterNormInference',
    () => {
      const opts = { runningMean: rnd([4]), runningWm: rnd([2, 2, 2]), numGroups: 2 };
      return gradError(
        ([x, g, b]) => N.iterNormInference(x!, { ...opts, scale: g, bias: b }),
        [rnd([5, 4]), rnd([4]), rnd([4])],
        (w, [x, g, b]) => {
          const r = N.iterNormInferenceBackward(T(w), x!, { ...opts, scale: g, bias: b });
          return [r.dx, r.dScale, r.dBias];
        },
      );
    },
  ],
  ...(['zca', 'pca', 'cholesky'] as const).map(
    (method) =>
      [
        `whiten ${method}`,
        () =>
          gradError(
            ([x, g, b]) => N.whiten(x!, { method, scale: g, bias: b, numGroups: 2 }),
            [rnd([10, 6]), rnd([6]), rnd([6])],
            (w, [x, g, b]) => {
              const r = N.whitenBackward(T(w), x!, { method, scale: g, bias: b, numGroups: 2 });
              return [r.dx, r.dScale, r.dBias];
            },
          ),
      ] as [string, () => number],
  ),
  [
    'spectralTransform p = 0.25',
    () =>
      gradError(
        ([x]) => N.spectralTransform(x!, 0.25),
        [rnd([9, 3])],
        (w, [x]) => [N.spectralTransformBackward(T(w), x!, 0.25).dx],
      ),
  ],
  [
    'spectralTransform g(λ) = 1/(1+λ) (numerical g′)',
    () => {
      const g = (l: number) => 1 / (1 + l);
      return gradError(
        ([x]) => N.spectralTransform(x!, g),
        [rnd([9, 3])],
        (w, [x]) => [N.spectralTransformBackward(T(w), x!, g).dx],
      );
    },
  ],
  [
    'centerColumns (conv kernel, axis 0)',
    () =>
      gradError(
        ([W]) => N.centerColumns(W!, 'conv'),
        [rnd([4, 3, 2, 2])],
        (w, [W]) => [N.centerColumnsBackward(T(w), W!, 'conv').dW],
      ),
  ],
  [
    'centerColumns (embedding rows)',
    () =>
      gradError(
        ([W]) => N.centerColumns(W!, 'embedding'),
        [rnd([5, 4])],
        (w, [W]) => [N.centerColumnsBackward(T(w), W!, 'embedding').dW],
      ),
  ],
  [
    'centeredWeightNorm (per-neuron scale)',
    () =>
      gradError(
        ([V, s]) => N.centeredWeightNorm(V!, { scale: s }),
        [rnd([3, 2, 3]), rnd([3])],
        (w, [V, s]) => {
          const r = N.centeredWeightNormBackward(T(w), V!, { scale: s });
          return [r.dV, r.dScale];
        },
      ),
  ],
  ...([0, 1] as const).map(
    (axis) =>
      [
        `traceLoss axis ${axis}`,
        () =>
          gradError(
            ([t]) => N.traceLoss(t!, { axis }),
            [rnd([6, 5])],
            (_w, [t]) => [N.traceLossBackward(1, t!, { axis }).dx],
          ),
      ] as [string, () => number],
  ),
  [
    'normMseLoss',
    () =>
      gradError(
        ([a, b]) => N.normMseLoss(a!, b!),
        [rnd([4, 5]), rnd([4, 5])],
        (_w, [a, b]) => {
          const r = N.normMseLossBackward(1, a!, b!);
          return [r.da, r.db];
        },
      ),
  ],
  ...([0, 1] as const).map(
    (axis) =>
      [
        `intlWhiten axis ${axis} (ε = 0.01)`,
        () =>
          gradError(
            ([x]) => N.intlWhiten(x!, { axis, epsilon: 0.01 }),
            [rnd([6, 8])],
            (w, [x]) => [N.intlWhitenBackward(T(w), x!, { axis, epsilon: 0.01 }).dx],
          ),
      ] as [string, () => number],
  ),
  ...([0, 1] as const).map(
    (axis) =>
      [
        `intlLoss (3 crops) axis ${axis}`,
        () =>
          gradError(
            (xs) => N.intlLoss(xs, { axis }),
            [rnd([8, 6]), rnd([8, 6]), rnd([8, 6])],
            (_w, xs) => N.intlLossBackward(1, xs, { axis }).dCrops,
          ),
      ] as [string, () => number],
  ),
  ...([0, 1] as const).map(
    (axis) =>
      [
        `intlMomentumLoss (2 online crops, key held fixed) axis ${axis}`,
        () => {
          const key = rnd([8, 6]);
          return gradError(
            (xs) => N.intlMomentumLoss(xs, key, { axis }),
            [rnd([8, 6]), rnd([8, 6])],
            (_w, xs) => N.intlMomentumLossBackward(1, xs, key, { axis }).dCrops,
          );
        },
      ] as [string, () => number],
  ),
];

describe('backward vs central finite differences (float64)', () => {
  for (const [name, run] of cases) {
    it(name, () => {
      const err = run();
      if (process.env.NORM_GRAD_LOG) console.log(`[grad] ${name}: ${err.toExponential(2)}`);
      expect(err, `${name}: relative error ${err}`).toBeLessThan(TOL);
    });
  }
});
