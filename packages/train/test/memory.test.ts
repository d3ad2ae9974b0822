import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { AdamW, computeGrads, crossEntropy, MLP } from '../src/index.js';

// The tape and every intermediate gradient must be released after each backward pass: 10,000 training
// steps may not grow the heap. Measured after a forced full GC at step 1,000 and at step 10,000.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveBytes = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe('autograd memory', () => {
  it('10,000 training steps leave no growing garbage (tape, gradients, activations)', () => {
    const model = new MLP({ norm: 'ln', seed: 0, inFeatures: 32, hidden: [64, 64], numClasses: 10 });
    const opt = new AdamW(model.parameters(), { lr: 1e-3 });
    const x = Tensor.randn([16, 32], 1);
    const y = Tensor.from(
      Array.from({ length: 16 }, (_, i) => i % 10),
      [16],
      'int32',
    );
    let at1000 = 0;
    for (let step = 1; step <= 10_000; step++) {
      computeGrads(() => crossEntropy(model.forward(x), y), model.parameters());
      opt.step();
      opt.zeroGrad();
      if (step === 1000) at1000 = liveBytes();
    }
    const growth = liveBytes() - at1000;
    // One step allocates ~100 KB of tensors; a leak of even one small tensor per step would add
    // > 2 MB over 9,000 steps. Allow 1 MB of noise (JIT code, V8 bookkeeping).
    expect(growth).toBeLessThan(1 << 20);
  });
});
