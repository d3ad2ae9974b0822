import type { Tensor } from '@normkit/tensor';
import { Module } from './module.js';

/**
 * Runs its children in order, named '0', '1', ... (PyTorch `nn.Sequential`), so parameter names read
 * `0.weight`, `2.bias`.
 *
 * @example
 * ```ts
 * const net = new Sequential(new Flatten(), new Linear(784, 10, { seed: 1 }));
 * net.namedParameters().map(([n]) => n); // ['1.weight', '1.bias']
 * ```
 */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.child(String(i), m));
  }

  /** Feeds x through the children in order and returns the last one's output. @example net.forward(x) */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
