import type { BinaryOp, UnaryOp, UnaryParamOp } from '../backend.js';
import { allocate, type DType, isFloat } from '../dtype.js';
import { broadcastStrides, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { erfWasm, geluWasm, sigmoidWasm } from './fused-wasm.js';

/** erf by Abramowitz–Stegun 7.1.26 refined: max abs error ~1.2e-7 (W. J. Cody's rational form would be overkill for float32). */
export function erfScalar(x: number): number {
  // Numerical Recipes erfc (Chebyshev), relative error < 1.2e-7 everywhere.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function unaryFn(op: UnaryOp): (v: number) => number {
  switch (op) {
    case 'neg':
      return (v) => -v;
    case 'abs':
      return Math.abs;
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'sqrt':
      return Math.sqrt;
    case 'rsqrt':
      return (v) => 1 / Math.sqrt(v);
    case 'reciprocal':
      return (v) => 1 / v;
    case 'erf':
      return erfScalar;
    case 'tanh':
      return Math.tanh;
    case 'sigmoid':
      return (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
    case 'relu':
      return (v) => Math.max(v, 0);
    case 'gelu':
      return (v) => 0.5 * v * (1 + erfScalar(v / Math.SQRT2));
    case 'geluTanh':
      return (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    case 'silu':
      return (v) => v / (1 + Math.exp(-v));
    case 'softplus':
      return (v) => (v > 20 ? v : Math.log1p(Math.exp(v)));
    case 'sin':
      return Math.sin;
    case 'cos':
      return Math.cos;
    case 'floor':
      return Math.floor;
    case 'ceil':
      return Math.ceil;
    // ONNX Round: half to even.
    case 'round':
      return (v) => {
        const r = Math.round(v);
        return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
      };
    case 'sign':
      return Math.sign;
    case 'not':
      return (v) => (v ? 0 : 1);
  }
}

export function unaryParamFn(p: UnaryParamOp): (v: number) => number {
  switch (p.op) {
    case 'leakyRelu':
      return (v) => (v >= 0 ? v : p.alpha * v);
    case 'elu':
      return (v) => (v >= 0 ? v : p.alpha * (Math.exp(v) - 1));
    case 'hardSigmoid':
      return (v) => Math.max(0, Math.min(1, p.alpha * v + p.beta));
    case 'hardSwish':
      return (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5));
    case 'clip':
      return (v) => Math.min(Math.max(v, p.min), p.max);
    case 'powScalar':
      return p.exponent === 2 ? (v) => v * v : p.exponent === 0.5 ? Math.sqrt : (v) => v ** p.exponent;
  }
}

/** The float32 unary ops with a WebAssembly SIMD kernel (each returns false where WebAssembly is unavailable). */
const WASM_UNARY: Partial<Record<UnaryOp, (x: Float32Array, y: Float32Array) => boolean>> = {
  gelu: geluWasm,
  erf: erfWasm,
  sigmoid: sigmoidWasm,
};

/**
 * A unary op elementwise: float32 GELU and erf on the WebAssembly kernels, ReLU in a direct loop,
 * everything else through `mapUnary`.
 * @example unaryKernel('gelu', Tensor.from([0, 1])) // [0, 0.8413]
 */
export function unaryKernel(op: UnaryOp, x: Tensor): Tensor {
  const src = x.data;
  const wasm = WASM_UNARY[op];
  if (wasm && src instanceof Float32Array) {
    const out = allocate('float32', src.length, false);
    if (wasm(src, out)) return new Tensor(x.shape, x.dtype, out as never);
  }
  if (op === 'relu' && (src instanceof Float32Array || src instanceof Float64Array)) {
    const out = allocate(x.dtype, src.length, false) as Float32Array;
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      out[i] = Math.max(v, 0); // NaN stays NaN
    }
    return new Tensor(x.shape, x.dtype, out as never);
  }
  return mapUnary(x, unaryFn(op));
}

/** Applies a number → number map elementwise, keeping the dtype (int dtypes round toward zero). */
export function mapUnary(x: Tensor, f: (v: number) => number, outDtype: DType = x.dtype): Tensor {
  const src = x.data;
  const n = src.length;
  const out = allocate(outDtype, n, false); // every element is written
  if (src instanceof BigInt64Array) {
    const o = out as BigInt64Array;
    for (let i = 0; i < n; i++) o[i] = BigInt(Math.trunc(f(Number(src[i]))));
  } else if (out instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) out[i] = BigInt(Math.trunc(f(src[i] as number)));
  } else {
    const o = out as Float32Array;
    for (let i = 0; i < n; i++) o[i] = f(src[i] as number);
  }
  return new Tensor(x.shape, outDtype, out);
}

export function binaryFn(op: BinaryOp, dtype: DType): (a: number, b: number) => number {
  const intDiv = !isFloat(dtype);
  switch (op) {
    case 'add':
      return (a, b) => a + b;
    case 'sub':
      return (a, b) => a - b;
    case 'mul':
      return (a, b) => a * b;
    case 'div':
      return intDiv ? (a, b) => Math.trunc(a / b) : (a, b) => a / b;
    case 'pow':
      return (a, b) => (b === 2 ? a * a : a ** b);
    case 'min':
      return (a, b) => (a < b || Number.isNaN(a) ? a : b);
    case 'max':
      return (a, b) => (a > b || Number.isNaN(a) ? a : b);
    // ONNX Mod with fmod=0: sign of the divisor (Python semantics).
    case 'mod':
      return (a, b) => {
        const r = a % b;
        return r !== 0 && r < 0 !== b < 0 ? r + b : r;
      };
    case 'equal':
      return (a, b) => (a === b ? 1 : 0);
    case 'less':
      return (a, b) => (a < b ? 1 : 0);
    case 'lessEqual':
      return (a, b) => (a <= b ? 1 : 0);
    case 'greater':
      return (a, b) => (a > b ? 1 : 0);
    case 'greaterEqual':
      return (a, b) => (a >= b ? 1 : 0);
    case 'and':
      return (a, b) => (a && b ? 1 : 0);
    case 'or':
      return (a, b) => (a || b ? 1 : 0);
    case 'xor':
      return (a, b) => (!a !== !b ? 1 : 0);
  }
}

const BOOL_OPS = new Set<BinaryOp>(['equal', 'less', 'lessEqual', 'greater', 'greaterEqual', 'and', 'or', 'xor']);

/**
 * Broadcast loop: calls `body(outIndex, offsets...)` for every output element with the flat
 * offsets into each input. The innermost dim runs as a tight loop with constant strides.
 */
export function forEachBroadcast(
  outShape: readonly number[],
  inputs: readonly (readonly number[])[],
  body: (o: number, offs: number[]) => void,
): void {
  const rank = outShape.length;
  const size = sizeOf(outShape);
  if (size === 0) return;
  const strides = inputs.map((s) => broadcastStrides(s, outShape));
  const offs = inputs.map(() => 0);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < size; o++) {
    body(o, offs);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < offs.length; k++) offs[k]! += strides[k]![d]!;
      if (idx[d]! < outShape[d]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= strides[k]![d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

export function binaryKernel(op: BinaryOp, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
  const outDtype: DType = BOOL_OPS.has(op) ? 'bool' : a.dtype;
  const size = sizeOf(outShape);
  const out = allocate(outDtype, size, false); // every element is written
  const ad = a.data;
  const bd = b.data;
  if (ad instanceof BigInt64Array || bd instanceof BigInt64Array) {
    const f = binaryFn(op, 'int64');
    forEachBroadcast(outShape, [a.shape, b.shape], (o, [ia, ib]) => {
      const v = f(Number(ad[ia!]), Number(bd[ib!]));
      if (out instanceof BigInt64Array) out[o] = BigInt(Math.trunc(v));
      else (out as Uint8Array)[o] = v;
    });
    return new Tensor(outShape, outDtype, out);
  }
  broadcastBinary(op, a.dtype, ad as Float32Array, a.shape, bd as Float32Array, b.shape, out as Float32Array, outShape);
  return new Tensor(outShape, outDtype, out);
}

/**
 * O = A op B broadcast to `outShape`, for number-valued arrays. Dims are collapsed wherever both inputs
 * stay contiguous (or both broadcast), so the work is a few outer rows of one inner loop whose input
 * strides are 0 or 1 — a bias add, a per-channel scale over H×W, a scalar divide and a same-shape add all
 * run as tight loops instead of per-element index arithmetic.
 */
function broadcastBinary(
  op: BinaryOp,
  dtype: DType,
  A: Float32Array,
  aShape: readonly number[],
  B: Float32Array,
  bShape: readonly number[],
  O: Float32Array,
  outShape: readonly number[],
): void {
  if (O.length === 0) return;
  const { dims, sa, sb } = collapseBroadcast(outShape, broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape));
  const r = dims.length - 1;
  const n = dims[r] as number;
  const ia = sa[r] as number;
  const ib = sb[r] as number;
  const loop = innerLoop(op, dtype);
  const idx = new Array<number>(r).fill(0);
  let offA = 0;
  let offB = 0;
  for (let o = 0; o < O.length; o += n) {
    loop(A, offA, ia, B, offB, ib, O, o, n);
    for (let d = r - 1; d >= 0; d--) {
      offA += sa[d] as number;
      offB += sb[d] as number;
      if (++(idx[d] as number) < (dims[d] as number)) break;
      offA -= (sa[d] as number) * (dims[d] as number);
      offB -= (sb[d] as number) * (dims[d] as number);
      idx[d] = 0;
    }
  }
}

/** Drops size-1 dims and merges each dim into the next where both inputs' strides continue contiguously. */
function collapseBroadcast(outShape: readonly number[], a: number[], b: number[]): { dims: number[]; sa: number[]; sb: number[] } {
  const dims: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let d = 0; d < outShape.length; d++) {
    const n = outShape[d] as number;
    if (n === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && sa[k] === (a[d] as number) * n && sb[k] === (b[d] as number) * n) {
      dims[k] = (dims[k] as number) * n;
      sa[k] = a[d] as number;
      sb[k] = b[d] as number;
    } else {
      dims.push(n);
      sa.push(a[d] as number);
      sb.push(b[d] as number);
    }
  }
  if (dims.length === 0) return { dims: [1], sa: [0], sb: [0] };
  return { dims, sa, sb };
}

type InnerLoop = (
  A: Float32Array,
  ia: number,
  sa: number,
  B: Float32Array,
  ib: number,
  sb: number,
  O: Float32Array,
  o: number,
  n: number,
) => void;

/** O[o + i] = A[ia + i·sa] op B[ib + i·sb] for i < n; the common float ops without a call per element. */
function innerLoop(op: BinaryOp, dtype: DType): InnerLoop {
  const float = isFloat(dtype);
  if (op === 'add')
    return (A, ia, sa, B, ib, sb, O, o, n) => {
      for (let i = 0; i < n; i++) O[o + i] = A[ia + i * sa]! + B[ib + i * sb]!;
    };
  if (op === 'sub')
    return (A, ia, sa, B, ib, sb, O, o, n) => {
      for (let i = 0; i < n; i++) O[o + i] = A[ia + i * sa]! - B[ib + i * sb]!;
    };
  if (op === 'mul')
    return (A, ia, sa, B, ib, sb, O, o, n) => {
      for (let i = 0; i < n; i++) O[o + i] = A[ia + i * sa]! * B[ib + i * sb]!;
    };
  if (op === 'div' && float)
    return (A, ia, sa, B, ib, sb, O, o, n) => {
      for (let i = 0; i < n; i++) O[o + i] = A[ia + i * sa]! / B[ib + i * sb]!;
    };
  const f = binaryFn(op, dtype);
  return (A, ia, sa, B, ib, sb, O, o, n) => {
    for (let i = 0; i < n; i++) O[o + i] = f(A[ia + i * sa]!, B[ib + i * sb]!);
  };
}

export function whereKernel(cond: Tensor, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
  const out = allocate(a.dtype, sizeOf(outShape));
  const c = cond.data as Uint8Array;
  const ad = a.data;
  const bd = b.data;
  forEachBroadcast(outShape, [cond.shape, a.shape, b.shape], (o, [ic, ia, ib]) => {
    (out as Float32Array)[o] = (c[ic!] ? ad[ia!] : bd[ib!]) as number;
  });
  return new Tensor(outShape, a.dtype, out);
}
