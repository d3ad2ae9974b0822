import { fmtShape, NormkitError, Rng, type Tensor } from '@normkit/tensor';
import { noGrad, valueAndGrads } from './autograd.js';

/** Options of `gradCheck` (the names and defaults of `torch.autograd.gradcheck`). */
export interface GradCheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Relative tolerance: an element passes when |analytic − numeric| ≤ atol + rtol·|numeric|. Default 1e-3. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /**
   * Check only this many elements per input tensor, drawn without replacement by a seeded RNG (all
   * elements when the tensor is no larger). Default: every element.
   */
  sample?: number;
  /** Seed of the sample. Default 0. */
  seed?: number;
}

/** One checked element: where it is and both derivatives. */
export interface GradCheckElement {
  /** The key of the input (its record key, or its position in an array). */
  name: string;
  /** Flat (row-major) index into that input. */
  index: number;
  analytic: number;
  numeric: number;
  absError: number;
  relError: number;
}

/** What `gradCheck` found. */
export interface GradCheckResult {
  /** Every checked element is within atol + rtol·|numeric|. */
  ok: boolean;
  /** Elements checked, over all inputs. */
  checked: number;
  /** The largest |analytic − numeric|. */
  maxAbsError: number;
  /** The largest |analytic − numeric| / max(|numeric|, |analytic|) (0 where both are 0). */
  maxRelError: number;
  /** The element furthest outside (or least inside) its tolerance: the one to look at first. */
  worst: GradCheckElement | undefined;
  /** One line for a test message: ok/FAIL, counts, worst element. */
  summary: string;
}

/**
 * Checks the gradients of a scalar function against float64 central finite differences, like
 * `torch.autograd.gradcheck`: for each checked element e of each input, numeric =
 * (f(x + eps·e) − f(x − eps·e)) / (2·eps), compared with the analytic gradient from
 * `valueAndGrads`. The inputs are perturbed in place and restored; `f` must read them (the same
 * tensor objects) and be deterministic (no dropout, no batch statistics that change between calls).
 * Every input must be float64, so that the differences measure the gradient, not round-off.
 *
 * @example
 * ```ts
 * const x = Tensor.randn([3, 4], 1, { dtype: 'float64' });
 * const w = Tensor.randn([4, 2], 2, { dtype: 'float64' });
 * const r = gradCheck(() => sum(mul(matmul(x, w), matmul(x, w))), { x, w });
 * r.ok; // true
 * r.summary; // 'gradCheck ok: 20 elements, max abs error 3.1e-10, max rel error 2.2e-9 (worst: w[5] ...)'
 * ```
 */
export function gradCheck(
  f: () => Tensor,
  inputs: readonly Tensor[] | Record<string, Tensor>,
  opts: GradCheckOptions = {},
): GradCheckResult {
  const eps = opts.eps ?? 1e-6;
  const rtol = opts.rtol ?? 1e-3;
  const atol = opts.atol ?? 1e-5;
  const entries: [string, Tensor][] = Array.isArray(inputs)
    ? (inputs as readonly Tensor[]).map((t, i) => [String(i), t])
    : Object.entries(inputs as Record<string, Tensor>);
  for (const [name, t] of entries)
    if (t.dtype !== 'float64')
      throw new NormkitError(
        'DTYPE_MISMATCH',
        `gradCheck: input "${name}" is ${t.dtype} ${fmtShape(t.shape)}; finite differences need float64 (create the module with { dtype: 'float64' } or cast the input)`,
        { name, shape: t.shape },
      );
  const { grads } = valueAndGrads(
    f,
    entries.map(([, t]) => t),
  );
  const rng = new Rng(opts.seed ?? 0);
  const scalar = () => noGrad(() => scalarOf(f()));
  const checkedElements: GradCheckElement[] = [];
  entries.forEach(([name, t], k) => {
    const g = (grads[k] as Tensor).data as Float64Array;
    const x = t.data as Float64Array;
    for (const index of sampleIndices(t.size, opts.sample, rng)) {
      const orig = x[index] as number;
      x[index] = orig + eps;
      const fp = scalar();
      x[index] = orig - eps;
      const fm = scalar();
      x[index] = orig;
      const numeric = (fp - fm) / (2 * eps);
      const analytic = g[index] as number;
      const absError = Math.abs(analytic - numeric);
      const scale = Math.max(Math.abs(numeric), Math.abs(analytic));
      checkedElements.push({ name, index, analytic, numeric, absError, relError: scale === 0 ? 0 : absError / scale });
    }
  });
  return summarize(checkedElements, rtol, atol);
}

function scalarOf(t: Tensor): number {
  if (t.size !== 1)
    throw new NormkitError('NOT_A_SCALAR', `gradCheck: the function must return a one-element tensor, got ${fmtShape(t.shape)}`);
  return Number(t.data[0]);
}

/** All indices of a tensor of `size` elements, or `sample` of them drawn without replacement (partial Fisher–Yates). */
function sampleIndices(size: number, sample: number | undefined, rng: Rng): number[] {
  const all = Array.from({ length: size }, (_, i) => i);
  if (sample === undefined || sample >= size) return all;
  for (let i = 0; i < sample; i++) {
    const j = i + rng.int(size - i);
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, sample).sort((a, b) => a - b);
}

function summarize(elements: GradCheckElement[], rtol: number, atol: number): GradCheckResult {
  let worst: GradCheckElement | undefined;
  let worstRatio = -1;
  let maxAbsError = 0;
  let maxRelError = 0;
  let ok = true;
  for (const e of elements) {
    const tol = atol + rtol * Math.abs(e.numeric);
    const ratio = e.absError / tol;
    if (!(ratio <= 1)) ok = false; // NaN fails too
    if (!(ratio <= worstRatio)) {
      worstRatio = ratio;
      worst = e;
    }
    maxAbsError = Math.max(maxAbsError, e.absError);
    maxRelError = Math.max(maxRelError, e.relError);
  }
  const where = worst
    ? ` (worst: ${worst.name}[${worst.index}] analytic ${worst.analytic.toExponential(6)} vs numeric ${worst.numeric.toExponential(6)})`
    : '';
  const summary = `gradCheck ${ok ? 'ok' : 'FAIL'}: ${elements.length} elements, max abs error ${maxAbsError.toExponential(2)}, max rel error ${maxRelError.toExponential(2)}${where}`;
  return { ok, checked: elements.length, maxAbsError, maxRelError, worst, summary };
}
