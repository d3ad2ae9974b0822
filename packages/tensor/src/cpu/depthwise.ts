import { depthwiseWasm } from './fused-wasm.js';

/**
 * 2-D depthwise convolution (one input channel per group, ConvNeXt's 7×7, MobileNet's 3×3): for each
 * output channel, Σ over the taps of w·(input plane shifted by the tap), one output plane at a time
 * (stride 1, dilation 1, multiplier 1: WebAssembly SIMD with float32 sums; otherwise float64 sums in JS). A tap touches a contiguous run of each output row (clipped where it reads
 * the padding), so the inner loop is a plain multiply-add — where im2col + GEMM would run one M = 1
 * matrix product per channel.
 */
export interface DepthwiseDims {
  N: number;
  C: number;
  /** Output channels per input channel (the depth multiplier). */
  mult: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  strides: readonly number[];
  /** [top, left, bottom, right] (ONNX order). */
  pads: readonly number[];
  dilations: readonly number[];
}

/**
 * Writes the convolution (without bias) of X [N, C, H, W] by W [C·mult, 1, kh, kw] into out [N, C·mult, oh, ow].
 * @example depthwise2d(x, w, out, { N: 1, C: 2, mult: 1, H: 4, W: 4, kh: 3, kw: 3, oh: 4, ow: 4, strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1] })
 */
export function depthwise2d(X: Float32Array, Wt: Float32Array, out: Float32Array, d: DepthwiseDims): void {
  const { N, C, mult, H, W, kh, kw, oh, ow } = d;
  const [sh, sw] = d.strides as [number, number];
  const [pt, pl] = d.pads as [number, number];
  const [dh, dw] = d.dilations as [number, number];
  // The output columns each kernel column reads inside the input: ix = ox·sw − pl + kx·dw ∈ [0, W).
  const lohi = new Int32Array(2 * kw);
  const lo = lohi.subarray(0, kw);
  const hi = lohi.subarray(kw);
  for (let kx = 0; kx < kw; kx++) {
    const shift = kx * dw - pl;
    lo[kx] = Math.max(0, Math.ceil(-shift / sw));
    hi[kx] = Math.min(ow, Math.floor((W - 1 - shift) / sw) + 1);
  }
  // The common case (ConvNeXt's 7×7, MobileNet's 3×3 at stride 1) runs as SIMD multiply-adds, one batch item at a time.
  if (mult === 1 && sh === 1 && sw === 1 && dh === 1 && dw === 1) {
    const planes = { planes: C, H, W, kh, kw, oh, ow, pt, pl, lohi };
    let done = true;
    for (let n = 0; n < N && done; n++)
      done = depthwiseWasm(
        X.subarray(n * C * H * W, (n + 1) * C * H * W),
        Wt,
        out.subarray(n * C * oh * ow, (n + 1) * C * oh * ow),
        planes,
      );
    if (done) return;
  }
  const acc = new Float64Array(oh * ow);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const inBase = (n * C + c) * H * W;
      for (let m = 0; m < mult; m++) {
        const oc = c * mult + m;
        acc.fill(0);
        for (let ky = 0; ky < kh; ky++)
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh - pt + ky * dh;
            if (iy < 0 || iy >= H) continue;
            const row = inBase + iy * W;
            const o = oy * ow;
            for (let kx = 0; kx < kw; kx++) {
              const wv = Wt[(oc * kh + ky) * kw + kx] as number;
              const at = row + kx * dw - pl;
              const end = hi[kx] as number;
              if (sw === 1)
                for (let ox = lo[kx] as number; ox < end; ox++) acc[o + ox] = (acc[o + ox] as number) + wv * (X[at + ox] as number);
              else for (let ox = lo[kx] as number; ox < end; ox++) acc[o + ox] = (acc[o + ox] as number) + wv * (X[at + ox * sw] as number);
            }
          }
        out.set(acc, (n * C * mult + oc) * oh * ow);
      }
    }
}
