import * as T from '@normkit/tensor';
import { fmtShape, isConstantData, markConstant, Tensor } from '@normkit/tensor';
import { elemTypeName, narrowValue, tagElemType, taggedElemType, unpackBits } from '../elem-types.js';
import { attr } from '../ir.js';
import { type InferredValue, matmulShape, normAxis } from './dims.js';
import { windowPads } from './ops-nn.js';
import { defineOnnxOp, has, invalid, need, type OpContext, onnxOp, opt, type ShapeContext, unsupported } from './registry.js';

// Quantization ops: QuantizeLinear / DequantizeLinear (per-tensor, per-axis, blocked), DynamicQuantizeLinear,
// MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv and com.microsoft MatMulNBits. Narrow integers
// (int8, uint8, int16, uint16, int4, uint4) are held in int32 tensors tagged with their ONNX type (see
// `tagElemType`); the arithmetic is onnxruntime's CPU kernels': float32 division and products, round
// half to even, saturation to the type's range. Integer products are summed exactly (float64 matmul).

/** Saturation range of each quantized integer type, by ONNX type code. */
const RANGE: Record<number, readonly [number, number]> = {
  2: [0, 255],
  3: [-128, 127],
  4: [0, 65535],
  5: [-32768, 32767],
  21: [0, 15],
  22: [-8, 7],
};
const UINT8 = 2;
const INT32 = 6;
const f32 = Math.fround;
type Nums = ArrayLike<number>;

/** The saturation range [lo, hi] of a quantized integer type (ONNX type code), or undefined. @example quantRange(3) // [-128, 127] */
export function quantRange(code: number): readonly [number, number] | undefined {
  return RANGE[code];
}

/**
 * Maps each element index of a tensor of `shape` to the index of its scale (and zero point): 0 when
 * `perTensor`, the index along `axis` (per-axis, `block` 0), or the block of `block` indices along it
 * within a scale of the tensor's shape with that axis divided by `block`, rounded up (blocked).
 * @example quantParamIndex([2, 4], 1, 2, false)(5) // 2 (row 1, block 0)
 */
export function quantParamIndex(shape: readonly number[], axis: number, block: number, perTensor: boolean): (i: number) => number {
  if (perTensor) return () => 0;
  const dim = shape[axis] as number;
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  if (block === 0) return (i) => Math.floor(i / inner) % dim;
  const nb = Math.ceil(dim / block);
  return (i) => {
    const c = Math.floor(i / inner) % dim;
    return (Math.floor(i / (inner * dim)) * nb + Math.floor(c / block)) * inner + (i % inner);
  };
}

/** Round half to even (`std::nearbyint` in the default rounding mode). @example roundHalfEven(2.5) // 2 */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** `q` rounded (half to even), shifted by `zp` and saturated to `range`. */
function saturate(v: number, zp: number, range: readonly [number, number]): number {
  const q = roundHalfEven(v) + zp;
  return Math.max(range[0], Math.min(q, range[1]));
}

/** The ONNX type a zero point holds: its tag, int32 for a plain int32 tensor, undefined when absent. */
function zeroPointType(ctx: OpContext, zp: Tensor | undefined, what: string): number | undefined {
  if (!zp) return undefined;
  const tag = taggedElemType(zp);
  if (tag !== undefined) return tag;
  if (zp.dtype === 'int32') return INT32;
  throw invalid(ctx, `${what} must be an integer tensor (int8, uint8, ...), got ${zp.dtype}`);
}

/** The quantized type an op produces: `output_dtype` (opset 21) or the zero point's type, uint8 without either. */
function quantizedType(ctx: OpContext, zp: Tensor | undefined, what: string): number {
  const out = ctx.opset >= 21 && ctx.node.opType === 'QuantizeLinear' ? attr(ctx.node, 'output_dtype', 'int', 0) : 0;
  const z = zeroPointType(ctx, zp, what);
  if (out && z !== undefined && out !== z)
    throw invalid(ctx, `output_dtype ${elemTypeName(out)} differs from ${what}'s type ${elemTypeName(z)}; make them the same`);
  const code = out || z || UINT8;
  if (RANGE[code]) return code;
  if (code === INT32)
    throw invalid(
      ctx,
      `${what} "${ctx.node.inputs[ctx.inputs.indexOf(zp)]}" is a plain int32 tensor, so its 8-bit type is unknown; store it as int8/uint8 (or tag it with tagElemType)`,
    );
  throw unsupported(ctx, `quantizing to ${elemTypeName(code)}`);
}

/** Optional input `i`, undefined when omitted or empty. */

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Maps each element index of `x` to the index of its scale (and zero point): one scale (per-tensor), one
 * per index along `axis` (per-axis, opset ≥ 13), or one per `block_size` indices along it (blocked,
 * opset ≥ 21, the scale then having x's shape with that axis divided by the block size, rounded up).
 */
function paramIndex(ctx: OpContext, x: Tensor, scale: Tensor, zp: Tensor | undefined): (i: number) => number {
  if (zp && !sameDims(zp.shape, scale.shape))
    throw invalid(ctx, `zero point ${fmtShape(zp.shape)} must have the scale's shape ${fmtShape(scale.shape)}`);
  const block = ctx.opset >= 21 ? attr(ctx.node, 'block_size', 'int', 0) : 0;
  if (block === 0 && scale.size === 1 && scale.rank <= 1) return quantParamIndex(x.shape, 0, 0, true);
  if (ctx.opset < 13) throw invalid(ctx, `the scale must be a scalar before opset 13, got ${fmtShape(scale.shape)}`);
  const a = attr(ctx.node, 'axis', 'int', 1);
  const axis = normAxis(a, x.rank);
  if (!(axis >= 0 && axis < x.rank)) throw invalid(ctx, `axis ${a} is outside the rank ${x.rank} of x ${fmtShape(x.shape)}`);
  const dim = x.shape[axis] as number;
  if (block === 0) {
    if (scale.rank !== 1 || scale.size !== dim)
      throw invalid(
        ctx,
        `a per-axis scale must be 1-D of size ${dim} (axis ${axis} of x ${fmtShape(x.shape)}), got ${fmtShape(scale.shape)}`,
      );
    return quantParamIndex(x.shape, axis, 0, false);
  }
  const nb = block > 0 ? Math.ceil(dim / block) : -1;
  const want = x.shape.map((d, k) => (k === axis ? nb : d));
  if (block < 0 || !sameDims(scale.shape, want))
    throw invalid(
      ctx,
      `block_size ${block} along axis ${axis} of x ${fmtShape(x.shape)} needs a scale of shape ${fmtShape(want)}, got ${fmtShape(scale.shape)}; check block_size`,
    );
  return quantParamIndex(x.shape, axis, block, false);
}

/** Quantized values as an int32 tensor tagged with their ONNX type. */
const quantized = (shape: readonly number[], values: Int32Array, code: number) => tagElemType(new Tensor(shape, 'int32', values), code);

/** QuantizeLinear: y = saturate(round(x / y_scale) + y_zero_point), per-tensor, per-axis or blocked. */
function quantizeLinear(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'x');
  const scale = need(ctx, 1, 'y_scale');
  const zp = opt(ctx, 2);
  const code = quantizedType(ctx, zp, 'y_zero_point');
  const range = RANGE[code] as readonly [number, number];
  const at = paramIndex(ctx, x, scale, zp);
  const xs = x.data as Nums;
  const s = scale.data as Nums;
  const z = zp?.data as Nums | undefined;
  const out = new Int32Array(x.size);
  for (let i = 0; i < out.length; i++) {
    const p = at(i);
    out[i] = saturate(f32((xs[i] as number) / (s[p] as number)), z ? (z[p] as number) : 0, range);
  }
  return [quantized(x.shape, out, code)];
}

/** DequantizeLinear: y = (x − x_zero_point) · x_scale, in the scale's float type (float16 rounded in its float32 carrier). */
function dequantizeLinear(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'x');
  const scale = need(ctx, 1, 'x_scale');
  const zp = opt(ctx, 2);
  if (x.dtype !== 'int32') throw invalid(ctx, `x must hold quantized integers (int8, uint8, int4, int32...), got ${x.dtype}`);
  const xt = taggedElemType(x);
  const zt = zp && zeroPointType(ctx, zp, 'x_zero_point');
  if (xt !== undefined && zt !== undefined && zt !== INT32 && xt !== zt)
    throw invalid(ctx, `x_zero_point is ${elemTypeName(zt)} but x is ${elemTypeName(xt)}; they must have the same type`);
  const at = paramIndex(ctx, x, scale, zp);
  const xs = x.data as Nums;
  const s = scale.data as Nums;
  const z = zp?.data as Nums | undefined;
  const outType = (ctx.opset >= 23 ? attr(ctx.node, 'output_dtype', 'int', 0) : 0) || taggedElemType(scale) || 1;
  const out = new Float32Array(x.size);
  for (let i = 0; i < out.length; i++) {
    const p = at(i);
    out[i] = narrowValue(outType, f32(f32((xs[i] as number) - (z ? (z[p] as number) : 0)) * (s[p] as number)));
  }
  const y = new Tensor(x.shape, 'float32', out);
  return [outType === 1 ? y : tagElemType(y, outType)];
}

/**
 * DynamicQuantizeLinear: uint8 y, its scale and zero point from x's range (widened to include 0), as
 * onnxruntime computes them: scale = (max − min) / 255 (1 when x is all zeros), zero point =
 * round(saturate(−min / scale)).
 */
function dynamicQuantizeLinear(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'x');
  const xs = x.data as Nums;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi === lo ? 1 : f32(f32(hi - lo) / 255);
  const zp = roundHalfEven(Math.max(0, Math.min(255, f32(0 - f32(lo / scale)))));
  const out = new Int32Array(x.size);
  // Adding and subtracting 1.5 · 2^52 rounds a double half to even (|x / scale| ≤ 255 here): roundHalfEven, faster.
  const RNE = 6755399441055744;
  for (let i = 0; i < out.length; i++) {
    const q = f32((xs[i] as number) / scale) + RNE - RNE + zp;
    out[i] = Math.max(0, Math.min(q, 255));
  }
  return [quantized(x.shape, out, UINT8), Tensor.scalar(scale, 'float32'), quantized([], Int32Array.of(zp), UINT8)];
}

/** Throws naming `what` when zero point `zp` has another integer type than `t`. */
function checkZeroPoint(ctx: OpContext, t: Tensor, zp: Tensor | undefined, what: string): void {
  if (!zp) return;
  const tt = taggedElemType(t);
  const zt = zeroPointType(ctx, zp, `${what}'s zero point`);
  if (tt !== undefined && zt !== INT32 && tt !== zt)
    throw invalid(
      ctx,
      `${what}'s zero point is ${elemTypeName(zt as number)} but ${what} is ${elemTypeName(tt)}; they must have the same type`,
    );
}

/**
 * `t` − `zp` in float64 (exact for integers): `zp` one value, or one per index along `axis` (a
 * per-row / per-column / per-channel zero point, 1-D of that axis's size). Checks the two types agree.
 */
function shifted(ctx: OpContext, t: Tensor, zp: Tensor | undefined, axis: number, what: string): Tensor {
  if (t.dtype !== 'int32') throw invalid(ctx, `${what} must hold quantized integers (int8, uint8...), got ${t.dtype}`);
  const v = T.cast(t, 'float64');
  if (!zp) return v;
  checkZeroPoint(ctx, t, zp, what);
  if (zp.size === 1 && zp.rank <= 1) return T.sub(v, Number(zp.data[0]));
  const d = t.shape[axis];
  if (axis < 0 || zp.rank !== 1 || zp.size !== d)
    throw invalid(
      ctx,
      `${what}'s zero point must be a scalar or 1-D of size ${d ?? '?'} (axis ${axis} of ${fmtShape(t.shape)}), got ${fmtShape(zp.shape)}`,
    );
  return T.sub(v, T.cast(zp, 'float64').reshape([d, ...new Array(t.rank - 1 - axis).fill(1)]));
}

/** Exact integer results (float64 sums) as int32, wrapping as onnxruntime's int32 accumulators do. */
function int32Of(y: Tensor): Tensor {
  const v = y.data as Float64Array;
  const out = new Int32Array(v.length); // a loop: Int32Array.from(v, f) iterates, about 100 ns an element
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) | 0;
  return new Tensor(y.shape, 'int32', out);
}

/** Largest |value| of a float64 tensor. */
function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.data as Float64Array) m = Math.max(m, Math.abs(v));
  return m;
}

/** A bound on |value − zero point| from `t`'s integer type, or undefined for an untagged tensor or a zero point outside the type. */
function typeBound(t: Tensor, zp: Tensor | undefined): number | undefined {
  const range = RANGE[taggedElemType(t) ?? -1];
  if (!range) return undefined;
  const zps = zp ? Array.from(zp.data as Nums, Number) : [0];
  // The type's whole span, whatever the zero point inside it: a bound that stays the same from call to
  // call (DynamicQuantizeLinear picks a new zero point each time), so a kept weight's chunks stay valid.
  return zps.every((z) => z >= range[0] && z <= range[1]) ? range[1] - range[0] : undefined;
}

/** B − b_zero_point in float32 chunks of `chunk` rows of K, for the products of integerMatmul. */
interface IntegerWeight {
  chunk: number;
  parts: Tensor[];
  /** Largest |B − b_zero_point|. */
  maxB: number;
}

/** Float32 chunks of constant integer weights (MatMulInteger, QLinearMatMul), by B's data and chunk length. */
const integerWeights = new WeakMap<object, IntegerWeight>();

/**
 * B − b_zero_point cut along K into float32 chunks short enough that, against values of A up to
 * `boundA`, every product and partial sum is an integer below 2^24 (exact in float32 in any order,
 * fused multiply-adds included); undefined when even 16 values of K would not be. A constant 2-D B
 * is kept (marked constant, so the GEMM packs it once) while the quantized-weight budget allows.
 */
function integerWeight(ctx: OpContext, b: Tensor, bzp: Tensor | undefined, boundA: number): IntegerWeight | undefined {
  const constant = b.rank === 2 && b.onHost && isConstantData(b.data) && (!bzp || (bzp.onHost && isConstantData(bzp.data)));
  const hit = constant ? integerWeights.get(b.data) : undefined;
  if (hit && hit.chunk === Math.floor(2 ** 24 / Math.max(1, boundA * hit.maxB))) return hit;
  const B = shifted(ctx, b, bzp, b.rank - 1, 'B');
  const maxB = maxAbs(B);
  const chunk = Math.floor(2 ** 24 / Math.max(1, boundA * maxB));
  if (chunk < 16) return undefined;
  const K = B.shape[B.rank - 2] as number;
  const parts: Tensor[] = [];
  for (let k0 = 0; k0 < K; k0 += chunk) parts.push(T.cast(chunk >= K ? B : T.slice(B, [k0], [Math.min(K, k0 + chunk)], [-2]), 'float32'));
  const w: IntegerWeight = { chunk, parts, maxB };
  const bytes = B.size * 4;
  if (constant && (hit || dequantizedBytes + bytes <= dequantizedMaxBytes)) {
    for (const t of parts) markConstant(t);
    integerWeights.set(b.data, w); // replaces a kept copy cut for another bound: the same bytes
    if (!hit) {
      dequantizedBytes += bytes;
      dequantizedFreed?.register(b.data, bytes);
    }
  }
  return w;
}

/**
 * (A − a_zero_point) · (B − b_zero_point) as exact sums wrapped to int32 (as onnxruntime's int32
 * accumulators wrap); zero points per-tensor, per-row of A, per-column of B. Runs on the float32 GEMM
 * over chunks of K (see `integerWeight`; about 500 values of K for uint8 × int8) that add up in
 * float64. Values too wide for that (16-bit) take a float64 product.
 */
function integerMatmul(ctx: OpContext, a: Tensor, azp: Tensor | undefined, b: Tensor, bzp: Tensor | undefined): Tensor {
  const rows = integerMatmulRows(ctx, a, azp, b, bzp);
  if (rows) return rows;
  const A = shifted(ctx, a, azp, a.rank - 2, 'A');
  const w = A.rank >= 2 && b.rank >= 2 ? integerWeight(ctx, b, bzp, typeBound(a, azp) ?? maxAbs(A)) : undefined;
  if (!w) return int32Of(T.matmul(A, shifted(ctx, b, bzp, b.rank - 1, 'B')));
  const K = A.shape[A.rank - 1] as number;
  let sum: Tensor | undefined;
  w.parts.forEach((part, i) => {
    const k0 = i * w.chunk;
    const Ai = T.cast(w.parts.length === 1 ? A : T.slice(A, [k0], [Math.min(K, k0 + w.chunk)], [-1]), 'float32');
    const p = T.cast(T.matmul(Ai, part), 'float64');
    sum = sum ? T.add(sum, p) : p;
  });
  return int32Of(sum as Tensor);
}

/**
 * integerMatmul's common case, a scalar A zero point and a 2-D B (every MatMulInteger of dynamic
 * quantization): each chunk of A's columns is shifted into float32 in one pass, with no float64
 * copies; undefined for the other cases. With `scale` (and `bias`), the result continues as the q8
 * chain does, Cast to float32, Mul by `scale`, Add `bias` per column, in one pass with the chain's
 * values (the executor's MatMulIntegerToFloat fusion).
 */
export function integerMatmulRows(
  ctx: OpContext,
  a: Tensor,
  azp: Tensor | undefined,
  b: Tensor,
  bzp: Tensor | undefined,
  scale?: number,
  bias?: Float32Array,
): Tensor | undefined {
  const av = a.data;
  if (b.rank !== 2 || a.rank < 2 || !(av instanceof Int32Array) || (azp && azp.size !== 1)) return undefined;
  if (a.shape[a.rank - 1] !== b.shape[0]) return undefined; // the general path names the mismatch
  checkZeroPoint(ctx, a, azp, 'A');
  const zp = azp ? Number(azp.data[0]) : 0;
  const K = a.shape[a.rank - 1] as number;
  const rows = a.size / K;
  let bound = typeBound(a, azp);
  if (bound === undefined) {
    bound = 0;
    for (const v of av) bound = Math.max(bound, Math.abs(v - zp));
  }
  const w = integerWeight(ctx, b, bzp, bound);
  if (!w) return undefined;
  const N = b.shape[1] as number;
  let sums: Float32Array | Float64Array | undefined;
  w.parts.forEach((part, i) => {
    const [k0, kc] = [i * w.chunk, part.shape[0] as number];
    const cols = new Float32Array(rows * kc);
    for (let r = 0; r < rows; r++) for (let k = 0; k < kc; k++) cols[r * kc + k] = (av[r * K + k0 + k] as number) - zp;
    const p = T.matmul(new Tensor([rows, kc], 'float32', cols), part).data as Float32Array; // exact integers below 2^24
    if (!sums) sums = w.parts.length > 1 ? Float64Array.from(p) : p;
    else for (let j = 0; j < p.length; j++) sums[j] = (sums[j] as number) + (p[j] as number);
  });
  const out = wrapSums(sums as Float32Array | Float64Array, scale, bias);
  return new Tensor([...a.shape.slice(0, -1), N], scale === undefined ? 'int32' : 'float32', out);
}

/**
 * Exact integer sums wrapped to int32, or with `scale` as the q8 chain continues: Cast to float32, then
 * Mul by it (the double product of two float32s is exact, so rounding it once is float32's product).
 */
function wrapSums(sums: Float32Array | Float64Array, scale: number | undefined, bias?: Float32Array): Int32Array | Float32Array {
  if (scale === undefined) {
    const out = new Int32Array(sums.length);
    for (let j = 0; j < sums.length; j++) out[j] = (sums[j] as number) | 0;
    return out;
  }
  const out = new Float32Array(sums.length);
  if (sums instanceof Float32Array)
    // One chunk: integers below 2^24, already float32 and within int32, so Cast changes nothing.
    for (let j = 0; j < sums.length; j++) out[j] = (sums[j] as number) * scale;
  else for (let j = 0; j < sums.length; j++) out[j] = f32(f32((sums[j] as number) | 0) * scale);
  // Then Add(bias), as the chain's next node: a float32 sum per element (the stores above round to float32).
  if (bias)
    for (let r = 0; r < out.length; r += bias.length)
      for (let n = 0; n < bias.length; n++) out[r + n] = (out[r + n] as number) + (bias[n] as number);
  return out;
}

/** (X − x_zero_point) ⊛ (W − w_zero_point) as exact sums (float64 tensor), Conv's attributes; w_zero_point per output channel. */
function integerConv(ctx: OpContext, x: Tensor, xzp: Tensor | undefined, w: Tensor, wzp: Tensor | undefined): Tensor {
  const sp = x.rank - 2;
  if (sp < 1 || w.rank !== x.rank)
    throw invalid(ctx, `x must be [N, C, ...spatial] and w [M, C/group, ...kernel], got ${fmtShape(x.shape)} and ${fmtShape(w.shape)}`);
  if (xzp && xzp.size !== 1) throw invalid(ctx, `x's zero point must be a scalar (per-tensor), got ${fmtShape(xzp.shape)}`);
  const kernel = attr(ctx.node, 'kernel_shape', 'ints', w.shape.slice(2) as number[]);
  const strides = attr(ctx.node, 'strides', 'ints', new Array(sp).fill(1));
  const dilations = attr(ctx.node, 'dilations', 'ints', new Array(sp).fill(1));
  const pads = windowPads(ctx, x.shape.slice(2), kernel, strides, dilations);
  const group = attr(ctx.node, 'group', 'int', 1);
  const opts = { strides, dilations, pads, group };
  const [X, W] = [shifted(ctx, x, xzp, 0, 'x'), shifted(ctx, w, wzp, 0, 'w')];
  // As integerMatmul: float32 convolutions over chunks of input channels whose every partial sum is an
  // integer below 2^24 (exact), added up in float64; wider values, or groups that need cutting, in float64.
  const taps = w.shape.slice(2).reduce((p, d) => p * d, 1);
  const chunk = Math.floor(2 ** 24 / Math.max(1, (typeBound(x, xzp) ?? maxAbs(X)) * maxAbs(W)));
  const f32conv = (xs: Tensor, ws: Tensor) => T.cast(T.conv(T.cast(xs, 'float32'), T.cast(ws, 'float32'), undefined, opts), 'float64');
  const perGroup = w.shape[1] as number;
  if (perGroup * taps <= chunk) return f32conv(X, W);
  if (group !== 1 || taps > chunk) return T.conv(X, W, undefined, opts);
  const channels = (t: Tensor, c0: number, c1: number) => T.slice(t, [c0], [c1], [1]);
  const step = Math.floor(chunk / taps);
  let sum = f32conv(channels(X, 0, step), channels(W, 0, step));
  for (let c0 = step; c0 < perGroup; c0 += step) {
    const c1 = Math.min(perGroup, c0 + step);
    sum = T.add(sum, f32conv(channels(X, c0, c1), channels(W, c0, c1)));
  }
  return sum;
}

/** Values of a scale: one, or `n` (per column / channel); anything else is refused naming `what`. */
function scales(ctx: OpContext, t: Tensor, n: number, what: string): Nums {
  if (t.size !== 1 && (t.rank !== 1 || t.size !== n))
    throw unsupported(ctx, `${what} of shape ${fmtShape(t.shape)} (only a scalar${n > 1 ? ` or 1-D of size ${n}` : ''})`);
  return t.data as Nums;
}

/**
 * Requantizes exact integer sums `acc` (+ int32 `bias` per channel) to y's type, as onnxruntime's
 * MlasRequantizeOutput: multiplier = a_scale · b_scale[c] / y_scale in float32, value = float(acc) ·
 * multiplier, rounded half to even, + y_zero_point, saturated. `channel(i)` is element i's column / channel.
 */
function requantize(
  ctx: OpContext,
  acc: Tensor,
  channels: number,
  channel: (i: number) => number,
  params: { aScale: Tensor; bScale: Tensor; yScale: Tensor; yZp: Tensor | undefined; bias?: Tensor },
): Tensor {
  const as = scales(ctx, params.aScale, 1, 'a per-row or blocked input scale') as Nums;
  const bs = scales(ctx, params.bScale, channels, 'the weight scale');
  const ys = scales(ctx, params.yScale, 1, 'a per-row output scale');
  const code = quantizedType(ctx, params.yZp, 'y_zero_point');
  if (params.yZp && params.yZp.size !== 1) throw unsupported(ctx, `y_zero_point of shape ${fmtShape(params.yZp.shape)} (only a scalar)`);
  const yzp = params.yZp ? Number(params.yZp.data[0]) : 0;
  const mult = Array.from({ length: channels }, (_, c) =>
    f32(f32((as[0] as number) * (bs[bs.length === 1 ? 0 : c] as number)) / (ys[0] as number)),
  );
  const bias = params.bias?.data as Nums | undefined;
  if (params.bias && params.bias.size !== channels)
    throw invalid(ctx, `bias must have ${channels} values, got ${fmtShape(params.bias.shape)}`);
  const a = acc.data as Nums;
  const range = RANGE[code] as readonly [number, number];
  const out = new Int32Array(a.length);
  for (let i = 0; i < out.length; i++) {
    const c = channel(i);
    const sum = (a[i] as number) + (bias ? (bias[c] as number) : 0);
    out[i] = saturate(f32(f32(sum | 0) * (mult[c] as number)), yzp, range);
  }
  return quantized(acc.shape, out, code);
}

defineOnnxOp('', 'QuantizeLinear', {
  kernel: quantizeLinear,
  shape: ({ node, opset, inputs: ins }) => {
    const code = (opset >= 21 ? attr(node, 'output_dtype', 'int', 0) : 0) || constTag(ins[2]) || (ins[2] ? undefined : UINT8);
    return [{ dtype: code ? elemTypeName(code) : undefined, shape: ins[0]?.shape ? [...ins[0].shape] : undefined }];
  },
  hostInputs: 'all',
});

defineOnnxOp('', 'DequantizeLinear', {
  kernel: dequantizeLinear,
  shape: ({ node, opset, inputs: ins }) => {
    const out = (opset >= 23 ? attr(node, 'output_dtype', 'int', 0) : 0) || constTag(ins[1]);
    return [{ dtype: out ? elemTypeName(out) : (ins[1]?.dtype ?? 'float32'), shape: ins[0]?.shape ? [...ins[0].shape] : undefined }];
  },
  hostInputs: 'all',
});

defineOnnxOp('', 'DynamicQuantizeLinear', {
  kernel: dynamicQuantizeLinear,
  shape: ({ inputs: ins }) => [
    { dtype: 'uint8', shape: ins[0]?.shape ? [...ins[0].shape] : undefined },
    { dtype: 'float32', shape: [] },
    { dtype: 'uint8', shape: [] },
  ],
  hostInputs: 'all',
});

defineOnnxOp('', 'MatMulInteger', {
  kernel: (ctx) => [integerMatmul(ctx, need(ctx, 0, 'A'), opt(ctx, 2), need(ctx, 1, 'B'), opt(ctx, 3))],
  shape: ({ inputs: ins }) => [{ dtype: 'int32', shape: matmulShape(ins[0]?.shape, ins[1]?.shape) }],
  hostInputs: 'all',
  grows: true,
  fold: 'linear',
});

defineOnnxOp('', 'ConvInteger', {
  kernel: (ctx) => [int32Of(integerConv(ctx, need(ctx, 0, 'x'), opt(ctx, 2), need(ctx, 1, 'w'), opt(ctx, 3)))],
  shape: (ctx) => convLikeShape(ctx, 0, 1, 'int32'),
  hostInputs: 'all',
});

defineOnnxOp('', 'QLinearMatMul', {
  kernel: (ctx) => {
    const b = need(ctx, 3, 'b');
    const acc = integerMatmul(ctx, need(ctx, 0, 'a'), opt(ctx, 2), b, opt(ctx, 5));
    const n = b.shape[b.rank - 1] as number;
    const params = { aScale: need(ctx, 1, 'a_scale'), bScale: need(ctx, 4, 'b_scale'), yScale: need(ctx, 6, 'y_scale'), yZp: opt(ctx, 7) };
    return [requantize(ctx, acc, n, (i) => i % n, params)];
  },
  shape: ({ inputs: ins }) => [{ dtype: zpTypeName(ins[7]), shape: matmulShape(ins[0]?.shape, ins[3]?.shape) }],
  hostInputs: 'all',
  grows: true,
});

defineOnnxOp('', 'QLinearConv', {
  kernel: (ctx) => {
    const w = need(ctx, 3, 'w');
    const acc = integerConv(ctx, need(ctx, 0, 'x'), opt(ctx, 2), w, opt(ctx, 5));
    const m = w.shape[0] as number;
    const plane = acc.shape.slice(2).reduce((p, d) => p * d, 1);
    const params = {
      aScale: need(ctx, 1, 'x_scale'),
      bScale: need(ctx, 4, 'w_scale'),
      yScale: need(ctx, 6, 'y_scale'),
      yZp: opt(ctx, 7),
      bias: opt(ctx, 8),
    };
    return [requantize(ctx, acc, m, (i) => Math.floor(i / plane) % m, params)];
  },
  shape: (ctx) => convLikeShape(ctx, 0, 3, zpTypeName(ctx.inputs[7])),
  hostInputs: 'all',
});

/** The narrow type recorded on a constant input (a zero point or scale read from the file). */
function constTag(v: InferredValue | undefined): number | undefined {
  return v?.value ? taggedElemType(v.value) : undefined;
}

/** The element type name of a QLinear op's output: its zero point's type (uint8 when absent or unknown). */
function zpTypeName(v: InferredValue | undefined): string {
  return elemTypeName(constTag(v) ?? UINT8);
}

/** Conv's shape rule applied to inputs `xi` (data) and `wi` (weights), with the output type `dtype`. */
function convLikeShape(ctx: ShapeContext, xi: number, wi: number, dtype: string): InferredValue[] {
  const conv = onnxOp('', 'Conv')?.shape;
  const [out] = conv ? conv({ ...ctx, node: { ...ctx.node, opType: 'Conv' }, inputs: [ctx.inputs[xi], ctx.inputs[wi]] }) : [];
  return [{ ...out, dtype }];
}

/** Throws unless A's last dimension is the node's K. */
function nbitsCheckA(ctx: OpContext, a: Tensor, K: number): void {
  if (a.shape[a.rank - 1] !== K) throw invalid(ctx, `A ${fmtShape(a.shape)} must end in K=${K}`);
}

/** MatMulNBits attributes, checked against the inputs (A's last dim when A is given). @example nbitsLayout(ctx, a, b, scales).blocks // ⌈K / block_size⌉ */
export function nbitsLayout(ctx: OpContext, a: Tensor | undefined, b: Tensor, scale: Tensor) {
  const K = attr(ctx.node, 'K', 'int', 0);
  const N = attr(ctx.node, 'N', 'int', 0);
  const bits = attr(ctx.node, 'bits', 'int', 4);
  const block = attr(ctx.node, 'block_size', 'int', 0);
  if (!(K > 0 && N > 0)) throw invalid(ctx, `attributes K and N must be positive, got K=${K}, N=${N}`);
  if (![2, 4, 8].includes(bits)) throw unsupported(ctx, `bits=${bits} (2, 4 or 8)`);
  if (!(block >= 16 && (block & (block - 1)) === 0)) throw invalid(ctx, `block_size must be a power of 2 and at least 16, got ${block}`);
  const blocks = Math.ceil(K / block);
  const blob = (block * bits) / 8;
  if (a) nbitsCheckA(ctx, a, K);
  if (b.size !== N * blocks * blob)
    throw invalid(
      ctx,
      `B ${fmtShape(b.shape)} must hold [N=${N}, ${blocks} blocks, ${blob} bytes] for K=${K}, bits=${bits}, block_size=${block}`,
    );
  if (scale.size !== N * blocks) throw invalid(ctx, `scales ${fmtShape(scale.shape)} must hold N·blocks = ${N * blocks} values`);
  return { K, N, bits, block, blocks, blob };
}

/** MatMulNBits zero points per (row n, block): packed `bits`-bit integers, floats like the scales, or 2^(bits−1) when absent. */
function nbitsZeroPoints(ctx: OpContext, zp: Tensor | undefined, L: { N: number; bits: number; blocks: number }): Nums {
  const { N, bits, blocks } = L;
  if (!zp) return new Float32Array(N * blocks).fill(2 ** (bits - 1));
  if (zp.dtype !== 'int32') {
    if (zp.size !== N * blocks) throw invalid(ctx, `float zero_points ${fmtShape(zp.shape)} must hold N·blocks = ${N * blocks} values`);
    return zp.data as Nums;
  }
  const perRow = Math.ceil((blocks * bits) / 8);
  if (zp.size !== N * perRow) throw invalid(ctx, `packed zero_points ${fmtShape(zp.shape)} must hold N·${perRow} = ${N * perRow} bytes`);
  const out = new Int32Array(N * blocks);
  for (let n = 0; n < N; n++) out.set(unpackBits(zp.data as Nums, blocks, bits, false, n * perRow), n * blocks);
  return out;
}

/**
 * The float32 weight W [N, K] of a MatMulNBits node: W[n, k] = (q − zp) · scale of k's block (or of
 * group g_idx[k]), q the `bits`-bit value k of row n of B (packed least significant bits first).
 * @example nbitsWeight({ node, opset: 1, inputs: [undefined, b, scales] }).shape // [N, K]
 */
export function nbitsWeight(ctx: OpContext, a: Tensor | undefined): Tensor {
  const b = need(ctx, 1, 'B');
  const scale = need(ctx, 2, 'scales');
  const L = nbitsLayout(ctx, a, b, scale);
  const { K, N, blocks } = L;
  const zp = nbitsZeroPoints(ctx, opt(ctx, 3), L);
  const gIdx = opt(ctx, 4)?.data as Nums | undefined;
  if (gIdx && (gIdx.length !== K || Array.prototype.some.call(gIdx, (g: number) => !(g >= 0 && g < blocks))))
    throw invalid(ctx, `g_idx must hold K=${K} group indices in [0, ${blocks})`);
  const w = new Float32Array(N * K);
  for (let n = 0; n < N; n++) nbitsRow(w, n, b.data as Nums, scale.data as Nums, zp, gIdx, L);
  return new Tensor([N, K], 'float32', w);
}

/** Row n of W into `w`: block by block (one scale and zero point each), or per element through g_idx. */
function nbitsRow(w: Float32Array, n: number, b: Nums, s: Nums, zp: Nums, gIdx: Nums | undefined, L: NBits): void {
  const { K, bits, block, blocks, blob } = L;
  const mask = (1 << bits) - 1;
  for (let j = 0; j < blocks; j++) {
    const base = (n * blocks + j) * blob;
    const p = n * blocks + j;
    const out = n * K + j * block;
    const end = Math.min(block, K - j * block);
    if (!gIdx && bits === 4) {
      // The common q4 layout: two values a byte, one scale and zero point for the block (stores round to float32).
      const [sc, zc] = [s[p] as number, zp[p] as number];
      for (let i = 0; i < end; i += 2) {
        const v = b[base + (i >> 1)] as number;
        w[out + i] = ((v & 15) - zc) * sc;
        if (i + 1 < end) w[out + i + 1] = ((v >> 4) - zc) * sc;
      }
      continue;
    }
    for (let i = 0; i < end; i++) {
      const bit = i * bits;
      const q = ((b[base + (bit >> 3)] as number) >> (bit & 7)) & mask;
      const g = gIdx ? n * blocks + (gIdx[j * block + i] as number) : p;
      w[out + i] = (q - (zp[g] as number)) * (s[g] as number);
    }
  }
}
type NBits = ReturnType<typeof nbitsLayout>;

/** Float32 weights dequantized from constant MatMulNBits inputs, by B's data (dropped with it). */
const dequantized = new WeakMap<object, Tensor>();
let dequantizedBytes = 0;
const dequantizedFreed =
  typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<number>((bytes) => (dequantizedBytes -= bytes)) : undefined;
/**
 * The most float32 copies of quantized weights kept between calls (the GEMM keeps a packed copy of
 * each as well): MatMulNBits weights dequantized, and MatMulInteger / QLinearMatMul weights less their
 * zero points. A small model's 4-bit weights run at float32 GEMM speed; beyond the budget, 4-bit
 * weights take the fused kernel (`matmulNBits`, W kept packed), and other widths and integer weights
 * are converted on every call.
 */
let dequantizedMaxBytes = 512 * 2 ** 20;

/**
 * Sets how many bytes of float32 copies of quantized weights (MatMulNBits dequantized, MatMulInteger
 * and QLinearMatMul weights less their zero points) the executor keeps between calls (default 512 MiB)
 * and returns the previous budget. 0 sends every 4-bit weight to the fused kernel, which keeps W
 * packed; weights already kept stay kept. For tests and memory-bound deployments.
 * @example const prev = setNBitsDequantizeBudget(0); try { ex.run(feeds) } finally { setNBitsDequantizeBudget(prev) }
 */
export function setNBitsDequantizeBudget(bytes: number): number {
  const prev = dequantizedMaxBytes;
  dequantizedMaxBytes = bytes;
  return prev;
}

/** Whether W depends only on constants (B, scales, zero points, g_idx): then it is B's data that keys its caches. */
function constantWeightKey(ctx: OpContext): object | undefined {
  const constant = ctx.inputs.slice(1, 5).every((t) => !t || (t.onHost && isConstantData(t.data)));
  return constant ? (need(ctx, 1, 'B').data as object) : undefined;
}

/** Whether a dequantized W [N, K] fits what is left of the budget. */
const fitsBudget = (ctx: OpContext) =>
  dequantizedBytes + attr(ctx.node, 'N', 'int', 0) * attr(ctx.node, 'K', 'int', 0) * 4 <= dequantizedMaxBytes;

/** `nbitsWeight`, kept (and marked constant for the GEMM) when B is a constant and the budget allows. */
function cachedNbitsWeight(ctx: OpContext, a: Tensor): Tensor {
  const key = constantWeightKey(ctx);
  const hit = key && dequantized.get(key);
  if (hit) return hit;
  const w = nbitsWeight(ctx, a);
  const bytes = w.size * 4;
  if (key && dequantizedBytes + bytes <= dequantizedMaxBytes) {
    dequantized.set(key, markConstant(w));
    dequantizedBytes += bytes;
    dequantizedFreed?.register(key, bytes);
  }
  return w;
}

/** `v` as a Float32Array (itself when it is one). */
const floats = (v: Nums): Float32Array => (v instanceof Float32Array ? v : Float32Array.from(v));

/** 4-bit weights in the fused kernel's form (bytes, float scales and zero points), by B's data (constants only). */
const packedNbits = new WeakMap<object, T.NBitsWeight>();

/**
 * The 4-bit W of a MatMulNBits node as `matmulNBits` takes it (kept for a constant W), or undefined
 * where the fused kernel does not apply: another bit width, g_idx, A off the host or no WebAssembly
 * SIMD, or a constant W that is (or will be) kept dequantized within the budget.
 */
function fusedNbitsWeight(ctx: OpContext, a: Tensor): T.NBitsWeight | undefined {
  if (attr(ctx.node, 'bits', 'int', 4) !== 4 || has(ctx, 4) || !a.onHost || a.dtype !== 'float32' || !T.wasmNBitsAvailable())
    return undefined;
  const key = constantWeightKey(ctx);
  if (key) {
    if (dequantized.has(key)) return undefined;
    const hit = packedNbits.get(key);
    if (hit) return hit;
    if (fitsBudget(ctx)) return undefined;
  }
  const b = need(ctx, 1, 'B');
  const scale = need(ctx, 2, 'scales');
  const L = nbitsLayout(ctx, a, b, scale);
  const data = new Uint8Array(b.size);
  data.set(b.data as Int32Array);
  const zp = opt(ctx, 3);
  const w: T.NBitsWeight = {
    N: L.N,
    K: L.K,
    block: L.block,
    data,
    scales: floats(scale.data as Nums),
    zeroPoints: zp ? floats(nbitsZeroPoints(ctx, zp, L)) : undefined,
    constant: key !== undefined,
  };
  if (key) packedNbits.set(key, w);
  return w;
}

/**
 * com.microsoft MatMulNBits (the q4 weights of transformers.js / onnxruntime-genai exports): A · Wᵀ (+
 * bias), W dequantized from `bits`-bit blocks and multiplied in float32 (as accuracy_level 0; higher
 * levels, which let onnxruntime quantize A, are computed the same way). A constant W is dequantized
 * once and kept while the budget allows (see `setNBitsDequantizeBudget`); beyond it a 4-bit W goes to
 * the fused kernel (`matmulNBits`: W stays packed, the same float32 products summed in another
 * order), and other widths are dequantized on every call.
 */
defineOnnxOp('com.microsoft', 'MatMulNBits', {
  kernel: (ctx) => {
    const a = need(ctx, 0, 'A');
    nbitsCheckA(ctx, a, attr(ctx.node, 'K', 'int', 0)); // before the caches, whose hits skip nbitsLayout
    const fused = fusedNbitsWeight(ctx, a);
    let y: Tensor;
    if (fused) y = T.matmulNBits(a, fused);
    else {
      const w = cachedNbitsWeight(ctx, a);
      const rows = a.reshape([a.size / (a.shape[a.rank - 1] as number), a.shape[a.rank - 1] as number]);
      y = T.gemm(rows, w, undefined, { transB: true }).reshape([...a.shape.slice(0, -1), w.shape[0] as number]);
    }
    const bias = opt(ctx, 5);
    return [bias ? T.add(y, bias) : y];
  },
  shape: ({ node, inputs: ins }) => {
    const a = ins[0]?.shape;
    return [{ dtype: ins[0]?.dtype, shape: a ? [...a.slice(0, -1), attr(node, 'N', 'int')] : undefined }];
  },
  hostInputs: [1, 2, 3, 4, 5],
  fold: 'linear',
});

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const QUANT_OPS = 'quant';
