import { fmtShape, gelu, NormkitError, relu, reshape, type Tensor } from '@normkit/tensor';
import { Module } from './module.js';

// Parameter-free layers.

/** max(x, 0). @example new ReLU().forward(Tensor.from([-1, 2])) // [0, 2] */
export class ReLU extends Module {
  /** max(x, 0) elementwise, same shape. @example relu.forward(x) */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * GELU: x·Φ(x) with the exact erf (PyTorch's default), or the tanh approximation.
 * @example new GELU().forward(x); new GELU('tanh').forward(x)
 */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  /** GELU of x elementwise (exact or tanh, as `approximate`), same shape. @example gelu.forward(x) */
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}

/** Returns its input (`norm: 'none'`, `activation: 'none'`). @example new Identity().forward(x) === x */
export class Identity extends Module {
  /** Returns x itself. @example id.forward(x) === x */
  forward(x: Tensor): Tensor {
    return x;
  }
}

/**
 * Flattens every axis after the first: [N, ...] → [N, prod(...)] (PyTorch `nn.Flatten()`).
 * @example new Flatten().forward(Tensor.zeros([8, 1, 28, 28])).shape // [8, 784]
 */
export class Flatten extends Module {
  /** [N, ...] → [N, prod(...)] (a rank-2 x is returned as is); throws SHAPE_MISMATCH for a scalar. @example flat.forward(x) */
  forward(x: Tensor): Tensor {
    if (x.rank < 1) throw new NormkitError('SHAPE_MISMATCH', `Flatten: input ${fmtShape(x.shape)} needs a batch axis`);
    return x.rank === 2 ? x : reshape(x, [x.shape[0] as number, -1]);
  }
}
