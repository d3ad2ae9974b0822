import { fmtShape, NormkitError, Tensor } from '@normkit/tensor';
import type { Parameter } from '../nn/module.js';

/** The float storage an optimizer updates in place. */
export type FloatArray = Float32Array | Float64Array;

/** Hyperparameters of one parameter group (numbers and flags only, so they serialize as JSON). */
export type Hyper = Record<string, number | boolean>;

/** Learning rate and weight decay, the hyperparameters every optimizer has. */
export interface BaseHyper {
  lr: number;
  weightDecay: number;
}

/**
 * A parameter group (PyTorch's `param_groups` entry): its parameters and any hyperparameter that
 * differs from the optimizer's defaults.
 * @example new AdamW([{ params: encoder.parameters(), lr: 1e-4 }, { params: head.parameters() }], { lr: 1e-3 })
 */
export type ParamGroup<H extends BaseHyper = BaseHyper> = { params: readonly Parameter[] } & Partial<H>;

/** A resolved group: every hyperparameter set. */
export type Group<H extends BaseHyper> = H & { readonly params: readonly Parameter[] };

/**
 * What `Optimizer.state()` returns and `loadState()` takes: plain JSON plus tensors named
 * `<slot>.<parameter index>` (index in `parameters` order), ready for a checkpoint.
 */
export interface OptimizerState {
  /** The optimizer's class name (`SGD`, `AdamW`, `LARS`). */
  kind: string;
  /** Calls of `step()` so far. */
  stepCount: number;
  /** Updates applied to each parameter (a parameter without a gradient at a step is skipped). */
  paramSteps: number[];
  /** Hyperparameters of each group, learning rate included. */
  groups: Hyper[];
  /** The base learning rate the groups' rates scale with (see `Optimizer.lr`). */
  lr: number;
  /** Per-parameter slots (momentum buffers, moments), copies. */
  tensors: Record<string, Tensor>;
}

/**
 * Base of the optimizers: parameter groups, `zeroGrad`, `step`, learning-rate control and
 * `state()`/`loadState()` for checkpoints. A subclass implements one fused update per parameter:
 * a single pass over the parameter's Float32Array/Float64Array, in place, with no temporary tensors.
 *
 * The optimizer updates parameter storage it owns: the first time it sees a parameter's `value`
 * tensor it replaces it with a private copy, so a tensor shared with another model (after
 * `loadStateDict`) or held by the caller is never changed behind its back.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 1e-3 });
 * computeGrads(() => loss(model), model.parameters());
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  /** Resolved parameter groups; their hyperparameters may be changed between steps. */
  readonly groups: Group<H>[];
  /** Every parameter, group by group: the index used by `state()`. */
  readonly parameters: readonly Parameter[];
  /** Calls of `step()` so far. */
  stepCount = 0;
  /** Updates applied to each parameter. */
  protected readonly paramSteps: number[];
  /** Per-parameter state arrays by slot name (undefined until first needed). */
  protected readonly slots: Record<string, (FloatArray | undefined)[]>;
  private baseLr: number;
  private readonly lrScale: number[];
  private readonly owned = new WeakSet<Tensor>();

  protected constructor(
    readonly kind: string,
    params: readonly Parameter[] | readonly ParamGroup<H>[],
    defaultHyper: H,
    opts: Partial<H>,
    slotNames: readonly string[],
  ) {
    const defaults = { ...defaultHyper, ...stripUndefined(opts) } as H;
    const groups = (isGroupList(params) ? params : [{ params }]) as readonly ParamGroup<H>[];
    if (groups.length === 0) throw new NormkitError('INVALID_ARGUMENT', `${kind}: no parameter groups given; pass model.parameters()`);
    this.groups = groups.map((g) => ({ ...defaults, ...stripUndefined(g), params: [...g.params] }) as Group<H>);
    this.parameters = this.groups.flatMap((g) => g.params);
    if (new Set(this.parameters).size !== this.parameters.length)
      throw new NormkitError('INVALID_ARGUMENT', `${kind}: a parameter appears twice (in one group or in two); each must be listed once`);
    for (const g of this.groups) this.validate(g);
    this.baseLr = defaults.lr;
    this.lrScale = this.groups.map((g) => (defaults.lr !== 0 ? g.lr / defaults.lr : 1));
    this.paramSteps = this.parameters.map(() => 0);
    this.slots = Object.fromEntries(slotNames.map((s) => [s, this.parameters.map(() => undefined)]));
  }

  /**
   * The base learning rate. Setting it sets every group's rate to `lr × (group lr / default lr)` as
   * given at construction, so groups keep their ratios under a schedule (PyTorch's LambdaLR).
   * @example opt.lr = schedule(step)
   */
  get lr(): number {
    return this.baseLr;
  }

  set lr(lr: number) {
    if (!(lr >= 0) || !Number.isFinite(lr))
      throw new NormkitError('INVALID_ARGUMENT', `${this.kind}: the learning rate must be a finite number ≥ 0, got ${lr}`);
    this.baseLr = lr;
    this.groups.forEach((g, i) => {
      (g as BaseHyper).lr = lr * (this.lrScale[i] as number);
    });
  }

  /** Drops every parameter's gradient (PyTorch `zero_grad(set_to_none=True)`). @example opt.zeroGrad() */
  zeroGrad(): void {
    for (const p of this.parameters) p.grad = undefined;
  }

  /** Applies one update to every parameter that has a gradient. @example opt.step() */
  step(): void {
    this.stepCount++;
    let i = 0;
    for (const g of this.groups) {
      this.validate(g);
      for (const p of g.params) {
        if (p.grad !== undefined) {
          const w = this.ownedData(p, i);
          this.paramSteps[i] = (this.paramSteps[i] as number) + 1;
          this.update(w, checkedGrad(this.kind, p, i), g, i, p.noDecay);
        }
        i++;
      }
    }
  }

  /**
   * One fused in-place update of parameter `index`: `w` its values, `g` its gradient, `group` its
   * hyperparameters, `noDecay` whether weight decay is off for it. `paramSteps[index]` already counts
   * this update.
   */
  protected abstract update(w: FloatArray, g: FloatArray, group: Group<H>, index: number, noDecay: boolean): void;

  /** Checks a group's hyperparameters; throws a NormkitError naming the bad one. */
  protected validate(g: Group<H>): void {
    checkHyper(this.kind, 'lr', g.lr, g.lr >= 0, 'a finite number ≥ 0');
    checkHyper(this.kind, 'weightDecay', g.weightDecay, g.weightDecay >= 0, 'a finite number ≥ 0');
  }

  /** The slot array `name` of parameter `index`, created (zeros, the parameter's dtype) if absent. */
  protected slot(name: string, index: number, like: FloatArray): FloatArray {
    const list = this.slots[name] as (FloatArray | undefined)[];
    let s = list[index];
    if (s === undefined) list[index] = s = like instanceof Float64Array ? new Float64Array(like.length) : new Float32Array(like.length);
    return s;
  }

  /** Whether slot `name` of parameter `index` exists yet. */
  protected hasSlot(name: string, index: number): boolean {
    return this.slots[name]?.[index] !== undefined;
  }

  /**
   * A snapshot of the optimizer (copies): step counts, group hyperparameters and slot tensors named
   * `<slot>.<index>`.
   * @example const saved = opt.state(); ...; freshOpt.loadState(saved)
   */
  state(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    for (const [name, list] of Object.entries(this.slots))
      list.forEach((s, i) => {
        if (s) tensors[`${name}.${i}`] = new Tensor((this.parameters[i] as Parameter).value.shape, dtypeOfArray(s), s.slice());
      });
    const groups = this.groups.map(({ params: _, ...h }) => ({ ...h }) as unknown as Hyper);
    return { kind: this.kind, stepCount: this.stepCount, paramSteps: [...this.paramSteps], groups, lr: this.baseLr, tensors };
  }

  /**
   * Restores a `state()` taken from an optimizer of the same kind over parameters of the same
   * shapes, in the same order (hyperparameters included, as PyTorch's `load_state_dict`).
   * @example opt.loadState(checkpoint.optimizer)
   */
  loadState(s: OptimizerState): void {
    const where = `${this.kind}.loadState`;
    if (s.kind !== this.kind)
      throw new NormkitError(
        'STATE_MISMATCH',
        `${where}: the state was saved by ${s.kind}, not ${this.kind}; build the same optimizer to resume`,
      );
    if (s.paramSteps.length !== this.parameters.length || s.groups.length !== this.groups.length)
      throw new NormkitError(
        'STATE_MISMATCH',
        `${where}: the state has ${s.paramSteps.length} parameters in ${s.groups.length} groups, this optimizer ${this.parameters.length} in ${this.groups.length}; the model or its grouping differs`,
      );
    const slots = Object.fromEntries(
      Object.keys(this.slots).map((k) => [k, this.parameters.map(() => undefined as FloatArray | undefined)]),
    );
    for (const [key, t] of Object.entries(s.tensors)) {
      const [name, idx] = splitSlotKey(key);
      const p = this.parameters[idx];
      if (!slots[name] || !p) throw new NormkitError('STATE_MISMATCH', `${where}: unknown state tensor "${key}" for ${this.kind}`);
      if (t.dtype !== p.value.dtype || t.size !== p.value.size)
        throw new NormkitError(
          'STATE_MISMATCH',
          `${where}: "${key}" is ${t.dtype} ${fmtShape(t.shape)} but parameter ${idx} is ${p.value.dtype} ${fmtShape(p.value.shape)}`,
        );
      (slots[name] as (FloatArray | undefined)[])[idx] = (t.data as FloatArray).slice();
    }
    s.groups.forEach((h, i) => {
      Object.assign(this.groups[i] as Group<H>, h);
    });
    for (const g of this.groups) this.validate(g);
    Object.assign(this.slots, slots);
    this.paramSteps.splice(0, this.paramSteps.length, ...s.paramSteps);
    this.stepCount = s.stepCount;
    this.baseLr = s.lr;
  }

  /** The parameter's values, after making sure the storage belongs to this optimizer. */
  private ownedData(p: Parameter, index: number): FloatArray {
    if (!this.owned.has(p.value)) {
      if (p.value.dtype !== 'float32' && p.value.dtype !== 'float64')
        throw new NormkitError(
          'DTYPE_MISMATCH',
          `${this.kind}: parameter ${index} ${fmtShape(p.value.shape)} is ${p.value.dtype}; only float32/float64 parameters can be trained`,
        );
      p.value = p.value.clone();
      this.owned.add(p.value);
    }
    return p.value.data as FloatArray;
  }
}

function isGroupList<H extends BaseHyper>(params: readonly Parameter[] | readonly ParamGroup<H>[]): params is readonly ParamGroup<H>[] {
  return params.length > 0 && 'params' in (params[0] as object);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkedGrad(kind: string, p: Parameter, index: number): FloatArray {
  const g = p.grad as Tensor;
  if (g.dtype !== p.value.dtype || g.size !== p.value.size)
    throw new NormkitError(
      'GRADIENT_SHAPE',
      `${kind}.step: parameter ${index} is ${p.value.dtype} ${fmtShape(p.value.shape)} but its gradient is ${g.dtype} ${fmtShape(g.shape)}`,
    );
  return g.data as FloatArray;
}

function splitSlotKey(key: string): [string, number] {
  const dot = key.lastIndexOf('.');
  return [key.slice(0, dot), Number(key.slice(dot + 1))];
}

function dtypeOfArray(a: FloatArray): 'float32' | 'float64' {
  return a instanceof Float64Array ? 'float64' : 'float32';
}

/**
 * Throws INVALID_ARGUMENT naming the hyperparameter unless `ok` holds and a numeric value is finite.
 * @example checkHyper('SGD', 'momentum', m, m >= 0 && m < 1, 'in [0, 1)')
 */
export function checkHyper(kind: string, name: string, value: number | boolean, ok: boolean, rule: string): void {
  if (!ok || (typeof value === 'number' && !Number.isFinite(value)))
    throw new NormkitError('INVALID_ARGUMENT', `${kind}: ${name} must be ${rule}, got ${value}`, { optimizer: kind, [name]: value });
}
