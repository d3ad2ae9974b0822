// Our executor, with its plan-time fusions on (the default), against onnxruntime-node (graph
// optimizations off, so the model runs as written) on every zoo architecture: relative difference
// ≤ 1e-5 and the same argmax; where the export writes GELU as Div/Erf/Add/Mul/Mul, the profile shows it
// ran as fused Gelu steps.
import { Executor, randomInputs } from '@normkit/graph';
import { describe, expect, it } from 'vitest';
import { architectures, buildModel } from '../src/index.js';
import { compare, runOrt } from './ort-helpers.js';

describe('executor (fused plan) vs onnxruntime-node, every zoo model (tiny, opset 17)', () => {
  for (const a of architectures)
    it(a.name, async () => {
      const model = buildModel(a.name, { size: 'tiny', opset: 17, seed: 3 });
      const feed = randomInputs(model, 7);
      const ours = new Executor(model).run(feed, { profile: true });
      const ref = await runOrt(model, feed);
      for (const o of model.graph.outputs) {
        const t = ours.outputs[o.name]!;
        const c = compare(ref[o.name] as never, { data: t.data as Float32Array, dims: t.shape });
        expect(c.rel, `${o.name} relative difference`).toBeLessThanOrEqual(1e-5);
        expect(c.argmax).toBe(1);
      }
      const ops = ours.profile!.nodes.map((n) => n.opType);
      const erfs = model.graph.nodes.filter((n) => n.opType === 'Erf').length;
      expect(ops.filter((o) => o === 'Gelu')).toHaveLength(erfs);
      expect(ops).not.toContain('Erf');
    });
});
