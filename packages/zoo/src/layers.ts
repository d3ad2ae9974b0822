import { GraphBuilder, type Model } from '@normkit/graph';
import { type DType, Tensor } from '@normkit/tensor';

type AttrValue = number | string | number[] | string[] | Tensor;

/**
 * A small layer library over `GraphBuilder` for the zoo: seeded parameters, linear layers, LayerNorm
 * and RMSNorm in the form the opset calls for (decomposed subgraph at opset < 17, `LayerNormalization`
 * at 17+, `RMSNormalization` at 23+), GELU/SiLU, and multi-head attention.
 *
 * @example
 * ```ts
 * const z = new Layers('mlp', 14, 0);
 * const x = z.input('x', 'float32', [2, 8]);
 * z.output(z.layerNorm(z.linear(x, 8, 8, 'fc'), 8, 'ln'));
 * const model = z.model();
 * ```
 */
export class Layers {
  readonly b: GraphBuilder;
  private counter = 0;
  private names = new Map<string, number>();

  constructor(
    name: string,
    readonly opset: number,
    readonly seed: number,
  ) {
    this.b = new GraphBuilder(name);
  }

  /** Declares a graph input and returns its value name (`name`). @example const x = z.input('x', 'float32', [2, 8]); */
  input(name: string, dtype: DType, shape: number[]): string {
    return this.b.input(name, dtype, shape);
  }

  /** Marks value `v` as a graph output of `dtype` (default float32). @example z.output(y) */
  output(v: string, dtype: DType = 'float32'): void {
    this.b.output(v, dtype);
  }

  /** The model of the graph built so far, importing the default domain at `opset` (it shares the graph, not a copy). @example const m = z.model(); */
  model(): Model {
    return this.b.model(this.opset);
  }

  /** A unique node name under `scope`. */
  name(scope: string, op: string): string {
    const key = `${scope}/${op}`;
    const k = this.names.get(key) ?? 0;
    this.names.set(key, k + 1);
    return k === 0 ? key : `${key}_${k}`;
  }

  /**
   * Adds one default-domain node of op `type`, named uniquely under `scope` (`scope/Type`, then `scope/Type_1`, ...),
   * and returns its output's value name (`<node name>:0`).
   * @example const y = z.op('blk', 'Relu', [x]); // 'blk/Relu:0'
   */
  op(scope: string, type: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const name = this.name(scope, type);
    return this.b.op(type, inputs, attrs, { name, output: `${name}:0` });
  }

  /**
   * A seeded parameter with the given mean and standard deviation. Values are uniform in
   * mean ± √3·std from a xorshift32 stream (fast enough for GPT-2-small's 124M weights; the zoo needs
   * reproducible, well-scaled weights, not Gaussian ones).
   */
  param(name: string, shape: number[], std: number, mean = 0): string {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    let x = (Math.imul(this.seed + 1, 0x9e3779b1) ^ Math.imul(++this.counter, 0x85ebca6b)) >>> 0 || 1;
    const half = Math.sqrt(3) * std;
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = mean + half * ((x >>> 0) / 2147483648 - 1);
    }
    return this.b.constant(name, new Tensor(shape, 'float32', data));
  }

  /** Adds `t` as an initializer and returns its value name (`name`, or a fresh one when taken). @example z.tensor('mask', Tensor.zeros([1, 1, 8, 8])) */
  tensor(name: string, t: Tensor): string {
    return this.b.constant(name, t);
  }

  /** Adds a 1-D int64 initializer holding `v` (axes, shapes) and returns its value name. @example z.ints('shape', [2, 8, 4, 2]) */
  ints(name: string, v: number[]): string {
    return this.b.constant(name, Tensor.from(v, [v.length], 'int64'));
  }

  /** Adds a float32 scalar (rank-0) initializer `v` and returns its value name. @example z.scalar('eps', 1e-5) */
  scalar(name: string, v: number): string {
    return this.b.constant(name, Tensor.scalar(v));
  }

  /**
   * A dense layer on the last axis: MatMul by a seeded weight [din, dout] (`scope.weight`, std 1/√din), then,
   * unless `bias` is false, Add of a bias [dout] (`scope.bias`, std 0.02). Returns the output value name.
   * @example const h = z.linear(x, 8, 32, 'fc1');
   */
  linear(x: string, din: number, dout: number, scope: string, bias = true): string {
    const w = this.param(`${scope}.weight`, [din, dout], 1 / Math.sqrt(din));
    let y = this.op(scope, 'MatMul', [x, w]);
    if (bias) y = this.op(scope, 'Add', [y, this.param(`${scope}.bias`, [dout], 0.02)]);
    return y;
  }

  private reduceMean(scope: string, x: string, axes: number[]): string {
    if (this.opset >= 18) return this.op(scope, 'ReduceMean', [x, this.ints(`${scope}.axes`, axes)], { keepdims: 1 });
    return this.op(scope, 'ReduceMean', [x], { axes, keepdims: 1 });
  }

  /** LayerNorm over the last axis: `LayerNormalization` at opset ≥ 17, the exporter's decomposed subgraph below. */
  layerNorm(x: string, d: number, scope: string, eps = 1e-5): string {
    const g = this.param(`${scope}.weight`, [d], 0.1, 1);
    const bb = this.param(`${scope}.bias`, [d], 0.1);
    if (this.opset >= 17) return this.op(scope, 'LayerNormalization', [x, g, bb], { axis: -1, epsilon: eps });
    const mean = this.reduceMean(scope, x, [-1]);
    const c = this.op(scope, 'Sub', [x, mean]);
    const sq = this.op(scope, 'Pow', [c, this.scalar(`${scope}.two`, 2)]);
    const v = this.reduceMean(scope, sq, [-1]);
    const s = this.op(scope, 'Sqrt', [this.op(scope, 'Add', [v, this.scalar(`${scope}.eps`, eps)])]);
    const n = this.op(scope, 'Div', [c, s]);
    return this.op(scope, 'Add', [this.op(scope, 'Mul', [n, g]), bb]);
  }

  /** RMSNorm over the last axis (no bias): `RMSNormalization` at opset ≥ 23, decomposed below. */
  rmsNorm(x: string, d: number, scope: string, eps = 1e-6): string {
    const g = this.param(`${scope}.weight`, [d], 0.1, 1);
    if (this.opset >= 23) return this.op(scope, 'RMSNormalization', [x, g], { axis: -1, epsilon: eps });
    const sq = this.op(scope, 'Pow', [x, this.scalar(`${scope}.two`, 2)]);
    const v = this.reduceMean(scope, sq, [-1]);
    const s = this.op(scope, 'Sqrt', [this.op(scope, 'Add', [v, this.scalar(`${scope}.eps`, eps)])]);
    return this.op(scope, 'Mul', [this.op(scope, 'Div', [x, s]), g]);
  }

  /** Exact (erf) GELU: `Gelu` at opset ≥ 20, x·½(1+erf(x/√2)) below. */
  gelu(x: string, scope: string): string {
    if (this.opset >= 20) return this.op(scope, 'Gelu', [x]);
    const e = this.op(scope, 'Erf', [this.op(scope, 'Div', [x, this.scalar(`${scope}.sqrt2`, Math.SQRT2)])]);
    const h = this.op(scope, 'Add', [e, this.scalar(`${scope}.one`, 1)]);
    return this.op(scope, 'Mul', [this.op(scope, 'Mul', [x, h]), this.scalar(`${scope}.half`, 0.5)]);
  }

  /** SiLU as x·sigmoid(x) (a Sigmoid and a Mul). @example const a = z.silu(h, 'act'); */
  silu(x: string, scope: string): string {
    return this.op(scope, 'Mul', [x, this.op(scope, 'Sigmoid', [x])]);
  }

  /** The transformer MLP: linear d→hidden (`scope.fc1`), exact GELU, linear hidden→d (`scope.fc2`), both with bias. @example const y = z.mlp(x, 8, 32, 'h.0.mlp'); */
  mlp(x: string, d: number, hidden: number, scope: string): string {
    return this.linear(this.gelu(this.linear(x, d, hidden, `${scope}.fc1`), scope), hidden, d, `${scope}.fc2`);
  }

  /**
   * Multi-head self-attention on `x` (shape [B, S, d]): the Q, K and V projections, heads split by Reshape/Transpose,
   * softmax(QKᵀ/√dh + bias), merge, output projection. `bias` is an additive constant broadcast to
   * [.., S, S] (causal mask, ALiBi, relative position bias + window mask).
   */
  attention(
    x: string,
    d: number,
    heads: number,
    scope: string,
    opts: { bias?: string; qkvBias?: boolean; batch: number; seq: number },
  ): string {
    const dh = d / heads;
    const split = (v: string, name: string) =>
      this.op(scope, 'Transpose', [this.op(scope, 'Reshape', [v, this.ints(`${scope}.${name}_shape`, [0, 0, heads, dh])])], {
        perm: [0, 2, 1, 3],
      });
    const qb = opts.qkvBias ?? true;
    const q = split(this.linear(x, d, d, `${scope}.q`, qb), 'q');
    const kT = this.op(
      scope,
      'Transpose',
      [this.op(scope, 'Reshape', [this.linear(x, d, d, `${scope}.k`, qb), this.ints(`${scope}.k_shape`, [0, 0, heads, dh])])],
      {
        perm: [0, 2, 3, 1],
      },
    );
    const v = split(this.linear(x, d, d, `${scope}.v`, qb), 'v');
    let s = this.op(scope, 'Mul', [this.op(scope, 'MatMul', [q, kT]), this.scalar(`${scope}.scale`, 1 / Math.sqrt(dh))]);
    if (opts.bias) s = this.op(scope, 'Add', [s, opts.bias]);
    const p = this.op(scope, 'Softmax', [s], { axis: -1 });
    const o = this.op(scope, 'Transpose', [this.op(scope, 'MatMul', [p, v])], { perm: [0, 2, 1, 3] });
    const merged = this.op(scope, 'Reshape', [o, this.ints(`${scope}.merge_shape`, [0, 0, d])]);
    return this.linear(merged, d, d, `${scope}.proj`, qb);
  }

  /** Additive causal mask [S, S]: 0 on and below the diagonal, −1e4 above. */
  causalMask(name: string, seq: number): string {
    const m = new Float32Array(seq * seq);
    for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) m[i * seq + j] = -1e4;
    return this.tensor(name, new Tensor([seq, seq], 'float32', m));
  }
}

/** A patch-embedding conv: `cin` channels to `d`, kernel and stride `patch`. */
export function patchEmbed(z: Layers, x: string, cin: number, d: number, patch: number, scope: string): string {
  const w = z.param(`${scope}.weight`, [d, cin, patch, patch], 1 / Math.sqrt(cin * patch * patch));
  return z.op(scope, 'Conv', [x, w, z.param(`${scope}.bias`, [d], 0.02)], { kernel_shape: [patch, patch], strides: [patch, patch] });
}
