// Executor.runAsync: on a host backend it equals run (no crossings); on a device that reads only
// asynchronously it awaits the inputs a node reads on the host (here Reshape's shape, computed on the
// device) and the outputs, and counts them in the profile.
import { type Backend, CpuBackend, type DeviceStorage, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { Executor, GraphBuilder } from '../src/index.js';

/** A CPU backend whose float results live on a fake device that reads only asynchronously. */
function asyncOnlyBackend(): Backend {
  const cpu = new CpuBackend();
  const wrap = (t: Tensor): Tensor => {
    if (t.dtype !== 'float32') return t;
    const data = t.data;
    const storage: DeviceStorage = { backend: 'async-fake', handle: null, readAsync: async () => data };
    return Tensor.fromDevice(t.shape, t.dtype, storage);
  };
  return new Proxy(cpu, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (prop === 'name') return 'async-fake';
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const r = v.apply(target, args);
        return r instanceof Tensor ? wrap(r) : r;
      };
    },
  }) as Backend;
}

function model() {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2, 3]);
  const e = b.op('Exp', [x]);
  // A shape computed from float values on the device, read on the host by Reshape.
  const shape = b.op(
    'Cast',
    [
      b.op('Add', [
        b.constant('s', Tensor.from([3, 2])),
        b.op('ReduceMin', [b.op('Mul', [e, b.constant('z', Tensor.scalar(0))])], { keepdims: 0 }),
      ]),
    ],
    { to: 7 },
  );
  b.output(b.op('Reshape', [e, shape]));
  return b.model(13);
}

describe('Executor.runAsync', () => {
  const x = Tensor.from([
    [0, 1, 2],
    [3, 4, 5],
  ]);
  const want = [0, 1, 2, 3, 4, 5].map(Math.exp);

  it('equals run on the CPU backend, with no crossings', async () => {
    const ex = new Executor(model(), { backend: new CpuBackend() });
    const r = await ex.runAsync({ x }, { profile: true });
    const y = Object.values(r.outputs)[0] as Tensor;
    expect(y.shape).toEqual([3, 2]);
    for (const [i, v] of y.toFlatArray().entries()) expect(Math.abs(v - (want[i] as number))).toBeLessThan(1e-5 * (want[i] as number));
    expect(r.profile?.crossings).toBe(0);
  });

  it('on an async-only device: run fails naming the awaited read, runAsync awaits the host inputs and the outputs', async () => {
    const ex = new Executor(model(), { backend: asyncOnlyBackend() });
    expect(() => ex.run({ x })).toThrow(/await t\.read\(\)|runAsync/);
    const r = await ex.runAsync({ x }, { profile: true });
    const y = Object.values(r.outputs)[0] as Tensor;
    expect(y.onHost).toBe(true);
    for (const [i, v] of y.toFlatArray().entries()) expect(Math.abs(v - (want[i] as number))).toBeLessThan(1e-5 * (want[i] as number));
    // This fake computes every kernel on the host: Mul and ReduceMin are found to read their device
    // inputs on the first run (and keep reading them first from then on), Cast's input is declared
    // (an integer cast), and the output comes back: 4 crossings, the same on the next run.
    expect(r.profile?.crossings).toBe(4);
    expect(r.profile?.nodes.find((n) => n.opType === 'Cast')?.hostReads).toBe(1);
    expect((await ex.runAsync({ x }, { profile: true })).profile?.crossings).toBe(4);
  });
});
