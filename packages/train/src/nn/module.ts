import { add, NormkitError, type Tensor } from '@normkit/tensor';
import { type GradOptions, valueAndGrads } from '../autograd.js';

/**
 * A trainable tensor: `value` is what the forward pass reads, `grad` what `computeGrads` accumulates
 * and an optimizer consumes. Optimizers update `value` in place.
 * @example const w = new Parameter(Tensor.zeros([4, 3])); w.grad // undefined until computeGrads
 */
export class Parameter {
  grad: Tensor | undefined = undefined;
  constructor(
    public value: Tensor,
    /** Excluded from weight decay (biases, norm gains, embeddings of positions...). */
    public readonly noDecay = false,
  ) {}
}

/**
 * Base class of layers and networks. Subclasses register their parameters, buffers (non-trained state
 * such as BatchNorm running statistics) and children in their constructor, in a fixed order, so that
 * names (`blocks.0.attn.qkv.weight`) and checkpoints are the same on every machine.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   readonly g = this.param('g', new Parameter(Tensor.ones([8])));
 *   forward(x: Tensor) { return mul(x, this.g.value); }
 * }
 * ```
 */
export abstract class Module {
  /** Train mode (dropout active, batch statistics) or eval mode. */
  training = true;
  private readonly params = new Map<string, Parameter>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /**
   * The layer's computation on `x`, built from recorded ops so that `computeGrads` can differentiate it;
   * `training` selects train or eval behaviour. Each subclass states the shapes it takes and throws on others.
   * @example const logits = model.forward(x);
   */
  abstract forward(x: Tensor): Tensor;

  /** Registers a parameter under `name` and returns it. */
  protected param(name: string, p: Parameter): Parameter {
    this.checkName(name);
    this.params.set(name, p);
    return p;
  }

  /** Registers (or replaces) a buffer: state saved in checkpoints and exported, but not trained. */
  protected buffer(name: string, t: Tensor): Tensor {
    if (!this.buffers.has(name)) this.checkName(name);
    this.buffers.set(name, t);
    return t;
  }

  /** Registers a child module under `name` and returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name) || name.includes('.'))
      throw new NormkitError(
        'INVALID_ARGUMENT',
        `Module: "${name}" is already registered or contains a "."; names must be unique and dot-free`,
      );
  }

  /** Every parameter with its dotted path, in registration order. @example model.namedParameters().map(([n]) => n) */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [...this.params].map(([n, p]) => [prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Every parameter, in registration order. @example new AdamW(model.parameters()) */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every buffer with its dotted path. @example bn.namedBuffers() // [['runningMean', ...], ...] */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.buffers].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Direct children with their names. @example seq.namedChildren()[0][0] // '0' */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** Sets train mode on this module and every descendant; returns this. @example model.train() */
  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  /** Sets eval mode (dropout off, running statistics); returns this. @example model.eval() */
  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name (values shared, not copied). @example Object.keys(model.stateDict()) */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters().map(([n, p]) => [n, p.value] as const), ...this.namedBuffers()]);
  }

  /**
   * Loads values by dotted name; every name and shape must match.
   * @example model.loadStateDict(checkpoint.state)
   */
  loadStateDict(state: Record<string, Tensor>): void {
    const own = this.stateDict();
    const missing = Object.keys(own).filter((k) => !(k in state));
    const extra = Object.keys(state).filter((k) => !(k in own));
    if (missing.length || extra.length)
      throw new NormkitError(
        'STATE_MISMATCH',
        `loadStateDict: ${missing.length ? `missing ${missing.slice(0, 5).join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.slice(0, 5).join(', ')}` : ''}; the state was saved from a different architecture`,
      );
    for (const [n, p] of this.namedParameters()) p.value = checkedCopy(n, state[n] as Tensor, p.value);
    this.setBuffers(state, '');
  }

  private setBuffers(state: Record<string, Tensor>, prefix: string): void {
    for (const n of this.buffers.keys())
      this.buffers.set(n, checkedCopy(prefix + n, state[prefix + n] as Tensor, this.buffers.get(n) as Tensor));
    for (const [n, c] of this.children) c.setBuffers(state, `${prefix}${n}.`);
  }

  /** The current value of a registered buffer. */
  protected getBuffer(name: string): Tensor {
    return this.buffers.get(name) as Tensor;
  }
}

function checkedCopy(name: string, src: Tensor, like: Tensor): Tensor {
  if (src.dtype !== like.dtype || src.shape.length !== like.shape.length || src.shape.some((d, i) => d !== like.shape[i]))
    throw new NormkitError(
      'STATE_MISMATCH',
      `loadStateDict: "${name}" is ${src.dtype} [${src.shape.join(', ')}] but the module has ${like.dtype} [${like.shape.join(', ')}]`,
    );
  return src;
}

/**
 * Runs `f` (a loss), adds the gradient of its value to each parameter's `grad` (PyTorch's
 * `loss.backward()`: gradients accumulate until `zeroGrad`), and returns the loss value. The storage
 * of `f`'s intermediate results is recycled for the next step unless `opts.recycle` is false (see
 * `GradOptions`): read anything you need from them inside `f`.
 * @example const loss = computeGrads(() => crossEntropy(model.forward(x), labels), model.parameters()); opt.step();
 */
export function computeGrads(f: () => Tensor, params: readonly Parameter[], opts: GradOptions = {}): number {
  const { value, grads } = valueAndGrads(
    f,
    params.map((p) => p.value),
    { recycle: opts.recycle ?? true },
  );
  params.forEach((p, i) => {
    const g = grads[i] as Tensor;
    p.grad = p.grad ? add(p.grad, g) : g;
  });
  return Number(value.data[0]);
}
