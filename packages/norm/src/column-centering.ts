import { defineOp, mean, runOp, sub, type Tensor } from '@normkit/tensor';
import { axisOf, f64, requireFloat, tensorOf } from './internal.js';
import { matchInputs } from './recorded-op.js';

/**
 * Where the output-feature axis of a weight lies, by layout:
 * - 'linear': PyTorch Linear / Gemm(transB=1) weight (out, in) → axis 0
 * - 'matmul': ONNX MatMul weight (in, out) → last axis
 * - 'conv': Conv kernel (Cout, Cin/g, kh, kw) → axis 0 (centered per input tap)
 * - 'embedding': embedding table / positional embeddings (vocab, d) → last axis (each row)
 * - 'bias': a bias vector (d) → axis 0
 */
export type ColumnLayout = 'linear' | 'matmul' | 'conv' | 'embedding' | 'bias';

function resolveAxis(op: string, W: Tensor, axis: number | ColumnLayout): number {
  const a = typeof axis === 'number' ? axis : axis === 'matmul' || axis === 'embedding' ? -1 : 0;
  return axisOf(op, a, W.rank, W.shape);
}

/** The op `centerColumns` (input W, attribute axis), differentiated by `centerColumnsBackward`. */
const CENTER_COLUMNS = defineOp<{ axis: number | ColumnLayout }>({
  name: 'centerColumns',
  grad: (dy, { inputs, attrs }) => matchInputs(inputs, [centerColumnsBackward(dy, inputs[0] as Tensor, attrs.axis).dW]),
});

/**
 * Column-centered weight transformation (CCWT / CBWC): W' = (I − 11ᵀ/d)·W along the output axis,
 * so every column (each fixed index of the other axes) has zero mean over the d outputs and
 * 1ᵀ(W'x + b') = 0 for all x. Then LN(Wx + b) = RMSNorm(W'x + b') with the same γ, β, ε.
 * A recorded, differentiable op: training a CBWC layer keeps a free V and uses W = centerColumns(V).
 *
 * @example
 * ```ts
 * centerColumns(Tensor.from([[1, 2], [3, 4], [5, 6]])).toArray(); // [[-2, -2], [0, 0], [2, 2]]
 * centerColumns(embeddingTable, 'embedding');                     // each row zero-mean
 * ```
 */
export function centerColumns(W: Tensor, axis: number | ColumnLayout = 0): Tensor {
  return runOp(CENTER_COLUMNS, [W], { axis }, () => {
    requireFloat('centerColumns', W, 'W');
    const a = resolveAxis('centerColumns', W, axis);
    return sub(W, mean(W, a, true));
  });
}

/**
 * Backward of `centerColumns`: centering is an orthogonal projection, so ∂L/∂W = C·∂L/∂W'.
 *
 * @example
 * ```ts
 * const { dW } = centerColumnsBackward(dWc, W, 0); // CBWC: gradient to the free parameter V
 * ```
 */
export function centerColumnsBackward(dy: Tensor, W: Tensor, axis: number | ColumnLayout = 0): { dW: Tensor } {
  requireFloat('centerColumnsBackward', W, 'W');
  const a = resolveAxis('centerColumnsBackward', W, axis);
  const dt = W.dtype as 'float32';
  const D = f64(dy);
  return { dW: sub(tensorOf(dt, dy.shape, D), mean(tensorOf(dt, dy.shape, D), a, true)) };
}

/**
 * The column-centering constraint (CCC) check: every column mean over the output axis is within
 * `tol · max(1, max |column entry|)` of zero.
 *
 * @example
 * ```ts
 * isColumnCentered(centerColumns(W)); // true
 * isColumnCentered(W, 1e-6, 'matmul');
 * ```
 */
export function isColumnCentered(W: Tensor, tol = 1e-6, axis: number | ColumnLayout = 0): boolean {
  return columnMeanDeviation(W, axis) <= tol;
}

/**
 * The largest |column mean| / max(1, max |column entry|) over all columns (0 for a centered W).
 *
 * @example
 * ```ts
 * columnMeanDeviation(Tensor.from([[1, 2], [3, 4]])); // 0.75 (column 1: mean 3, max 4)
 * ```
 */
export function columnMeanDeviation(W: Tensor, axis: number | ColumnLayout = 0): number {
  requireFloat('columnMeanDeviation', W, 'W');
  const a = resolveAxis('columnMeanDeviation', W, axis);
  const d = W.shape[a] as number;
  const inner = W.shape.slice(a + 1).reduce((p, v) => p * v, 1);
  const outer = W.shape.slice(0, a).reduce((p, v) => p * v, 1);
  const X = W.data as Float32Array;
  let worst = 0;
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0;
      let mx = 1;
      for (let k = 0; k < d; k++) {
        const v = X[(o * d + k) * inner + i] as number;
        s += v;
        mx = Math.max(mx, Math.abs(v));
      }
      worst = Math.max(worst, Math.abs(s / d) / mx);
    }
  return worst;
}
