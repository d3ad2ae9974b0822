import { type IntlLossOptions, intlLossTensor } from '@normkit/norm';
import { allocate, defineOp, fmtShape, NormkitError, runOp, Tensor } from '@normkit/tensor';

// Training losses as ops defined once (forward + gradient in one definition), recorded as one tape
// entry each. Cross-entropy is a fused loop: it sits on the hot path of every classifier step.

type FloatData = Float32Array | Float64Array;

/** Options of `crossEntropy` (PyTorch `F.cross_entropy` semantics for class-index targets). */
export interface CrossEntropyOptions {
  /** 'mean' over the N rows (default) or 'sum'. */
  reduction?: 'mean' | 'sum';
  /** ε of label smoothing: the target is (1 − ε)·onehot + ε/C. Default 0. */
  labelSmoothing?: number;
}

interface CrossEntropyAttrs {
  scale: number;
  smoothing: number;
}

const CROSS_ENTROPY = defineOp<CrossEntropyAttrs, FloatData>({
  name: 'crossEntropy',
  // ∂L/∂z = scale·(softmax(z) − target): the probabilities were kept by the forward pass.
  grad: (dy, { inputs: [logits, labels], attrs, saved }) => {
    const z = logits as Tensor;
    const [N, C] = z.shape as [number, number];
    const ids = (labels as Tensor).data;
    const g = allocate(z.dtype, N * C) as FloatData;
    const s = Number(dy.data[0]) * attrs.scale;
    const off = attrs.smoothing / C;
    const on = 1 - attrs.smoothing;
    for (let i = 0; i < N * C; i++) g[i] = s * ((saved[i] as number) - off);
    for (let n = 0; n < N; n++) g[n * C + Number(ids[n])]! -= s * on;
    return [new Tensor([N, C], z.dtype, g), undefined];
  },
});

/**
 * Softmax cross-entropy of logits [N, C] against integer class labels [N] (int32 or int64), fused and
 * numerically stable: per row, loss = logΣexp(z − max) + max − Σ_c target_c·z_c with target =
 * (1 − ε)·onehot + ε/C. One pass keeps softmax(z) for the gradient softmax − target. Returns a
 * scalar of the logits' dtype.
 *
 * @example
 * ```ts
 * const logits = Tensor.from([[2, 0, -1], [0, 3, 1]]);
 * const labels = Tensor.from([0, 1], undefined, 'int64');
 * crossEntropy(logits, labels);                          // mean over the 2 rows
 * crossEntropy(logits, labels, { labelSmoothing: 0.1, reduction: 'sum' });
 * ```
 */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const [N, C] = checkCrossEntropy(logits, labels);
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1))
    throw new NormkitError('INVALID_ARGUMENT', `crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const scale = (opts.reduction ?? 'mean') === 'mean' ? 1 / Math.max(N, 1) : 1;
  return runOp(CROSS_ENTROPY, [logits, labels], { scale, smoothing }, () => {
    const z = logits.data as FloatData;
    const ids = labels.data;
    const p = allocate(logits.dtype, N * C) as FloatData;
    let total = 0;
    for (let n = 0; n < N; n++) {
      const row = n * C;
      let mx = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < C; c++) mx = Math.max(mx, z[row + c] as number);
      let se = 0;
      let sz = 0;
      for (let c = 0; c < C; c++) {
        const v = z[row + c] as number;
        const e = Math.exp(v - mx);
        p[row + c] = e;
        se += e;
        sz += v;
      }
      const inv = 1 / se;
      for (let c = 0; c < C; c++) p[row + c]! *= inv;
      const lse = mx + Math.log(se);
      const zy = z[row + Number(ids[n])] as number;
      total += lse - (1 - smoothing) * zy - (smoothing / C) * sz;
    }
    return { output: Tensor.scalar(total * scale, logits.dtype), saved: p };
  });
}

function checkCrossEntropy(logits: Tensor, labels: Tensor): [number, number] {
  if ((logits.dtype !== 'float32' && logits.dtype !== 'float64') || logits.rank !== 2)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `crossEntropy: logits must be float [N, C], got ${logits.dtype} ${fmtShape(logits.shape)}; flatten extra axes into N first`,
      { shape: logits.shape },
    );
  const [N, C] = logits.shape as [number, number];
  if ((labels.dtype !== 'int32' && labels.dtype !== 'int64') || labels.rank !== 1 || labels.shape[0] !== N)
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `crossEntropy: labels must be int32/int64 [${N}] (one class index per logits row), got ${labels.dtype} ${fmtShape(labels.shape)}`,
      { shape: labels.shape },
    );
  const ids = labels.data;
  for (let n = 0; n < N; n++) {
    const c = Number(ids[n]);
    if (!(c >= 0 && c < C))
      throw new NormkitError(
        'INDEX_OUT_OF_RANGE',
        `crossEntropy: label ${c} at row ${n} is outside [0, ${C}) for logits ${fmtShape(logits.shape)}`,
        {
          row: n,
        },
      );
  }
  return [N, C];
}

/** Options of `mse`. */
export interface MseOptions {
  /** 'mean' over all elements (default) or 'sum'. */
  reduction?: 'mean' | 'sum';
}

const MSE = defineOp<{ scale: number }>({
  name: 'mse',
  grad: (dy, { inputs: [pred, target], attrs }) => {
    const p = (pred as Tensor).data as FloatData;
    const t = (target as Tensor).data as FloatData;
    const s = 2 * Number(dy.data[0]) * attrs.scale;
    const gp = allocate((pred as Tensor).dtype, p.length) as FloatData;
    for (let i = 0; i < p.length; i++) gp[i] = s * ((p[i] as number) - (t[i] as number));
    const gt = allocate((pred as Tensor).dtype, p.length) as FloatData;
    for (let i = 0; i < p.length; i++) gt[i] = -(gp[i] as number);
    const shape = (pred as Tensor).shape;
    return [new Tensor(shape, (pred as Tensor).dtype, gp), new Tensor(shape, (pred as Tensor).dtype, gt)];
  },
});

/**
 * Mean squared error Σ(pred − target)²/n (or the sum), both float tensors of one shape and dtype;
 * differentiable in both. Returns a scalar.
 *
 * @example
 * ```ts
 * mse(Tensor.from([1, 2]), Tensor.from([1, 4])); // 2
 * ```
 */
export function mse(pred: Tensor, target: Tensor, opts: MseOptions = {}): Tensor {
  if (pred.dtype !== target.dtype || (pred.dtype !== 'float32' && pred.dtype !== 'float64') || pred.shape.join() !== target.shape.join())
    throw new NormkitError(
      'SHAPE_MISMATCH',
      `mse: pred ${pred.dtype} ${fmtShape(pred.shape)} and target ${target.dtype} ${fmtShape(target.shape)} must be float tensors of one shape and dtype`,
    );
  const scale = (opts.reduction ?? 'mean') === 'mean' ? 1 / Math.max(pred.size, 1) : 1;
  return runOp(MSE, [pred, target], { scale }, () => {
    const p = pred.data as FloatData;
    const t = target.data as FloatData;
    let s = 0;
    for (let i = 0; i < p.length; i++) s += ((p[i] as number) - (t[i] as number)) ** 2;
    return Tensor.scalar(s * scale, pred.dtype);
  });
}

/** Options of `intlObjective` (those of @normkit/norm's `intlLoss`). */
export type IntlObjectiveOptions = IntlLossOptions;

/**
 * The INTL self-supervised objective over K ≥ 2 crops' embeddings [N, D], as a differentiable scalar:
 * with t_k = IterNorm-whitened crop k (`iters` Newton steps, default 4),
 * L = (1/(K−1))·Σ_{i≥1} [normMse(t_i, t_0) + β·(TL(t_i) + TL(t_0))], TL the trace loss and β
 * = 0.01·(log2(N) − 3) by default. It is @normkit/norm's recorded `intlLossTensor` op (one tape entry,
 * gradient from `intlLossBackward`), the same number as `intlLoss`.
 *
 * @example
 * ```ts
 * const z0 = projector.forward(encoder.forward(crop0));
 * const z1 = projector.forward(encoder.forward(crop1));
 * const loss = intlObjective([z0, z1], { beta: 0.05, iters: 4 });
 * ```
 */
export function intlObjective(crops: readonly Tensor[], opts: IntlObjectiveOptions = {}): Tensor {
  return intlLossTensor(crops, opts);
}
