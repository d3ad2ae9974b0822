// End to end: zoo models run by the graph executor on the gpu.js backend match the CPU backend
// within 1e-4 (every output). Skipped, saying why, until @normkit/graph's executor and @normkit/zoo
// are available.
import { CpuBackend } from '@normkit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { e2eModels, loadGraphAndZoo } from '../bench/e2e.js';
import { createGpuBackend } from '../src/index.js';
import { expectClose } from './helpers.js';

const loaded = await loadGraphAndZoo();
const skipped = 'skipped' in loaded ? loaded.skipped : undefined;
if (skipped) console.warn(`[gpu zoo test] skipped: ${skipped}`);

const listed = 'skipped' in loaded ? undefined : (loaded.zoo.architectures as { name: string }[] | undefined)?.map((a) => a.name);
const MODELS = listed?.length ? listed : ['gpt2'];

describe.skipIf(skipped !== undefined)('zoo models end to end on the gpu backend', () => {
  const gpu = createGpuBackend({ strict: true });
  const cpu = new CpuBackend();
  afterAll(() => gpu.dispose());

  for (const name of MODELS) {
    it(`${name} (tiny): every output within 1e-4 of the CPU backend`, async () => {
      if ('skipped' in loaded) return;
      let models: Awaited<ReturnType<typeof e2eModels>>;
      try {
        models = await e2eModels(loaded.graph, loaded.zoo, 'tiny', [name], 8);
      } catch (e) {
        if (name === 'gpt2') throw e;
        console.warn(`[gpu zoo test] ${name}: not in the zoo (${(e as Error).message})`);
        return;
      }
      expect(models.length).toBeGreaterThan(0);
      expect(models.map((m) => m.name)).toContain(`${name} converted`);
      for (const m of models) {
        const want = m.run(cpu);
        const got = m.run(gpu);
        expect([...got.keys()]).toEqual([...want.keys()]);
        for (const [k, w] of want) expectClose(got.get(k)!, w, `${m.name} output ${k}`);
      }
    });
  }

  it('ran every op of every model on the device (no CPU fallbacks beyond the documented int ones)', () => {
    const taken = Object.keys(gpu.describe().fallbacks);
    expect(
      taken.filter((k) => !/^(argmax|argmin|cast \w+->(int32|int64|float64))$/.test(k)),
      JSON.stringify(gpu.fallbackReasons),
    ).toEqual([]);
  });
});
