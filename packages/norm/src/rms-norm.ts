import { rmsNormKernel, runOp, type Tensor } from '@normkit/tensor';
import { type LayerNormGradients, type LayerNormOptions, type NormAttrs, normBackward, normParams } from './layer-norm.js';
import { affineOp, refuseOutWhileRecording, withoutKeys } from './recorded-op.js';

/** Options of `rmsNorm` (ONNX RMSNormalization, opset 23; `bias` is normkit's extension for folded LNs). */
export type RmsNormOptions = LayerNormOptions;

/** Gradients of `rmsNorm`. */
export type RmsNormGradients = LayerNormGradients;

/** The op `rmsNorm` (inputs x, scale, bias), differentiated by `rmsNormBackward`. */
const RMS_NORM = affineOp<NormAttrs>('rmsNorm', rmsNormBackward);

/**
 * RMSNorm over the trailing axes from `axis` (ONNX RMSNormalization):
 * y = x / sqrt(mean(x²) + ε) · scale (+ bias, kept when RMSNorm replaces a folded LayerNorm).
 * Defaults: axis −1, ε 1e-5. Runs through the active backend's fused kernel (`rmsNormKernel`; float32
 * on the CPU backend uses WebAssembly SIMD). With `out`, y is written into that tensor, which is returned.
 * A recorded, differentiable op (inputs x, scale, bias); `out` is refused while a gradient tape records.
 *
 * @example
 * ```ts
 * rmsNorm(Tensor.from([[1, -1]]), { epsilon: 0 }).toArray(); // [[1, -1]]
 * const out = Tensor.zeros(x.shape, x.dtype);
 * rmsNorm(x, { scale, out }); // y in `out`, nothing allocated
 * ```
 */
export function rmsNorm(x: Tensor, opts: RmsNormOptions = {}): Tensor {
  refuseOutWhileRecording('rmsNorm', opts.out);
  return runOp(RMS_NORM, [x, opts.scale, opts.bias], withoutKeys(opts, 'scale', 'bias', 'out'), () => {
    const { axis, scale, bias } = normParams('rmsNorm', x, opts);
    return rmsNormKernel(x, scale, bias, axis, opts.epsilon ?? 1e-5, opts.out);
  });
}

/**
 * Backward of `rmsNorm`: ∂L/∂x = a·(ĝ − x̂·mean(ĝ·x̂)) with ĝ = dy·γ, a = 1/sqrt(mean(x²) + ε), and
 * ∂L/∂scale, ∂L/∂bias summed back to each parameter's shape.
 *
 * @example
 * ```ts
 * const { dx, dScale } = rmsNormBackward(dy, x, { scale });
 * ```
 */
export function rmsNormBackward(dy: Tensor, x: Tensor, opts: RmsNormOptions = {}): RmsNormGradients {
  return normBackward('rmsNormBackward', dy, x, opts, false);
}
