import type { Backend, BinaryOp, GradKernels, ReduceOp, UnaryOp, UnaryParamOp } from '../backend.js';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { attentionGradKernel, attentionKernel } from './attention.js';
import { binaryKernel, mapUnary, unaryKernel, unaryParamFn, whereKernel } from './elementwise.js';
import { unaryGradKernel } from './elementwise-grad.js';
import { disposeGemmThreads } from './gemm-wasm.js';
import { convKernel, gemmKernel, matmulKernel, poolKernel } from './linear.js';
import { convGradKernel, poolGradKernel } from './linear-grad.js';
import { castKernel, concatKernel, expandKernel, gatherKernel, padKernel, sliceKernel, tileKernel, transposeKernel } from './movement.js';
import { gatherGradKernel, padGradKernel, sliceGradKernel } from './movement-grad.js';
import { layerNormKernel, rmsNormKernel } from './norm.js';
import { layerNormBackwardKernel, rmsNormBackwardKernel } from './norm-backward.js';
import { argReduceKernel, reduceKernel, softmaxKernel } from './reduce.js';
import { prodGradKernel, softmaxGradKernel } from './reduce-grad.js';

/**
 * The CPU backend's gradient kernels; the ops' gradients use them on any backend without its own.
 * @example cpuGradKernels.softmax(dy, y, -1, false)
 */
export const cpuGradKernels: GradKernels = {
  unary: unaryGradKernel,
  softmax: softmaxGradKernel,
  prod: prodGradKernel,
  conv: convGradKernel,
  pool: poolGradKernel,
  gather: gatherGradKernel,
  slice: sliceGradKernel,
  pad: padGradKernel,
  selfAttention: attentionGradKernel,
};

/**
 * The CPU backend: plain typed-array kernels, float64 accumulation, blocked GEMM.
 * @example import { CpuBackend, withBackend } from '@normkit/tensor'; withBackend(new CpuBackend(), () => matmul(a, b));
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  unary(op: UnaryOp, x: Tensor): Tensor {
    return unaryKernel(op, x);
  }
  unaryParam(p: UnaryParamOp, x: Tensor): Tensor {
    return mapUnary(x, unaryParamFn(p));
  }
  binary(op: BinaryOp, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
    return binaryKernel(op, a, b, outShape);
  }
  where(cond: Tensor, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
    return whereKernel(cond, a, b, outShape);
  }
  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
    return reduceKernel(op, x, axes, keepDims);
  }
  argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean, selectLastIndex: boolean): Tensor {
    return argReduceKernel(op, x, axis, keepDims, selectLastIndex);
  }
  softmax(x: Tensor, axis: number, log: boolean): Tensor {
    return softmaxKernel(x, axis, log);
  }
  matmul = matmulKernel;
  gemm = gemmKernel;
  conv = convKernel;
  pool = poolKernel;
  transpose = transposeKernel;
  concat = concatKernel;
  slice = sliceKernel;
  pad = padKernel;
  gather = gatherKernel;
  expand = expandKernel;
  tile = tileKernel;
  cast(x: Tensor, dtype: DType): Tensor {
    return castKernel(x, dtype);
  }
  readonly grads = cpuGradKernels;
  layerNorm = layerNormKernel;
  rmsNorm = rmsNormKernel;
  layerNormBackward = layerNormBackwardKernel;
  rmsNormBackward = rmsNormBackwardKernel;
  selfAttention = attentionKernel;
  /** Stops the GEMM helper threads (they are unref'd, so this is optional). @example getBackend().dispose?.() */
  dispose(): void {
    disposeGemmThreads();
  }
}
