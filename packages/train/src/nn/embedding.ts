import { fmtShape, gather, NormkitError, type Tensor } from '@normkit/tensor';
import { type InitOptions, normalInit, rngOf } from './init.js';
import { Module, Parameter } from './module.js';

/**
 * A lookup table (PyTorch `nn.Embedding`): `weight` [num, dim] ~ N(0, 1); forward maps int32/int64
 * indices of any shape S to S + [dim] by gathering rows (the gradient scatters back into the rows).
 *
 * @example
 * ```ts
 * const emb = new Embedding(100, 16, { seed: 1 });
 * emb.forward(Tensor.from([[3, 7]], undefined, 'int64')).shape; // [1, 2, 16]
 * ```
 */
export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: InitOptions = {},
  ) {
    super();
    this.weight = this.param('weight', new Parameter(normalInit([numEmbeddings, embeddingDim], 1, rngOf(opts.seed), opts.dtype)));
  }

  /**
   * int32/int64 ids of shape S → rows of `weight`, shape S + [embeddingDim]. Throws DTYPE_MISMATCH for other
   * dtypes and INDEX_OUT_OF_RANGE for an id outside [−numEmbeddings, numEmbeddings) (negative ids count from the end).
   * @example emb.forward(ids)
   */
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32' && ids.dtype !== 'int64')
      throw new NormkitError(
        'DTYPE_MISMATCH',
        `Embedding(${this.numEmbeddings}, ${this.embeddingDim}): indices must be int32/int64, got ${ids.dtype} ${fmtShape(ids.shape)}`,
      );
    return gather(this.weight.value, ids, 0);
  }
}
