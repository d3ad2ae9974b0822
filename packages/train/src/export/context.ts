import { type Dim, GraphBuilder, type RmsFormat } from '@normkit/graph';
import { NormkitError, Tensor } from '@normkit/tensor';
import type { Module } from '../nn/module.js';

/** A value of the graph being built: its name and its shape (only axis 0, the batch, may be symbolic). */
export interface Value {
  name: string;
  shape: Dim[];
}

/** The export options every module exporter reads (defaults applied). */
export interface ExportSettings {
  opset: number;
  rmsFormat: RmsFormat;
  normAs: 'rms' | 'ln';
}

/** Exports `m`, found at `path`, reading `x`; the one dispatch point (`exportModule` in registry.ts). */
export type Dispatch = (ctx: ExportContext, m: Module, path: string, x: Value) => Value;

/** `path.name`, or `name` at the root. @example join('blocks.0', 'attn') // 'blocks.0.attn' */
export const join = (path: string, name: string): string => (path ? `${path}.${name}` : name);

/** A shape for messages: `[N, 64, 7, 7]`. */
export const fmtDims = (shape: readonly Dim[]): string => `[${shape.map((d) => d ?? '?').join(', ')}]`;

/** A module's place in an error message: `blocks.0.attn (MultiHeadSelfAttention)`. */
export const where = (m: Module, path: string): string => `${path || '<root>'} (${m.constructor.name})`;

/**
 * The state of one export: the graph builder, node naming after module paths (`blocks.0.attn.qkv/MatMul`,
 * output `blocks.0.attn.qkv/MatMul:0`, the zoo's convention), constants, and the shape of every value,
 * which the exporters use to write static Reshape targets (0 copies the symbolic batch axis).
 */
export class ExportContext {
  readonly b: GraphBuilder;
  private readonly counts = new Map<string, number>();

  constructor(
    name: string,
    readonly settings: ExportSettings,
    private readonly dispatch: Dispatch,
  ) {
    this.b = new GraphBuilder(name);
  }

  /** Exports child module `m` at `path` on `x`. */
  module(m: Module, path: string, x: Value): Value {
    return this.dispatch(this, m, path, x);
  }

  /** Adds a node named `<scope>/<opType>` (numbered when repeated) with output shape `shape`. */
  op(scope: string, opType: string, inputs: string[], shape: Dim[], attrs: Parameters<GraphBuilder['op']>[2] = {}): Value {
    const key = scope ? `${scope}/${opType}` : opType;
    const k = this.counts.get(key) ?? 0;
    this.counts.set(key, k + 1);
    const name = k === 0 ? key : `${key}_${k}`;
    return { name: this.b.op(opType, inputs, attrs, { name, output: `${name}:0` }), shape };
  }

  /** A float32 initializer holding a copy of `t` (later training does not change the exported model). */
  constant(name: string, t: Tensor): string {
    return this.b.constant(name, new Tensor([...t.shape], 'float32', Float32Array.from(t.data as ArrayLike<number>)));
  }

  /** An int64 vector initializer. */
  ints(name: string, values: number[]): string {
    return this.b.constant(name, Tensor.from(values, [values.length], 'int64'));
  }

  /** A float32 scalar initializer. */
  scalar(name: string, v: number): string {
    return this.b.constant(name, Tensor.scalar(v));
  }

  /** Reshape to `shape` (same element count); a symbolic axis 0 is kept by writing 0 in the target. */
  reshape(scope: string, x: Value, shape: Dim[]): Value {
    const target = shape.map((d, i) => {
      if (typeof d === 'number') return d;
      if (i === 0 && x.shape[0] === d) return 0;
      throw new NormkitError(
        'EXPORT_SHAPE',
        `exportModel: ${scope}: cannot write a Reshape of ${fmtDims(x.shape)} to ${fmtDims(shape)}: only the batch axis (axis 0) may be symbolic`,
      );
    });
    return this.op(scope, 'Reshape', [x.name, this.ints(`${scope}.shape`, target)], shape);
  }

  /** Transpose by `perm`. */
  transpose(scope: string, x: Value, perm: number[]): Value {
    return this.op(
      scope,
      'Transpose',
      [x.name],
      perm.map((p) => x.shape[p]),
      { perm },
    );
  }

  /**
   * Runs `body` with the features on the last axis: when `axis` is another axis, a Transpose moves it
   * last and a second one moves it back (a conv map [N, C, H, W] is normalised channels-last per position).
   */
  featuresLast(scope: string, x: Value, axis: number, body: (v: Value) => Value): Value {
    const r = x.shape.length;
    if (axis === r - 1) return body(x);
    const perm = [...Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis), axis];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return this.transpose(scope, body(this.transpose(scope, x, perm)), inverse);
  }
}
