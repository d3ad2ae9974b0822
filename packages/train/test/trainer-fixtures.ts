import { add, matmul, relu, Tensor } from '@normkit/tensor';
import { TensorDataset } from '../src/data/dataset.js';
import { Module, Parameter } from '../src/nn/module.js';

/** Architecture of `TinyMlp`. */
export interface TinyConfig {
  inFeatures: number;
  hidden: number;
  classes: number;
}

/**
 * A two-layer perceptron built from Parameters and @normkit/tensor ops, with a float32 and an int64
 * buffer, for optimizer, checkpoint and trainer tests.
 */
export class TinyMlp extends Module {
  readonly w1: Parameter;
  readonly b1: Parameter;
  readonly w2: Parameter;
  readonly b2: Parameter;

  constructor(
    readonly config: TinyConfig,
    seed = 0,
  ) {
    super();
    const { inFeatures: i, hidden: h, classes: c } = config;
    this.w1 = this.param('w1', new Parameter(Tensor.randn([i, h], seed, { std: 1 / Math.sqrt(i) })));
    this.b1 = this.param('b1', new Parameter(Tensor.zeros([h]), true));
    this.w2 = this.param('w2', new Parameter(Tensor.randn([h, c], seed + 1, { std: 1 / Math.sqrt(h) })));
    this.b2 = this.param('b2', new Parameter(Tensor.zeros([c]), true));
    this.buffer('scale', Tensor.from([1, 0.5, -0.25]));
    this.buffer('counter', Tensor.from([7, -3], undefined, 'int64'));
  }

  forward(x: Tensor): Tensor {
    return add(matmul(relu(add(matmul(x, this.w1.value), this.b1.value)), this.w2.value), this.b2.value);
  }
}

/** A seeded classification set: `n` points in `d` dimensions, labels from a fixed linear rule. */
export function blobs(n: number, d: number, classes: number, seed: number): TensorDataset {
  const x = Tensor.randn([n, d], seed);
  const w = Tensor.randn([d, classes], seed + 100);
  const scores = matmul(x, w).data as Float32Array;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if ((scores[i * classes + c] as number) > (scores[i * classes + best] as number)) best = c;
    y[i] = best;
  }
  return new TensorDataset(x, new Tensor([n], 'int32', y), classes);
}
