import { getBackend, type LayerNormResult } from '../backend.js';
import { fmtShape, NormkitError } from '../errors.js';
import { defineOp, runOp } from '../op-registry.js';
import { broadcastShapes, normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { requireFloat } from './common.js';

// The fused LayerNorm / RMSNorm kernels. They are ops without a gradient: the differentiable LayerNorm
// and RMSNorm are @normkit/norm's `layerNorm` / `rmsNorm`; a gradient that reaches a kernel's output
// makes the tape name it. Only `y` is the recorded output (not the mean and inverse std of LayerNorm).

type NormAttrs = { axis: number; epsilon: number };
const LAYER_NORM_KERNEL = defineOp<NormAttrs>({ name: 'layerNormKernel' });
const RMS_NORM_KERNEL = defineOp<NormAttrs>({ name: 'rmsNormKernel' });

function checkNormParams(op: string, x: Tensor, axis: number, scale?: Tensor, bias?: Tensor): number {
  requireFloat(op, x);
  const a = normalizeAxis(axis, x.rank, op, x.shape);
  const normSize = sizeOf(x.shape.slice(a));
  for (const [name, p] of [
    ['scale', scale],
    ['bias', bias],
  ] as const) {
    if (p && p.size !== normSize && !(p.size === 1)) {
      // Broadcastable parameters are accepted; they must broadcast to the normalized shape.
      broadcastShapes(p.shape, x.shape.slice(a), `${op} (${name})`);
    }
  }
  return a;
}

/**
 * Checks a preallocated output of a norm kernel: a host tensor of x's shape and dtype that is x itself
 * or shares no memory with it.
 */
function checkNormOut(op: string, x: Tensor, out: Tensor): void {
  if (out.dtype !== x.dtype || out.shape.length !== x.shape.length || out.shape.some((v, i) => v !== x.shape[i]))
    throw new NormkitError(
      out.dtype !== x.dtype ? 'DTYPE_MISMATCH' : 'SHAPE_MISMATCH',
      `${op}: out is ${out.dtype} ${fmtShape(out.shape)} but the result is ${x.dtype} ${fmtShape(x.shape)}; allocate it once with Tensor.zeros(x.shape, x.dtype) and reuse it`,
      { op, shape: out.shape, expected: x.shape },
    );
  if (out.deviceStorage)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `${op}: out ${fmtShape(out.shape)} lives on the ${out.deviceStorage.backend} device; pass a host tensor`,
      {
        op,
        shape: out.shape,
      },
    );
  if (out === x || !x.onHost) return;
  const o = out.data;
  const i = x.data;
  if (o.buffer === i.buffer && o !== i) {
    const oEnd = o.byteOffset + o.byteLength;
    const iEnd = i.byteOffset + i.byteLength;
    if (o.byteOffset === i.byteOffset) return; // the same elements (a reshape of x): in place
    if (o.byteOffset < iEnd && i.byteOffset < oEnd)
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `${op}: out ${fmtShape(out.shape)} partly overlaps x ${fmtShape(x.shape)}; pass x itself (in place) or a separate tensor`,
        { op, shape: out.shape },
      );
  }
}

/**
 * Fused LayerNorm kernel over axes [axis, rank) (ONNX LayerNormalization), also returning the mean
 * and inverse standard deviation. `out`, a preallocated tensor of x's shape and dtype (or x itself,
 * in place), receives y, so a loop pays no allocation for it.
 *
 * @example
 * ```ts
 * layerNormKernel(x, gamma, beta, -1, 1e-5).y;
 * const y = Tensor.zeros(x.shape, x.dtype);
 * for (const step of steps) layerNormKernel(step.x, gamma, beta, -1, 1e-5, y); // y overwritten each time
 * ```
 */
export function layerNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis = -1,
  epsilon = 1e-5,
  out?: Tensor,
): LayerNormResult {
  const a = checkNormParams('layerNorm', x, axis, scale, bias);
  if (out) checkNormOut('layerNorm', x, out);
  let r: LayerNormResult | undefined;
  const y = runOp(LAYER_NORM_KERNEL, [x, scale, bias], { axis: a, epsilon }, () => {
    r = getBackend().layerNorm(x, scale, bias, a, epsilon, out);
    return out ? intoOut(out, r.y) : r.y;
  });
  return { ...(r as LayerNormResult), y };
}

/**
 * Fused RMSNorm kernel over axes [axis, rank): x / sqrt(mean(x²) + ε) · scale + bias; `out` as for
 * `layerNormKernel`.
 * @example rmsNormKernel(x, gamma, undefined, -1, 1e-6); rmsNormKernel(x, gamma, undefined, -1, 1e-6, y)
 */
export function rmsNormKernel(
  x: Tensor,
  scale: Tensor | undefined,
  bias: Tensor | undefined,
  axis = -1,
  epsilon = 1e-5,
  out?: Tensor,
): Tensor {
  const a = checkNormParams('rmsNorm', x, axis, scale, bias);
  if (out) checkNormOut('rmsNorm', x, out);
  return runOp(RMS_NORM_KERNEL, [x, scale, bias], { axis: a, epsilon }, () => {
    const y = getBackend().rmsNorm(x, scale, bias, a, epsilon, out);
    return out ? intoOut(out, y) : y;
  });
}

/** `out`, holding y: a backend that did not write into `out` has its result copied there. */
function intoOut(out: Tensor, y: Tensor): Tensor {
  if (y !== out) (out.data as Float32Array | Float64Array).set(y.data as Float32Array | Float64Array);
  return out;
}
