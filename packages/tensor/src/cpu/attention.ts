import { allocate } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { type AttentionDims, attentionGradWasm, attentionWasm, probsWidth } from './fused-wasm.js';

// Self-attention over packed QKV, forward and backward: float32 on the WebAssembly SIMD kernels of
// fused-wasm.ts, float64 (and engines without SIMD) on the JS loops below, which accumulate in float64.

type Arr = Float32Array | Float64Array;

function dimsOf(qkv: Tensor, heads: number, scale: number): AttentionDims {
  const [B, T, threeD] = qkv.shape as [number, number, number];
  return { B, T, H: heads, dh: threeD / 3 / heads, scale };
}

/** P = softmax(scale·Q·Kᵀ) of head h of item b into `p` [T, T] (float64). */
function probsJs(X: Arr, b: number, h: number, d: AttentionDims, p: Float64Array): void {
  const { T, H, dh, scale } = d;
  const D = H * dh;
  const base = b * T * 3 * D + h * dh;
  for (let i = 0; i < T; i++) {
    const qi = base + i * 3 * D;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < T; j++) {
      const kj = base + j * 3 * D + D;
      let s = 0;
      for (let k = 0; k < dh; k++) s += X[qi + k]! * X[kj + k]!;
      s *= scale;
      p[i * T + j] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let j = 0; j < T; j++) {
      const e = Math.exp(p[i * T + j]! - max);
      p[i * T + j] = e;
      sum += e;
    }
    for (let j = 0; j < T; j++) p[i * T + j]! /= sum;
  }
}

/**
 * Self-attention of packed QKV: `qkv` [B, T, 3·d] holds, along its last axis, Q, K and V each as
 * [heads, d/heads] (timm's `qkv` Linear output); `y` [B, T, d] holds softmax(scale·Q·Kᵀ)·V of every
 * head, heads side by side. With `keepProbs`, the float32 kernels also return the probabilities (in
 * their own padded layout) for `attentionGradKernel`, which otherwise recomputes them.
 * @example attentionKernel(Tensor.randn([2, 50, 192], 1), 4, 0.25).y.shape // [2, 50, 64]
 */
export function attentionKernel(qkv: Tensor, heads: number, scale: number, keepProbs = false): { y: Tensor; probs?: Tensor } {
  const d = dimsOf(qkv, heads, scale);
  const { B, T, H, dh } = d;
  const D = H * dh;
  const X = qkv.data as Arr;
  const out = allocate(qkv.dtype, B * T * D, false) as Arr; // every element is written
  if (out instanceof Float32Array && X instanceof Float32Array) {
    const pShape = [B, H, T, probsWidth(T)];
    const probs = keepProbs ? (allocate('float32', B * H * T * probsWidth(T), false) as Float32Array) : undefined;
    if (attentionWasm(X, out, d, probs))
      return { y: new Tensor([B, T, D], qkv.dtype, out as never), probs: probs && new Tensor(pShape, 'float32', probs) };
  }
  const p = new Float64Array(T * T);
  const acc = new Float64Array(dh);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      probsJs(X, b, h, d, p);
      const v0 = b * T * 3 * D + 2 * D + h * dh;
      for (let i = 0; i < T; i++) {
        acc.fill(0);
        for (let j = 0; j < T; j++) {
          const pij = p[i * T + j]!;
          const vj = v0 + j * 3 * D;
          for (let k = 0; k < dh; k++) acc[k]! += pij * X[vj + k]!;
        }
        out.set(acc, (b * T + i) * D + h * dh);
      }
    }
  return { y: new Tensor([B, T, D], qkv.dtype, out as never) };
}

/**
 * The gradient of `attentionKernel` for qkv, from dy [B, T, d]: per head, with P as the forward kept
 * it (`probs`) or recomputed, dP = dy·Vᵀ, dS = scale·P⊙(dP − rowsum(P⊙dP)), dQ = dS·K, dK = dSᵀ·Q,
 * dV = Pᵀ·dy.
 * @example attentionGradKernel(dy, qkv, 4, 0.25).shape // qkv.shape
 */
export function attentionGradKernel(dy: Tensor, qkv: Tensor, heads: number, scale: number, probs?: Tensor): Tensor {
  const d = dimsOf(qkv, heads, scale);
  const { B, T, H, dh } = d;
  const D = H * dh;
  const X = qkv.data as Arr;
  const G = dy.data as Arr;
  const dX = allocate(qkv.dtype, qkv.size, false) as Arr; // the kernel writes every element
  const P = probs?.data instanceof Float32Array ? probs.data : undefined;
  if (dX instanceof Float32Array && X instanceof Float32Array && G instanceof Float32Array && attentionGradWasm(X, G, dX, d, P))
    return new Tensor(qkv.shape, qkv.dtype, dX as never);
  dX.fill(0); // the JS loops below accumulate
  const p = new Float64Array(T * T);
  const ds = new Float64Array(T * T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      probsJs(X, b, h, d, p);
      const base = b * T * 3 * D + h * dh;
      const g0 = b * T * D + h * dh;
      for (let i = 0; i < T; i++) {
        let dot = 0;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let k = 0; k < dh; k++) s += G[g0 + i * D + k]! * X[base + j * 3 * D + 2 * D + k]!;
          ds[i * T + j] = s;
          dot += s * p[i * T + j]!;
        }
        for (let j = 0; j < T; j++) ds[i * T + j] = scale * p[i * T + j]! * (ds[i * T + j]! - dot);
      }
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          const s = ds[i * T + j]!;
          const pij = p[i * T + j]!;
          const qi = base + i * 3 * D;
          const kj = base + j * 3 * D + D;
          for (let k = 0; k < dh; k++) {
            dX[qi + k]! += s * X[kj + k]!; // dQ = dS·K
            dX[kj + k]! += s * X[qi + k]!; // dK = dSᵀ·Q
            dX[kj + D + k]! += pij * G[g0 + i * D + k]!; // dV = Pᵀ·dy
          }
        }
    }
  return new Tensor(qkv.shape, qkv.dtype, dX as never);
}
