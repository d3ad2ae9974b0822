/**
 * @normkit/graph — the graph IR, builder, shape inference, executor and the foldable-LayerNorm passes.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from '@normkit/graph';
 * const b = new GraphBuilder('g');
 * b.output(b.op('Relu', [b.input('x', 'float32', [2])]));
 * ```
 */

export { GraphBuilder, toAttribute } from './builder.js';
export { type Attribute, attr, type Dim, Graph, Model, type Node, type OpsetImport, subgraphsOf, type ValueInfo } from './ir.js';
export * from './passes/index.js';
