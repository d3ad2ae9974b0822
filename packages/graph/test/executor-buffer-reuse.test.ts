import { storagePoolBytes, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Executor, GraphBuilder } from '../src/index.js';

// The executor hands the host arrays a run allocated back to the storage pool once no live value uses
// them, so later ops of that size reuse warm memory. A buffer shared by a view (Reshape) must survive
// until the view is released too; the values are checked against the formula by hand.

const N = 1 << 15; // 128 KiB of float32: above the pool's minimum size

describe('executor: buffer reuse', () => {
  it('recycles released intermediates and never a buffer a live view still reads', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [N]);
    const a = b.op('Mul', [x, b.constant('three', Tensor.from([3], []))]);
    // r views a's buffer; a's last reader is this Reshape, but r lives on.
    const r = b.op('Reshape', [a, b.constant('s2', Tensor.from([2, N / 2], [2], 'int64'))]);
    // This Add allocates an array of a's size after a is released: it must not get a's buffer while r lives.
    const s = b.op('Add', [x, x]);
    const back = b.op('Reshape', [r, b.constant('s1', Tensor.from([N], [1], 'int64'))]);
    b.output(b.op('Add', [back, s]));
    const ex = new Executor(b.model(17));
    const xs = Float32Array.from({ length: N }, (_, i) => Math.sin(i));
    const before = storagePoolBytes();
    for (let run = 0; run < 3; run++) {
      const y = Object.values(ex.run({ x: Tensor.from(xs, [N]) }).outputs)[0]?.data as Float32Array;
      // 3x + 2x
      for (let i = 0; i < N; i += 997) expect(y[i]).toBeCloseTo(5 * (xs[i] as number), 5);
    }
    expect(storagePoolBytes()).toBeGreaterThan(before);
  });
});
