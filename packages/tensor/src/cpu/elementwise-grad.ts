import type { UnaryOp, UnaryParamOp } from '../backend.js';
import { allocate } from '../dtype.js';
import { NormkitError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { erfScalar } from './elementwise.js';
import { geluGradWasm } from './fused-wasm.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const sigmoidOf = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

/**
 * f′ of a unary op as a function of x and y = f(x). Kinks take PyTorch's one-sided choice (relu′(0) = 0,
 * clip′ = 1 on the closed interval [min, max]); the rounding ops have zero derivative.
 */
export function unaryGradFn(op: UnaryOp | UnaryParamOp): (x: number, y: number) => number {
  if (typeof op !== 'string') return unaryParamGradFn(op);
  switch (op) {
    case 'neg':
      return () => -1;
    case 'abs':
      return Math.sign;
    case 'relu':
      return (x) => (x > 0 ? 1 : 0);
    case 'exp':
      return (_, y) => y;
    case 'log':
      return (x) => 1 / x;
    case 'sqrt':
      return (_, y) => 0.5 / y;
    case 'rsqrt':
      return (_, y) => -0.5 * y * y * y;
    case 'reciprocal':
      return (_, y) => -y * y;
    case 'erf':
      return (x) => TWO_OVER_SQRT_PI * Math.exp(-x * x);
    case 'tanh':
      return (_, y) => 1 - y * y;
    case 'sigmoid':
      return (_, y) => y * (1 - y);
    case 'gelu':
      return (x) => 0.5 * (1 + erfScalar(x / Math.SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    case 'geluTanh':
      return (x) => {
        const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
      };
    case 'silu':
      return (x) => {
        const s = sigmoidOf(x);
        return s * (1 + x * (1 - s));
      };
    case 'softplus':
      return (x) => (x > 20 ? 1 : sigmoidOf(x));
    case 'sin':
      return Math.cos;
    case 'cos':
      return (x) => -Math.sin(x);
    case 'floor':
    case 'ceil':
    case 'round':
    case 'sign':
      return () => 0;
    case 'not':
      throw new NormkitError('NO_GRADIENT', 'unary gradient: logicalNot has no gradient (its input and output are bool)', { op });
  }
}

function unaryParamGradFn(p: UnaryParamOp): (x: number, y: number) => number {
  switch (p.op) {
    case 'leakyRelu':
      return (x) => (x > 0 ? 1 : p.alpha);
    case 'elu':
      return (x) => (x > 0 ? 1 : p.alpha * Math.exp(x));
    case 'hardSigmoid':
      return (x) => {
        const v = p.alpha * x + p.beta;
        return v > 0 && v < 1 ? p.alpha : 0;
      };
    case 'hardSwish':
      return (x) => (x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1);
    case 'clip':
      return (x) => (x >= p.min && x <= p.max ? 1 : 0);
    case 'powScalar': {
      const e = p.exponent;
      return e === 0 ? () => 0 : e === 1 ? () => 1 : e === 2 ? (x) => 2 * x : (x) => e * x ** (e - 1);
    }
  }
}

/**
 * dy · f′(x) in one pass over x, y and dy (all of one shape): float32 GELU on the WebAssembly kernel,
 * ReLU in a direct loop, the others through `unaryGradFn`.
 */
export function unaryGradKernel(op: UnaryOp | UnaryParamOp, x: Tensor, y: Tensor, dy: Tensor): Tensor {
  const X = x.data as Float32Array;
  const Y = y.data as Float32Array;
  const G = dy.data as Float32Array;
  const n = G.length;
  const out = allocate(dy.dtype, n, false) as Float32Array; // every element is written
  if (op === 'gelu' && X instanceof Float32Array && Y instanceof Float32Array && G instanceof Float32Array && geluGradWasm(X, Y, G, out))
    return new Tensor(x.shape, dy.dtype, out as never);
  if (op === 'relu') {
    for (let i = 0; i < n; i++) out[i] = X[i]! > 0 ? G[i]! : 0;
    return new Tensor(x.shape, dy.dtype, out as never);
  }
  const f = unaryGradFn(op);
  for (let i = 0; i < n; i++) out[i] = G[i]! * f(X[i]!, Y[i]!);
  return new Tensor(x.shape, dy.dtype, out as never);
}
