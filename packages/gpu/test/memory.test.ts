// The memory test: 1,000 executor runs of the zoo's GPT-2 tiny on the gpu.js backend leave the live
// device-chunk count (textures / WebGPU buffers / wasm arrays) where it was after the first run
// (which uploads the weights): every intermediate is released by the executor, every output by the
// caller. In webasm mode with Executor.run, and in webgpu mode (Dawn) with Executor.runAsync (200
// runs: SwiftShader takes ~55 ms a run). A LayerNorm's mean/invStdDev views, which the executor's
// LayerNormalization drops unread, are freed by the FinalizationRegistry: the count is taken after
// a garbage collection, so it checks that nothing reachable is left behind.
import v8 from 'node:v8';
import vm from 'node:vm';
import { Executor, randomInputs } from '@normkit/graph';
import { buildModel } from '@normkit/zoo';
import { describe, expect, it } from 'vitest';
import { createGpuBackend, initWebGpu } from '../src/index.js';

const RUNS = 1000;
const status = await initWebGpu();

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Live chunks after garbage collection and the finalizers it triggers. */
async function settled(live: () => number): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  return live();
}

describe('1,000 runs of GPT-2 tiny leave the live device storage where it started', () => {
  const model = buildModel('gpt2', { size: 'tiny', seqLen: 8, seed: 0 });
  const inputs = randomInputs(model, 1);

  it('webasm mode, Executor.run', async () => {
    const g = createGpuBackend({ mode: 'webasm', strict: true });
    const live = () => g.describe().liveTextures;
    const ex = new Executor(model, { backend: g });
    for (const t of Object.values(ex.run(inputs).outputs)) t.dispose();
    const start = await settled(live);
    for (let i = 0; i < RUNS; i++) for (const t of Object.values(ex.run(inputs).outputs)) t.dispose();
    expect(await settled(live)).toBe(start);
    g.dispose();
  });

  it.skipIf(!status.available)('webgpu mode (Dawn), Executor.runAsync (200 runs)', async () => {
    const g = createGpuBackend({ mode: 'webgpu', strict: true });
    const live = () => g.describe().liveTextures;
    const ex = new Executor(model, { backend: g });
    for (const t of Object.values((await ex.runAsync(inputs)).outputs)) t.dispose();
    const start = await settled(live);
    for (let i = 0; i < 200; i++) for (const t of Object.values((await ex.runAsync(inputs)).outputs)) t.dispose();
    expect(await settled(live)).toBe(start);
    g.dispose();
  });
});
