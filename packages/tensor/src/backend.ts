import { CpuBackend } from './cpu/backend.js';
import type { DType } from './dtype.js';
import { NormkitError } from './errors.js';
import type { Tensor } from './tensor.js';

/** Elementwise ops without parameters (ONNX names in camelCase; `geluTanh` is the tanh approximation, `not` is logical). */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'reciprocal'
  | 'erf'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'gelu'
  | 'geluTanh'
  | 'silu'
  | 'softplus'
  | 'sin'
  | 'cos'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'sign'
  | 'not';

/** Parameterised unary ops. */
export type UnaryParamOp =
  | { op: 'leakyRelu'; alpha: number }
  | { op: 'elu'; alpha: number }
  | { op: 'hardSigmoid'; alpha: number; beta: number }
  | { op: 'hardSwish' }
  | { op: 'clip'; min: number; max: number }
  | { op: 'powScalar'; exponent: number };

/** Broadcasting binary ops; `equal` … `greaterEqual` and the logic ops `and`/`or`/`xor` return bool. */
export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'min'
  | 'max'
  | 'mod'
  | 'equal'
  | 'less'
  | 'lessEqual'
  | 'greater'
  | 'greaterEqual'
  | 'and'
  | 'or'
  | 'xor';

/** Reductions, as ONNX Reduce*: `l1` = Σ|x|, `l2` = √Σx², `sumSquare` = Σx², `logSumExp` = log Σeˣ. */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'l1' | 'l2' | 'sumSquare' | 'logSumExp';

/** Options of `gemm` (ONNX Gemm): Y = alpha·op(A)·op(B) + beta·C. */
export interface GemmOptions {
  /** Scale of the product. Default 1. */
  alpha?: number;
  /** Scale of C. Default 1. */
  beta?: number;
  /** Use Aᵀ. Default false. */
  transA?: boolean;
  /** Use Bᵀ. Default false. */
  transB?: boolean;
}

/** Convolution over the trailing spatial dims of an N×C×(spatial) input (1-D or 2-D, or more). */
export interface ConvOptions {
  /** Step per spatial axis. Default all 1. */
  strides?: number[];
  /** [begin_0, begin_1, ..., end_0, end_1, ...] as in ONNX. */
  pads?: number[];
  /** Spacing of the kernel taps per spatial axis. Default all 1. */
  dilations?: number[];
  /** Channel groups: Cin and Cout split into `group` independent convolutions. Default 1. */
  group?: number;
}

/** Options of `maxPool` / `avgPool` over the trailing spatial dims of an N×C×(spatial) input (ONNX MaxPool/AveragePool). */
export interface PoolOptions {
  /** Window size per spatial axis (required). */
  kernelShape: number[];
  /** Step per spatial axis. Default all 1. */
  strides?: number[];
  /** [begin_0, begin_1, ..., end_0, end_1, ...] as in ONNX. Default all 0. */
  pads?: number[];
  /** Spacing of the window taps per spatial axis. Default all 1. */
  dilations?: number[];
  /** Round the output size up instead of down. Default false. */
  ceilMode?: boolean;
  /** AveragePool: whether padding counts toward the divisor. */
  countIncludePad?: boolean;
}

/** What the fused `Backend.layerNorm` returns: the output and the statistics the backward reads. */
export interface LayerNormResult {
  /** The normalized output, x's shape and dtype. */
  y: Tensor;
  /** Mean over the normalized axes, shape = x.shape[:axis] + [1]*(rank-axis). */
  mean: Tensor;
  /** 1/sqrt(var + ε), same shape as `mean`. */
  invStdDev: Tensor;
}

/**
 * Kernels of the backward pass that no forward kernel does in one pass. A backend may provide its own
 * (`Backend.grads`); the ops' gradients otherwise use the CPU backend's, which read values to the host.
 * Every tensor has the dtype of `dy`; shapes are already checked.
 */
export interface GradKernels {
  /** dy · f′(x) elementwise for a unary op, in one pass; `y` = f(x) (some derivatives read it). */
  unary(op: UnaryOp | UnaryParamOp, x: Tensor, y: Tensor, dy: Tensor): Tensor;
  /** The gradient of softmax (`log` false) or logSoftmax along `axis`, from the output `y`. */
  softmax(dy: Tensor, y: Tensor, axis: number, log: boolean): Tensor;
  /** `dy` (keepDims shape) times the product of the other elements of each reduced group of `x`. */
  prod(dy: Tensor, x: Tensor, axes: readonly number[]): Tensor;
  /** Gradients of `conv` for x (a transposed convolution of dy) and for w; `need` skips either (default: both). */
  conv(
    dy: Tensor,
    x: Tensor,
    w: Tensor,
    opts: Required<ConvOptions>,
    need?: { dx?: boolean; dw?: boolean },
  ): { dx: Tensor | undefined; dw: Tensor | undefined };
  /** Gradient of a pooling op for x: to the first maximum of each window, or spread over it. */
  pool(kind: 'max' | 'avg', dy: Tensor, x: Tensor, opts: Required<PoolOptions>): Tensor;
  /** Gradient of `gather` for the table: dy scatter-added into zeros of `xShape` at the indices. */
  gather(dy: Tensor, indices: Tensor, xShape: readonly number[], axis: number): Tensor;
  /** Gradient of `slice` (normalized starts/steps as the backend's `slice` got them): dy in zeros of `xShape`. */
  slice(dy: Tensor, xShape: readonly number[], starts: readonly number[], steps: readonly number[]): Tensor;
  /** Gradient of a reflect/edge `pad`: each element of dy added to the input element it was copied from. */
  pad(dy: Tensor, xShape: readonly number[], pads: readonly number[], mode: 'reflect' | 'edge'): Tensor;
  /** Gradient of `selfAttention` for the packed qkv [B, T, 3·d], from dy [B, T, d] (and what the forward kept). */
  selfAttention(dy: Tensor, qkv: Tensor, heads: number, scale: number, probs?: Tensor): Tensor;
}

/** What `Backend.layerNormBackward` / `rmsNormBackward` differentiate: the fused norm over axes [axis, rank). */
export interface NormBackwardOptions {
  /** First normalized axis (already normalized, ≥ 0): statistics over axes [axis, rank) of x. */
  axis: number;
  /** ε added to the variance (mean square for RMSNorm) under the square root. */
  epsilon: number;
  /**
   * γ over axes [paramAxis, rank) of x, exactly that many elements (any shape; a broadcast γ is
   * expanded by the caller). Absent: γ = 1 and no dScale.
   */
  scale?: Tensor;
  /** Whether to return dBias (Σ dy over the axes before paramAxis). */
  bias: boolean;
  /**
   * First axis that γ, dScale and dBias span, ≤ axis; default axis. Below axis γ is per feature across
   * groups: PLN / LN-G is x viewed as [..., G, d/G] with axis = rank − 1 and paramAxis = rank − 2.
   */
  paramAxis?: number;
}

/** Gradients of a fused norm: dx (x's shape), dScale and dBias (shape x.shape[paramAxis:]), all in x's dtype. */
export interface NormBackwardResult {
  /** Gradient for x. */
  dx: Tensor;
  /** Gradient for γ; present when `scale` was given. */
  dScale?: Tensor;
  /** Gradient for β; present when `bias` was true. */
  dBias?: Tensor;
}

/**
 * The kernels every backend provides. Public ops (`add`, `matmul`, `layerNormKernel`, ...) validate
 * their arguments, then dispatch here through the active backend. Shapes and dtypes reaching a
 * backend are already checked, so kernels need not re-validate.
 */
export interface Backend {
  /** The name `registerBackend` registers it under and `setBackend` selects it by (e.g. `cpu`, `gpu`). */
  readonly name: string;
  /** Elementwise `op` over x; same shape and dtype (`not` takes and returns bool). */
  unary(op: UnaryOp, x: Tensor): Tensor;
  /** Elementwise parameterised op `p` (leakyRelu, elu, clip, ...) over x; same shape and dtype. */
  unaryParam(p: UnaryParamOp, x: Tensor): Tensor;
  /** Broadcasting binary op; comparisons and logic ops return bool. `outShape` is the broadcast shape. */
  binary(op: BinaryOp, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor;
  /** Broadcasting select: `a` where the bool `cond` is true, else `b` (a and b share a dtype); `outShape` is the broadcast shape. */
  where(cond: Tensor, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor;
  /** Reduce over sorted, normalized `axes` (non-empty). */
  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor;
  /** int64 index of the max/min along the normalized, non-empty `axis`; ties go to the first index unless `selectLastIndex`. */
  argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean, selectLastIndex: boolean): Tensor;
  /** Softmax (or, with `log`, logSoftmax) of a float x along the normalized `axis`. */
  softmax(x: Tensor, axis: number, log: boolean): Tensor;
  /** Batched matmul with broadcast batch dims; `a` is [..., M, K], `b` is [..., K, N] (both rank ≥ 2). */
  matmul(a: Tensor, b: Tensor): Tensor;
  /** ONNX Gemm on 2-D a, b: alpha·op(a)·op(b) + beta·c, op transposing when transA/transB; `c` broadcasts to [M, N]. */
  gemm(a: Tensor, b: Tensor, c: Tensor | undefined, opts: Required<GemmOptions>): Tensor;
  /** Convolution of x [N, Cin, ...spatial] with w [Cout, Cin/group, ...kernel] plus an optional bias [Cout]. */
  conv(x: Tensor, w: Tensor, bias: Tensor | undefined, opts: Required<ConvOptions>): Tensor;
  /** Max or average pooling of x [N, C, ...spatial] over windows of `opts.kernelShape`. */
  pool(kind: 'max' | 'avg', x: Tensor, opts: Required<PoolOptions>): Tensor;
  /** Permutes x's axes: output axis i is input axis perm[i] (`perm` normalized, a full permutation). */
  transpose(x: Tensor, perm: readonly number[]): Tensor;
  /** Joins one or more tensors of equal dtype and equal shape off `axis` along the normalized `axis`. */
  concat(xs: readonly Tensor[], axis: number): Tensor;
  /** Per-axis normalized starts/steps and output sizes (already clamped). */
  slice(x: Tensor, starts: readonly number[], steps: readonly number[], outShape: readonly number[]): Tensor;
  /** Pads x by ONNX `pads` [begin_0, ..., end_0, ...] (2·rank entries): with `value`, mirrored (reflect) or repeated edges. */
  pad(x: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge', value: number): Tensor;
  /** ONNX Gather: picks entries of x along `axis` at the int32/int64 `indices` (checked in range; negative counts from the end). */
  gather(x: Tensor, indices: Tensor, axis: number): Tensor;
  /** Broadcasts x to `outShape` (already the broadcast of both shapes), copying the values. */
  expand(x: Tensor, outShape: readonly number[]): Tensor;
  /** Repeats x `repeats[i]` times along each axis i (one entry per axis). */
  tile(x: Tensor, repeats: readonly number[]): Tensor;
  /** Converts x's values to `dtype` (never called when x already has it). */
  cast(x: Tensor, dtype: DType): Tensor;
  /**
   * Fused LayerNorm over axes [axis, rank): at most two passes over the data. `out` (checked: x's shape
   * and dtype, host storage; may be x itself) receives y when the backend can write into it; a backend
   * that ignores it stays correct, since `layerNormKernel` then copies y into `out`.
   */
  layerNorm(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, epsilon: number, out?: Tensor): LayerNormResult;
  /** Fused RMSNorm over axes [axis, rank): one pass for the statistic plus the write. `out` as for `layerNorm`. */
  rmsNorm(x: Tensor, scale: Tensor | undefined, bias: Tensor | undefined, axis: number, epsilon: number, out?: Tensor): Tensor;
  /** Kernels of the backward pass; absent: the CPU backend's are used. */
  readonly grads?: GradKernels;
  /** Makes sure `x`'s values are readable on the host (device backends read back). */
  read?(x: Tensor): Tensor;
  /** Frees backend resources (kernel caches, workers). */
  dispose?(): void;
  /**
   * Backward of the fused LayerNorm (as `layerNorm` computes it) given dy: dx, and dScale = Σ dy·x̂,
   * dBias = Σ dy over the rows. Optional: without it the norm package's host float64 path runs.
   */
  layerNormBackward?(dy: Tensor, x: Tensor, opts: NormBackwardOptions): NormBackwardResult;
  /** Backward of the fused RMSNorm, as `layerNormBackward` (x̂ = x / sqrt(mean(x²) + ε)). Optional. */
  rmsNormBackward?(dy: Tensor, x: Tensor, opts: NormBackwardOptions): NormBackwardResult;
  /**
   * Self-attention of packed QKV [B, T, 3·d] (Q, K, V each [heads, d/heads] along the last axis) →
   * `y` [B, T, d], heads side by side; with `keepProbs` (a gradient will follow) also whatever of the
   * attention probabilities `grads.selfAttention` can use. Optional: without it the CPU kernel runs
   * on the host values.
   */
  selfAttention?(qkv: Tensor, heads: number, scale: number, keepProbs?: boolean): { y: Tensor; probs?: Tensor };
}

// The CPU backend is created lazily on first use, so importing this package has no side effects.
const registry = new Map<string, Backend>();
let active: Backend | undefined;

/**
 * Registers a backend under its name. The CPU backend registers itself on import of this package.
 * @example registerBackend(new GpuBackend()); setBackend('gpu');
 */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** Makes the named, registered backend the one ops dispatch to. @example setBackend('cpu') */
export function setBackend(name: string): Backend {
  if (name === 'cpu' && !registry.has('cpu')) registry.set('cpu', new CpuBackend());
  const b = registry.get(name);
  if (!b)
    throw new NormkitError(
      'UNKNOWN_BACKEND',
      `setBackend: no backend named "${name}" is registered (registered: ${[...registry.keys()].join(', ') || 'none'}); import the package that provides it and call registerBackend first`,
    );
  active = b;
  return b;
}

/** The backend ops dispatch to (the CPU backend unless `setBackend` chose another). @example getBackend().name // 'cpu' */
export function getBackend(): Backend {
  if (!active) {
    active = registry.get('cpu') ?? new CpuBackend();
    registry.set(active.name, active);
  }
  return active;
}

/** Names of registered backends. @example listBackends() // ['cpu', 'gpu'] */
export function listBackends(): string[] {
  return [...registry.keys()];
}

/** Runs `fn` with `backend` active, restoring the previous one after. @example withBackend(cpu, () => matmul(a, b)) */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const prev = active;
  active = backend;
  try {
    return fn();
  } finally {
    active = prev;
  }
}
